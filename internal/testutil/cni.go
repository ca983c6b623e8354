package testutil

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
)

// CNIPluginDir is where Debian's containernetworking-plugins installs the plugins.
const CNIPluginDir = "/usr/lib/cni"

// CNINetwork is a CNI configuration for a test: the bridge, host-local, portmap and
// loopback plugins, on a bridge of the test's own, a /24 no route of the host touches,
// and host-local's allocations kept in a directory of the test.
type CNINetwork struct {
	Name    string
	ConfDir string
	// DataDir is host-local's dataDir: one file per allocated address.
	DataDir string
	Bridge  string
	Subnet  netip.Prefix
}

var cniSeq atomic.Uint32

// NewCNINetwork writes the configuration into a new directory and, when the test ends,
// removes the bridge the plugins made. It skips the test when the plugins are missing.
func NewCNINetwork(t testing.TB) *CNINetwork {
	t.Helper()
	RequiresRoot(t)
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join(CNIPluginDir, p)); err != nil {
			t.Skipf("CNI plugin %s missing: apt-get install containernetworking-plugins", p)
		}
	}
	seq := cniSeq.Add(1)
	// A bridge name (15 bytes at most) and subnet no other test process uses: both are
	// derived from the pid and a counter.
	n := &CNINetwork{Name: fmt.Sprintf("drovertest%d", seq), ConfDir: t.TempDir(), DataDir: t.TempDir(),
		Bridge: "cnt" + strconv.FormatInt(int64(os.Getpid()), 36) + strconv.FormatUint(uint64(seq), 36)}
	subnet, err := freeSubnet(os.Getpid()*7 + int(seq))
	if err != nil {
		t.Fatal(err)
	}
	n.Subnet = subnet
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       n.Name,
		"plugins": []any{
			map[string]any{"type": "bridge", "bridge": n.Bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{"type": "host-local", "dataDir": n.DataDir,
					"ranges": [][]map[string]string{{{"subnet": subnet.String()}}}, "routes": []map[string]string{{"dst": "0.0.0.0/0"}}}},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
			map[string]any{"type": "loopback"},
		},
	}
	data, _ := json.MarshalIndent(conf, "", "  ")
	if err := os.WriteFile(filepath.Join(n.ConfDir, "10-test.conflist"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(n.Bridge); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	return n
}

// freeSubnet picks a 10.x.y.0/24 from seed that overlaps no route of the host.
func freeSubnet(seed int) (netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list routes: %w", err)
	}
	for i := range 4096 {
		v := (seed + i*97) % (56 * 256)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(200 + v/256), byte(v % 256), 0}), 24)
		clash := false
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			a, _ := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			if q := netip.PrefixFrom(a.Unmap(), ones); ones > 0 && q.Overlaps(p) {
				clash = true
				break
			}
		}
		if !clash {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free 10.200-255.x.0/24 on this host")
}

// Leftovers names what the plugins may have left of attachments: veths on the bridge,
// addresses host-local still holds, and portmap's rules for containerID.
func (n *CNINetwork) Leftovers(containerID string) []string {
	var out []string
	if br, err := netlink.LinkByName(n.Bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				out = append(out, "veth "+l.Attrs().Name+" on bridge "+n.Bridge)
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Join(n.DataDir, n.Name))
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			out = append(out, "host-local allocation "+e.Name())
		}
	}
	if containerID != "" {
		for _, table := range []string{"nat", "filter"} {
			rules, _ := exec.Command("iptables-save", "-t", table).Output()
			for _, line := range strings.Split(string(rules), "\n") {
				if strings.Contains(line, containerID) {
					out = append(out, "iptables rule "+line)
				}
			}
		}
	}
	return out
}
