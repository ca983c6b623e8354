package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ensureBridge makes sure bridge name exists with gw/bits assigned and is up. It leaves an
// existing bridge's ports alone, so it is safe to run at every start.
func ensureBridge(name string, gw netip.Addr, bits int) error {
	link, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("find new bridge %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("find bridge %s: %w", name, err)
	case link.Type() != "bridge":
		return fmt.Errorf("host interface %s exists and is a %s, not a bridge: remove it or choose another prefix", name, link.Type())
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(bits, 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("set address %s on bridge %s: %w", addr.IPNet, name, err)
	}
	// The bridge's name is ours: an address another state left on it (a daemon that ran
	// with another root and the same prefix) would route a subnet nobody manages here.
	if old, err := netlink.AddrList(link, netlink.FAMILY_V4); err == nil {
		for _, a := range old {
			if !a.IPNet.IP.Equal(addr.IPNet.IP) || a.IPNet.Mask.String() != addr.IPNet.Mask.String() {
				_ = netlink.AddrDel(link, &a)
			}
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set bridge %s up: %w", name, err)
	}
	// 127.0.0.1:<published port> from the host is DNATed onto the bridge; without
	// route_localnet the kernel drops packets with a loopback source there.
	if err := writeSysctl("net/ipv4/conf/"+name+"/route_localnet", "1"); err != nil {
		return err
	}
	return nil
}

// deleteLink removes a host link by name; an absent link is not an error.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// portsOf lists the names of the links enslaved to bridge.
func portsOf(bridge string) ([]string, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil, nil // no bridge, no ports
	}
	links, err := consistent(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
}

// randomVethName returns prefix followed by random hex, 15 characters in all.
func randomVethName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return (prefix + hex.EncodeToString(b))[:15]
}

// reservedRanges may never be used as network subnets.
var reservedRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/3"),
}

// hostClash returns a description of the first host route or address that overlaps p,
// ignoring the links named in skip (the manager's own bridges), or "" if there is none.
func hostClash(p netip.Prefix, skip map[string]bool) (string, error) {
	for _, r := range reservedRanges {
		if overlaps(p, r) {
			return "reserved range " + r.String(), nil
		}
	}
	skipIdx := map[int]bool{}
	for name := range skip {
		if l, err := netlink.LinkByName(name); err == nil {
			skipIdx[l.Attrs().Index] = true
		}
	}
	routes, err := consistent(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return "", fmt.Errorf("list host routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || skipIdx[r.LinkIndex] {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 || r.Table == unix.RT_TABLE_LOCAL {
			continue // default routes and local/broadcast entries say nothing about subnets
		}
		dst, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		if overlaps(p, netip.PrefixFrom(dst, ones).Masked()) {
			return "host route " + r.Dst.String() + linkSuffix(r.LinkIndex), nil
		}
	}
	addrs, err := consistent(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return "", fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		if skipIdx[a.LinkIndex] {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if ok && p.Contains(ip) {
			return "host address " + a.IPNet.String() + linkSuffix(a.LinkIndex), nil
		}
	}
	return "", nil
}

func linkSuffix(idx int) string {
	if l, err := netlink.LinkByIndex(idx); err == nil {
		return " on " + l.Attrs().Name
	}
	return ""
}

// writeSysctl writes value to /proc/sys/<key>.
func writeSysctl(key, value string) error {
	if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
