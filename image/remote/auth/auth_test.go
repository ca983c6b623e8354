package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover/drover/api"
)

func TestStoreGetEraseKeepsUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docker", "config.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"psFormat":"table {{.ID}}","auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"docker.io", "index.docker.io", "https://registry-1.docker.io/v2/"} {
		a, err := f.Get(name)
		if err != nil || a.Username != "hub" || a.Password != "pw" {
			t.Fatalf("Get(%s) = %+v, %v", name, a, err)
		}
	}
	if err := f.Store("127.0.0.1:5000", api.AuthConfig{Username: "u", Password: "p:w"}); err != nil {
		t.Fatal(err)
	}
	f2, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := f2.Get("http://127.0.0.1:5000/v2/"); a.Username != "u" || a.Password != "p:w" {
		t.Fatalf("stored creds: %+v", a)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "psFormat") {
		t.Fatalf("unknown key lost: %s", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if err := f2.Erase("127.0.0.1:5000"); err != nil {
		t.Fatal(err)
	}
	if err := f2.Erase("127.0.0.1:5000"); err == nil {
		t.Fatal("second logout succeeded")
	}
	if a, _ := f2.Get("127.0.0.1:5000"); a != (api.AuthConfig{}) {
		t.Fatalf("erased creds still there: %+v", a)
	}
}

func TestBadFileIsAClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	_ = os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if f, err := Load(filepath.Join(t.TempDir(), "missing.json")); err != nil || f == nil {
		t.Fatalf("missing file: %v", err)
	}
}

// TestCredentialHelper runs a real helper program (a shell script keeping one secret in
// a file) through the docker-credential protocol.
func TestCredentialHelper(t *testing.T) {
	bin := t.TempDir()
	store := filepath.Join(t.TempDir(), "secret")
	script := `#!/bin/sh
case "$1" in
get) read url; [ -f ` + store + ` ] || { echo "credentials not found in native keychain"; exit 1; }; cat ` + store + ` ;;
store) cat > ` + store + ` ;;
erase) read url; [ -f ` + store + ` ] || { echo "credentials not found in native keychain"; exit 1; }; rm ` + store + ` ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-test"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	path := filepath.Join(t.TempDir(), "config.json")
	_ = os.WriteFile(path, []byte(`{"credHelpers":{"reg.example":"test"}}`), 0o600)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := f.Get("reg.example"); err != nil || a != (api.AuthConfig{}) {
		t.Fatalf("before login: %+v %v", a, err)
	}
	if err := f.Store("reg.example", api.AuthConfig{Username: "h", Password: "sec"}); err != nil {
		t.Fatal(err)
	}
	if a, err := f.Get("reg.example"); err != nil || a.Username != "h" || a.Password != "sec" {
		t.Fatalf("through helper: %+v %v", a, err)
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), "sec") {
		t.Fatalf("the secret went to the file: %s", data)
	}
	if err := f.Erase("reg.example"); err != nil {
		t.Fatal(err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	a := api.AuthConfig{Username: "u", Password: "p", ServerAddress: "x"}
	got, err := DecodeHeader(EncodeHeader(a))
	if err != nil || got != a {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := DecodeHeader("!!!"); err == nil {
		t.Fatal("garbage decoded")
	}
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add(EncodeHeader(api.AuthConfig{Username: "u"}))
	f.Fuzz(func(t *testing.T, s string) { _, _ = DecodeHeader(s) })
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"auths":{"x":{"auth":"dTpw"}},"credsStore":"","credHelpers":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "c.json")
		_ = os.WriteFile(p, data, 0o600)
		if cfg, err := Load(p); err == nil {
			_, _ = cfg.Get("x")
		}
	})
}
