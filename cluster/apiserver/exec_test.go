package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// echoExecutor runs "commands" by echoing them, and stdin after them.
type echoExecutor struct{}

func (echoExecutor) ExecInContainer(_ context.Context, name, _, container string, cmd []string, in io.Reader, out, _ io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize, _ time.Duration) error {
	fmt.Fprintf(out, "%s/%s ran %s\n", name, container, strings.Join(cmd, " "))
	if in != nil {
		_, _ = io.Copy(out, in)
	}
	return nil
}

// TestKubectlExec drives kubectl exec through the API server's proxy to a
// node agent serving kubelet's streaming protocol (websocket or SPDY).
func TestKubectlExec(t *testing.T) {
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) != 4 || parts[0] != "exec" {
			http.NotFound(w, r)
			return
		}
		// Like kubelet, speak SPDY only: kubectl's websocket attempt fails
		// its upgrade and kubectl falls back, through the proxy both times.
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "websocket streams are not served here", http.StatusBadRequest)
			return
		}
		opts, err := remotecommand.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		remotecommand.ServeExec(w, r, echoExecutor{}, parts[2], "", parts[3], r.URL.Query()["command"], opts,
			time.Minute, 30*time.Second, remotecommand.SupportedStreamingProtocols)
	}))
	defer agent.Close()
	ts := startServer(t, func(c *Config) {
		c.NodeProxy = func(context.Context, string) (string, http.RoundTripper, error) {
			return agent.URL, http.DefaultTransport, nil
		}
	})
	if _, err := ts.client().CoreV1().Pods("default").Create(context.Background(), newPod("p", "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := ts.mustKubectl("", "exec", "p", "--", "echo", "hi")
	if out != "p/c ran echo hi\n" {
		t.Errorf("kubectl exec: %q", out)
	}
	out = ts.mustKubectl("from stdin\n", "exec", "-i", "p", "-c", "c", "--", "cat")
	if out != "p/c ran cat\nfrom stdin\n" {
		t.Errorf("kubectl exec -i: %q", out)
	}
	if out, err := ts.kubectl("", "exec", "p", "-c", "nope", "--", "true"); err == nil || !strings.Contains(out, "container nope is not valid for pod p") {
		t.Errorf("exec in a missing container: %v %s", err, out)
	}
}
