package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover/drover/cluster/apiserver"
	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/apiserver/openapi"
	"github.com/drover/drover/cluster/pki"
)

// nodeKey is where the API server keeps a Node (cluster/apiserver's key layout).
func nodeKey(name string) string { return "/core/nodes/" + name }

// apiHandler is the Kubernetes-shaped API over this server's replica: requests a
// follower cannot serve go to the leader, and logs and exec go to the node's agent.
func (s *serverRole) apiHandler(ctx context.Context) (http.Handler, error) {
	caCert, err := readCACert(s.m.pkiDir())
	if err != nil {
		return nil, err
	}
	// Servers dial each other and the agents as themselves (drover:servers), checking
	// the peer's certificate against the cluster CA.
	dial := &http.Transport{
		TLSClientConfig:     pki.ClientTLS(caCert, s.cert),
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	return apiserver.New(apiserver.Config{
		Store:     s.st,
		Kinds:     kinds.All(),
		OpenAPIV3: openapi.V3,
		OpenAPIV2: openapi.V2,
		Version:   "v1.37.2-drover",
		Forward: func(r *http.Request) (string, http.RoundTripper, bool) {
			id, _ := s.st.Leader()
			if id == "" || id == s.name {
				return "", nil, false
			}
			rec, err := s.rec.server(r.Context(), id)
			if err != nil || rec.APIAddr == "" {
				return "", nil, false
			}
			return "https://" + rec.APIAddr, dial, true
		},
		NodeProxy: func(ctx context.Context, nodeName string) (string, http.RoundTripper, error) {
			return s.agentEndpoint(ctx, caCert, nodeName)
		},
	})
}

// agentEndpoint is the kubelet-style API of a node's agent, from its Node object: the
// InternalIP and the port it reported, reached with a certificate check that the peer is
// that node (agents pick their own addresses, so the name is what counts).
func (s *serverRole) agentEndpoint(ctx context.Context, caCert *x509.Certificate, nodeName string) (string, http.RoundTripper, error) {
	kv, err := s.st.GetLocal(nodeKey(nodeName))
	if err != nil {
		return "", nil, fmt.Errorf("node %q: %w", nodeName, err)
	}
	var node corev1.Node
	if err := json.Unmarshal(kv.Value, &node); err != nil {
		return "", nil, fmt.Errorf("node %q: %w", nodeName, err)
	}
	var ip string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = a.Address
			break
		}
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if ip == "" || port == 0 {
		return "", nil, fmt.Errorf("node %q has not reported its address yet", nodeName)
	}
	cfg := pki.ClientTLS(caCert, s.cert)
	cfg.InsecureSkipVerify = true // verified below: the chain, then the node's name
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the agent presented no certificate")
		}
		pool := x509.NewCertPool()
		pool.AddCert(caCert)
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return err
		}
		if name, ok := pki.NodeName(leaf.Subject.CommonName); !ok || name != nodeName {
			return fmt.Errorf("the agent at %s is %q, not node %q", ip, leaf.Subject.CommonName, nodeName)
		}
		return nil
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: false}
	return "https://" + net.JoinHostPort(ip, strconv.Itoa(port)), tr, nil
}
