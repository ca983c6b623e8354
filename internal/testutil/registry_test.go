package testutil

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
)

func TestStartRegistry(t *testing.T) {
	var dirs []string
	t.Run("plain", func(t *testing.T) {
		r := StartRegistry(t, RegistryOptions{})
		dirs = append(dirs, r.Dir)
		resp, err := http.Get(r.URL() + "/v2/")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v2/: %v %v", resp, err)
		}
		resp.Body.Close()
	})
	t.Run("auth+tls", func(t *testing.T) {
		r := StartRegistry(t, RegistryOptions{Username: "u", Password: "p", TLS: true})
		dirs = append(dirs, r.Dir)
		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		req, _ := http.NewRequest(http.MethodGet, r.URL()+"/v2/", nil)
		resp, err := trusting.Do(req)
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous: %v %v", resp, err)
		}
		resp.Body.Close()
		req.SetBasicAuth("u", "p")
		if resp, err = trusting.Do(req); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("with credentials: %v %v", resp, err)
		}
		resp.Body.Close()
		if _, err := http.Get(r.URL() + "/v2/"); err == nil {
			t.Fatal("a client without the CA trusted the registry")
		}
	})
	for _, d := range dirs {
		if n := registryProcesses(d); n != 0 {
			t.Fatalf("%d registry processes left for %s", n, d)
		}
	}
}
