package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/drover/drover/internal/errdefs"
)

// maxPortsPerSpec bounds what one -p value may expand to, so a typo such as 1-65535 on
// both sides does not reserve the whole port space.
const maxPortsPerSpec = 1024

// ParsePortSpec parses one -p value as Docker does: [ip:][hostport:]containerport[/proto],
// where either port may be a range (a-b). A host range needs a container range of the same
// length; a missing host port means "any free port". It returns one binding per port.
func ParsePortSpec(spec string) ([]PortBinding, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid port %q: %s (want [ip:][hostport:]containerport[/tcp|udp], e.g. 8080:80): %w", spec, why, errdefs.ErrInvalidArgument)
	}
	rest, proto := spec, "tcp"
	if i := strings.LastIndexByte(spec, '/'); i >= 0 {
		rest, proto = spec[:i], strings.ToLower(spec[i+1:])
		if proto != "tcp" && proto != "udp" {
			return nil, bad("protocol must be tcp or udp")
		}
	}
	var ip, host, ctr string
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 1:
		ctr = parts[0]
	case 2:
		host, ctr = parts[0], parts[1]
	case 3:
		ip, host, ctr = parts[0], parts[1], parts[2]
	default:
		return nil, bad("too many colons (IPv6 host addresses are not supported)")
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() {
			return nil, bad("the host address must be an IPv4 address")
		}
	}
	cLo, cHi, err := parsePortRange(ctr)
	if err != nil {
		return nil, bad("container port: " + err.Error())
	}
	var hLo, hHi uint16
	if host != "" {
		if hLo, hHi, err = parsePortRange(host); err != nil {
			return nil, bad("host port: " + err.Error())
		}
		if hHi-hLo != cHi-cLo {
			return nil, bad("the host and container port ranges differ in length")
		}
	}
	if int(cHi-cLo)+1 > maxPortsPerSpec {
		return nil, bad(fmt.Sprintf("a range may hold at most %d ports", maxPortsPerSpec))
	}
	out := make([]PortBinding, 0, int(cHi-cLo)+1)
	for i := 0; i <= int(cHi-cLo); i++ {
		b := PortBinding{HostIP: ip, ContainerPort: cLo + uint16(i), Proto: proto}
		if host != "" {
			b.HostPort = hLo + uint16(i)
		}
		out = append(out, b)
	}
	return out, nil
}

// parsePortRange reads "N" or "N-M" with 1 <= N <= M <= 65535.
func parsePortRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parsePort(a); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parsePort(b); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %s ends before it starts", s)
	}
	return lo, hi, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number from 1 to 65535", s)
	}
	return uint16(n), nil
}
