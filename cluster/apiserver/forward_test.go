package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestForwardToLeader(t *testing.T) {
	leader := startServer(t)
	srvCert, srvKey := leader.pki.issue("drover-server-2", []string{GroupServers}, false)
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	toLeader := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: leader.pki.pool, Certificates: []tls.Certificate{pair}}}
	followerStore := newMemStore()
	followerStore.notLeader = true
	follower := startServerWith(t, leader.pki, followerStore, func(c *Config) {
		c.Forward = func(*http.Request) (string, http.RoundTripper, bool) { return leader.url, toLeader, true }
	})
	ctx := context.Background()

	// The node's own write passes through the follower as the node.
	node := follower.nodeClient()
	if _, err := node.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create own node through the follower: %v", err)
	}
	if _, err := leader.client().CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); err != nil {
		t.Fatalf("the leader lacks the forwarded write: %v", err)
	}
	list, err := follower.client().CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("list through the follower: %v %v", err, list)
	}
	out := follower.mustKubectl("", "get", "nodes", "-o", "name")
	if strings.TrimSpace(out) != "node/n1" {
		t.Errorf("kubectl through the follower: %q", out)
	}

	// A request already forwarded by a server is not forwarded again.
	hop := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: leader.pki.pool, Certificates: []tls.Certificate{pair}}}}
	req, err := http.NewRequest("GET", follower.url+"/api/v1/namespaces", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(HeaderUser, "admin")
	req.Header.Add(HeaderGroup, GroupMasters)
	resp, err := hop.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second hop: %d, want 503", resp.StatusCode)
	}

	// The identity headers count only from drover:servers: a node that sets
	// them itself is still the node.
	cfg := leader.restConfig(leader.pki.nodeCert, leader.pki.nodeKey)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set(HeaderUser, "admin")
			r.Header.Set(HeaderGroup, GroupMasters)
			return rt.RoundTrip(r)
		})
	}
	spoof, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = spoof.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n9"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("a node naming itself admin: %v, want 403", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNodeProxy(t *testing.T) {
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", r.Header.Get("Upgrade"))
			_ = rw.Flush()
			line, _ := rw.ReadString('\n')
			fmt.Fprintf(rw, "echo %s %s", r.URL.Path, line)
			_ = rw.Flush()
			return
		}
		fmt.Fprintf(w, "log from %s?%s\n", r.URL.Path, r.URL.RawQuery)
	}))
	defer agent.Close()
	ts := startServer(t, func(c *Config) {
		c.NodeProxy = func(_ context.Context, node string) (string, http.RoundTripper, error) {
			if node != "n1" {
				return "", nil, fmt.Errorf("no node %s", node)
			}
			return agent.URL, http.DefaultTransport, nil
		}
	})
	if _, err := ts.client().CoreV1().Pods("default").Create(context.Background(), newPod("p", "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := ts.mustKubectl("", "logs", "p", "--tail=5")
	if !strings.Contains(out, "log from /containerLogs/default/p/c?") || !strings.Contains(out, "tailLines=5") {
		t.Errorf("kubectl logs: %q", out)
	}

	// An upgraded connection (exec's streams) passes through both ways.
	cert, err := tls.X509KeyPair(ts.pki.adminCert, ts.pki.adminKey)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(ts.url, "https://"), &tls.Config{RootCAs: ts.pki.pool, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "GET /api/v1/namespaces/default/pods/p/exec?command=sh&stdin=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("exec upgrade: %d %s", resp.StatusCode, b)
	}
	fmt.Fprintf(conn, "hello\n")
	got, _ := io.ReadAll(io.LimitReader(br, int64(len("echo /exec/default/p/c hello\n"))))
	if string(got) != "echo /exec/default/p/c hello\n" {
		t.Errorf("through the upgrade: %q", got)
	}
}
