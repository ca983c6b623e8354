package spec

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/errdefs"
)

// ruleSummary is one rule of a rendered profile as it applies to one syscall.
type ruleSummary struct {
	action specs.LinuxSeccompAction
	errno  uint
	args   int
}

func summarize(s *specs.LinuxSeccomp) map[string][]ruleSummary {
	m := map[string][]ruleSummary{}
	for _, r := range s.Syscalls {
		var e uint
		if r.ErrnoRet != nil {
			e = *r.ErrnoRet
		}
		for _, n := range r.Names {
			m[n] = append(m[n], ruleSummary{r.Action, e, len(r.Args)})
		}
	}
	return m
}

func TestDefaultSeccompProfile(t *testing.T) {
	p := DefaultSeccompProfile()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	def, err := p.render(DefaultCapabilities, "amd64", [2]int{6, 1})
	if err != nil {
		t.Fatal(err)
	}
	if def.DefaultAction != specs.ActErrno || def.DefaultErrnoRet == nil || *def.DefaultErrnoRet != 1 {
		t.Errorf("default action = %s/%v, want ERRNO(EPERM)", def.DefaultAction, def.DefaultErrnoRet)
	}
	if want := []specs.Arch{specs.ArchX86_64, specs.ArchX86}; !slices.Equal(def.Architectures, want) {
		t.Errorf("amd64 architectures = %v, want %v", def.Architectures, want)
	}
	rules := summarize(def)
	allowed := func(name string) bool {
		for _, r := range rules[name] {
			if r.action == specs.ActAllow && r.args == 0 {
				return true
			}
		}
		return false
	}
	// Everyday calls are allowed outright.
	for _, n := range []string{"read", "write", "openat", "execve", "exit_group", "futex", "mmap", "rt_sigaction",
		"chroot", "ptrace", "socketpair", "setuid", "epoll_pwait", "statx", "getrandom", "rseq", "wait4"} {
		if !allowed(n) {
			t.Errorf("%s is not allowed by default", n)
		}
	}
	// Dangerous calls are absent (so denied) without the matching capability.
	for _, n := range []string{"mount", "umount2", "kexec_load", "kexec_file_load", "bpf", "keyctl", "add_key",
		"request_key", "reboot", "swapon", "swapoff", "init_module", "finit_module", "perf_event_open",
		"setns", "open_by_handle_at", "pivot_root", "io_uring_setup", "userfaultfd", "settimeofday", "acct",
		"syslog", "iopl", "modify_ldt"} {
		if len(rules[n]) != 0 {
			t.Errorf("%s has rules %v without privileges", n, rules[n])
		}
	}
	// Filtered calls carry argument checks.
	for _, n := range []string{"clone", "unshare", "socket", "personality"} {
		if len(rules[n]) == 0 || rules[n][0].args == 0 || rules[n][0].action != specs.ActAllow {
			t.Errorf("%s rules = %v, want argument-checked allow", n, rules[n])
		}
	}
	if r := rules["clone3"]; len(r) != 1 || r[0].action != specs.ActErrno || r[0].errno != 38 {
		t.Errorf("clone3 rules = %v, want ERRNO(ENOSYS)", r)
	}

	// CAP_SYS_ADMIN opens mount and friends and lifts the clone filters.
	admin, err := p.render(append(slices.Clone(DefaultCapabilities), "CAP_SYS_ADMIN"), "arm64", [2]int{6, 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []specs.Arch{specs.ArchAARCH64, specs.ArchARM}; !slices.Equal(admin.Architectures, want) {
		t.Errorf("arm64 architectures = %v, want %v", admin.Architectures, want)
	}
	rules = summarize(admin)
	for _, n := range []string{"mount", "umount2", "setns", "unshare", "clone", "clone3", "bpf", "pivot_root"} {
		if !allowed(n) {
			t.Errorf("%s not allowed with CAP_SYS_ADMIN: %v", n, rules[n])
		}
	}
	for _, n := range []string{"clone", "unshare", "clone3"} {
		for _, r := range rules[n] {
			if r.args != 0 || r.action != specs.ActAllow {
				t.Errorf("%s keeps a restricted rule %v with CAP_SYS_ADMIN", n, r)
			}
		}
	}

	// Without CAP_SYS_CHROOT chroot goes; on an old kernel ptrace goes.
	old, err := p.render([]string{"CAP_CHOWN"}, "riscv64", [2]int{4, 4})
	if err != nil {
		t.Fatal(err)
	}
	rules = summarize(old)
	if len(rules["chroot"]) != 0 || len(rules["ptrace"]) != 0 {
		t.Errorf("chroot %v / ptrace %v should be denied", rules["chroot"], rules["ptrace"])
	}
	if len(old.Architectures) != 0 {
		t.Errorf("riscv64 architectures = %v, want native only", old.Architectures)
	}
}

// TestDefaultSeccompProfileJSON: the built-in profile, written out as a Docker-format file,
// parses back to the same thing, so users can start their own profile from it.
func TestDefaultSeccompProfileJSON(t *testing.T) {
	data, err := json.Marshal(DefaultSeccompProfile())
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseSeccompProfile(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, DefaultSeccompProfile()) {
		t.Errorf("profile changed in a JSON round trip")
	}
	if strings.Contains(string(data), `"includes":{}`) {
		t.Errorf("empty conditions are written out: %.200s", data)
	}
}

func TestNoDuplicateSyscallsInAllowlist(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range allowAlways {
		for _, n := range g {
			if seen[n] {
				t.Errorf("%s listed twice", n)
			}
			seen[n] = true
		}
	}
	for _, n := range allowWithPtrace {
		if seen[n] {
			t.Errorf("%s is both always allowed and ptrace-gated", n)
		}
	}
	for _, r := range capRules {
		for _, n := range r.names {
			if seen[n] {
				t.Errorf("%s is always allowed and also gated on %s", n, r.cap)
			}
		}
	}
}

const dockerStyleProfile = `{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 1,
	"archMap": [
		{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
		{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
	],
	"syscalls": [
		{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
		{"name": "exit", "names": ["exit_group"], "action": "SCMP_ACT_ALLOW", "comment": "old and new form"},
		{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
		{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["sys_admin"]},
		 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
		{"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
		{"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
		{"names": ["s390_only"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64", "arm64"]}},
		{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
		{"names": ["legacy"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.0"}},
		{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
	]
}`

func TestParseDockerStyleProfile(t *testing.T) {
	p, err := ParseSeccompProfile([]byte(dockerStyleProfile))
	if err != nil {
		t.Fatal(err)
	}
	names := func(s *specs.LinuxSeccomp) []string {
		var out []string
		for _, r := range s.Syscalls {
			out = append(out, r.Names...)
		}
		return out
	}
	tests := []struct {
		goarch string
		kernel [2]int
		caps   []string
		want   []string
		arches []specs.Arch
	}{
		{"amd64", [2]int{6, 1}, DefaultCapabilities,
			[]string{"read", "write", "exit", "exit_group", "personality", "clone", "arch_prctl", "ptrace", "clone3"},
			[]specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}},
		{"arm64", [2]int{4, 4}, []string{"CAP_SYS_ADMIN"},
			[]string{"read", "write", "exit", "exit_group", "personality", "mount", "sync_file_range2", "legacy", "clone3"},
			[]specs.Arch{specs.ArchAARCH64, specs.ArchARM}},
		{"s390x", [2]int{5, 0}, nil,
			[]string{"read", "write", "exit", "exit_group", "personality", "clone", "s390_only", "ptrace", "clone3"},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.goarch, func(t *testing.T) {
			s, err := p.render(tt.caps, tt.goarch, tt.kernel)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(s); !slices.Equal(got, tt.want) {
				t.Errorf("syscalls = %v, want %v", got, tt.want)
			}
			if !slices.Equal(s.Architectures, tt.arches) {
				t.Errorf("architectures = %v, want %v", s.Architectures, tt.arches)
			}
		})
	}
	// The MASKED_EQ argument survives as written.
	s, err := p.render(nil, "amd64", [2]int{6, 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Syscalls {
		if r.Names[0] == "clone" {
			if a := r.Args[0]; a.Value != 2114060288 || a.ValueTwo != 0 || a.Op != specs.OpMaskedEqual {
				t.Errorf("clone arg = %+v", a)
			}
		}
	}
	if s, err := LoadSeccompProfile([]byte(dockerStyleProfile)); err != nil || s.DefaultAction != specs.ActErrno {
		t.Errorf("LoadSeccompProfile = %+v, %v", s, err)
	}
}

func TestParseSeccompProfileErrors(t *testing.T) {
	tests := []struct {
		name, json, wantErr string
	}{
		{"not json", `{`, "decode"},
		{"trailing", `{"defaultAction":"SCMP_ACT_ALLOW"} {}`, "trailing data"},
		{"wrong type", `{"defaultAction":5}`, "decode"},
		{"no default", `{}`, "defaultAction is missing"},
		{"bad default", `{"defaultAction":"SCMP_ACT_MAYBE"}`, "unknown defaultAction"},
		{"notify default", `{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/s"}`, "cannot be SCMP_ACT_NOTIFY"},
		{"errno on allow", `{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}`, "only SCMP_ACT_ERRNO"},
		{"huge errno", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}`, "largest errno"},
		{"arch and map", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`, "both set"},
		{"bad arch", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}`, "unknown architecture"},
		{"bad map arch", `{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"x"}]}`, "unknown architecture"},
		{"bad subarch", `{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["y"]}]}`, "unknown subArchitecture"},
		{"bad flag", `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_X"]}`, "unknown flag"},
		{"no names", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ERRNO"}]}`, "no syscall names"},
		{"bad name", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["Read"],"action":"SCMP_ACT_ERRNO"}]}`, "invalid syscall name"},
		{"bad action", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"DENY"}]}`, "unknown action"},
		{"errno on kill", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_KILL","errnoRet":1}]}`, "errnoRet"},
		{"arg index", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, "arg index 6"},
		{"arg op", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"EQ"}]}]}`, "unknown op"},
		{"bad cap", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_FLY"]}}]}`, "unknown capability"},
		{"bad kernel", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","excludes":{"minKernel":"new"}}]}`, "minKernel"},
		{"notify no listener", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}`, "needs a listenerPath"},
		{"notify write", `{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/s","syscalls":[{"names":["write"],"action":"SCMP_ACT_NOTIFY"}]}`, "cannot be used for write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSeccompProfile([]byte(tt.json))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error %q: want ErrInvalidArgument mentioning %q", err, tt.wantErr)
			}
		})
	}
	if _, err := ParseSeccompProfile(make([]byte, maxProfileSize+1)); err == nil {
		t.Error("oversized profile accepted")
	}
}

func FuzzParseSeccompProfile(f *testing.F) {
	f.Add([]byte(dockerStyleProfile))
	def, _ := json.Marshal(DefaultSeccompProfile())
	f.Add(def)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8","caps":["net_admin"]}}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseSeccompProfile(data)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error %q is not ErrInvalidArgument", err)
			}
			return
		}
		// Anything accepted renders for any container, and the result is what runc takes.
		for _, caps := range [][]string{nil, DefaultCapabilities, capNames} {
			s, err := p.render(caps, "amd64", [2]int{6, 1})
			if err != nil {
				t.Fatalf("accepted profile fails to render: %v", err)
			}
			if !seccompActions[s.DefaultAction] {
				t.Fatalf("rendered default action %q", s.DefaultAction)
			}
			for _, r := range s.Syscalls {
				if len(r.Names) == 0 || !seccompActions[r.Action] {
					t.Fatalf("rendered rule %+v", r)
				}
				for _, a := range r.Args {
					if a.Index > 5 || !seccompOps[a.Op] {
						t.Fatalf("rendered arg %+v", a)
					}
				}
			}
			for _, a := range s.Architectures {
				if !seccompArches[a] {
					t.Fatalf("rendered arch %q", a)
				}
			}
		}
	})
}
