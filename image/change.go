package image

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/drover/drover/internal/errdefs"
)

// Change is one parsed Dockerfile-style instruction of `docker import --change`.
type Change struct {
	// Instruction is the upper-case keyword: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE,
	// VOLUME, LABEL or STOPSIGNAL.
	Instruction string
	apply       func(*ImportOptions)
}

// Apply applies the change to o.
func (c Change) Apply(o *ImportOptions) { c.apply(o) }

const maxChangeLen = 64 << 10

// ParseChange parses one --change string: `CMD ["sh"]`, `ENV A=1 B="x y"`, `EXPOSE 80/tcp`,
// `VOLUME /data` or `VOLUME ["/a", "/b"]`, `LABEL k=v`, `WORKDIR /app`, `USER 1000`, `ENTRYPOINT sh -c x`, `STOPSIGNAL SIGINT`.
// Variables ($X) are not expanded.
func ParseChange(s string) (Change, error) {
	bad := func(why string) (Change, error) {
		return Change{}, fmt.Errorf("invalid change %q: %s: %w", truncate(s, 200), why, errdefs.ErrInvalidArgument)
	}
	if len(s) > maxChangeLen {
		return bad("longer than 64 KiB")
	}
	s = strings.TrimSpace(s)
	kw, arg, _ := strings.Cut(s, " ")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		kw, arg = s[:i], s[i+1:]
	}
	arg = strings.TrimSpace(arg)
	kw = strings.ToUpper(kw)
	c := Change{Instruction: kw}
	switch kw {
	case "CMD", "ENTRYPOINT":
		argv := commandLine(arg)
		if kw == "CMD" {
			c.apply = func(o *ImportOptions) { o.Cmd = argv }
		} else {
			c.apply = func(o *ImportOptions) { o.Entrypoint = argv }
		}
	case "ENV":
		pairs, err := keyValues(arg)
		if err != nil {
			return bad(err.Error())
		}
		c.apply = func(o *ImportOptions) {
			for _, kv := range pairs {
				o.Env = setEnv(o.Env, kv[0], kv[1])
			}
		}
	case "LABEL":
		pairs, err := keyValues(arg)
		if err != nil {
			return bad(err.Error())
		}
		c.apply = func(o *ImportOptions) {
			if o.Labels == nil {
				o.Labels = map[string]string{}
			}
			for _, kv := range pairs {
				o.Labels[kv[0]] = kv[1]
			}
		}
	case "WORKDIR":
		if arg == "" {
			return bad("WORKDIR needs a directory")
		}
		c.apply = func(o *ImportOptions) {
			if path.IsAbs(arg) {
				o.WorkingDir = path.Clean(arg)
			} else {
				o.WorkingDir = path.Join("/", o.WorkingDir, arg)
			}
		}
	case "USER":
		if arg == "" || strings.ContainsAny(arg, " \t") {
			return bad("USER needs one user[:group]")
		}
		c.apply = func(o *ImportOptions) { o.User = arg }
	case "STOPSIGNAL":
		if arg == "" || strings.ContainsAny(arg, " \t") {
			return bad("STOPSIGNAL needs one signal name or number")
		}
		c.apply = func(o *ImportOptions) { o.StopSignal = arg }
	case "EXPOSE":
		ports, err := exposedPorts(arg)
		if err != nil {
			return bad(err.Error())
		}
		c.apply = func(o *ImportOptions) {
			if o.ExposedPorts == nil {
				o.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				o.ExposedPorts[p] = struct{}{}
			}
		}
	case "VOLUME":
		var paths []string
		if strings.HasPrefix(arg, "[") {
			if err := json.Unmarshal([]byte(arg), &paths); err != nil {
				return bad("VOLUME takes paths, or a JSON array of paths")
			}
		} else {
			paths = strings.Fields(arg)
		}
		if len(paths) == 0 {
			return bad("VOLUME needs at least one path")
		}
		for i, p := range paths {
			if !path.IsAbs(p) || path.Clean(p) == "/" {
				return bad(fmt.Sprintf("volume path %q must be absolute and not /", p))
			}
			paths[i] = path.Clean(p)
		}
		c.apply = func(o *ImportOptions) {
			if o.Volumes == nil {
				o.Volumes = map[string]struct{}{}
			}
			for _, p := range paths {
				o.Volumes[p] = struct{}{}
			}
		}
	default:
		return bad("supported instructions are CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL")
	}
	return c, nil
}

// commandLine reads the exec form (a JSON array of strings) or the shell form, which runs
// through /bin/sh -c as in a Dockerfile. An empty argument clears the command.
func commandLine(arg string) []string {
	if arg == "" {
		return nil
	}
	if strings.HasPrefix(arg, "[") {
		var argv []string
		if json.Unmarshal([]byte(arg), &argv) == nil {
			return argv
		}
	}
	return []string{"/bin/sh", "-c", arg}
}

// setEnv sets key in a KEY=value list.
func setEnv(env []string, key, value string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			out := append([]string(nil), env...)
			out[i] = key + "=" + value
			return out
		}
	}
	return append(append([]string(nil), env...), key+"="+value)
}

// keyValues reads `k=v k2="v 2"` or the legacy `k v w` (one key, the rest its value).
func keyValues(s string) ([][2]string, error) {
	if s == "" {
		return nil, fmt.Errorf("needs KEY=VALUE")
	}
	first := strings.Fields(s)[0]
	if !strings.Contains(first, "=") {
		k, v, _ := strings.Cut(s, " ")
		v = strings.TrimSpace(v)
		words, err := splitWords(v)
		if err == nil && len(words) == 1 {
			v = words[0] // `ENV A "x y"`
		}
		return [][2]string{{k, v}}, nil
	}
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", truncate(w, 100))
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits s on blanks, honouring "double" and 'single' quotes and backslash
// escapes (not inside single quotes); the quotes are removed.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if escaped {
		return nil, fmt.Errorf("trailing backslash")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// exposedPorts reads `80 443/tcp 53/udp 8000-8002`.
func exposedPorts(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("EXPOSE needs a port")
	}
	var out []string
	for _, f := range strings.Fields(s) {
		port, proto, ok := strings.Cut(f, "/")
		if !ok {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("port %q: the protocol is tcp, udp or sctp", f)
		}
		lo, hi, isRange := strings.Cut(port, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
			return nil, fmt.Errorf("port %q: ports are 1-65535, ranges low-high", f)
		}
		if b-a >= 1024 || len(out) > 4096 {
			return nil, fmt.Errorf("port %q: too many ports", f)
		}
		for p := a; p <= b; p++ {
			out = append(out, strconv.Itoa(p)+"/"+proto)
		}
	}
	return out, nil
}
