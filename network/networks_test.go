package network

import (
	"errors"
	"github.com/drover/drover/internal/testutil"
	"strings"
	"testing"

	"github.com/drover/drover/internal/errdefs"
	"github.com/vishvananda/netlink"
)

func TestCreateBadInput(t *testing.T) {
	m := newTestManager(t, Config{})
	if _, err := m.Create(CreateOptions{Name: "taken", Subnet: "10.214.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	// A host route the manager does not own.
	addHostLink(t, m.Prefix()[:3]+"hst", "198.18.91.1/24")
	def, _ := m.Get(DefaultNetwork)

	tests := []struct {
		name string
		opts CreateOptions
		want error
		msg  string
	}{
		{"name in use", CreateOptions{Name: "taken"}, errdefs.ErrAlreadyExists, "already exists"},
		{"default name", CreateOptions{Name: DefaultNetwork}, errdefs.ErrAlreadyExists, "already exists"},
		{"empty name", CreateOptions{}, errdefs.ErrInvalidArgument, "empty"},
		{"bad name", CreateOptions{Name: "-x"}, errdefs.ErrInvalidArgument, "invalid"},
		{"slash", CreateOptions{Name: "a/b"}, errdefs.ErrInvalidArgument, "invalid"},
		{"reserved", CreateOptions{Name: "host"}, errdefs.ErrInvalidArgument, "reserved"},
		{"overlaps network", CreateOptions{Name: "o1", Subnet: "10.214.0.128/25"}, errdefs.ErrConflict, "overlaps network taken"},
		{"overlaps default", CreateOptions{Name: "o2", Subnet: def.Subnet}, errdefs.ErrConflict, "overlaps network bridge"},
		{"overlaps host route", CreateOptions{Name: "o3", Subnet: "198.18.91.0/24"}, errdefs.ErrConflict, "overlaps host"},
		{"loopback", CreateOptions{Name: "o4", Subnet: "127.1.0.0/16"}, errdefs.ErrConflict, "reserved range"},
		{"not a cidr", CreateOptions{Name: "o5", Subnet: "10.1.0.0"}, errdefs.ErrInvalidArgument, "not a CIDR"},
		{"host bits", CreateOptions{Name: "o6", Subnet: "10.215.0.1/24"}, errdefs.ErrInvalidArgument, "host bits"},
		{"ipv6", CreateOptions{Name: "o7", Subnet: "fd00:1::/64"}, errdefs.ErrInvalidArgument, "IPv4"},
		{"gateway outside", CreateOptions{Name: "o8", Subnet: "10.216.0.0/24", Gateway: "10.216.1.1"}, errdefs.ErrInvalidArgument, "outside subnet"},
		{"gateway broadcast", CreateOptions{Name: "o9", Subnet: "10.216.0.0/24", Gateway: "10.216.0.255"}, errdefs.ErrInvalidArgument, "broadcast"},
		{"gateway without subnet", CreateOptions{Name: "o10", Gateway: "10.216.0.1"}, errdefs.ErrInvalidArgument, "needs a subnet"},
		{"non-masquerade not a cidr", CreateOptions{Name: "o11", NonMasquerade: []string{"10.244.0.0"}}, errdefs.ErrInvalidArgument, "not an IPv4 CIDR"},
		{"non-masquerade ipv6", CreateOptions{Name: "o12", NonMasquerade: []string{"fd00::/8"}}, errdefs.ErrInvalidArgument, "not an IPv4 CIDR"},
		{"non-masquerade internal", CreateOptions{Name: "o13", Internal: true, NonMasquerade: []string{"10.244.0.0/16"}}, errdefs.ErrInvalidArgument, "internal"},
	}
	linksBefore := hostLinks(t, m.Prefix())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Create(tt.opts)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
	if nets, _ := m.List(); len(nets) != 2 {
		t.Errorf("failed creates left networks: %d", len(nets))
	}
	if after := hostLinks(t, m.Prefix()); len(after) != len(linksBefore) {
		t.Errorf("failed creates left links: %v -> %v", linksBefore, after)
	}
}

func TestNetworkLifecycle(t *testing.T) {
	m := newTestManager(t, Config{UserPools: []string{"10.217.0.0/16@24"}})
	a, err := m.Create(CreateOptions{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Create(CreateOptions{Name: "b", Subnet: "10.218.0.0/24", Gateway: "10.218.0.254"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnet != "10.217.0.0/24" || a.Gateway != "10.217.0.1" || a.Driver != DriverBridge {
		t.Errorf("a = %+v", a)
	}
	if b.Gateway != "10.218.0.254" {
		t.Errorf("b = %+v", b)
	}
	c, err := m.Create(CreateOptions{Name: "c"})
	if err != nil || c.Subnet != "10.217.1.0/24" {
		t.Fatalf("c = %+v, %v", c, err)
	}
	for _, key := range []string{"a", a.ID, a.ID[:6]} {
		if got, err := m.Get(key); err != nil || got.ID != a.ID {
			t.Errorf("Get(%q) = %v, %v", key, got.ID, err)
		}
	}
	if _, err := m.Get("nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get(nope): %v", err)
	}
	if nets, _ := m.List(); len(nets) != 4 || nets[0].Name != DefaultNetwork {
		t.Errorf("List = %+v", nets)
	}

	ns := newNS(t, m, "x")
	ep := mustAttach(t, m, ns, AttachOptions{ContainerID: "x", Network: "b"})
	if ep.IP != "10.218.0.1" || ep.MAC != "02:42:0a:da:00:01" || ep.IfName != "eth0" || !ep.DefaultRoute {
		t.Errorf("endpoint = %+v", ep)
	}
	if err := m.Remove("b"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("Remove with endpoints: %v", err)
	}
	if err := m.Remove(DefaultNetwork); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("Remove default: %v", err)
	}
	// A prune narrowed by a filter leaves the others.
	pruned, err := m.Prune(func(n Network) bool { return n.Name == "c" })
	if err != nil || strings.Join(pruned, ",") != "c" {
		t.Errorf("Prune of c alone = %v, %v", pruned, err)
	}
	pruned, err = m.Prune(nil)
	if err != nil || strings.Join(pruned, ",") != "a" {
		t.Errorf("Prune = %v, %v", pruned, err)
	}
	if err := m.Detach("x", "b"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(b.ID[:10]); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if nets, _ := m.List(); len(nets) != 1 {
		t.Errorf("after removal: %+v", nets)
	}
	if links := hostLinks(t, m.Prefix()); len(links) != 1 {
		t.Errorf("links after removal: %v", links)
	}
}

func TestAttachBadInput(t *testing.T) {
	m := newTestManager(t, Config{})
	n, err := m.Create(CreateOptions{Name: "n", Subnet: "10.219.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNS(t, m, "a")
	mustAttach(t, m, ns, AttachOptions{ContainerID: "a", Network: n.Name, IP: "10.219.0.10"})
	ns2 := newNS(t, m, "b")
	tests := []struct {
		name string
		ns   string
		opts AttachOptions
		want error
	}{
		{"IP in use", ns2, AttachOptions{ContainerID: "b", Network: "n", IP: "10.219.0.10"}, errdefs.ErrConflict},
		{"IP is gateway", ns2, AttachOptions{ContainerID: "b", Network: "n", IP: "10.219.0.1"}, errdefs.ErrConflict},
		{"IP outside", ns2, AttachOptions{ContainerID: "b", Network: "n", IP: "10.220.0.5"}, errdefs.ErrInvalidArgument},
		{"IP garbage", ns2, AttachOptions{ContainerID: "b", Network: "n", IP: "ten"}, errdefs.ErrInvalidArgument},
		{"bad MAC", ns2, AttachOptions{ContainerID: "b", Network: "n", MAC: "zz"}, errdefs.ErrInvalidArgument},
		{"multicast MAC", ns2, AttachOptions{ContainerID: "b", Network: "n", MAC: "01:00:5e:00:00:01"}, errdefs.ErrInvalidArgument},
		{"no network", ns2, AttachOptions{ContainerID: "b", Network: "nope"}, errdefs.ErrNotFound},
		{"already attached", ns, AttachOptions{ContainerID: "a", Network: "n"}, errdefs.ErrAlreadyExists},
		{"bad container ID", ns2, AttachOptions{ContainerID: "../x", Network: "n"}, errdefs.ErrInvalidArgument},
		{"long ifname", ns2, AttachOptions{ContainerID: "b", Network: "n", IfName: "abcdefghijklmnopq"}, errdefs.ErrInvalidArgument},
		{"ifname clash in netns", ns, AttachOptions{ContainerID: "c", Network: "n", IfName: "eth0"}, errdefs.ErrConflict},
		{"no netns", "/nonexistent/netns", AttachOptions{ContainerID: "b", Network: "n"}, nil},
	}
	links := len(hostLinks(t, m.Prefix()))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Attach(tt.ns, tt.opts)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if eps := m.Endpoints(tt.opts.ContainerID); tt.opts.ContainerID != "a" && len(eps) != 0 {
				t.Fatalf("failed attach left endpoints %+v", eps)
			}
			if got := len(hostLinks(t, m.Prefix())); got != links {
				t.Fatalf("failed attach left links: %d, want %d", got, links)
			}
		})
	}
	if err := m.Detach("b", "n"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Detach of unattached: %v", err)
	}
	// The failed attempts did not consume addresses: allocation goes on after .10.
	if ep := mustAttach(t, m, ns2, AttachOptions{ContainerID: "b", Network: "n"}); ep.IP != "10.219.0.11" {
		t.Errorf("next IP = %s, want 10.219.0.11 (after the last one handed out)", ep.IP)
	}
}

func TestManagersSideBySide(t *testing.T) {
	m1 := newTestManager(t, Config{})
	m2 := newTestManager(t, Config{})
	d1, _ := m1.Get(DefaultNetwork)
	d2, _ := m2.Get(DefaultNetwork)
	if d1.Subnet == d2.Subnet || d1.Bridge == d2.Bridge {
		t.Fatalf("two managers share a default network: %+v %+v", d1, d2)
	}
	// A user network of one manager is a host route to the other.
	n, err := m1.Create(CreateOptions{Name: "x", Subnet: "10.221.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Create(CreateOptions{Name: "x", Subnet: n.Subnet}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("overlap with the other manager's network: %v", err)
	}
}

func TestDetachMovesDefaultRoute(t *testing.T) {
	m := newTestManager(t, Config{})
	n, err := m.Create(CreateOptions{Name: "second"})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNS(t, m, "c")
	first := mustAttach(t, m, ns, AttachOptions{ContainerID: "c", Network: DefaultNetwork})
	second := mustAttach(t, m, ns, AttachOptions{ContainerID: "c", Network: n.Name})
	if !first.DefaultRoute || second.DefaultRoute || second.IfName != "eth1" {
		t.Fatalf("endpoints: %+v %+v", first, second)
	}
	if err := m.Detach("c", DefaultNetwork); err != nil {
		t.Fatal(err)
	}
	eps := m.Endpoints("c")
	if len(eps) != 1 || !eps[0].DefaultRoute {
		t.Fatalf("after detach: %+v", eps)
	}
	var gw string
	inNS(t, ns, func() error {
		routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() {
				gw = r.Gw.String()
			}
		}
		return err
	})
	if gw != n.Gateway {
		t.Fatalf("default route via %q, want %s", gw, n.Gateway)
	}
}

// TestStaleBridgeAddressesGo: a bridge of the manager's name that an earlier state left
// with other addresses keeps only the default network's gateway.
func TestStaleBridgeAddressesGo(t *testing.T) {
	testutil.RequiresRoot(t)
	prefix := testPrefix()
	dir := t.TempDir()
	first, err := New(Config{Prefix: prefix, StateFile: dir + "/first.db", NetnsDir: dir + "/netns", DefaultSubnet: "10.238.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	def, err := first.Get(DefaultNetwork)
	if err != nil {
		t.Fatal(err)
	}
	first.Close() // host objects stay, as when a daemon stops
	releaseNetnsDir(dir + "/netns")
	// A second state on the same host with the same prefix: its default network gets
	// another subnet, on the same bridge name.
	second := newTestManager(t, Config{Prefix: prefix, DefaultSubnet: "10.239.0.0/24"})
	link, err := netlink.LinkByName(prefix + "0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.239.0.1/24" {
		t.Fatalf("bridge addresses %v, want only 10.239.0.1/24 (not the stale %s)", addrs, def.Gateway)
	}
	_ = second
}
