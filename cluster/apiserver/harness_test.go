package apiserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const kubectlPath = "/usr/bin/kubectl"

// testPKI is a CA and the certificates the tests present.
type testPKI struct {
	caPEM               []byte
	serverCert          tls.Certificate
	adminCert, adminKey []byte
	nodeCert, nodeKey   []byte
	pool                *x509.CertPool
	// issue makes a client certificate (server: a serving one for 127.0.0.1).
	issue func(cn string, orgs []string, server bool) (certPEM, keyPEM []byte)
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drover-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	serial := int64(1)
	issue := func(subj pkix.Name, server bool) ([]byte, []byte) {
		serial++
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subj,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	p := &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.issue = func(cn string, orgs []string, server bool) ([]byte, []byte) {
		return issue(pkix.Name{CommonName: cn, Organization: orgs}, server)
	}
	sc, sk := issue(pkix.Name{CommonName: "drover-apiserver"}, true)
	if p.serverCert, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	p.adminCert, p.adminKey = issue(pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, false)
	p.nodeCert, p.nodeKey = issue(pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}, false)
	return p
}

// testServer is the API served over TLS on a dynamic port.
type testServer struct {
	t          *testing.T
	url        string
	store      *memStore
	pki        *testPKI
	kubeconfig string
	dir        string
	srv        *httptest.Server
}

func startServer(t *testing.T, mutate ...func(*Config)) *testServer {
	t.Helper()
	return startServerWith(t, newPKI(t), newMemStore(), mutate...)
}

// startServerWith serves a given store with a given PKI; namespaces are
// seeded only into a store that takes writes.
func startServerWith(t *testing.T, pki *testPKI, st *memStore, mutate ...func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{t: t, store: st, pki: pki, dir: t.TempDir()}
	cfg := Config{Store: ts.store, Kinds: testKinds()}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = httptest.NewUnstartedServer(h)
	ts.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{ts.pki.serverCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ts.pki.pool,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	ts.srv.EnableHTTP2 = true
	ts.srv.StartTLS()
	t.Cleanup(ts.srv.Close)
	ts.url = ts.srv.URL
	if !st.notLeader {
		ts.seedNamespace("default")
		ts.seedNamespace("kube-node-lease")
	}
	ts.kubeconfig = ts.writeKubeconfig("admin", ts.pki.adminCert, ts.pki.adminKey)
	return ts
}

func (ts *testServer) seedNamespace(name string) {
	ts.t.Helper()
	_, err := ts.client().CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		ts.t.Fatalf("create namespace %s: %v", name, err)
	}
}

func (ts *testServer) writeKubeconfig(user string, cert, key []byte) string {
	ts.t.Helper()
	write := func(name string, b []byte) string {
		p := filepath.Join(ts.dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			ts.t.Fatal(err)
		}
		return p
	}
	ca := write("ca.crt", ts.pki.caPEM)
	c := write(user+".crt", cert)
	k := write(user+".key", key)
	kc := `apiVersion: v1
kind: Config
clusters:
- name: drover
  cluster:
    server: ` + ts.url + `
    certificate-authority: ` + ca + `
users:
- name: ` + user + `
  user:
    client-certificate: ` + c + `
    client-key: ` + k + `
contexts:
- name: drover
  context:
    cluster: drover
    user: ` + user + `
    namespace: default
current-context: drover
`
	return write(user+".kubeconfig", []byte(kc))
}

func (ts *testServer) restConfig(cert, key []byte) *rest.Config {
	return &rest.Config{
		Host: ts.url,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: ts.pki.caPEM, CertData: cert, KeyData: key,
		},
		Timeout: 30 * time.Second,
	}
}

func (ts *testServer) client() kubernetes.Interface {
	c, err := kubernetes.NewForConfig(ts.restConfig(ts.pki.adminCert, ts.pki.adminKey))
	if err != nil {
		ts.t.Fatal(err)
	}
	return c
}

func (ts *testServer) nodeClient() kubernetes.Interface {
	c, err := kubernetes.NewForConfig(ts.restConfig(ts.pki.nodeCert, ts.pki.nodeKey))
	if err != nil {
		ts.t.Fatal(err)
	}
	return c
}

// kubectl runs the real kubectl against the server; stdin is optional.
func (ts *testServer) kubectl(stdin string, args ...string) (string, error) {
	ts.t.Helper()
	if _, err := os.Stat(kubectlPath); err != nil {
		ts.t.Skipf("kubectl not installed at %s", kubectlPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--kubeconfig", ts.kubeconfig, "--cache-dir", filepath.Join(ts.dir, "cache")}, args...)
	cmd := exec.CommandContext(ctx, kubectlPath, full...)
	cmd.Env = append(os.Environ(), "HOME="+ts.dir, "KUBECONFIG=")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

// mustKubectl runs kubectl and fails the test when it fails.
func (ts *testServer) mustKubectl(stdin string, args ...string) string {
	ts.t.Helper()
	out, err := ts.kubectl(stdin, args...)
	if err != nil {
		ts.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// get does a raw authenticated GET as admin.
func (ts *testServer) do(method, path, contentType, accept string, body []byte) (*http.Response, []byte) {
	ts.t.Helper()
	cert, err := tls.X509KeyPair(ts.pki.adminCert, ts.pki.adminKey)
	if err != nil {
		ts.t.Fatal(err)
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.pki.pool, Certificates: []tls.Certificate{cert}}}}
	req, err := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}
