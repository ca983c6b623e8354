package spec

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/errdefs"
)

// defaultMounts are the filesystems every container gets. /sys is read-only unless
// privileged; the cgroup filesystem is writable only for a privileged container with its own
// cgroup namespace, where it cannot reach the host's hierarchy.
func defaultMounts(privileged, cgroupns bool, shmSize int64) []specs.Mount {
	sysOpt, cgroupOpt := "ro", "ro"
	if privileged {
		sysOpt = "rw"
		if cgroupns {
			cgroupOpt = "rw"
		}
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", sysOpt}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", cgroupOpt}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", fmt.Sprintf("size=%d", shmSize)}},
	}
}

// userMounts validates the user's mounts and turns them into spec mounts, parents before
// children so a mount inside another lands on top of it. It also returns the rootfs
// propagation the mounts need: a shared bind needs a shared root, a slave one a slave root.
func userMounts(ms []Mount) ([]specs.Mount, string, error) {
	sorted := slices.Clone(ms)
	seen := map[string]bool{}
	for i := range sorted {
		m := &sorted[i]
		if !path.IsAbs(m.Destination) {
			return nil, "", fmt.Errorf("mount destination %q: must be an absolute path: %w", m.Destination, errdefs.ErrInvalidArgument)
		}
		m.Destination = path.Clean(m.Destination)
		if m.Destination == "/" {
			return nil, "", fmt.Errorf("mount destination %q: cannot mount over the container's root: %w", m.Destination, errdefs.ErrInvalidArgument)
		}
		if seen[m.Destination] {
			return nil, "", fmt.Errorf("duplicate mount point: %s: %w", m.Destination, errdefs.ErrInvalidArgument)
		}
		seen[m.Destination] = true
	}
	slices.SortStableFunc(sorted, func(a, b Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})

	rootProp := "rprivate"
	out := make([]specs.Mount, 0, len(sorted))
	for _, m := range sorted {
		switch m.Type {
		case MountBind:
			sm, err := bindMount(m)
			if err != nil {
				return nil, "", err
			}
			switch m.Propagation {
			case "shared", "rshared":
				rootProp = "rshared"
			case "slave", "rslave":
				if rootProp != "rshared" {
					rootProp = "rslave"
				}
			}
			out = append(out, sm)
		case MountTmpfs:
			opts, err := tmpfsMountOptions(m.Options)
			if err != nil {
				return nil, "", fmt.Errorf("tmpfs %s: %w", m.Destination, err)
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts})
		default:
			return nil, "", fmt.Errorf("mount %s: unsupported type %q (want bind or tmpfs): %w", m.Destination, m.Type, errdefs.ErrInvalidArgument)
		}
	}
	return out, rootProp, nil
}

// bindMount checks a bind mount's source on the host: unlike Docker's old -v behaviour,
// drover does not create a missing source, because a typo would silently mount an empty
// directory.
func bindMount(m Mount) (specs.Mount, error) {
	if !path.IsAbs(m.Source) {
		return specs.Mount{}, fmt.Errorf("bind source %q: must be an absolute host path: %w", m.Source, errdefs.ErrInvalidArgument)
	}
	src := path.Clean(m.Source)
	if _, err := os.Stat(src); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return specs.Mount{}, fmt.Errorf("bind source path does not exist: %s: %w", src, errdefs.ErrInvalidArgument)
		}
		return specs.Mount{}, fmt.Errorf("bind source %s: %w", src, err)
	}
	prop := m.Propagation
	if prop == "" {
		prop = "rprivate"
	}
	if !validPropagation[prop] {
		return specs.Mount{}, fmt.Errorf("bind %s: invalid propagation %q: %w", m.Destination, prop, errdefs.ErrInvalidArgument)
	}
	rw := "rw"
	if m.ReadOnly {
		rw = "ro"
	}
	opts := []string{"rbind", rw, prop}
	for _, o := range m.Options {
		if !bindExtraOptions[o] {
			return specs.Mount{}, fmt.Errorf("bind %s: unsupported option %q: %w", m.Destination, o, errdefs.ErrInvalidArgument)
		}
		opts = append(opts, o)
	}
	return specs.Mount{Destination: m.Destination, Type: "bind", Source: src, Options: opts}, nil
}

var validPropagation = map[string]bool{
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

// bindExtraOptions are the flags a bind mount may carry besides ro/rw and propagation.
var bindExtraOptions = map[string]bool{
	"nosuid": true, "suid": true, "nodev": true, "dev": true, "noexec": true, "exec": true,
	"noatime": true, "relatime": true, "nodiratime": true,
	// rro makes a read-only bind read-only all the way down, its submounts too
	// (mount_setattr, Linux 5.12).
	"rro": true,
}

// mergeMounts puts user mounts after the defaults, dropping a default whose destination a
// user mount takes (a user tmpfs on /dev/shm replaces the standard one).
func mergeMounts(defaults, user []specs.Mount) []specs.Mount {
	taken := map[string]bool{}
	for _, m := range user {
		taken[m.Destination] = true
	}
	out := make([]specs.Mount, 0, len(defaults)+len(user))
	for _, m := range defaults {
		if !taken[m.Destination] {
			out = append(out, m)
		}
	}
	return append(out, user...)
}
