package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runDrover runs the CLI without a daemon (key, sign and verify need none).
func runDrover(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(droverBin(t), args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestSignVerify: drover key generate, sign and verify against drover's registry, in
// cosign's format; another key, or an image changed after signing, fails verification;
// openssl's Ed25519 keys work.
func TestSignVerify(t *testing.T) {
	reg := startDroverRegistry(t)
	ref := reg.Addr + "/signed/app:1"
	skopeo(t, "copy", "--dest-tls-verify=false", "oci:"+ociLayout(t, 4096)+":1", "docker://"+ref)
	dir := t.TempDir()
	k1, k2 := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	for _, k := range []string{k1, k2} {
		if out, code := runDrover(t, "key", "generate", "--output-key-prefix", k); code != 0 {
			t.Fatalf("key generate: %s", out)
		}
	}
	if out, code := runDrover(t, "key", "generate", "--output-key-prefix", k1); code == 0 || !strings.Contains(out, "exists") {
		t.Fatalf("key generate over an existing key: %d %s", code, out)
	}
	if out, code := runDrover(t, "verify", "--key", k1+".pub", ref); code != 1 || !strings.Contains(out, "no signatures") {
		t.Fatalf("verify of an unsigned image: %d %s", code, out)
	}
	out, code := runDrover(t, "sign", "--key", k1+".key", ref)
	if code != 0 || !strings.Contains(out, ".sig") {
		t.Fatalf("sign: %d %s", code, out)
	}
	if out, code := runDrover(t, "verify", "--key", k1+".pub", ref); code != 0 || !strings.Contains(out, "Verified") {
		t.Fatalf("verify: %d %s", code, out)
	}
	if out, code := runDrover(t, "verify", "--key", k2+".pub", ref); code != 1 || !strings.Contains(out, "does not verify") {
		t.Fatalf("verify with another key: %d %s", code, out)
	}
	// The signature is cosign's: a simple signing layer under the sha256-<hex>.sig tag.
	tags := skopeo(t, "list-tags", "--tls-verify=false", "docker://"+reg.Addr+"/signed/app")
	if !strings.Contains(tags, ".sig\"") {
		t.Fatalf("no signature tag: %s", tags)
	}
	// An Ed25519 key made by openssl signs too; both signatures are kept.
	if _, err := exec.LookPath("openssl"); err == nil {
		ed := filepath.Join(dir, "ed")
		if out, err := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-out", ed+".key").CombinedOutput(); err != nil {
			t.Fatalf("openssl: %v %s", err, out)
		}
		if out, err := exec.Command("openssl", "pkey", "-in", ed+".key", "-pubout", "-out", ed+".pub").CombinedOutput(); err != nil {
			t.Fatalf("openssl: %v %s", err, out)
		}
		if out, code := runDrover(t, "sign", "--key", ed+".key", ref); code != 0 {
			t.Fatalf("sign with ed25519: %s", out)
		}
		for _, pub := range []string{ed + ".pub", k1 + ".pub"} {
			if out, code := runDrover(t, "verify", "--key", pub, ref); code != 0 {
				t.Fatalf("verify %s: %s", pub, out)
			}
		}
	}
	// The tag now names other content: the signatures no longer apply.
	skopeo(t, "copy", "--dest-tls-verify=false", "oci:"+ociLayout(t, 8192)+":1", "docker://"+ref)
	if out, code := runDrover(t, "verify", "--key", k1+".pub", ref); code != 1 {
		t.Fatalf("verify of a changed image: %d %s", code, out)
	}
}

// TestTrustPolicy: a daemon with a containers-policy.json trust policy pulls and runs
// images signed by the team's key, refuses unsigned ones, ones under a rejecting scope,
// and an image whose tag was moved to other content after signing, naming the rule.
func TestTrustPolicy(t *testing.T) {
	reg := startDroverRegistry(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "team")
	if out, code := runDrover(t, "key", "generate", "--output-key-prefix", key); code != 0 {
		t.Fatalf("key generate: %s", out)
	}
	policyFile := filepath.Join(dir, "policy.json")
	os.WriteFile(policyFile, []byte(`{
  "default": [{"type": "reject"}],
  "transports": {"docker": {
    "`+reg.Addr+`/team": [{"type": "sigstoreSigned", "keyPath": "`+key+`.pub", "signedIdentity": {"type": "matchRepository"}}],
    "`+reg.Addr+`/open": [{"type": "insecureAcceptAnything"}]
  }}
}`), 0o644)
	e := newEnv(t, "--signature-policy", policyFile)
	e.importBusybox("busybox")
	e.importTestprog("testprog")
	signed, unsigned, open, other := reg.Addr+"/team/signed:1", reg.Addr+"/team/unsigned:1", reg.Addr+"/open/app:1", reg.Addr+"/else/app:1"
	for _, ref := range []string{signed, unsigned, open, other} {
		e.must("tag", "busybox", ref)
		e.must("push", ref)
		e.must("rmi", ref)
	}
	if out, code := runDrover(t, "sign", "--key", key+".key", signed); code != 0 {
		t.Fatalf("sign: %s", out)
	}
	if out := e.must("run", "--rm", signed, "echo", "trusted"); !strings.Contains(out, "trusted") {
		t.Fatalf("run of a signed image: %q", out)
	}
	e.must("pull", "-q", open)
	for ref, rule := range map[string]string{
		unsigned: "docker scope " + reg.Addr + "/team, requirement 1 (sigstoreSigned)",
		other:    "the default requirements, requirement 1 (reject)",
	} {
		if _, errOut, code := e.drover("pull", ref); code == 0 || !strings.Contains(errOut, rule) {
			t.Fatalf("pull %s: code %d, want a refusal naming %q: %s", ref, code, rule, errOut)
		}
		if _, errOut, code := e.drover("run", "--rm", ref, "true"); code == 0 || !strings.Contains(errOut, "refuses") {
			t.Fatalf("run %s: code %d: %s", ref, code, errOut)
		}
	}
	// The signed tag now names other content: refused, the old signature does not apply.
	e.must("rmi", signed)
	e.must("tag", "testprog", signed)
	e.must("push", signed)
	e.must("rmi", signed)
	if _, errOut, code := e.drover("pull", signed); code == 0 || !strings.Contains(errOut, "sigstoreSigned") {
		t.Fatalf("pull of a changed image: code %d: %s", code, errOut)
	}
	if out := e.must("images", "--format", "{{.Repository}}:{{.Tag}}"); strings.Contains(out, "/team/unsigned") || strings.Contains(out, "/else/") {
		t.Fatalf("a refused image was stored: %s", out)
	}
}

// TestSignaturesTravel: signatures pulled with an image are pushed with it to another
// registry, where they still verify.
func TestSignaturesTravel(t *testing.T) {
	a, b := startDroverRegistry(t), startDroverRegistry(t)
	key := filepath.Join(t.TempDir(), "k")
	if out, code := runDrover(t, "key", "generate", "--output-key-prefix", key); code != 0 {
		t.Fatalf("key generate: %s", out)
	}
	e := newEnv(t)
	e.importBusybox("busybox")
	src, dst := a.Addr+"/team/app:1", b.Addr+"/copy/app:1"
	e.must("tag", "busybox", src)
	e.must("push", src)
	e.must("rmi", src)
	if out, code := runDrover(t, "sign", "--key", key+".key", src); code != 0 {
		t.Fatalf("sign: %s", out)
	}
	e.must("pull", "-q", src)
	e.must("tag", src, dst)
	if out := e.must("push", dst); !strings.Contains(out, "1 signature(s)") {
		t.Fatalf("push did not carry the signature: %s", out)
	}
	if out, code := runDrover(t, "verify", "--key", key+".pub", dst); code != 0 {
		t.Fatalf("verify in the second registry: %s", out)
	}
}
