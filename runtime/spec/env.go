package spec

import (
	"fmt"
	"strings"

	"github.com/drover/drover/internal/errdefs"
)

// buildEnv returns the process environment: drover's base variables (PATH, HOSTNAME,
// TERM with a terminal, HOME) overlaid by the caller's env, where a later KEY=... replaces
// an earlier one in place, as Docker does.
func buildEnv(env []string, hostname, home string, terminal bool) ([]string, error) {
	base := []string{"PATH=" + DefaultPath, "HOSTNAME=" + hostname}
	if terminal {
		base = append(base, "TERM=xterm")
	}
	out, err := overlayEnv(base, env)
	if err != nil {
		return nil, err
	}
	if _, ok := lookupEnv(out, "HOME"); !ok {
		out = append(out, "HOME="+home)
	}
	return out, nil
}

// overlayEnv appends each KEY=VALUE of extra to base, replacing an existing KEY.
func overlayEnv(base, extra []string) ([]string, error) {
	out := append([]string(nil), base...)
	pos := make(map[string]int, len(out)+len(extra))
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		pos[k] = i
	}
	for _, kv := range extra {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("environment variable %q: want KEY=VALUE: %w", kv, errdefs.ErrInvalidArgument)
		}
		if strings.ContainsRune(kv, 0) {
			return nil, fmt.Errorf("environment variable %q contains a NUL byte: %w", k, errdefs.ErrInvalidArgument)
		}
		if i, ok := pos[k]; ok {
			out[i] = kv
			continue
		}
		pos[k] = len(out)
		out = append(out, kv)
	}
	return out, nil
}

// lookupEnv finds KEY in a KEY=VALUE list; the last entry wins, as in a real environment.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		k, v, ok := strings.Cut(env[i], "=")
		if ok && k == key {
			return v, true
		}
	}
	return "", false
}
