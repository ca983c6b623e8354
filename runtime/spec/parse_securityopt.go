package spec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/drover/drover/internal/errdefs"
)

// SecurityOpt is one parsed --security-opt. At most one field is set.
type SecurityOpt struct {
	// NoNewPrivileges is set by "no-new-privileges[=true|false]".
	NoNewPrivileges *bool
	// Seccomp is set by "seccomp=...": SeccompUnconfined, SeccompDefault ("builtin"), or
	// SeccompCustom with SeccompProfilePath naming the profile file. Reading the file is
	// the caller's job (the CLI reads it where the user's files are).
	Seccomp            *SeccompMode
	SeccompProfilePath string
}

// ParseSecurityOpt parses one --security-opt value: "no-new-privileges",
// "no-new-privileges=true|false", "seccomp=unconfined", "seccomp=builtin" or
// "seccomp=/path/to/profile.json". The older "key:value" spelling is accepted as well.
// "apparmor=unconfined" and "label=disable" are accepted and change nothing, since drover
// applies no AppArmor or SELinux profile.
func ParseSecurityOpt(s string) (SecurityOpt, error) {
	key, val, hasVal := strings.Cut(s, "=")
	if !hasVal && key != "no-new-privileges" {
		key, val, hasVal = strings.Cut(s, ":")
	}
	bad := func(why string) (SecurityOpt, error) {
		return SecurityOpt{}, fmt.Errorf("security-opt %q: %s: %w", s, why, errdefs.ErrInvalidArgument)
	}
	switch key {
	case "no-new-privileges":
		v := true
		if hasVal {
			b, err := strconv.ParseBool(val)
			if err != nil {
				return bad("want no-new-privileges=true or false")
			}
			v = b
		}
		return SecurityOpt{NoNewPrivileges: &v}, nil
	case "seccomp":
		switch val {
		case "":
			return bad("want seccomp=unconfined, seccomp=builtin or seccomp=/path/to/profile.json")
		case "unconfined":
			return SecurityOpt{Seccomp: ptr(SeccompUnconfined)}, nil
		case "builtin", "default":
			return SecurityOpt{Seccomp: ptr(SeccompDefault)}, nil
		}
		return SecurityOpt{Seccomp: ptr(SeccompCustom), SeccompProfilePath: val}, nil
	case "apparmor":
		if val == "unconfined" {
			return SecurityOpt{}, nil
		}
		return bad("drover does not apply AppArmor profiles; only apparmor=unconfined is accepted")
	case "label":
		if val == "disable" {
			return SecurityOpt{}, nil
		}
		return bad("drover does not apply SELinux labels; only label=disable is accepted")
	}
	return bad("unknown option (want no-new-privileges or seccomp=...)")
}
