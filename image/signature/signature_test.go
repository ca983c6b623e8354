package signature

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestSignVerify(t *testing.T) {
	priv, pub, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	edPubDER, _ := x509.MarshalPKIXPublicKey(edPriv.Public())
	pairs := map[string][2][]byte{
		"ecdsa":   {priv, pub},
		"ed25519": {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edPubDER})},
	}
	d := digest.FromString("manifest")
	other := digest.FromString("changed")
	for name, p := range pairs {
		key, err := ParsePrivateKey(p[0])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pk, err := ParsePublicKey(p[1])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s, err := Sign(key, NewPayload("reg.example/team/app", d))
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(pk, s, "reg.example/team/app", d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := Verify(pk, s, "reg.example/team/app", other); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: changed image verified: %v", name, err)
		}
		if err := Verify(pk, s, "reg.example/other", d); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: other repository verified: %v", name, err)
		}
		bad := s
		bad.Payload = NewPayload("reg.example/team/app", other)
		if err := Verify(pk, bad, "reg.example/team/app", other); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: altered payload verified: %v", name, err)
		}
	}
	// A signature by one key does not verify with another.
	k1, _ := ParsePrivateKey(pairs["ecdsa"][0])
	s, _ := Sign(k1, NewPayload("r", d))
	otherPub, _ := ParsePublicKey(pairs["ed25519"][1])
	if err := Verify(otherPub, s, "r", d); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another key verified: %v", err)
	}
}

// TestOpensslKeys: keys made by openssl load (P-256 in SEC 1 and PKCS#8, Ed25519).
func TestOpensslKeys(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"ec-sec1":  {"ecparam", "-name", "prime256v1", "-genkey", "-noout"},
		"ec-pkcs8": {"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"},
		"ed25519":  {"genpkey", "-algorithm", "ed25519"},
	} {
		keyFile, pubFile := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
		if out, err := exec.Command("openssl", append(args, "-out", keyFile)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", name, err, out)
		}
		if out, err := exec.Command("openssl", "pkey", "-in", keyFile, "-pubout", "-out", pubFile).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", name, err, out)
		}
		key, err := LoadPrivateKey(keyFile)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pub, err := LoadPublicKey(pubFile)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := digest.FromString(name)
		s, err := Sign(key, NewPayload("r", d))
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(pub, s, "r", d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	rsa := filepath.Join(dir, "rsa.key")
	exec.Command("openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024", "-out", rsa).Run()
	if _, err := LoadPrivateKey(rsa); err == nil {
		t.Fatal("an RSA key was accepted")
	}
	os.WriteFile(filepath.Join(dir, "junk"), []byte("junk"), 0o600)
	if _, err := LoadPublicKey(filepath.Join(dir, "junk")); err == nil {
		t.Fatal("junk was accepted as a public key")
	}
}

func TestManifestLayers(t *testing.T) {
	sigs := []Signature{{Payload: []byte(`{"a":1}`), Signature: "c2ln"}, {Payload: []byte(`{"b":2}`), Signature: "c2lnMg=="}}
	m, cfg, blobs := Manifest(sigs)
	if len(cfg) == 0 || len(blobs) != 2 {
		t.Fatalf("config %d bytes, %d blobs", len(cfg), len(blobs))
	}
	layers, err := Layers(m)
	if err != nil || len(layers) != 2 || layers[1].Annotations[SignatureAnnotation] != "c2lnMg==" {
		t.Fatalf("layers %+v %v", layers, err)
	}
	if Tag(digest.Digest("sha256:abc")) != "sha256-abc.sig" {
		t.Fatal(Tag("sha256:abc"))
	}
}
