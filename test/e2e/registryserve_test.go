package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"

	"github.com/drover/drover/internal/testutil"
)

// conformanceModule is the OCI distribution-spec conformance suite, a Go program.
const conformanceModule = "github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111"

// droverRegistry is a "drover registry serve" process.
type droverRegistry struct {
	t      *testing.T
	bin    string
	Addr   string
	Root   string
	args   []string
	cmd    *exec.Cmd
	done   chan struct{}
	log    *bytes.Buffer
	scheme string
}

func startDroverRegistry(t *testing.T, args ...string) *droverRegistry {
	t.Helper()
	r := &droverRegistry{t: t, bin: droverBin(t), Addr: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), Root: t.TempDir(), args: args, scheme: "http"}
	for _, a := range args {
		if a == "--tls-cert" {
			r.scheme = "https"
		}
	}
	r.start()
	t.Cleanup(func() {
		r.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("registry log:\n%s", r.log)
		}
	})
	return r
}

func (r *droverRegistry) start() {
	r.t.Helper()
	r.log = &bytes.Buffer{}
	r.cmd = exec.Command(r.bin, append([]string{"registry", "serve", "--addr", r.Addr, "--root", r.Root}, r.args...)...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(r.scheme + "://" + r.Addr + "/v2/"); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-r.done:
			r.t.Fatalf("registry exited:\n%s", r.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	r.t.Fatalf("registry did not answer:\n%s", r.log)
}

func (r *droverRegistry) stop(sig syscall.Signal) {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	<-r.done
	r.cmd = nil
}

// TestRegistryConformance runs the OCI distribution-spec conformance suite against
// drover registry serve, with every API and data set it has except sparse manifests
// (an index whose children were never pushed, which drover refuses as docker-registry
// does): open, with htpasswd basic auth, and with the Docker token flow. With auth,
// a mount without a source, or from a repository the token does not cover, falls back
// to an upload (the suite counts it as skipped).
func TestRegistryConformance(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not in PATH: cannot build the conformance suite")
	}
	out, err := exec.Command(gobin, "mod", "download", "-json", conformanceModule).Output()
	if err != nil {
		t.Skipf("download %s (needs the Go module proxy): %v", conformanceModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v %s", err, out)
	}
	work := t.TempDir()
	suite := filepath.Join(work, "conformance")
	build := exec.Command(gobin, "build", "-o", suite, ".")
	build.Dir = mod.Dir
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false -mod=readonly", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the conformance suite: %v\n%s", err, out)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(work, "htpasswd")
	os.WriteFile(htpasswd, []byte("conformance:"+string(hash)+"\n"), 0o600)
	for _, mode := range []struct{ name, auth string }{{"open", ""}, {"htpasswd", "htpasswd=" + htpasswd}, {"token", "token=" + htpasswd}} {
		t.Run(mode.name, func(t *testing.T) {
			var args []string
			env := []string{"OCI_REGISTRY=", "OCI_TLS=disabled", "OCI_VERSION=dev", "OCI_LOG=error",
				"OCI_REPO1=conformance/repo1", "OCI_REPO2=conformance/repo2", "OCI_RESULTS_DIR=" + filepath.Join(work, "results-"+mode.name)}
			if mode.auth != "" {
				args = []string{"--auth", mode.auth}
				env = append(env, "OCI_USERNAME=conformance", "OCI_PASSWORD=pw")
			}
			reg := startDroverRegistry(t, args...)
			env[0] += reg.Addr
			run := exec.Command(suite)
			run.Dir = work
			run.Env = append(os.Environ(), env...)
			report, err := run.CombinedOutput()
			if err != nil {
				t.Fatalf("conformance suite: %v\n%s", err, report)
			}
			summary := report
			if i := bytes.Index(report, []byte("OCI Conformance Result")); i >= 0 {
				summary = report[i:]
			}
			t.Logf("%s", summary)
			if !bytes.Contains(report, []byte("OCI Conformance Result: Pass")) {
				t.Fatalf("the conformance suite failed:\n%s", report)
			}
			if m := regexp.MustCompile(`Pass\.+:\s+(\d+)`).FindSubmatch(summary); m == nil || string(m[1]) == "0" {
				t.Fatalf("no conformance test passed:\n%s", summary)
			}
		})
	}
}

func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed: apt-get install skopeo")
	}
	cmd := exec.Command("skopeo", args...)
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+filepath.Join(t.TempDir(), "auth.json"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func inspectDigest(t *testing.T, ref string, extra ...string) string {
	t.Helper()
	out := skopeo(t, append(append([]string{"inspect", "--tls-verify=false", "--raw"}, extra...), "docker://"+ref)...)
	return digest.FromString(out).String()
}

// TestRegistryInterop: drover push, skopeo and podman push and pull, skopeo inspect and
// list-tags against drover's registry; the same image copied to Debian's docker-registry
// keeps its digest both ways.
func TestRegistryInterop(t *testing.T) {
	e := newEnv(t)
	reg := startDroverRegistry(t)
	other := testutil.StartRegistry(t, testutil.RegistryOptions{})
	e.importBusybox("busybox")
	ref := reg.Addr + "/e2e/busybox:1"
	e.must("tag", "busybox", ref)
	if out := e.must("push", ref); !strings.Contains(out, "digest: sha256:") {
		t.Fatalf("drover push: %s", out)
	}

	var info struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal([]byte(skopeo(t, "inspect", "--tls-verify=false", "docker://"+ref)), &info); err != nil || info.Digest == "" || len(info.Layers) == 0 {
		t.Fatalf("skopeo inspect: %v %+v", err, info)
	}
	if out := skopeo(t, "list-tags", "--tls-verify=false", "docker://"+reg.Addr+"/e2e/busybox"); !strings.Contains(out, `"1"`) {
		t.Fatalf("skopeo list-tags: %s", out)
	}
	// Out to a directory and back in under another name; then across to docker-registry
	// and back again: the manifest's digest never changes.
	dir := filepath.Join(t.TempDir(), "img")
	skopeo(t, "copy", "--src-tls-verify=false", "docker://"+ref, "dir:"+dir)
	copied := reg.Addr + "/e2e/copy:2"
	skopeo(t, "copy", "--dest-tls-verify=false", "dir:"+dir, "docker://"+copied)
	if a, b := inspectDigest(t, ref), inspectDigest(t, copied); a != b || a != info.Digest {
		t.Fatalf("digests differ: %s %s %s", a, b, info.Digest)
	}
	// --preserve-digests: skopeo would otherwise compress drover's uncompressed layer for
	// docker-registry, and swap it back from its blob cache on the way in.
	skopeo(t, "copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+copied, "docker://"+other.Addr+"/e2e/copy:2")
	back := reg.Addr + "/e2e/back:3"
	skopeo(t, "copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+other.Addr+"/e2e/copy:2", "docker://"+back)
	if a, b := inspectDigest(t, other.Addr+"/e2e/copy:2"), inspectDigest(t, back); a != b || a != info.Digest {
		t.Fatalf("digests through docker-registry differ: %s %s\n%s\n%s", a, b,
			skopeo(t, "inspect", "--tls-verify=false", "--raw", "docker://"+other.Addr+"/e2e/copy:2"), skopeo(t, "inspect", "--tls-verify=false", "--raw", "docker://"+back))
	}

	// drover pulls what skopeo pushed, and runs it.
	e.must("rmi", ref)
	if out := e.must("run", "--rm", back, "echo", "from-drover-registry"); !strings.Contains(out, "from-drover-registry") {
		t.Fatalf("run: %q", out)
	}

	if _, err := exec.LookPath("podman"); err != nil {
		t.Log("podman not installed: skipping podman push/pull")
		return
	}
	podmanRef := reg.Addr + "/e2e/podman:4"
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", back, podmanRef).Run() })
	for _, args := range [][]string{
		{"pull", "-q", "--tls-verify=false", back},
		{"tag", back, podmanRef},
		{"push", "-q", "--tls-verify=false", podmanRef},
	} {
		if out, err := exec.Command("podman", args...).CombinedOutput(); err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	tags := skopeo(t, "inspect", "--tls-verify=false", "docker://"+podmanRef)
	if !strings.Contains(tags, `"Digest"`) {
		t.Fatalf("skopeo inspect of podman's push: %s", tags)
	}
	if out := e.must("pull", "-q", podmanRef); strings.TrimSpace(out) != podmanRef {
		t.Fatalf("drover pull of podman's push: %q", out)
	}
}

// TestRegistryAuthTLS: over TLS with htpasswd users, anonymous requests get 401 and the
// challenge for a repository that exists as for one that does not; skopeo pushes with
// credentials; anonymous pull works when enabled.
func TestRegistryAuthTLS(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600)
	cert, key := selfSignedCert(t, dir)
	reg := startDroverRegistry(t, "--tls-cert", cert, "--tls-key", key, "--auth", "htpasswd="+htpasswd)

	oci := ociLayout(t, 1<<20)
	ref := reg.Addr + "/private/app:1"
	skopeo(t, "copy", "--dest-tls-verify=false", "--dest-creds", "alice:pw", "oci:"+oci+":1", "docker://"+ref)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	var bodies []string
	for _, repo := range []string{"private/app", "private/none"} {
		resp, err := client.Get("https://" + reg.Addr + "/v2/" + repo + "/manifests/1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="drover"` {
			t.Fatalf("%s: %d %q", repo, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		bodies = append(bodies, string(body))
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("a private repository's existence leaks: %q vs %q", bodies[0], bodies[1])
	}
	cmd := exec.Command("skopeo", "inspect", "--tls-verify=false", "docker://"+ref)
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+filepath.Join(dir, "none.json"))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("anonymous skopeo inspect worked: %s", out)
	}
	if out := skopeo(t, "inspect", "--tls-verify=false", "--creds", "alice:pw", "docker://"+ref); !strings.Contains(out, `"Digest"`) {
		t.Fatalf("inspect with credentials: %s", out)
	}
	// With anonymous pull, the same image reads without credentials.
	reg.stop(syscall.SIGTERM)
	reg.args = append(reg.args, "--anonymous-pull")
	reg.start()
	if out := skopeo(t, "inspect", "--tls-verify=false", "docker://"+ref); !strings.Contains(out, `"Digest"`) {
		t.Fatalf("anonymous pull: %s", out)
	}
}

// TestRegistryKillDuringPush kills the registry with SIGKILL while skopeo pushes a big
// layer, at several points of the upload: after each restart no partial blob is visible,
// every stored blob matches its digest, and the push then completes.
func TestRegistryKillDuringPush(t *testing.T) {
	oci := ociLayout(t, 48<<20)
	reg := startDroverRegistry(t)
	ref := reg.Addr + "/crash/big:1"
	layer := ociLayer(t, oci)
	for _, at := range []int64{1 << 20, 16 << 20, 40 << 20} {
		cmd := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "oci:"+oci+":1", "docker://"+ref)
		if err := cmd.Start(); err != nil {
			t.Skipf("skopeo: %v", err)
		}
		reached := waitIngest(filepath.Join(reg.Root, "content", "ingest"), at, 60*time.Second)
		reg.stop(syscall.SIGKILL)
		_ = cmd.Wait()
		reg.start()
		if !reached {
			t.Logf("the upload never reached %d bytes before the push ended", at)
		}
		checkBlobs(t, reg.Root)
		resp, err := http.Head("http://" + reg.Addr + "/v2/crash/big/blobs/" + layer.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && resp.ContentLength != ociLayerSize(t, oci) {
			t.Fatalf("a partial layer is visible: %d bytes", resp.ContentLength)
		}
		if entries, _ := os.ReadDir(filepath.Join(reg.Root, "content", "ingest")); len(entries) != 0 {
			t.Fatalf("the restart left %d uploads", len(entries))
		}
	}
	skopeo(t, "copy", "--dest-tls-verify=false", "oci:"+oci+":1", "docker://"+ref)
	checkBlobs(t, reg.Root)
	dir := filepath.Join(t.TempDir(), "out")
	skopeo(t, "copy", "--src-tls-verify=false", "docker://"+ref, "dir:"+dir)
	if _, err := os.Stat(filepath.Join(dir, layer.Encoded())); err != nil {
		t.Fatalf("pulled image lacks its layer: %v", err)
	}
}

// waitIngest waits until an upload in dir holds at least n bytes.
func waitIngest(dir string, n int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*", "data"))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && fi.Size() >= n {
				return true
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// checkBlobs hashes every committed blob and compares it with its name.
func checkBlobs(t *testing.T, root string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "content", "blobs", "sha256", "*"))
	for _, f := range files {
		data, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, _ = io.Copy(h, data)
		data.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != filepath.Base(f) {
			t.Fatalf("blob %s holds content %s", filepath.Base(f), got)
		}
	}
}

// ociLayout writes an OCI image layout (tag "1") with one gzip layer of size random bytes.
func ociLayout(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
	write := func(data []byte) ocispec.Descriptor {
		d := digest.FromBytes(data)
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Encoded()), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{Digest: d, Size: int64(len(data))}
	}
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	tw := tar.NewWriter(gz)
	payload := make([]byte, size)
	rand.New(rand.NewSource(int64(size))).Read(payload)
	tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg})
	tw.Write(payload)
	tw.Close()
	gz.Close()
	diffID := digest.FromBytes(tarOf(payload))
	layer := write(buf.Bytes())
	layer.MediaType = ocispec.MediaTypeImageLayerGzip
	cfg, _ := json.Marshal(ocispec.Image{Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}}})
	config := write(cfg)
	config.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	mb, _ := json.Marshal(m)
	md := write(mb)
	md.MediaType = ocispec.MediaTypeImageManifest
	md.Annotations = map[string]string{ocispec.AnnotationRefName: "1"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), ib, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return dir
}

func tarOf(payload []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: int64(len(payload)), Typeflag: tar.TypeReg})
	tw.Write(payload)
	tw.Close()
	return buf.Bytes()
}

func ociManifest(t *testing.T, dir string) ocispec.Manifest {
	t.Helper()
	var idx ocispec.Index
	data, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	data, _ = os.ReadFile(filepath.Join(dir, "blobs", "sha256", idx.Manifests[0].Digest.Encoded()))
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func ociLayer(t *testing.T, dir string) digest.Digest { return ociManifest(t, dir).Layers[0].Digest }
func ociLayerSize(t *testing.T, dir string) int64     { return ociManifest(t, dir).Layers[0].Size }

// selfSignedCert writes a certificate for 127.0.0.1 and its key.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

// TestDaemonRegistry: drover daemon --registry-addr serves the daemon's images (by
// repository path) to other clients, anonymously with --registry-anonymous-pull, and takes
// pushes with credentials beside them.
func TestDaemonRegistry(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600)
	e := newEnv(t, "--registry-addr", addr, "--registry-auth", "htpasswd="+htpasswd, "--registry-anonymous-pull")
	e.importBusybox("team/app:1")
	var info struct{ Digest string }
	if err := json.Unmarshal([]byte(skopeo(t, "inspect", "--tls-verify=false", "docker://"+addr+"/team/app:1")), &info); err != nil || info.Digest == "" {
		t.Fatalf("skopeo inspect of a daemon image: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "img")
	skopeo(t, "copy", "--src-tls-verify=false", "docker://"+addr+"/team/app:1", "dir:"+dir)
	anon := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "dir:"+dir, "docker://"+addr+"/team/app:pushed")
	anon.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+filepath.Join(t.TempDir(), "none.json"))
	if out, err := anon.CombinedOutput(); err == nil {
		t.Fatalf("an anonymous push worked: %s", out)
	}
	skopeo(t, "copy", "--dest-tls-verify=false", "--dest-creds", "alice:pw", "dir:"+dir, "docker://"+addr+"/team/app:pushed")
	tags := skopeo(t, "list-tags", "--tls-verify=false", "docker://"+addr+"/team/app")
	if !strings.Contains(tags, `"1"`) || !strings.Contains(tags, `"pushed"`) {
		t.Fatalf("tags: %s", tags)
	}
	// Another daemon pulls the image from it and runs it.
	other := newEnv(t)
	if out := other.must("run", "--rm", addr+"/team/app:pushed", "echo", "served"); !strings.Contains(out, "served") {
		t.Fatalf("run: %q", out)
	}
}

// TestRegistryTokenAuth: with --auth token=FILE, skopeo and drover (login, push, pull) go
// through the Docker token flow; without credentials nothing is readable.
func TestRegistryTokenAuth(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600)
	reg := startDroverRegistry(t, "--auth", "token="+htpasswd)
	ref := reg.Addr + "/private/app:1"
	skopeo(t, "copy", "--dest-tls-verify=false", "--dest-creds", "alice:pw", "oci:"+ociLayout(t, 1<<16)+":1", "docker://"+ref)
	resp, err := http.Get("http://" + reg.Addr + "/v2/private/app/manifests/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, `Bearer realm="http://`+reg.Addr+`/token"`) {
		t.Fatalf("anonymous: %d %q", resp.StatusCode, ch)
	}
	if out := skopeo(t, "inspect", "--tls-verify=false", "--creds", "alice:pw", "docker://"+ref); !strings.Contains(out, `"Digest"`) {
		t.Fatalf("inspect with a token: %s", out)
	}
	e := newEnv(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if out, _, _ := e.droverIn([]byte("pw\n"), "login", "-u", "alice", "--password-stdin", reg.Addr); !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: %q", out)
	}
	e.importBusybox("busybox")
	pushed := reg.Addr + "/private/busybox:1"
	e.must("tag", "busybox", pushed)
	e.must("push", pushed)
	e.must("rmi", pushed)
	if out := e.must("run", "--rm", pushed, "echo", "token-ok"); !strings.Contains(out, "token-ok") {
		t.Fatalf("run: %q", out)
	}
}

// TestRegistryGC: drover registry gc refuses a root a registry is serving, and on a
// stopped one removes the blobs of a deleted image and keeps those of a live one.
func TestRegistryGC(t *testing.T) {
	reg := startDroverRegistry(t)
	kept, gone := reg.Addr+"/gc/kept:1", reg.Addr+"/gc/gone:1"
	skopeo(t, "copy", "--dest-tls-verify=false", "oci:"+ociLayout(t, 1<<16)+":1", "docker://"+kept)
	goneLayout := ociLayout(t, 1<<17)
	skopeo(t, "copy", "--dest-tls-verify=false", "oci:"+goneLayout+":1", "docker://"+gone)
	d := inspectDigest(t, gone)
	req, _ := http.NewRequest(http.MethodDelete, "http://"+reg.Addr+"/v2/gc/gone/manifests/"+d, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete manifest: %v %v", err, resp)
	}
	resp.Body.Close()
	if out, code := runDrover(t, "registry", "gc", "--root", reg.Root, "--grace", "0s"); code == 0 || !strings.Contains(out, "stop it first") {
		t.Fatalf("gc of a served root: %d %s", code, out)
	}
	reg.stop(syscall.SIGTERM)
	out, code := runDrover(t, "registry", "gc", "--root", reg.Root, "--grace", "0s")
	if code != 0 || !strings.Contains(out, "Removed 3 blobs") {
		t.Fatalf("gc: %d %s", code, out)
	}
	reg.start()
	checkBlobs(t, reg.Root)
	if _, err := os.Stat(filepath.Join(reg.Root, "content", "blobs", "sha256", ociLayer(t, goneLayout).Encoded())); !os.IsNotExist(err) {
		t.Fatalf("the deleted image's layer is still stored: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "kept")
	skopeo(t, "copy", "--src-tls-verify=false", "docker://"+kept, "dir:"+dir)
}
