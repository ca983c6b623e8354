package spec

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/drover/drover/internal/errdefs"
)

// ParseTmpfs parses a --tmpfs value, "/run" or "/run:size=64m,mode=1777", into a tmpfs
// Mount. Options are checked here so a typo fails before the container is created.
func ParseTmpfs(s string) (Mount, error) {
	dst, opts, _ := strings.Cut(s, ":")
	if dst == "" {
		return Mount{}, fmt.Errorf("tmpfs %q: want /path[:options]: %w", s, errdefs.ErrInvalidArgument)
	}
	if !path.IsAbs(dst) {
		return Mount{}, fmt.Errorf("tmpfs %q: destination must be an absolute path: %w", s, errdefs.ErrInvalidArgument)
	}
	m := Mount{Type: MountTmpfs, Destination: path.Clean(dst)}
	if m.Destination == "/" {
		return Mount{}, fmt.Errorf("tmpfs %q: cannot mount over the container's root: %w", s, errdefs.ErrInvalidArgument)
	}
	if opts != "" {
		m.Options = strings.Split(opts, ",")
	}
	clean, err := tmpfsMountOptions(m.Options)
	if err != nil {
		return Mount{}, fmt.Errorf("tmpfs %q: %w", s, err)
	}
	// Keep only what the user wrote (normalised), so Generate adds the defaults once.
	// ro/rw move into ReadOnly (the last one wins, as with mount(8)).
	m.Options = nil
	for _, o := range clean[len(tmpfsDefaultFlags):] {
		switch o {
		case "ro":
			m.ReadOnly = true
		case "rw":
			m.ReadOnly = false
		default:
			m.Options = append(m.Options, o)
		}
	}
	return m, nil
}

// tmpfsDefaultFlags are the flags every tmpfs mount starts with; a user's exec, suid or dev
// later in the list overrides them.
var tmpfsDefaultFlags = []string{"nosuid", "nodev", "noexec"}

// tmpfsFlags are the option words without a value a tmpfs mount accepts.
var tmpfsFlags = map[string]bool{
	"ro": true, "rw": true, "exec": true, "noexec": true, "suid": true, "nosuid": true,
	"dev": true, "nodev": true, "atime": true, "noatime": true, "relatime": true,
	"norelatime": true, "strictatime": true, "nostrictatime": true, "diratime": true,
	"nodiratime": true, "sync": true, "async": true, "dirsync": true, "nosymfollow": true,
	"noswap": true, "tmpcopyup": true,
}

var tmpfsHuge = map[string]bool{"never": true, "always": true, "within_size": true, "advise": true}

// tmpfsMountOptions validates user tmpfs options and returns the defaults followed by the
// normalised options (size in bytes).
func tmpfsMountOptions(opts []string) ([]string, error) {
	out := append([]string(nil), tmpfsDefaultFlags...)
	seen := map[string]bool{}
	for _, o := range opts {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		key, val, hasVal := strings.Cut(o, "=")
		if !hasVal {
			if !tmpfsFlags[key] {
				return nil, fmt.Errorf("unknown tmpfs option %q: %w", o, errdefs.ErrInvalidArgument)
			}
			out = append(out, key)
			continue
		}
		if seen[key] {
			return nil, fmt.Errorf("tmpfs option %q given twice: %w", key, errdefs.ErrInvalidArgument)
		}
		seen[key] = true
		switch key {
		case "size":
			if strings.HasSuffix(val, "%") {
				pct, err := strconv.ParseUint(strings.TrimSuffix(val, "%"), 10, 8)
				if err != nil || pct == 0 || pct > 100 {
					return nil, fmt.Errorf("tmpfs size %q: want a size like 64m or a percentage 1-100%%: %w", val, errdefs.ErrInvalidArgument)
				}
				out = append(out, "size="+val)
				continue
			}
			n, err := units.RAMInBytes(val)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("tmpfs size %q: want a positive size like 64m: %w", val, errdefs.ErrInvalidArgument)
			}
			out = append(out, "size="+strconv.FormatInt(n, 10))
		case "mode":
			m, err := strconv.ParseUint(val, 8, 32)
			if err != nil || m > 0o7777 {
				return nil, fmt.Errorf("tmpfs mode %q: want octal permissions like 1777: %w", val, errdefs.ErrInvalidArgument)
			}
			out = append(out, fmt.Sprintf("mode=%04o", m))
		case "uid", "gid":
			if _, err := strconv.ParseUint(val, 10, 32); err != nil {
				return nil, fmt.Errorf("tmpfs %s %q: want a number: %w", key, val, errdefs.ErrInvalidArgument)
			}
			out = append(out, key+"="+val)
		case "nr_inodes", "nr_blocks":
			if !validKernelCount(val) {
				return nil, fmt.Errorf("tmpfs %s %q: want a number with an optional k, m or g suffix: %w", key, val, errdefs.ErrInvalidArgument)
			}
			out = append(out, key+"="+val)
		case "huge":
			if !tmpfsHuge[val] {
				return nil, fmt.Errorf("tmpfs huge %q: want never, always, within_size or advise: %w", val, errdefs.ErrInvalidArgument)
			}
			out = append(out, key+"="+val)
		default:
			return nil, fmt.Errorf("unknown tmpfs option %q: %w", o, errdefs.ErrInvalidArgument)
		}
	}
	return out, nil
}

// validKernelCount accepts what the kernel's memparse takes for tmpfs counts: digits with
// an optional k/m/g suffix.
func validKernelCount(s string) bool {
	if n := len(s); n > 0 && strings.ContainsRune("kKmMgG", rune(s[n-1])) {
		s = s[:n-1]
	}
	if s == "" || len(s) > 19 {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}
