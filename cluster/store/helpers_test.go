package store

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// patience bounds every wait in these tests; it only turns a hang into a
// failure, it is not what a test measures.
const patience = 60 * time.Second

// eventually retries fn until it succeeds, failing the test after patience.
func eventually(t testing.TB, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testLogger(name string) hclog.Logger {
	if os.Getenv("STORE_TEST_LOG") == "" {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Debug})
}

// testCA issues certificates for the tests' servers from a fresh CA.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "store test ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// tlsConfig is a server's TLS for name, good for 127.0.0.1 as server and
// as client.
func (ca *testCA) tlsConfig(t testing.TB, name string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      ca.pool,
	}
}

// openServer opens a store server and closes it at the end of the test.
func openServer(t testing.TB, cfg Config) *Raft {
	t.Helper()
	if cfg.BindAddr == "" {
		cfg.BindAddr = "127.0.0.1:0"
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(cfg.ID)
	}
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// waitLeader waits until one of servers leads and serves linearizable reads.
func waitLeader(t testing.TB, servers ...*Raft) *Raft {
	t.Helper()
	var leader *Raft
	eventually(t, "elect a leader", func() error {
		for _, s := range servers {
			if s.IsLeader() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := s.Get(ctx, "/no/such/key"); !errors.Is(err, ErrNotFound) {
					return fmt.Errorf("leader %s not serving reads: %w", s.ID(), err)
				}
				leader = s
				return nil
			}
		}
		return errors.New("no leader")
	})
	return leader
}

// newCluster starts n servers (TLS from ca unless nil): the first
// bootstraps, the others join through AddVoter.
func newCluster(t testing.TB, n int, ca *testCA, tweak func(*Config)) []*Raft {
	t.Helper()
	var servers []*Raft
	for i := 0; i < n; i++ {
		cfg := Config{ID: fmt.Sprintf("s%d", i), Bootstrap: i == 0}
		if ca != nil {
			cfg.TLS = ca.tlsConfig(t, cfg.ID)
		}
		if tweak != nil {
			tweak(&cfg)
		}
		s := openServer(t, cfg)
		servers = append(servers, s)
		if i == 0 {
			waitLeader(t, s)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		err := servers[0].AddVoter(ctx, s.ID(), s.Addr())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	return servers
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}
