package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image"
	"github.com/drover/drover/image/signature"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	priv, pub, _ := signature.Generate()
	os.WriteFile(filepath.Join(dir, "team.pub"), pub, 0o644)
	_, otherPub, _ := signature.Generate()
	os.WriteFile(filepath.Join(dir, "other.pub"), otherPub, 0o644)
	key, _ := signature.ParsePrivateKey(priv)
	p, err := Parse([]byte(`{
		"default": [{"type": "reject"}],
		"transports": {"docker": {
			"reg.example:5000/team": [{"type": "sigstoreSigned", "keyPath": "team.pub", "signedIdentity": {"type": "matchRepository"}}],
			"reg.example:5000/team/legacy": [{"type": "insecureAcceptAnything"}],
			"reg.example:5000/strict": [{"type": "sigstoreSigned", "keyPaths": ["other.pub"]}],
			"docker.io": [{"type": "insecureAcceptAnything"}],
			"*.corp.example": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/nonexistent"}]
		}}}`), dir)
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("manifest")
	signed := func(repo string) Signatures {
		return func() ([]signature.Signature, error) {
			s, err := signature.Sign(key, signature.NewPayload(repo, d))
			return []signature.Signature{s}, err
		}
	}
	none := func() ([]signature.Signature, error) { return nil, nil }
	for _, c := range []struct {
		ref     string
		d       digest.Digest
		sigs    Signatures
		refused string // "" when accepted; else a part of the message
	}{
		{"reg.example:5000/team/app:1", d, signed("reg.example:5000/team/app"), ""},
		{"reg.example:5000/team/app:1", d, none, "docker scope reg.example:5000/team, requirement 1 (sigstoreSigned)"},
		{"reg.example:5000/team/app:1", digest.FromString("changed"), signed("reg.example:5000/team/app"), "changed after signing"},
		{"reg.example:5000/team/app:1", d, signed("reg.example:5000/team/other"), "not reg.example:5000/team/app"},
		{"reg.example:5000/team/legacy:1", d, none, ""},
		{"reg.example:5000/strict/app:1", d, signed("reg.example:5000/strict/app"), "other.pub"},
		{"busybox", d, none, ""},
		{"reg.example:5000/else:1", d, signed("reg.example:5000/else"), "the default requirements, requirement 1 (reject)"},
		{"a.corp.example/x:1", d, none, "GPG signatures are not supported"},
	} {
		ref, err := image.ParseReference(c.ref)
		if err != nil {
			t.Fatal(err)
		}
		err = p.Check(ref, c.d, c.sigs)
		if c.refused == "" {
			if err != nil {
				t.Errorf("%s refused: %v", c.ref, err)
			}
			continue
		}
		if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), c.refused) {
			t.Errorf("%s: %v, want a refusal naming %q", c.ref, err, c.refused)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, doc := range []string{
		`{`,
		`{"transports": {}}`,
		`{"default": []}`,
		`{"default": [{"type": "maybe"}]}`,
		`{"default": [{"type": "sigstoreSigned"}]}`,
		`{"default": [{"type": "sigstoreSigned", "keyPath": "/nonexistent.pub"}]}`,
		`{"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {"x": [{"type": "sigstoreSigned", "keyData": "!!"}]}}}`,
	} {
		if _, err := Parse([]byte(doc), t.TempDir()); err == nil {
			t.Errorf("accepted %s", doc)
		}
	}
}
