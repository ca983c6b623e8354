package image

import (
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/errdefs"
)

// ApplyChange applies one Dockerfile-style instruction (docker import --change) to cfg:
// CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, STOPSIGNAL.
func ApplyChange(cfg *ocispec.ImageConfig, change string) error {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	arg = strings.TrimSpace(arg)
	bad := func(why string) error {
		return fmt.Errorf("invalid change %q: %s: %w", change, why, errdefs.ErrInvalidArgument)
	}
	switch strings.ToUpper(instr) {
	case "CMD", "ENTRYPOINT":
		var argv []string
		if strings.HasPrefix(arg, "[") {
			if err := json.Unmarshal([]byte(arg), &argv); err != nil {
				return bad("not a JSON array of strings")
			}
		} else if arg != "" {
			argv = []string{"/bin/sh", "-c", arg}
		}
		if strings.EqualFold(instr, "CMD") {
			cfg.Cmd = argv
		} else {
			cfg.Entrypoint = argv
		}
	case "ENV":
		pairs, err := keyValues(arg)
		if err != nil {
			return bad(err.Error())
		}
		for _, kv := range pairs {
			k, _, _ := strings.Cut(kv, "=")
			replaced := false
			for i, e := range cfg.Env {
				if strings.HasPrefix(e, k+"=") {
					cfg.Env[i], replaced = kv, true
				}
			}
			if !replaced {
				cfg.Env = append(cfg.Env, kv)
			}
		}
	case "LABEL":
		pairs, err := keyValues(arg)
		if err != nil {
			return bad(err.Error())
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range pairs {
			k, v, _ := strings.Cut(kv, "=")
			cfg.Labels[k] = v
		}
	case "WORKDIR":
		if !strings.HasPrefix(arg, "/") {
			return bad("WORKDIR must be absolute")
		}
		cfg.WorkingDir = arg
	case "USER":
		if arg == "" {
			return bad("USER needs a value")
		}
		cfg.User = arg
	case "EXPOSE":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(arg) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "STOPSIGNAL":
		if arg == "" {
			return bad("STOPSIGNAL needs a value")
		}
		cfg.StopSignal = arg
	default:
		return bad("supported instructions are CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, STOPSIGNAL")
	}
	return nil
}

// keyValues reads "k=v k2=v2" or the legacy "k v" form.
func keyValues(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("needs KEY=VALUE")
	}
	if !strings.Contains(strings.Fields(s)[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return []string{k + "=" + strings.TrimSpace(v)}, nil
	}
	var out []string
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", f)
		}
		out = append(out, k+"="+strings.Trim(v, `"`))
	}
	return out, nil
}
