package pki

import (
	"encoding/json"
	"math/big"
	"sync"
	"testing"
	"time"
)

func TestRevocationListJSON(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := NewRevocationList()
	a.RevokeSerial(big.NewInt(0xbeef), now.Add(time.Hour))
	a.RevokeSerial(big.NewInt(0x10), now.Add(-time.Hour))
	a.RevokeSerial(big.NewInt(0xabc), time.Time{})

	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"revoked":[{"serial":"10","notAfter":"2025-12-31T23:00:00Z"},{"serial":"abc"},{"serial":"beef","notAfter":"2026-01-01T01:00:00Z"}]}`
	if string(data) != want {
		t.Errorf("encoding\n got %s\nwant %s", data, want)
	}
	b := NewRevocationList()
	b.RevokeSerial(big.NewInt(99), time.Time{}) // replaced by the decode
	if err := json.Unmarshal(data, b); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 3 || !b.IsRevoked(big.NewInt(0xbeef)) || b.IsRevoked(big.NewInt(99)) {
		t.Errorf("decoded list: len %d", b.Len())
	}
	if n := b.Prune(now); n != 1 || b.IsRevoked(big.NewInt(0x10)) || !b.IsRevoked(big.NewInt(0xabc)) {
		t.Errorf("prune dropped %d; the expired entry must go, the undated one stay", n)
	}
	for _, bad := range []string{`{"revoked":[{"serial":"xyz"}]}`, `{"revoked":[{"serial":"0"}]}`, `[`} {
		if err := json.Unmarshal([]byte(bad), b); err == nil {
			t.Errorf("decoded %s", bad)
		}
	}
	if b.Len() != 2 {
		t.Error("a failed decode changed the list")
	}
	var zero RevocationList
	if zero.IsRevoked(big.NewInt(1)) || zero.IsRevoked(nil) {
		t.Error("the zero list revokes")
	}
	zero.RevokeSerial(big.NewInt(1), time.Time{})
	if !zero.IsRevoked(big.NewInt(1)) {
		t.Error("the zero list is not usable")
	}
}

// Run with -race: checks and reloads while handshakes read the list.
func TestRevocationListConcurrent(t *testing.T) {
	l := NewRevocationList()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 100 {
				l.RevokeSerial(big.NewInt(int64(i*1000+j+1)), time.Time{})
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 100 {
				l.IsRevoked(big.NewInt(int64(j + 1)))
				if data, err := l.MarshalJSON(); err == nil && j%10 == 0 {
					_ = NewRevocationList().UnmarshalJSON(data)
				}
			}
		}()
	}
	wg.Wait()
	if l.Len() != 400 {
		t.Errorf("len %d, want 400", l.Len())
	}
}
