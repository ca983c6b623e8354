package pki

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
)

func TestKubeconfigClientGoConnects(t *testing.T) {
	ca := newTestCA(t)
	srv, sawUser := fakeAPIServer(t, ca)
	admin := issuePair(t, ca, AdminIdentity(), Client)
	data, err := Kubeconfig("lab", srv.URL, ca.CertPEM, admin.CertPEM, admin.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "lab" || cfg.Contexts["lab"].AuthInfo != AdminCommonName || cfg.Contexts["lab"].Cluster != "lab" {
		t.Errorf("contexts %+v current %q", cfg.Contexts, cfg.CurrentContext)
	}
	rest, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rest)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatalf("client-go through the kubeconfig: %v", err)
	}
	if v.GitVersion != "v1.32.0-drover" || sawUser() != AdminCommonName {
		t.Errorf("version %q, server saw user %q", v.GitVersion, sawUser())
	}

	// The same kubeconfig with another cluster's CA must not connect.
	other := newTestCA(t)
	bad, err := Kubeconfig("lab", srv.URL, other.CertPEM, admin.CertPEM, admin.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	badCfg, err := clientcmd.RESTConfigFromKubeConfig(bad)
	if err != nil {
		t.Fatal(err)
	}
	dc, err = discovery.NewDiscoveryClientForConfig(badCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.ServerVersion(); err == nil {
		t.Error("connected while trusting another CA")
	}
	if _, err := Kubeconfig("", srv.URL, nil, nil, nil); err == nil {
		t.Error("kubeconfig without a cluster name")
	}
}

// fakeAPIServer is an API server stand-in on mutual TLS that answers
// /version and remembers the user it authenticated.
func fakeAPIServer(t *testing.T, ca *CA) (*httptest.Server, func() string) {
	t.Helper()
	var mu sync.Mutex
	var user string
	srvPair := issuePair(t, ca, ServerIdentity("s1"), Both)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, err := PeerIdentity(r.TLS)
		if err != nil || r.URL.Path != "/version" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		mu.Lock()
		user = id.CommonName
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"major": "1", "minor": "32", "gitVersion": "v1.32.0-drover"})
	}))
	srv.TLS = ServerTLS(ca.Cert, tlsCert(t, srvPair))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, func() string {
		mu.Lock()
		defer mu.Unlock()
		return user
	}
}

// The real kubectl reads the kubeconfig and authenticates with it.
func TestKubeconfigKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	ca := newTestCA(t)
	srv, sawUser := fakeAPIServer(t, ca)
	admin := issuePair(t, ca, AdminIdentity(), Client)
	data, err := Kubeconfig("lab", srv.URL, ca.CertPEM, admin.CertPEM, admin.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kubectl, "--kubeconfig", path, "version", "-o", "json")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user cache or config
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl version: %v\n%s", err, out)
	}
	var v struct {
		ServerVersion struct{ GitVersion string } `json:"serverVersion"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("kubectl output %s: %v", out, err)
	}
	if v.ServerVersion.GitVersion != "v1.32.0-drover" || sawUser() != AdminCommonName {
		t.Errorf("server version %q, server saw user %q", v.ServerVersion.GitVersion, sawUser())
	}
}
