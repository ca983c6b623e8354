package spec

import (
	"fmt"
	"path"
	"strings"

	"github.com/drover/drover/internal/errdefs"
)

// ParseVolume parses a --volume value for a bind mount: "/src:/dst" or "/src:/dst:mode",
// where mode is a comma list of ro, rro (read-only with every submount) or rw, a propagation (private, rprivate, shared,
// rshared, slave, rslave), nosuid, nodev, noexec (and their opposites), and the accepted
// no-ops z, Z (drover does no SELinux
// relabelling), consistent, cached and delegated. Named and anonymous volumes are not
// supported yet. Whether the source exists is checked by Generate.
func ParseVolume(s string) (Mount, error) {
	parts := strings.Split(s, ":")
	bad := func(format string, args ...any) (Mount, error) {
		return Mount{}, fmt.Errorf("volume %q: "+format+": %w", append(append([]any{s}, args...), errdefs.ErrInvalidArgument)...)
	}
	switch {
	case len(parts) == 1:
		if path.IsAbs(s) {
			return bad("anonymous volumes are not supported yet; bind a host directory with /host/path:%s", s)
		}
		return bad("want /host/path:/container/path[:ro]")
	case len(parts) > 3:
		return bad("too many colons; want /host/path:/container/path[:mode]")
	}
	src, dst := parts[0], parts[1]
	if src == "" || dst == "" {
		return bad("want /host/path:/container/path[:ro]")
	}
	if !path.IsAbs(src) {
		return bad("named volumes are not supported yet; use an absolute host path for a bind mount")
	}
	if !path.IsAbs(dst) {
		return bad("destination %q must be an absolute path", dst)
	}
	m := Mount{Type: MountBind, Source: path.Clean(src), Destination: path.Clean(dst)}
	if m.Destination == "/" {
		return bad("cannot mount over the container's root")
	}
	if len(parts) == 3 {
		var rw, prop bool
		for _, mode := range strings.Split(parts[2], ",") {
			switch mode {
			case "ro", "rw", "rro":
				if rw {
					return bad("only one of ro, rro and rw")
				}
				rw = true
				m.ReadOnly = mode != "rw"
				if mode == "rro" {
					m.Options = append(m.Options, "rro")
				}
			case "private", "rprivate", "shared", "rshared", "slave", "rslave":
				if prop {
					return bad("more than one propagation mode")
				}
				prop = true
				m.Propagation = mode
			case "z", "Z", "consistent", "cached", "delegated":
			case "nosuid", "suid", "nodev", "dev", "noexec", "exec":
				m.Options = append(m.Options, mode)
			case "nocopy":
				return bad("nocopy applies to named volumes only")
			default:
				return bad("unknown mode %q (want ro, rw or a propagation such as rslave)", mode)
			}
		}
	}
	return m, nil
}
