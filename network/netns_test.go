package network

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/drover/drover/internal/testutil"
)

func TestNamespaceLifecycle(t *testing.T) {
	testutil.RequiresRoot(t)
	p := filepath.Join(t.TempDir(), "ns")
	if err := NewNamespace(p); err != nil {
		t.Fatalf("NewNamespace: %v", err)
	}
	t.Cleanup(func() { RemoveNamespace(p) })
	if err := NewNamespace(p); err == nil {
		t.Fatalf("second NewNamespace on the same path succeeded")
	}
	// lo is up inside: a listener on 127.0.0.1 accepts a connection.
	err := inNS(t, p, func() error {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatalf("loopback inside the namespace: %v", err)
	}
	if err := RemoveNamespace(p); err != nil {
		t.Fatalf("RemoveNamespace: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("namespace file remains: %v", err)
	}
	if err := RemoveNamespace(p); err != nil {
		t.Fatalf("RemoveNamespace of an absent file: %v", err)
	}
}
