package network

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/drover/drover/internal/testutil"
)

var prefixSeq atomic.Uint32

// testPrefix returns a prefix whose first three characters (the veth prefix) are unique
// in this test binary, so leak checks of one test never see another's links.
func testPrefix() string {
	return fmt.Sprintf("n%02x%04x", prefixSeq.Add(1)%256, os.Getpid()%0x10000)
}

// forEachFirewall runs fn once per firewall backend this host has: the rules must behave
// the same in nftables and in the iptables fallback.
func forEachFirewall(t *testing.T, fn func(t *testing.T, fw string)) {
	for _, fw := range []string{FirewallNftables, FirewallIptables} {
		t.Run(fw, func(t *testing.T) {
			if fw == FirewallIptables {
				if _, err := iptablesBinary(); err != nil {
					t.Skipf("iptables fallback: %v", err)
				}
			}
			fn(t, fw)
		})
	}
}

// newTestManager makes a manager with its own prefix, state and netns dir. Cleanup
// destroys it and asserts nothing with its prefix is left on the host.
func newTestManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	if cfg.Prefix == "" {
		cfg.Prefix = testPrefix()
	}
	if cfg.StateFile == "" {
		cfg.StateFile = dir + "/network.db"
	}
	if cfg.NetnsDir == "" {
		cfg.NetnsDir = dir + "/netns"
	}
	cfg.Logf = t.Logf
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
		assertNoHostObjects(t, cfg.Prefix, cfg.NetnsDir)
	})
	return m
}

// assertNoHostObjects fails if a link, nft table or netns file of prefix remains.
func assertNoHostObjects(t *testing.T, prefix, netnsDir string) {
	t.Helper()
	// Released containers' veths go with their namespaces, in the kernel's background.
	var links []string
	testutil.Poll(10*time.Second, func() bool {
		links = hostLinks(t, prefix)
		return len(links) == 0
	})
	for _, l := range links {
		t.Errorf("link %s left behind", l)
	}
	if ok, err := tableExists(prefix); err != nil || ok {
		t.Errorf("nft table inet %s left behind (err %v)", prefix, err)
	}
	if bin, err := iptablesBinary(); err == nil {
		for _, table := range []string{"filter", "nat"} {
			out, _ := exec.Command(bin, "-w", "-t", table, "-S").Output()
			if strings.Contains(string(out), strings.ToUpper(prefix)+"-") {
				t.Errorf("iptables chains of %s left behind in table %s", prefix, table)
			}
		}
	}
	if entries, err := os.ReadDir(netnsDir); err == nil && len(entries) > 0 {
		t.Errorf("netns files left behind: %v", entries)
	}
}

// hostLinks lists host links named like the manager's bridges or veths.
func hostLinks(t *testing.T, prefix string) []string {
	t.Helper()
	links, err := consistent(netlink.LinkList)
	if err != nil {
		t.Fatalf("list links: %v", err)
	}
	var out []string
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix[:3]) {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// newNS creates a namespace at the manager's path for id.
func newNS(t *testing.T, m *Manager, id string) string {
	t.Helper()
	p := m.NamespacePath(id)
	if err := NewNamespace(p); err != nil {
		t.Fatalf("NewNamespace: %v", err)
	}
	t.Cleanup(func() { RemoveNamespace(p) })
	return p
}

// inNS runs fn inside the namespace at path (InNamespace, kept for the tests' brevity).
func inNS(t *testing.T, path string, fn func() error) error {
	t.Helper()
	return InNamespace(path, fn)
}

// serveHTTP starts an HTTP server inside the namespace (or the host if path is "") on
// addr, answering body. It returns the bound address.
func serveHTTP(t *testing.T, path, addr, body string) string {
	t.Helper()
	var l net.Listener
	listen := func() (err error) {
		l, err = net.Listen("tcp4", addr)
		return err
	}
	var err error
	if path == "" {
		err = listen()
	} else {
		err = inNS(t, path, listen)
	}
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, body)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// get fetches http://addr/ from inside the namespace (host if path is "") with a short
// timeout and returns the body.
func get(t *testing.T, path, addr string) (string, error) {
	t.Helper()
	var conn net.Conn
	dial := func() (err error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		conn, err = d.Dial("tcp4", addr)
		return err
	}
	var err error
	if path == "" {
		err = dial()
	} else {
		err = inNS(t, path, dial)
	}
	if err != nil {
		return "", err
	}
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// addHostLink creates a port-less host bridge with addr (CIDR) and removes it at cleanup.
// Tests use it as a host address outside every drover network (a bridge, because the
// dummy module is not always there).
func addHostLink(t *testing.T, name, cidr string) {
	t.Helper()
	d := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(d); err != nil {
		t.Fatalf("add dummy %s: %v", name, err)
	}
	t.Cleanup(func() { netlink.LinkDel(d) })
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(d, a); err != nil {
		t.Fatalf("add %s to %s: %v", cidr, name, err)
	}
	if err := netlink.LinkSetUp(d); err != nil {
		t.Fatal(err)
	}
}

// mustAttach attaches or fails the test.
func mustAttach(t *testing.T, m *Manager, ns string, o AttachOptions) Endpoint {
	t.Helper()
	ep, err := m.Attach(ns, o)
	if err != nil {
		t.Fatalf("Attach %+v: %v", o, err)
	}
	return ep
}

// reopen closes m and opens a new manager on the same state, as a daemon restart does.
// The new manager is destroyed at cleanup (before m's own cleanup, which then finds
// nothing left).
func reopen(t *testing.T, m *Manager) *Manager {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	m2, err := New(m.cfg)
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	t.Cleanup(func() {
		if err := m2.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return m2
}
