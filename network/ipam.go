package network

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/drover/drover/internal/errdefs"
)

// parseSubnet parses an IPv4 CIDR and returns it masked. A CIDR with host bits set
// ("10.1.2.3/24") is refused: the user probably meant something else.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("subnet %q is not a CIDR like 10.10.0.0/24: %w", s, errdefs.ErrInvalidArgument)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("subnet %q: only IPv4 subnets are supported: %w", s, errdefs.ErrInvalidArgument)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("subnet %q has host bits set; did you mean %s?: %w", s, p.Masked(), errdefs.ErrInvalidArgument)
	}
	if p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("subnet %q is too small: use /30 or larger: %w", s, errdefs.ErrInvalidArgument)
	}
	if p.Bits() < 8 {
		return netip.Prefix{}, fmt.Errorf("subnet %q is too large: use /8 or smaller: %w", s, errdefs.ErrInvalidArgument)
	}
	return p, nil
}

// parseNonMasquerade checks a network's unmasqueraded destinations: IPv4 CIDRs, for a
// network that is not internal (which reaches nothing beyond its bridge anyway).
func parseNonMasquerade(cidrs []string, internal bool) ([]string, error) {
	if len(cidrs) > 0 && internal {
		return nil, fmt.Errorf("an internal network reaches nothing beyond its bridge: non-masquerade destinations do not apply: %w", errdefs.ErrInvalidArgument)
	}
	var out []string
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("non-masquerade destination %q is not an IPv4 CIDR like 10.244.0.0/16: %w", s, errdefs.ErrInvalidArgument)
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}

// parseAddrIn parses an IPv4 address that must be a usable host address of subnet: not
// the network or broadcast address.
func parseAddrIn(what, s string, subnet netip.Prefix) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s %q is not an IPv4 address: %w", what, s, errdefs.ErrInvalidArgument)
	}
	if !subnet.Contains(a) {
		return netip.Addr{}, fmt.Errorf("%s %s is outside subnet %s: %w", what, a, subnet, errdefs.ErrInvalidArgument)
	}
	if a == subnet.Addr() || a == broadcast(subnet) {
		return netip.Addr{}, fmt.Errorf("%s %s is the network or broadcast address of %s: %w", what, a, subnet, errdefs.ErrInvalidArgument)
	}
	return a, nil
}

// broadcast returns the last address of p.
func broadcast(p netip.Prefix) netip.Addr {
	v := addrUint(p.Addr()) | (1<<(32-p.Bits()) - 1)
	return uintAddr(v)
}

func addrUint(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func uintAddr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// overlaps reports whether two prefixes share any address.
func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// nextFree returns the first usable host address of subnet after "after" (wrapping
// around) that is neither used nor the gateway. Allocating forward from the last address
// handed out, as Docker does, keeps a released address from being reused at once.
func nextFree(subnet netip.Prefix, after netip.Addr, used map[netip.Addr]bool) (netip.Addr, error) {
	first := addrUint(subnet.Addr()) + 1
	last := addrUint(broadcast(subnet)) - 1
	n := last - first + 1
	start := first
	if after.IsValid() && subnet.Contains(after) {
		start = addrUint(after) + 1
	}
	for i := uint32(0); i < n; i++ {
		v := start + i
		if v > last {
			v = first + (v - last - 1)
		}
		a := uintAddr(v)
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s has no free address left: %w", subnet, errdefs.ErrConflict)
}

// macFromIP derives Docker's locally administered MAC 02:42:a:b:c:d from an IPv4 address.
func macFromIP(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// defaultCandidates lists the subnets tried for the default network and for user
// networks when no pool is configured: 172.17-31.0.0/16, then 192.168.X.0/24.
func defaultCandidates() []netip.Prefix {
	var out []netip.Prefix
	for i := 17; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i <= 255; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 24))
	}
	return out
}

// poolCandidates expands pool entries ("CIDR" or "CIDR@bits") into candidate subnets.
func poolCandidates(pools []string) ([]netip.Prefix, error) {
	if len(pools) == 0 {
		return defaultCandidates(), nil
	}
	var out []netip.Prefix
	for _, p := range pools {
		cidr, bitsStr, split := strings.Cut(p, "@")
		base, err := netip.ParsePrefix(strings.TrimSpace(cidr))
		if err != nil || !base.Addr().Is4() || base.Masked() != base {
			return nil, fmt.Errorf("address pool %q: want an IPv4 CIDR, optionally with @bits: %w", p, errdefs.ErrInvalidArgument)
		}
		if !split {
			out = append(out, base)
			continue
		}
		bits, err := strconv.Atoi(bitsStr)
		if err != nil || bits < base.Bits() || bits > 30 {
			return nil, fmt.Errorf("address pool %q: block size must be between /%d and /30: %w", p, base.Bits(), errdefs.ErrInvalidArgument)
		}
		count := uint64(1) << (bits - base.Bits())
		if count > 1<<16 {
			count = 1 << 16 // enough candidates; keeps a /8@30 from allocating millions
		}
		step := uint64(1) << (32 - bits)
		for i := uint64(0); i < count; i++ {
			out = append(out, netip.PrefixFrom(uintAddr(addrUint(base.Addr())+uint32(i*step)), bits))
		}
	}
	return out, nil
}

var nameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// validateName checks a user network name.
func validateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("network name is empty: give a name like mynet: %w", errdefs.ErrInvalidArgument)
	case len(name) > 64:
		return fmt.Errorf("network name %q is longer than 64 characters: %w", name, errdefs.ErrInvalidArgument)
	case !nameRe.MatchString(name):
		return fmt.Errorf("network name %q is invalid: use letters, digits, '_', '.', '-', starting with a letter or digit: %w", name, errdefs.ErrInvalidArgument)
	case name == "host" || name == "none" || name == "cni":
		return fmt.Errorf("network name %q is reserved: %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}
