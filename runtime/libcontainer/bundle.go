package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer/apparmor"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
	"github.com/sirupsen/logrus"

	"github.com/drover/drover/internal/errdefs"
)

// readSpec loads and checks a bundle's config.json. Every refusal names the field at fault,
// so a user of `drover runtime` can fix the bundle.
func readSpec(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("bundle %s has no config.json: write one (`drover runtime spec` makes a default): %w", bundle, errdefs.ErrInvalidArgument)
	}
	if err != nil {
		return nil, fmt.Errorf("read bundle spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	if err := checkVersion(s.Version); err != nil {
		return nil, err
	}
	if s.Process == nil || s.Root == nil {
		return nil, fmt.Errorf("%s needs process and root: %w", path, errdefs.ErrInvalidArgument)
	}
	if !filepath.IsAbs(s.Root.Path) {
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
	}
	if fi, err := os.Stat(s.Root.Path); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("root.path %s is not a directory: unpack the container's root filesystem there: %w", s.Root.Path, errdefs.ErrInvalidArgument)
	}
	if err := checkSeccomp(s.Linux); err != nil {
		return nil, err
	}
	dropUnsupportedLabels(&s)
	return &s, nil
}

// checkVersion refuses a spec whose ociVersion is not 1.x up to the version this runtime
// implements: a newer spec may mean things this runtime would silently get wrong.
func checkVersion(v string) error {
	maj, min, ok := parseVersion(v)
	if !ok {
		return fmt.Errorf("ociVersion %q is not a version such as %s: %w", v, specs.Version, errdefs.ErrInvalidArgument)
	}
	if maj != specs.VersionMajor || min > specs.VersionMinor {
		return fmt.Errorf("ociVersion %s is not supported: this runtime implements the runtime spec 1.0 to %s: %w", v, specs.Version, errdefs.ErrInvalidArgument)
	}
	return nil
}

func parseVersion(v string) (major, minor int, ok bool) {
	core, _, _ := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return 0, 0, false
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		nums[i] = n
	}
	return nums[0], nums[1], true
}

// checkSeccomp refuses SCMP_ACT_NOTIFY without a listener: nobody would answer the
// notifications and every such syscall would hang the container.
func checkSeccomp(l *specs.Linux) error {
	if l == nil || l.Seccomp == nil || l.Seccomp.ListenerPath != "" {
		return nil
	}
	notify := l.Seccomp.DefaultAction == specs.ActNotify
	for _, sc := range l.Seccomp.Syscalls {
		notify = notify || sc.Action == specs.ActNotify
	}
	if notify {
		return fmt.Errorf("linux.seccomp uses SCMP_ACT_NOTIFY but sets no listenerPath: give the unix socket of the agent that answers the notifications: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// dropUnsupportedLabels ignores AppArmor profiles and SELinux labels on hosts without those
// security modules, with a warning, as the runtime spec allows for unsupported LSMs.
func dropUnsupportedLabels(s *specs.Spec) {
	if s.Process.ApparmorProfile != "" && !apparmor.IsEnabled() {
		logrus.Warnf("AppArmor is not enabled on this host: ignoring process.apparmorProfile %q", s.Process.ApparmorProfile)
		s.Process.ApparmorProfile = ""
	}
	if selinux.GetEnabled() {
		return
	}
	if s.Process.SelinuxLabel != "" {
		logrus.Warnf("SELinux is not enabled on this host: ignoring process.selinuxLabel %q", s.Process.SelinuxLabel)
		s.Process.SelinuxLabel = ""
	}
	if s.Linux != nil && s.Linux.MountLabel != "" {
		logrus.Warnf("SELinux is not enabled on this host: ignoring linux.mountLabel %q", s.Linux.MountLabel)
		s.Linux.MountLabel = ""
	}
}

// relaxConfig accepts two things runc 1.1 accepted and libcontainer now refuses, so bundles
// written for runc keep working: filesystem options on bind mounts (a bind mount has no
// filesystem to pass them to) and major:minor numbers on FIFO devices (mknod ignores them).
func relaxConfig(cfg *configs.Config) {
	for _, m := range cfg.Mounts {
		if m.IsBind() && m.Data != "" {
			logrus.Warnf("ignoring options %q of bind mount %s: bind mounts take no filesystem options", m.Data, m.Destination)
			m.Data = ""
		}
	}
	for _, d := range cfg.Devices {
		if d.Type == 'p' {
			d.Major, d.Minor = 0, 0
		}
	}
}
