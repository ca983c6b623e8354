package pki

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Join tokens.
//
// A token reads "drv1.<ca-hash>.<id>.<secret>":
//
//	drv1      format version
//	ca-hash   64 lowercase hex digits: SHA-256 of the cluster CA certificate's
//	          DER. The joiner pins the server's CA to it before it sends
//	          anything secret (kubeadm's discovery-token-ca-cert-hash, carried
//	          in the token so one string is all a joiner needs).
//	id        8 characters of [a-z2-7]: names the token's record; not secret
//	          (it shows in logs and "token list").
//	secret    32 characters of [a-z2-7] (160 random bits); the server keeps
//	          only its SHA-256. A plain hash suffices, and bcrypt would only
//	          cost CPU, because the secret is random rather than chosen by a
//	          person: nothing to brute-force from a dictionary.
//
// Example: drv1.9f86d0...a08.abcd2345.qrstuvwxyz234567abcdefghijklmnop
const (
	TokenPrefix    = "drv1"
	tokenIDLen     = 8
	tokenSecretLen = 32
	tokenAlphabet  = "abcdefghijklmnopqrstuvwxyz234567" // 32 symbols: one per 5 random bits
	maxTokenLen    = 4 + 1 + 64 + 1 + tokenIDLen + 1 + tokenSecretLen
)

// TokenUsage says which roles a token may join.
type TokenUsage string

const (
	// TokenAgent tokens join node agents only.
	TokenAgent TokenUsage = "agent"
	// TokenServer tokens join servers (and agents: a server token is the
	// stronger credential).
	TokenServer TokenUsage = "server"
)

// Token errors. ErrTokenExpired is only returned to a caller that presented
// the right secret, so telling it apart leaks nothing to a guesser; every
// other failure is ErrTokenInvalid, with the detail (unknown id, wrong
// secret, malformed) in the wrapping message for the server's log.
var (
	ErrTokenInvalid  = errors.New("join token invalid")
	ErrTokenExpired  = errors.New("join token expired")
	ErrTokenNotFound = errors.New("join token not found")
)

// TokenRecord is what the server stores for a token: never the secret.
type TokenRecord struct {
	ID string `json:"id"`
	// SecretHash is the hex SHA-256 of the secret.
	SecretHash string     `json:"secretHash"`
	Expires    time.Time  `json:"expires"`
	Usage      TokenUsage `json:"usage"`
}

// Expired reports whether the token is past its expiry at now.
func (r TokenRecord) Expired(now time.Time) bool { return !now.Before(r.Expires) }

// Allows reports whether the token may join a machine in the given role
// ("agent" or "server").
func (r TokenRecord) Allows(role TokenUsage) bool {
	switch r.Usage {
	case TokenServer:
		return role == TokenServer || role == TokenAgent
	case TokenAgent:
		return role == TokenAgent
	}
	return false
}

// TokenStore finds a token's record by id; the server implements it over
// the replicated store. A missing id is an error wrapping ErrTokenNotFound.
type TokenStore interface {
	Lookup(ctx context.Context, id string) (TokenRecord, error)
}

// Token is a parsed join token.
type Token struct {
	CAHash string
	ID     string
	Secret string
}

// String is the token's text.
func (t Token) String() string {
	return TokenPrefix + "." + t.CAHash + "." + t.ID + "." + t.Secret
}

// NewToken makes a token for the cluster whose CA is caCert, valid for ttl,
// and the record the server stores for it.
func NewToken(caCert *x509.Certificate, ttl time.Duration, usage TokenUsage) (string, TokenRecord, error) {
	if usage != TokenAgent && usage != TokenServer {
		return "", TokenRecord{}, fmt.Errorf("new join token: usage %q is not %q or %q", usage, TokenAgent, TokenServer)
	}
	if ttl <= 0 {
		return "", TokenRecord{}, fmt.Errorf("new join token: ttl %s must be positive", ttl)
	}
	id, err := randomText(tokenIDLen)
	if err != nil {
		return "", TokenRecord{}, fmt.Errorf("new join token: %w", err)
	}
	secret, err := randomText(tokenSecretLen)
	if err != nil {
		return "", TokenRecord{}, fmt.Errorf("new join token: %w", err)
	}
	t := Token{CAHash: CertHash(caCert), ID: id, Secret: secret}
	rec := TokenRecord{ID: id, SecretHash: hashSecret(secret), Expires: time.Now().Add(ttl).UTC(), Usage: usage}
	return t.String(), rec, nil
}

// ParseToken parses a token's text (surrounding white space is ignored, as
// tokens get pasted). The text is untrusted: it is checked character by
// character and the error never echoes the secret.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if len(s) != maxTokenLen {
		return Token{}, fmt.Errorf("%w: malformed (want %s.<ca-hash>.<id>.<secret>)", ErrTokenInvalid, TokenPrefix)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 || parts[0] != TokenPrefix {
		return Token{}, fmt.Errorf("%w: malformed (want %s.<ca-hash>.<id>.<secret>)", ErrTokenInvalid, TokenPrefix)
	}
	t := Token{CAHash: parts[1], ID: parts[2], Secret: parts[3]}
	if len(t.CAHash) != 64 || strings.Trim(t.CAHash, "0123456789abcdef") != "" {
		return Token{}, fmt.Errorf("%w: malformed CA hash", ErrTokenInvalid)
	}
	if len(t.ID) != tokenIDLen || strings.Trim(t.ID, tokenAlphabet) != "" {
		return Token{}, fmt.Errorf("%w: malformed token id", ErrTokenInvalid)
	}
	if len(t.Secret) != tokenSecretLen || strings.Trim(t.Secret, tokenAlphabet) != "" {
		return Token{}, fmt.Errorf("%w: malformed token secret", ErrTokenInvalid)
	}
	return t, nil
}

// VerifyToken checks a presented token against the stored records at now
// and returns its record. The secret is compared in constant time and
// before the expiry, so only a holder of the real secret learns that a
// token expired. Store failures other than ErrTokenNotFound are returned
// as they are (the server is unwell; the token may be fine).
func VerifyToken(ctx context.Context, store TokenStore, token string, now time.Time) (TokenRecord, error) {
	t, err := ParseToken(token)
	if err != nil {
		return TokenRecord{}, err
	}
	rec, err := store.Lookup(ctx, t.ID)
	if errors.Is(err, ErrTokenNotFound) {
		return TokenRecord{}, fmt.Errorf("%w: unknown token id %q", ErrTokenInvalid, t.ID)
	}
	if err != nil {
		return TokenRecord{}, fmt.Errorf("look up join token %q: %w", t.ID, err)
	}
	got := hashSecret(t.Secret)
	if subtle.ConstantTimeCompare([]byte(got), []byte(rec.SecretHash)) != 1 {
		return TokenRecord{}, fmt.Errorf("%w: wrong secret for token id %q", ErrTokenInvalid, t.ID)
	}
	if rec.Expired(now) {
		return TokenRecord{}, fmt.Errorf("%w: token id %q expired at %s", ErrTokenExpired, t.ID, rec.Expires.UTC().Format(time.RFC3339))
	}
	return rec, nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func randomText(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	for i := range b {
		b[i] = tokenAlphabet[b[i]&31] // 256 is a multiple of 32: no bias
	}
	return string(b), nil
}
