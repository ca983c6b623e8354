package signature

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// FuzzVerify: signatures and payloads come from registries: verifying never panics and
// never accepts what the key did not sign.
func FuzzVerify(f *testing.F) {
	priv, pub, _ := Generate()
	key, _ := ParsePrivateKey(priv)
	pk, _ := ParsePublicKey(pub)
	d := digest.FromString("x")
	good, _ := Sign(key, NewPayload("r", d))
	f.Add(good.Payload, good.Signature+"A")
	f.Add([]byte("{}"), "")
	f.Fuzz(func(t *testing.T, payload []byte, sig string) {
		if string(payload) == string(good.Payload) {
			return // the key signed this payload (ECDSA signatures have more than one form)
		}
		if err := Verify(pk, Signature{Payload: payload, Signature: sig}, "r", d); err == nil {
			t.Fatalf("accepted an unsigned payload %q", payload)
		}
		_, _ = Layers(payload)
	})
}
