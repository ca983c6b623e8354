package network

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/drover/drover/internal/testutil"
)

// TestDialIn: DialIn reaches a listener on the namespace's own loopback, and 127.0.0.1
// there is not the host's.
func TestDialIn(t *testing.T) {
	testutil.RequiresRoot(t)
	p := filepath.Join(t.TempDir(), "ns")
	if err := NewNamespace(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveNamespace(p) })
	var inside net.Listener
	if err := inNS(t, p, func() (err error) {
		inside, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer inside.Close()
	go func() {
		c, err := inside.Accept()
		if err == nil {
			_, _ = c.Write([]byte("from the namespace"))
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := DialIn(ctx, p, inside.Addr().String())
	if err != nil {
		t.Fatalf("DialIn: %v", err)
	}
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "from the namespace" {
		t.Fatalf("read %q", got)
	}

	host, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if c, err := DialIn(ctx, p, host.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial to a port only the host listens on: %v, want connection refused", err)
	}
}
