package pki

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"
)

// VerifyPeer is a check run on the peer's leaf certificate at every TLS
// handshake, after the chain has verified against the CA. A non-nil error
// fails the handshake. Servers plug in the revocation list and, say, a
// "is this node still a member" lookup.
type VerifyPeer func(cert *x509.Certificate) error

// ErrRevoked is wrapped by the revocation check's error.
var ErrRevoked = errors.New("certificate revoked")

// RevocationList is the set of revoked certificate serial numbers, safe for
// concurrent use. It is small and serializes to JSON deterministically, so
// the server keeps it as one value in the replicated store and every server
// loads the same list.
type RevocationList struct {
	mu sync.RWMutex
	// serial (lowercase hex) -> the certificate's NotAfter, after which the
	// entry is useless (the certificate fails on expiry anyway) and Prune
	// drops it.
	revoked map[string]time.Time
}

// NewRevocationList returns an empty list.
func NewRevocationList() *RevocationList {
	return &RevocationList{revoked: map[string]time.Time{}}
}

func serialKey(s *big.Int) string { return strings.ToLower(s.Text(16)) }

// Revoke adds the certificate's serial number.
func (l *RevocationList) Revoke(cert *x509.Certificate) {
	l.RevokeSerial(cert.SerialNumber, cert.NotAfter)
}

// RevokeSerial adds a serial number; notAfter is the certificate's expiry
// (zero: keep the entry forever).
func (l *RevocationList) RevokeSerial(serial *big.Int, notAfter time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.revoked == nil {
		l.revoked = map[string]time.Time{}
	}
	l.revoked[serialKey(serial)] = notAfter
}

// IsRevoked reports whether the serial number is in the list.
func (l *RevocationList) IsRevoked(serial *big.Int) bool {
	if serial == nil {
		return false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.revoked[serialKey(serial)]
	return ok
}

// Check is the list as a VerifyPeer.
func (l *RevocationList) Check(cert *x509.Certificate) error {
	if l.IsRevoked(cert.SerialNumber) {
		return fmt.Errorf("%w: %q serial %s", ErrRevoked, cert.Subject.CommonName, serialKey(cert.SerialNumber))
	}
	return nil
}

// Len is the number of entries.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.revoked)
}

// Prune drops entries for certificates expired before now and reports how
// many it dropped.
func (l *RevocationList) Prune(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for s, exp := range l.revoked {
		if !exp.IsZero() && exp.Before(now) {
			delete(l.revoked, s)
			n++
		}
	}
	return n
}

// revokedEntry is one serialized entry.
type revokedEntry struct {
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"notAfter,omitzero"`
}

type revocationJSON struct {
	Revoked []revokedEntry `json:"revoked"`
}

// MarshalJSON writes the entries sorted by serial, so equal lists encode to
// equal bytes.
func (l *RevocationList) MarshalJSON() ([]byte, error) {
	l.mu.RLock()
	v := revocationJSON{Revoked: make([]revokedEntry, 0, len(l.revoked))}
	for s, exp := range l.revoked {
		v.Revoked = append(v.Revoked, revokedEntry{Serial: s, NotAfter: exp.UTC()})
	}
	l.mu.RUnlock()
	slices.SortFunc(v.Revoked, func(a, b revokedEntry) int { return strings.Compare(a.Serial, b.Serial) })
	return json.Marshal(v)
}

// UnmarshalJSON replaces the list's entries with the encoded ones (a server
// calls it each time the stored list changes).
func (l *RevocationList) UnmarshalJSON(data []byte) error {
	var v revocationJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("decode revocation list: %w", err)
	}
	m := make(map[string]time.Time, len(v.Revoked))
	for _, e := range v.Revoked {
		n, ok := new(big.Int).SetString(e.Serial, 16)
		if !ok || n.Sign() <= 0 {
			return fmt.Errorf("decode revocation list: bad serial %q", e.Serial)
		}
		m[serialKey(n)] = e.NotAfter
	}
	l.mu.Lock()
	l.revoked = m
	l.mu.Unlock()
	return nil
}
