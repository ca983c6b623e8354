package dns

import (
	"net/netip"
	"strings"
)

// ParseResolvConf parses resolv.conf content the way glibc reads it: nameserver lines (IPv4
// and IPv6, invalid addresses skipped), the last search or domain line, and the options of
// all options lines. Loopback and unspecified nameservers are dropped because a container
// cannot reach the host's loopback (for example systemd-resolved on 127.0.0.53).
func ParseResolvConf(data []byte) (nameservers []netip.Addr, search []string, options []string) {
	all, search, options := parseResolvConf(data)
	for _, a := range all {
		if !unreachableFromContainer(a) {
			nameservers = append(nameservers, a)
		}
	}
	return nameservers, search, options
}

// parseResolvConf keeps every nameserver: the server itself lives in the host's network
// namespace and so can use a loopback resolver the containers cannot.
func parseResolvConf(data []byte) (nameservers []netip.Addr, search []string, options []string) {
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
			continue
		}
		// A comment may follow the values on the same line.
		vals := fields[1:]
		for i, v := range vals {
			if strings.HasPrefix(v, "#") || strings.HasPrefix(v, ";") {
				vals = vals[:i]
				break
			}
		}
		if len(vals) == 0 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(vals[0]); err == nil {
				nameservers = append(nameservers, a)
			}
		case "search":
			// glibc: the last search or domain line wins.
			search = append([]string(nil), vals...)
		case "domain":
			search = []string{vals[0]}
		case "options":
			options = append(options, vals...)
		}
	}
	return nameservers, search, options
}

func unreachableFromContainer(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsUnspecified()
}
