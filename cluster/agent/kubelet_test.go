package agent

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
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/drover/drover/internal/testutil"
)

// testPKI is a CA with the kubelet's serving certificate and client certificates.
type testPKI struct {
	caPEM          []byte
	ca             *x509.Certificate
	caKey          *ecdsa.PrivateKey
	server         tls.Certificate
	serverCertPool *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{ca: ca, caKey: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	p.serverCertPool = x509.NewCertPool()
	p.serverCertPool.AddCert(ca)
	certPEM, keyPEM := p.issue(t, pkix.Name{CommonName: "node-a"}, x509.ExtKeyUsageServerAuth)
	p.server, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// issue signs a certificate for subject.
func (p *testPKI) issue(t *testing.T, subject pkix.Name, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: subject, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// clientConfig is a rest.Config for the kubelet API at addr as a member of group.
func (p *testPKI) clientConfig(t *testing.T, addr, group string) *rest.Config {
	certPEM, keyPEM := p.issue(t, pkix.Name{CommonName: "apiserver", Organization: []string{group}}, x509.ExtKeyUsageClientAuth)
	return &rest.Config{Host: "https://" + addr, TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM, CertData: certPEM, KeyData: keyPEM}}
}

// TestKubeletAPI: logs, exec and attach through the kubelet API, with client-go's
// SPDY, WebSocket and fallback (kubectl's) executors, over mutual TLS.
func TestKubeletAPI(t *testing.T) {
	h := newHarnessKubelet(t)
	pki := h.pki
	addr, err := h.agent.KubeletAddr(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := pki.clientConfig(t, addr.String(), "drover:servers")
	pod := newPod("talker", corev1.RestartPolicyAlways, "sh", "-c", "echo line1; echo line2; echo err1 >&2; while sleep 0.2; do echo tick; done")
	pod.Spec.Containers[0].Stdin = true
	pod = h.create(pod)
	h.waitPod(pod, "Running and ready", running)
	httpc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := httpc.Get(cfg.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	t.Run("healthz", func(t *testing.T) {
		if code, body := get("/healthz"); code != 200 || body != "ok" {
			t.Fatalf("healthz = %d %q", code, body)
		}
	})

	t.Run("logs", func(t *testing.T) {
		var body string
		for range 100 {
			var code int
			if code, body = get("/containerLogs/default/talker/main"); code == 200 && strings.Contains(body, "err1") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, want := range []string{"line1\n", "line2\n", "err1\n"} {
			if !strings.Contains(body, want) {
				t.Fatalf("logs = %q, want %q in them", body, want)
			}
		}
		if _, tail := get("/containerLogs/default/talker/main?tailLines=1"); strings.Count(tail, "\n") != 1 {
			t.Fatalf("tailLines=1 gave %q", tail)
		}
		if _, ts := get("/containerLogs/default/talker/main?timestamps=true&tailLines=1"); !strings.Contains(ts, "T") || !strings.HasPrefix(ts, "20") {
			t.Fatalf("timestamps=true gave %q", ts)
		}
		if code, _ := get("/containerLogs/default/nosuch/main"); code != http.StatusNotFound {
			t.Fatalf("logs of a missing pod: %d", code)
		}
		// follow: the stream stays open and carries what the container writes next.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", cfg.Host+"/containerLogs/default/talker/main?follow=true&tailLines=0", nil)
		resp, err := httpc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 64)
		n, err := io.ReadAtLeast(resp.Body, buf, len("tick\ntick\n"))
		if err != nil || !strings.HasPrefix(string(buf[:n]), "tick\ntick\n") {
			t.Fatalf("followed logs = %q, %v", buf[:n], err)
		}
	})

	t.Run("logs of the previous attempt", func(t *testing.T) {
		p := h.create(newPod("crashy", corev1.RestartPolicyOnFailure, "sh", "-c", "echo attempt; exit 1"))
		h.waitPod(p, "a restart", func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount >= 1
		})
		if code, body := get("/containerLogs/default/crashy/main?previous=true"); code != 200 || body != "attempt\n" {
			t.Fatalf("previous logs = %d %q", code, body)
		}
		if code, _ := get("/containerLogs/default/talker/main?previous=true"); code != http.StatusNotFound {
			t.Fatalf("previous logs of a container never restarted: %d, want 404", code)
		}
	})

	t.Run("a client outside drover:servers is refused", func(t *testing.T) {
		other := pki.clientConfig(t, addr.String(), "system:nodes")
		c, _ := rest.HTTPClientFor(other)
		resp, err := c.Get(other.Host + "/containerLogs/default/talker/main")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
		anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.serverCertPool}}}
		resp, err = anon.Get(cfg.Host + "/containerLogs/default/talker/main")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("without a certificate: status %d, want 401", resp.StatusCode)
		}
	})

	execURL := func(kind string, tty, stdin bool, cmd ...string) *url.URL {
		// As the API server passes kubectl's on.
		q := url.Values{"command": cmd, "stdout": {"true"}}
		if !tty {
			q.Set("stderr", "true")
		}
		if stdin {
			q.Set("stdin", "true")
		}
		if tty {
			q.Set("tty", "true")
		}
		u, _ := url.Parse(cfg.Host + "/" + kind + "/default/talker/main?" + q.Encode())
		return u
	}
	executors := map[string]func(u *url.URL) (remotecommand.Executor, error){
		"spdy": func(u *url.URL) (remotecommand.Executor, error) { return remotecommand.NewSPDYExecutor(cfg, "POST", u) },
		"websocket": func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
		},
		"kubectl fallback": func(u *url.URL) (remotecommand.Executor, error) {
			ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
			if err != nil {
				return nil, err
			}
			spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
			if err != nil {
				return nil, err
			}
			return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
				return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
			})
		},
	}
	for name, newExec := range executors {
		t.Run("exec over "+name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// stdin to its end, stdout and stderr apart.
			ex, err := newExec(execURL("exec", false, true, "sh", "-c", "cat; echo oops >&2"))
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("hello\n"), Stdout: &out, Stderr: &errOut}); err != nil {
				t.Fatalf("exec: %v (stderr %q)", err, errOut.String())
			}
			if out.String() != "hello\n" || errOut.String() != "oops\n" {
				t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
			}
			// The exit code comes back.
			ex, _ = newExec(execURL("exec", false, false, "sh", "-c", "exit 3"))
			err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
			var exit utilexec.ExitError
			if !errors.As(err, &exit) || exit.ExitStatus() != 3 {
				t.Fatalf("exit 3 came back as %v", err)
			}
			// A terminal, with its size.
			ex, _ = newExec(execURL("exec", true, false, "stty", "size"))
			out.Reset()
			err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Tty: true, TerminalSizeQueue: &fixedSize{w: 100, h: 30}})
			if err != nil || strings.TrimSpace(out.String()) != "30 100" {
				t.Fatalf("stty size in a terminal of 100x30 = %q, %v", out.String(), err)
			}
		})
	}

	t.Run("attach", func(t *testing.T) {
		p := newPod("echoer", corev1.RestartPolicyAlways, "sh", "-c", "while read l; do echo got $l; done")
		p.Spec.Containers[0].Stdin = true
		p = h.create(p)
		h.waitPod(p, "Running and ready", running)
		for name, newExec := range executors {
			u, _ := url.Parse(cfg.Host + "/attach/default/echoer/main?stdin=true&stdout=true&stderr=true")
			ex, err := newExec(u)
			if err != nil {
				t.Fatal(err)
			}
			pr, pw := io.Pipe()
			out := &syncBuffer{}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			result := make(chan error, 1)
			go func() {
				result <- ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: pr, Stdout: out, Stderr: io.Discard})
			}()
			go func() {
				for ctx.Err() == nil {
					if _, err := pw.Write([]byte(name + "\n")); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			ok := testutil.Poll(30*time.Second, func() bool { return strings.Contains(out.String(), "got "+name) })
			cancel()
			pw.CloseWithError(io.EOF)
			err = <-result
			if !ok {
				t.Fatalf("attach over %s: output %q, stream: %v", name, out.String(), err)
			}
		}
		// Detaching leaves the container's stdin open: it still runs, never restarted.
		if got := h.get(p).Status.ContainerStatuses[0]; got.RestartCount != 0 || got.State.Running == nil {
			t.Fatalf("after the attaches the container is %+v", got)
		}
	})
}

// fixedSize is a terminal that stays one size.
type fixedSize struct {
	w, h uint16
	sent bool
}

func (f *fixedSize) Next() *remotecommand.TerminalSize {
	if f.sent {
		return nil // no more changes
	}
	f.sent = true
	return &remotecommand.TerminalSize{Width: f.w, Height: f.h}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newHarnessKubelet is newHarness with the kubelet API on a free port of 127.0.0.1.
func newHarnessKubelet(t *testing.T) *harnessKubelet {
	pki := newPKI(t)
	h := newHarnessWith(t, func(c *Config) {
		c.KubeletAddress, c.KubeletPort = "127.0.0.1", testutil.FreePort(t)
		c.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.serverCertPool}
		c.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	})
	h.waitSynced()
	return &harnessKubelet{harness: h, pki: pki}
}

type harnessKubelet struct {
	*harness
	pki *testPKI
}
