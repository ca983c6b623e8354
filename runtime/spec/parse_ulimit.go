package spec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/drover/drover/internal/errdefs"
)

// ParseUlimit parses a --ulimit value: "nofile=1024:2048" (soft:hard), "nofile=1024"
// (both the same); "unlimited" or -1 stands for no limit. Whether the host allows the
// values is checked by Generate.
func ParseUlimit(s string) (Ulimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" || val == "" {
		return Ulimit{}, fmt.Errorf("ulimit %q: want name=soft[:hard], e.g. nofile=1024:2048: %w", s, errdefs.ErrInvalidArgument)
	}
	name = strings.ToLower(name)
	if _, known := rlimitResources[name]; !known {
		return Ulimit{}, fmt.Errorf("ulimit %q: unknown resource %q (known: as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack): %w", s, name, errdefs.ErrInvalidArgument)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	soft, err := parseLimit(softS)
	if err != nil {
		return Ulimit{}, fmt.Errorf("ulimit %q: soft limit: %w", s, err)
	}
	hard := soft
	if hasHard {
		if hard, err = parseLimit(hardS); err != nil {
			return Ulimit{}, fmt.Errorf("ulimit %q: hard limit: %w", s, err)
		}
	}
	if soft > hard {
		return Ulimit{}, fmt.Errorf("ulimit %q: soft limit %s is above hard limit %s: %w", s, fmtLimit(soft), fmtLimit(hard), errdefs.ErrInvalidArgument)
	}
	return Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" || s == "-1" {
		return RlimInfinity, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number, -1 or unlimited: %w", s, errdefs.ErrInvalidArgument)
	}
	return n, nil
}
