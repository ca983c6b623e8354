package pki

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// memTokens is a TokenStore over a map.
type memTokens map[string]TokenRecord

func (m memTokens) Lookup(_ context.Context, id string) (TokenRecord, error) {
	r, ok := m[id]
	if !ok {
		return TokenRecord{}, fmt.Errorf("token %s: %w", id, ErrTokenNotFound)
	}
	return r, nil
}

type failingTokens struct{}

var errStoreDown = errors.New("store unavailable")

func (failingTokens) Lookup(context.Context, string) (TokenRecord, error) {
	return TokenRecord{}, errStoreDown
}

func TestNewTokenFormat(t *testing.T) {
	ca := newTestCA(t)
	text, rec, err := NewToken(ca.Cert, time.Hour, TokenAgent)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseToken(text)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	if tok.CAHash != ca.Hash() || tok.ID != rec.ID || tok.String() != text {
		t.Errorf("token %+v, record %+v, CA hash %s", tok, rec, ca.Hash())
	}
	if strings.Contains(rec.SecretHash, tok.Secret) || rec.SecretHash == "" {
		t.Error("record holds the secret or no hash")
	}
	if rec.Usage != TokenAgent || time.Until(rec.Expires) > time.Hour || time.Until(rec.Expires) < 59*time.Minute {
		t.Errorf("record %+v", rec)
	}
	text2, _, err := NewToken(ca.Cert, time.Hour, TokenAgent)
	if err != nil {
		t.Fatal(err)
	}
	if text2 == text {
		t.Error("two tokens are equal")
	}
	for _, bad := range []struct {
		ttl   time.Duration
		usage TokenUsage
	}{{0, TokenAgent}, {time.Hour, "admin"}} {
		if _, _, err := NewToken(ca.Cert, bad.ttl, bad.usage); err == nil {
			t.Errorf("NewToken(%v, %q) succeeded", bad.ttl, bad.usage)
		}
	}
}

func TestVerifyToken(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	good, goodRec, err := NewToken(ca.Cert, time.Hour, TokenServer)
	if err != nil {
		t.Fatal(err)
	}
	old, oldRec, err := NewToken(ca.Cert, time.Hour, TokenAgent)
	if err != nil {
		t.Fatal(err)
	}
	oldRec.Expires = now.Add(-time.Minute)
	store := memTokens{goodRec.ID: goodRec, oldRec.ID: oldRec}
	tok, _ := ParseToken(good)
	wrongSecret := Token{CAHash: tok.CAHash, ID: tok.ID, Secret: strings.Repeat("a", tokenSecretLen)}.String()
	oldTok, _ := ParseToken(old)
	oldWrongSecret := Token{CAHash: oldTok.CAHash, ID: oldTok.ID, Secret: strings.Repeat("b", tokenSecretLen)}.String()
	unknown := Token{CAHash: tok.CAHash, ID: "zzzzzzzz", Secret: tok.Secret}.String()

	tests := []struct {
		name  string
		store TokenStore
		token string
		want  error // nil: valid
	}{
		{"valid", store, good, nil},
		{"valid with white space", store, "  " + good + "\n", nil},
		{"wrong secret", store, wrongSecret, ErrTokenInvalid},
		{"unknown id", store, unknown, ErrTokenInvalid},
		{"expired, right secret", store, old, ErrTokenExpired},
		{"expired, wrong secret: no hint", store, oldWrongSecret, ErrTokenInvalid},
		{"malformed", store, "drv1.abc", ErrTokenInvalid},
		{"store down", failingTokens{}, good, errStoreDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := VerifyToken(context.Background(), tt.store, tt.token, now)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if rec.ID != goodRec.ID || rec.Usage != TokenServer {
					t.Errorf("record %+v", rec)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if errors.Is(err, ErrTokenExpired) && errors.Is(err, ErrTokenInvalid) {
				t.Error("error is both expired and invalid")
			}
			if strings.Contains(err.Error(), tok.Secret) {
				t.Error("error message shows the secret")
			}
		})
	}
	// Expiry is exclusive: at the instant of expiry the token is dead.
	if _, err := VerifyToken(context.Background(), store, good, goodRec.Expires); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("at expiry: %v, want expired", err)
	}
}

func TestParseTokenRejects(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	id, secret := "abcd2345", strings.Repeat("q", tokenSecretLen)
	ok := "drv1." + hash + "." + id + "." + secret
	if _, err := ParseToken(ok); err != nil {
		t.Fatalf("well-formed token: %v", err)
	}
	bad := []string{
		"",
		"drv2." + hash + "." + id + "." + secret,
		"drv1." + strings.ToUpper(hash) + "." + id + "." + secret,
		"drv1." + hash[:63] + "g." + id + "." + secret,
		"drv1." + hash + ".ABCD2345." + secret,
		"drv1." + hash + ".abcd2340." + secret, // 0 is not in the alphabet
		"drv1." + hash + "." + id + "." + secret[:31] + "!",
		"drv1." + hash + "." + id + "x" + secret[1:],
		"drv1." + hash + "." + id + "." + secret + "a",
		"drv1." + hash + "." + id + "." + secret[:31] + ".",
	}
	for _, s := range bad {
		if tok, err := ParseToken(s); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("ParseToken(%q) = %+v, %v; want ErrTokenInvalid", s, tok, err)
		}
	}
}

func TestTokenAllows(t *testing.T) {
	tests := []struct {
		usage TokenUsage
		role  TokenUsage
		want  bool
	}{
		{TokenAgent, TokenAgent, true},
		{TokenAgent, TokenServer, false},
		{TokenServer, TokenServer, true},
		{TokenServer, TokenAgent, true},
		{"", TokenAgent, false},
		{TokenServer, "admin", false},
	}
	for _, tt := range tests {
		if got := (TokenRecord{Usage: tt.usage}).Allows(tt.role); got != tt.want {
			t.Errorf("%q token allows %q = %v, want %v", tt.usage, tt.role, got, tt.want)
		}
	}
}
