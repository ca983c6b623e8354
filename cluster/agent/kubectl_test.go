package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TestKubectlExec drives the real kubectl (1.32: WebSocket v5 first) through a stand-in
// for the API server's pod endpoints, which serves the pod from the fake clientset and
// proxies exec and logs to the agent's kubelet API as the API server does.
func TestKubectlExec(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	h := newHarnessKubelet(t)
	addr, err := h.agent.KubeletAddr(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pod := h.create(newPod("shell", corev1.RestartPolicyAlways, "sh", "-c", "echo started; exec sleep 3600"))
	h.waitPod(pod, "Running and ready", running)

	kcfg := h.pki.clientConfig(t, addr.String(), "drover:servers")
	tlsCfg, err := rest.TLSConfigFor(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	proxyTo := func(w http.ResponseWriter, r *http.Request, path string) {
		target := &url.URL{Scheme: "https", Host: addr.String()}
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path, pr.Out.URL.RawPath = path, ""
			},
			Transport: &http.Transport{TLSClientConfig: tlsCfg.Clone(), ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}},
		}
		rp.ServeHTTP(w, r)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// Just enough discovery for kubectl to find pods.
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: ln.Addr().String()}}})
	})
	mux.HandleFunc("GET /apis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}})
	})
	mux.HandleFunc("GET /api/v1", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "v1",
			APIResources: []metav1.APIResource{
				{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "list"}, ShortNames: []string{"po"}},
				{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
				{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}},
			}})
	})
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}", func(w http.ResponseWriter, r *http.Request) {
		p, err := h.api.CoreV1().Pods(r.PathValue("ns")).Get(r.Context(), r.PathValue("name"), metav1.GetOptions{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		p.APIVersion, p.Kind = "v1", "Pod"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{name}/exec", func(w http.ResponseWriter, r *http.Request) {
		proxyTo(w, r, "/exec/"+r.PathValue("ns")+"/"+r.PathValue("name")+"/"+r.URL.Query().Get("container"))
	})
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}/log", func(w http.ResponseWriter, r *http.Request) {
		proxyTo(w, r, "/containerLogs/"+r.PathValue("ns")+"/"+r.PathValue("name")+"/"+r.URL.Query().Get("container"))
	})
	var (
		mu   sync.Mutex
		seen []string // the exec requests' upgrade headers
	)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/exec") {
			mu.Lock()
			seen = append(seen, r.Header.Get("Upgrade")+" "+r.Header.Get("Sec-Websocket-Protocol")+r.Header.Get("X-Stream-Protocol-Version"))
			mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "config")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://" + ln.Addr().String() +
		"\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default\nusers:\n- name: u\n  user: {}\ncurrent-context: c\n"
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var errOut strings.Builder
		cmd.Stderr = &errOut
		out, err := cmd.Output()
		if errOut.Len() > 0 {
			t.Logf("kubectl %v: %s", args, errOut.String())
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("kubectl %v: %v", args, err)
		}
		return string(out), code
	}
	if out, code := run("from stdin\n", "exec", "-i", "shell", "-c", "main", "--", "sh", "-c", "cat; echo $HOSTNAME"); code != 0 || out != "from stdin\nshell\n" {
		t.Fatalf("kubectl exec -i: exit %d, output %q", code, out)
	}
	mu.Lock()
	first := append([]string(nil), seen...)
	mu.Unlock()
	if len(first) == 0 || !strings.Contains(strings.ToLower(first[0]), "websocket") || !strings.Contains(first[0], "v5.channel.k8s.io") {
		t.Fatalf("kubectl's exec requests: %q, want a WebSocket v5 one first", first)
	}
	if out, code := run("", "exec", "shell", "-c", "main", "--", "sh", "-c", "exit 4"); code != 4 {
		t.Fatalf("kubectl exec of exit 4: exit %d, output %q", code, out)
	}
	if out, code := run("", "logs", "shell", "-c", "main"); code != 0 || out != "started\n" {
		t.Fatalf("kubectl logs: exit %d, output %q", code, out)
	}
}
