package spec

import (
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
)

// rlimitResources maps --ulimit names to rlimit resources.
var rlimitResources = map[string]int{
	"as":         unix.RLIMIT_AS,
	"core":       unix.RLIMIT_CORE,
	"cpu":        unix.RLIMIT_CPU,
	"data":       unix.RLIMIT_DATA,
	"fsize":      unix.RLIMIT_FSIZE,
	"locks":      unix.RLIMIT_LOCKS,
	"memlock":    unix.RLIMIT_MEMLOCK,
	"msgqueue":   unix.RLIMIT_MSGQUEUE,
	"nice":       unix.RLIMIT_NICE,
	"nofile":     unix.RLIMIT_NOFILE,
	"nproc":      unix.RLIMIT_NPROC,
	"rss":        unix.RLIMIT_RSS,
	"rtprio":     unix.RLIMIT_RTPRIO,
	"rttime":     unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING,
	"stack":      unix.RLIMIT_STACK,
}

// defaultNofile is the open-files limit containers get unless the host's hard limit is
// lower (it is what Docker containers commonly see).
const defaultNofile = 1 << 20

// rlimits builds the process rlimits: the defaults, overridden by the user's ulimits.
// runc sets them with setrlimit from a process that inherits the daemon's limits, and
// raising a hard limit needs CAP_SYS_RESOURCE, so without it every default is clamped to
// the host's hard limit and a user value above it is an error rather than a failed start.
func rlimits(o Options, h *host) ([]specs.POSIXRlimit, error) {
	limits := map[string]Ulimit{}
	nofile, err := ceiling(h, "nofile")
	if err != nil {
		return nil, err
	}
	n := min(uint64(defaultNofile), nofile)
	limits["nofile"] = Ulimit{Name: "nofile", Soft: n, Hard: n}

	for _, u := range o.Ulimits {
		if _, ok := rlimitResources[u.Name]; !ok {
			return nil, fmt.Errorf("ulimit %q: unknown resource: %w", u.Name, errdefs.ErrInvalidArgument)
		}
		if u.Soft > u.Hard {
			return nil, fmt.Errorf("ulimit %s: soft limit %s is above hard limit %s: %w", u.Name, fmtLimit(u.Soft), fmtLimit(u.Hard), errdefs.ErrInvalidArgument)
		}
		c, err := ceiling(h, u.Name)
		if err != nil {
			return nil, err
		}
		if u.Hard > c {
			why := "drover lacks CAP_SYS_RESOURCE to raise it"
			if h.canRaiseRlimits {
				why = "the kernel's fs.nr_open"
			}
			return nil, fmt.Errorf("ulimit %s: hard limit %s is above the host's limit %s (%s); use a value of at most %s: %w",
				u.Name, fmtLimit(u.Hard), fmtLimit(c), why, fmtLimit(c), errdefs.ErrInvalidArgument)
		}
		limits[u.Name] = u
	}

	names := make([]string, 0, len(limits))
	for name := range limits {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]specs.POSIXRlimit, 0, len(names))
	for _, name := range names {
		u := limits[name]
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: u.Soft, Hard: u.Hard})
	}
	return out, nil
}

// ceiling is the highest hard limit a container can get for resource name.
func ceiling(h *host, name string) (uint64, error) {
	if h.canRaiseRlimits {
		if name == "nofile" {
			return h.nrOpen, nil
		}
		return RlimInfinity, nil
	}
	hard, err := h.rlimitHard(rlimitResources[name])
	if err != nil {
		return 0, fmt.Errorf("read host rlimit %s: %w", name, err)
	}
	return hard, nil
}

func fmtLimit(v uint64) string {
	if v == RlimInfinity {
		return "unlimited"
	}
	return fmt.Sprint(v)
}
