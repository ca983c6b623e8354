package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/testutil"
	"github.com/drover/drover/network"
)

func newCNI(t *testing.T, confDir string) *CNI {
	t.Helper()
	c, err := New(Config{ConfDir: confDir, BinDirs: []string{testutil.CNIPluginDir}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newNetns makes a namespace file removed when the test ends.
func newNetns(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ns")
	if err := network.NewNamespace(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = network.RemoveNamespace(p) })
	return p
}

// serveIn answers "hi" on port 8080 inside the namespace at path.
func serveIn(t *testing.T, path string) {
	t.Helper()
	type res struct {
		ln  net.Listener
		err error
	}
	ch := make(chan res, 1)
	go func() {
		// The thread stays in the namespace and is discarded when the goroutine ends.
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(path)
		if err == nil {
			err = netns.Set(ns)
			ns.Close()
		}
		if err != nil {
			ch <- res{err: err}
			return
		}
		ln, err := net.Listen("tcp", ":8080")
		ch <- res{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	go func() {
		for {
			conn, err := r.ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(conn, "hi")
			conn.Close()
		}
	}()
}

func fetch(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}

// TestAddDel attaches a real namespace with the bridge, host-local, portmap and loopback
// plugins, reaches it from the host directly and through a mapped port, and detaches it
// (twice) leaving nothing behind.
func TestAddDel(t *testing.T) {
	tn := testutil.NewCNINetwork(t)
	c := newCNI(t, tn.ConfDir)
	n, err := c.Load()
	if err != nil || n == nil || n.Name != tn.Name {
		t.Fatalf("Load: %v %+v", err, n)
	}
	ns := newNetns(t)
	id := fmt.Sprintf("cnitest%d", os.Getpid())
	hostPort := testutil.FreePort(t)
	t.Cleanup(func() { _ = c.Del(context.Background(), id) })
	res, err := c.Add(context.Background(), n, Attachment{ContainerID: id, NetNS: ns, IfName: "eth0",
		Args:         [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "web"}},
		PortMappings: []PortMapping{{HostPort: hostPort, ContainerPort: 8080, Protocol: "tcp"}}})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if !tn.Subnet.Contains(res.IP.Addr()) || !tn.Subnet.Contains(res.Gateway) || res.MAC == "" {
		t.Fatalf("result %+v is not in %s", res, tn.Subnet)
	}
	// The interface holds the address inside the namespace.
	h, err := netlink.NewHandleAt(mustNs(t, ns))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatalf("no eth0 in the namespace: %v", err)
	}
	addrs, _ := h.AddrList(eth0, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IP.String() != res.IP.Addr().String() || eth0.Attrs().HardwareAddr.String() != res.MAC {
		t.Fatalf("eth0 has %v (mac %s), want %s (mac %s)", addrs, eth0.Attrs().HardwareAddr, res.IP, res.MAC)
	}
	if ids, _ := c.Attached(); len(ids) != 1 || ids[0] != id {
		t.Fatalf("Attached: %v", ids)
	}

	serveIn(t, ns)
	if got, err := fetch(net.JoinHostPort(res.IP.Addr().String(), "8080")); err != nil || got != "hi" {
		t.Fatalf("from the host to the container's address: %q %v", got, err)
	}
	// The mapped port, asked from the host at the bridge's address.
	if got, err := fetch(net.JoinHostPort(res.Gateway.String(), fmt.Sprint(hostPort))); err != nil || got != "hi" {
		t.Fatalf("through the mapped port %d: %q %v", hostPort, got, err)
	}
	if got, err := fetch(fmt.Sprintf("127.0.0.1:%d", hostPort)); err != nil || got != "hi" {
		t.Fatalf("through the mapped port %d on loopback: %q %v", hostPort, got, err)
	}
	if left := tn.Leftovers(id); len(left) < 3 {
		t.Fatalf("expected a veth, an allocation and portmap rules while attached, found %v", left)
	}

	for i := range 2 {
		if err := c.Del(context.Background(), id); err != nil {
			t.Fatalf("Del #%d: %v", i+1, err)
		}
	}
	if _, err := h.LinkByName("eth0"); err == nil {
		t.Fatal("eth0 still in the namespace after Del")
	}
	if left := tn.Leftovers(id); len(left) > 0 {
		t.Fatalf("left after Del: %v", left)
	}
	if ids, _ := c.Attached(); len(ids) != 0 {
		t.Fatalf("attachments left after Del: %v", ids)
	}
	if _, err := fetch(net.JoinHostPort(res.Gateway.String(), fmt.Sprint(hostPort))); err == nil {
		t.Fatal("the mapped port still answers after Del")
	}
}

func mustNs(t *testing.T, path string) netns.NsHandle {
	t.Helper()
	h, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestFailedAddLeavesNothing: a plugin that fails after the bridge plugin made the veth
// and host-local gave an address makes Add fail, and DEL undoes what was made.
func TestFailedAddLeavesNothing(t *testing.T) {
	tn := testutil.NewCNINetwork(t)
	// The same network with the tuning plugin last, asked for a sysctl that does not exist:
	// its ADD fails, its DEL has nothing to undo.
	var conf map[string]any
	data, _ := os.ReadFile(filepath.Join(tn.ConfDir, "10-test.conflist"))
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	conf["plugins"] = append(conf["plugins"].([]any), map[string]any{"type": "tuning", "sysctl": map[string]string{"net.ipv4.conf.eth0.no_such_knob": "1"}})
	data, _ = json.Marshal(conf)
	if err := os.WriteFile(filepath.Join(tn.ConfDir, "05-failing.conflist"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCNI(t, tn.ConfDir)
	n, err := c.Load()
	if err != nil || n.File != filepath.Join(tn.ConfDir, "05-failing.conflist") {
		t.Fatalf("Load: %v %+v", err, n)
	}
	ns := newNetns(t)
	id := fmt.Sprintf("cnifail%d", os.Getpid())
	t.Cleanup(func() { _ = c.Del(context.Background(), id) })
	_, err = c.Add(context.Background(), n, Attachment{ContainerID: id, NetNS: ns, IfName: "eth0"})
	if err == nil || !strings.Contains(err.Error(), "tuning") || !strings.Contains(err.Error(), tn.Name) || strings.Contains(err.Error(), "undo") {
		t.Fatalf("Add with a failing plugin: %v", err)
	}
	if left := tn.Leftovers(id); len(left) > 0 {
		t.Fatalf("a failed Add left %v", left)
	}
	if ids, _ := c.Attached(); len(ids) != 0 {
		t.Fatalf("a failed Add left its record: %v", ids)
	}
}

// TestDelAfterCrash: a caller that dies after Add (its record of the container lost)
// finds the attachment in Attached on its next start, and Del removes it even though the
// configuration file is gone by then.
func TestDelAfterCrash(t *testing.T) {
	tn := testutil.NewCNINetwork(t)
	state := t.TempDir()
	cfg := Config{ConfDir: tn.ConfDir, BinDirs: []string{testutil.CNIPluginDir}, StateDir: state}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Load()
	if err != nil {
		t.Fatal(err)
	}
	ns := newNetns(t)
	id := fmt.Sprintf("cnicrash%d", os.Getpid())
	if _, err := c.Add(context.Background(), n, Attachment{ContainerID: id, NetNS: ns, IfName: "eth0"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Del(context.Background(), id) })
	if err := os.Remove(filepath.Join(tn.ConfDir, "10-test.conflist")); err != nil {
		t.Fatal(err)
	}
	again, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := again.Load(); n != nil || err != nil {
		t.Fatalf("Load of an empty directory: %v %v", n, err)
	}
	ids, err := again.Attached()
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("Attached after a restart: %v %v", ids, err)
	}
	if err := again.Del(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if left := tn.Leftovers(id); len(left) > 0 {
		t.Fatalf("left after Del: %v", left)
	}
}

// TestLoad: the first valid file by name wins, broken ones are skipped, a directory of
// broken files only is an error naming them, and a missing directory means no CNI.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c := newCNI(t, dir)
	if n, err := c.Load(); n != nil || err != nil {
		t.Fatalf("empty directory: %v %v", n, err)
	}
	if n, err := newCNI(t, filepath.Join(dir, "nope")).Load(); n != nil || err != nil {
		t.Fatalf("missing directory: %v %v", n, err)
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("05-broken.conflist", `{"name": "x", "plugins": [`)
	write("README", "not a configuration")
	write("07-nameless.conf", `{"cniVersion": "1.0.0", "type": "bridge"}`)
	_, err := c.Load()
	if err == nil || !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "05-broken.conflist") ||
		!strings.Contains(err.Error(), "07-nameless.conf: no network name") || strings.Contains(err.Error(), "README") {
		t.Fatalf("only broken files: %v", err)
	}
	write("20-second.conflist", `{"cniVersion": "1.0.0", "name": "second", "plugins": [{"type": "loopback"}]}`)
	write("10-first.conf", `{"cniVersion": "1.0.0", "name": "first", "type": "bridge"}`)
	n, err := c.Load()
	if err != nil || n.Name != "first" || len(n.list.Plugins) != 1 || n.File != filepath.Join(dir, "10-first.conf") {
		t.Fatalf("Load: %v %+v", err, n)
	}
}
