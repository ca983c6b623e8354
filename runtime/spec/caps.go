package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drover/drover/internal/errdefs"
)

// capNames lists the Linux capabilities by number (include/uapi/linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

const capSysResource = 24

// capIndex maps a capability name to its number.
var capIndex = func() map[string]int {
	m := make(map[string]int, len(capNames))
	for i, n := range capNames {
		m[n] = i
	}
	return m
}()

// DefaultCapabilities is the capability set of an unprivileged container, the same as
// Docker's: enough to act as root on the container's own files and processes, nothing that
// reaches the kernel or the host.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT",
	"CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
}

// capNamesOfMask turns a capability bit mask into a set of names.
func capNamesOfMask(mask uint64) map[string]bool {
	set := make(map[string]bool)
	for i, n := range capNames {
		if mask&(1<<i) != 0 {
			set[n] = true
		}
	}
	return set
}

// NormalizeCapability turns "net_admin", "NET_ADMIN" or "cap_net_admin" into
// "CAP_NET_ADMIN", and "all" into "ALL".
func NormalizeCapability(name string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	if up == "ALL" || up == "CAP_ALL" {
		return "ALL", nil
	}
	if !strings.HasPrefix(up, "CAP_") {
		up = "CAP_" + up
	}
	if _, ok := capIndex[up]; !ok {
		return "", fmt.Errorf("unknown capability %q: %w", name, errdefs.ErrInvalidArgument)
	}
	return up, nil
}

// capabilities computes the container's capability set the way Docker does: start from the
// defaults (every host capability when privileged), apply drops (ALL empties the set), then
// adds (ALL fills it), so an add wins over a drop of the same capability. "Every
// capability" means every one in the host's bounding set: a container cannot hold more
// than the runtime that starts it, and asking for that explicitly is an error.
func capabilities(o Options, h *host) ([]string, error) {
	var all []string
	for _, n := range capNames {
		if h.bounding[n] {
			all = append(all, n)
		}
	}
	set := make(map[string]bool)
	base := DefaultCapabilities
	if o.Privileged {
		base = all
	}
	for _, c := range base {
		set[c] = true
	}
	for _, d := range o.CapDrop {
		c, err := NormalizeCapability(d)
		if err != nil {
			return nil, fmt.Errorf("cap-drop: %w", err)
		}
		if c == "ALL" {
			clear(set)
			continue
		}
		delete(set, c)
	}
	for _, a := range o.CapAdd {
		c, err := NormalizeCapability(a)
		if err != nil {
			return nil, fmt.Errorf("cap-add: %w", err)
		}
		if c == "ALL" {
			for _, n := range all {
				set[n] = true
			}
			continue
		}
		if !h.bounding[c] {
			return nil, fmt.Errorf("cap-add %s: the host does not grant this capability to drover (it is not in the bounding set): %w", c, errdefs.ErrInvalidArgument)
		}
		set[c] = true
	}
	for c := range set {
		if !h.bounding[c] {
			// A default capability the host lacks: leave it out rather than fail every
			// container; runc would only warn about it anyway.
			delete(set, c)
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b string) int { return capIndex[a] - capIndex[b] })
	return out, nil
}
