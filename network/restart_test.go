package network

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/drover/drover/internal/testutil"
)

func TestRestartKeepsStateAndRestoreDropsDead(t *testing.T) {
	m := newTestManager(t, Config{})
	n, err := m.Create(CreateOptions{Name: "app", Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	nsA, nsB := newNS(t, m, "alive"), newNS(t, m, "dead")
	a := mustAttach(t, m, nsA, AttachOptions{ContainerID: "alive", Network: n.Name, Aliases: []string{"web"}})
	b := mustAttach(t, m, nsB, AttachOptions{ContainerID: "dead", Network: n.Name})
	serveHTTP(t, nsA, net.JoinHostPort(a.IP, "80"), "alive")
	pa, err := m.Publish("alive", []PortBinding{{ContainerPort: 80}})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := m.Publish("dead", []PortBinding{{ContainerPort: 80}})
	if err != nil {
		t.Fatal(err)
	}

	m = reopen(t, m)

	got, err := m.Get("app")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if got.ID != n.ID || got.Subnet != n.Subnet || got.Labels["k"] != "v" || len(got.Endpoints) != 2 {
		t.Fatalf("network after restart: %+v", got)
	}
	if eps := m.Endpoints("alive"); len(eps) != 1 || eps[0].IP != a.IP || eps[0].Aliases[0] != "web" {
		t.Fatalf("endpoints after restart: %+v", eps)
	}
	if ok, err := tableExists(m.cfg.tableName()); err != nil || !ok {
		t.Fatalf("nft table after restart: %v %v", ok, err)
	}
	// The port is held again and still forwards.
	addrA := fmt.Sprintf("127.0.0.1:%d", pa[0].HostPort)
	if l, err := net.Listen("tcp4", addrA); err == nil {
		l.Close()
		t.Fatalf("port %s not re-reserved after restart", addrA)
	}
	if body, err := get(t, "", addrA); err != nil || body != "alive" {
		t.Fatalf("published port after restart: %q, %v", body, err)
	}

	if err := m.Restore(func(id string) bool { return id == "alive" }); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if eps := m.Endpoints("dead"); len(eps) != 0 {
		t.Fatalf("dead container keeps endpoints: %+v", eps)
	}
	// The kernel deletes the veth pair with the namespace, in the background.
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := netlink.LinkByName(b.HostIf)
		return err != nil
	}, "the dead container's veth %s to go", b.HostIf)
	if _, err := os.Stat(nsB); !os.IsNotExist(err) {
		t.Fatalf("dead container's netns file remains: %v", err)
	}
	l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", pb[0].HostPort))
	if err != nil {
		t.Fatalf("dead container's port still held: %v", err)
	}
	l.Close()
	// The living one is untouched.
	if body, err := get(t, "", addrA); err != nil || body != "alive" {
		t.Fatalf("published port after Restore: %q, %v", body, err)
	}
}

func TestNewRecreatesMissingBridge(t *testing.T) {
	m := newTestManager(t, Config{})
	n, err := m.Create(CreateOptions{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	// As after a reboot: the bridges and the table are gone, the state is not.
	deleteLink(n.Bridge)
	deleteLink(m.cfg.defaultBridge())
	deleteRules(m.cfg.tableName())
	m = reopen(t, m)
	for _, name := range []string{n.Bridge, m.cfg.defaultBridge()} {
		if _, err := netlink.LinkByName(name); err != nil {
			t.Errorf("bridge %s not re-created: %v", name, err)
		}
	}
	if ok, _ := tableExists(m.cfg.tableName()); !ok {
		t.Errorf("nft table not re-created")
	}
}
