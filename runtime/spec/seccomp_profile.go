package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/errdefs"
)

// SeccompProfile is a seccomp profile in the format Docker reads from
// --security-opt seccomp=file.json: an OCI seccomp section plus conditions that choose
// rules by capability, architecture and kernel version. Render resolves the conditions for
// one container. drover's built-in profile (DefaultSeccompProfile) is one as well, so
// json.Marshal of it is a starting point for a custom profile.
type SeccompProfile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet,omitempty"`
	// Architectures lists the syscall ABIs the filter covers; ArchMap instead picks them
	// by the host's architecture. A profile has one or the other.
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []SeccompArchMap         `json:"archMap,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Syscalls         []SeccompRule            `json:"syscalls,omitempty"`
}

// SeccompArchMap names the ABIs to filter on a host of architecture Arch: Arch itself and
// the ABIs its kernel also runs (x86 and x32 on x86_64, arm on aarch64).
type SeccompArchMap struct {
	Arch             specs.Arch   `json:"architecture"`
	SubArchitectures []specs.Arch `json:"subArchitectures,omitempty"`
}

// SeccompRule applies Action to the named syscalls when Args match, if the rule's
// conditions hold for the container.
type SeccompRule struct {
	// Name is the single-syscall form older profiles use; Names is preferred.
	Name     string                   `json:"name,omitempty"`
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Comment  string                   `json:"comment,omitempty"`
	// Includes must all hold for the rule to apply; any that holds in Excludes drops it.
	Includes SeccompFilter `json:"includes,omitzero"`
	Excludes SeccompFilter `json:"excludes,omitzero"`
}

// SeccompFilter is a condition on the container and host.
type SeccompFilter struct {
	// Caps: in Includes, the container must hold every one; in Excludes, any one drops
	// the rule.
	Caps []string `json:"caps,omitempty"`
	// Arches are host architectures in Go's naming (amd64, arm64, 386, arm...).
	Arches []string `json:"arches,omitempty"`
	// MinKernel is a kernel version "major.minor" the host must run at least.
	MinKernel string `json:"minKernel,omitempty"`
}

// maxProfileSize bounds a profile file; real ones are well under 100 KiB.
const maxProfileSize = 4 << 20

// maxErrno is the largest errno a filter can return (the kernel's MAX_ERRNO).
const maxErrno = 4095

var seccompActions = map[specs.LinuxSeccompAction]bool{
	specs.ActKill: true, specs.ActKillProcess: true, specs.ActKillThread: true,
	specs.ActTrap: true, specs.ActErrno: true, specs.ActTrace: true, specs.ActAllow: true,
	specs.ActLog: true, specs.ActNotify: true,
}

var seccompOps = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true,
	specs.OpEqualTo: true, specs.OpGreaterEqual: true, specs.OpGreaterThan: true,
	specs.OpMaskedEqual: true,
}

// seccompArches are the ABIs runc can filter.
var seccompArches = map[specs.Arch]bool{
	specs.ArchX86: true, specs.ArchX86_64: true, specs.ArchX32: true, specs.ArchARM: true,
	specs.ArchAARCH64: true, specs.ArchMIPS: true, specs.ArchMIPS64: true,
	specs.ArchMIPS64N32: true, specs.ArchMIPSEL: true, specs.ArchMIPSEL64: true,
	specs.ArchMIPSEL64N32: true, specs.ArchPPC: true, specs.ArchPPC64: true,
	specs.ArchPPC64LE: true, specs.ArchS390: true, specs.ArchS390X: true,
	specs.ArchRISCV64: true, specs.ArchLOONGARCH64: true,
}

var seccompFlags = map[specs.LinuxSeccompFlag]bool{
	specs.LinuxSeccompFlagLog: true, specs.LinuxSeccompFlagSpecAllow: true,
	specs.LinuxSeccompFlagWaitKillableRecv: true,
}

// goArchToSeccomp maps Go's GOARCH to the seccomp name of the host's native ABI.
var goArchToSeccomp = map[string]specs.Arch{
	"amd64": specs.ArchX86_64, "386": specs.ArchX86, "arm64": specs.ArchAARCH64,
	"arm": specs.ArchARM, "mips": specs.ArchMIPS, "mipsle": specs.ArchMIPSEL,
	"mips64": specs.ArchMIPS64, "mips64le": specs.ArchMIPSEL64, "ppc64": specs.ArchPPC64,
	"ppc64le": specs.ArchPPC64LE, "s390x": specs.ArchS390X, "riscv64": specs.ArchRISCV64,
	"loong64": specs.ArchLOONGARCH64,
}

// ParseSeccompProfile reads and checks a Docker-format seccomp profile, so a bad file is
// reported when the container is created, with the rule at fault, rather than as an
// obscure runtime failure.
func ParseSeccompProfile(data []byte) (*SeccompProfile, error) {
	if len(data) > maxProfileSize {
		return nil, fmt.Errorf("seccomp profile is %d bytes, more than the %d allowed: %w", len(data), maxProfileSize, errdefs.ErrInvalidArgument)
	}
	var p SeccompProfile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode seccomp profile: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode seccomp profile: trailing data after the JSON object: %w", errdefs.ErrInvalidArgument)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks every field of the profile against what runc accepts.
func (p *SeccompProfile) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("seccomp profile: "+format+": %w", append(args, errdefs.ErrInvalidArgument)...)
	}
	if p.DefaultAction == "" {
		return bad("defaultAction is missing")
	}
	if !seccompActions[p.DefaultAction] {
		return bad("unknown defaultAction %q", p.DefaultAction)
	}
	if p.DefaultAction == specs.ActNotify {
		return bad("defaultAction cannot be SCMP_ACT_NOTIFY")
	}
	if err := checkErrnoRet(p.DefaultAction, p.DefaultErrnoRet); err != nil {
		return bad("defaultErrnoRet: %v", err)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return bad("architectures and archMap are both set; use one")
	}
	for _, a := range p.Architectures {
		if !seccompArches[a] {
			return bad("unknown architecture %q", a)
		}
	}
	for _, m := range p.ArchMap {
		if !seccompArches[m.Arch] {
			return bad("archMap: unknown architecture %q", m.Arch)
		}
		for _, a := range m.SubArchitectures {
			if !seccompArches[a] {
				return bad("archMap %s: unknown subArchitecture %q", m.Arch, a)
			}
		}
	}
	for _, f := range p.Flags {
		if !seccompFlags[f] {
			return bad("unknown flag %q", f)
		}
	}
	usesNotify := false
	for i, r := range p.Syscalls {
		names := r.names()
		where := fmt.Sprintf("syscalls[%d]", i)
		if len(names) > 0 {
			where = fmt.Sprintf("syscalls[%d] (%s)", i, names[0])
		}
		if len(names) == 0 {
			return bad("%s: no syscall names", where)
		}
		for _, n := range names {
			if !validSyscallName(n) {
				return bad("%s: invalid syscall name %q", where, n)
			}
		}
		if !seccompActions[r.Action] {
			return bad("%s: unknown action %q", where, r.Action)
		}
		if r.Action == specs.ActNotify {
			usesNotify = true
			if slices.Contains(names, "write") {
				return bad("%s: SCMP_ACT_NOTIFY cannot be used for write", where)
			}
		}
		if err := checkErrnoRet(r.Action, r.ErrnoRet); err != nil {
			return bad("%s: errnoRet: %v", where, err)
		}
		if len(r.Args) > 6 {
			return bad("%s: %d args, a syscall has at most 6", where, len(r.Args))
		}
		for _, a := range r.Args {
			if a.Index > 5 {
				return bad("%s: arg index %d, want 0 to 5", where, a.Index)
			}
			if !seccompOps[a.Op] {
				return bad("%s: unknown op %q", where, a.Op)
			}
		}
		for _, f := range []SeccompFilter{r.Includes, r.Excludes} {
			for _, c := range f.Caps {
				if n, err := NormalizeCapability(c); err != nil || n == "ALL" {
					return bad("%s: unknown capability %q", where, c)
				}
			}
			for _, a := range f.Arches {
				if !validSyscallName(a) {
					return bad("%s: invalid arch %q", where, a)
				}
			}
			if f.MinKernel != "" {
				if _, err := parseKernelVersion(f.MinKernel); err != nil {
					return bad("%s: minKernel: %v", where, err)
				}
			}
		}
	}
	if usesNotify && p.ListenerPath == "" {
		return bad("SCMP_ACT_NOTIFY needs a listenerPath")
	}
	return nil
}

// checkErrnoRet allows an errno only with the actions that return one.
func checkErrnoRet(act specs.LinuxSeccompAction, errno *uint) error {
	if errno == nil {
		return nil
	}
	if act != specs.ActErrno && act != specs.ActTrace {
		return fmt.Errorf("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return an errno, not %s", act)
	}
	if *errno > maxErrno {
		return fmt.Errorf("%d is above the largest errno %d", *errno, maxErrno)
	}
	return nil
}

// validSyscallName accepts lowercase identifiers; it keeps garbage out of the spec.
func validSyscallName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (r SeccompRule) names() []string {
	if r.Name == "" {
		return r.Names
	}
	return append([]string{r.Name}, r.Names...)
}

// Render resolves the profile for a container holding caps on this host: it keeps the
// rules whose conditions hold and picks the architectures for the host.
func (p *SeccompProfile) Render(caps []string) (*specs.LinuxSeccomp, error) {
	return p.render(caps, runtime.GOARCH, kernelVersion())
}

func (p *SeccompProfile) render(caps []string, goarch string, kernel [2]int) (*specs.LinuxSeccomp, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, c := range caps {
		n, err := NormalizeCapability(c)
		if err != nil {
			return nil, err
		}
		have[n] = true
	}
	out := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  p.DefaultErrnoRet,
		Architectures:    slices.Clone(p.Architectures),
		Flags:            slices.Clone(p.Flags),
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	native := goArchToSeccomp[goarch]
	for _, m := range p.ArchMap {
		if m.Arch == native {
			out.Architectures = append(append(out.Architectures, m.Arch), m.SubArchitectures...)
		}
	}
	for _, r := range p.Syscalls {
		if !r.applies(have, goarch, kernel) {
			continue
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{
			Names:    r.names(),
			Action:   r.Action,
			ErrnoRet: r.ErrnoRet,
			Args:     slices.Clone(r.Args),
		})
	}
	return out, nil
}

// applies evaluates a rule's conditions.
func (r SeccompRule) applies(caps map[string]bool, goarch string, kernel [2]int) bool {
	in, ex := r.Includes, r.Excludes
	for _, c := range in.Caps {
		n, _ := NormalizeCapability(c)
		if !caps[n] {
			return false
		}
	}
	for _, c := range ex.Caps {
		n, _ := NormalizeCapability(c)
		if caps[n] {
			return false
		}
	}
	if len(in.Arches) > 0 && !archMatches(in.Arches, goarch) {
		return false
	}
	if len(ex.Arches) > 0 && archMatches(ex.Arches, goarch) {
		return false
	}
	if in.MinKernel != "" && !kernelAtLeast(kernel, in.MinKernel) {
		return false
	}
	if ex.MinKernel != "" && kernelAtLeast(kernel, ex.MinKernel) {
		return false
	}
	return true
}

// archAliases lets a condition name the host architecture the way uname does as well as
// the Go way Docker's profiles use.
var archAliases = map[string][]string{
	"amd64": {"amd64", "x86_64"}, "arm64": {"arm64", "aarch64"}, "386": {"386", "x86", "i386"},
	"arm": {"arm"}, "s390x": {"s390x"}, "ppc64le": {"ppc64le"}, "riscv64": {"riscv64"},
	"loong64": {"loong64", "loongarch64"},
}

func archMatches(list []string, goarch string) bool {
	names := archAliases[goarch]
	if names == nil {
		names = []string{goarch}
	}
	for _, a := range list {
		if slices.Contains(names, a) {
			return true
		}
	}
	return false
}

func kernelAtLeast(have [2]int, want string) bool {
	w, err := parseKernelVersion(want)
	if err != nil {
		return false
	}
	return have[0] > w[0] || have[0] == w[0] && have[1] >= w[1]
}

// LoadSeccompProfile parses a Docker-format profile and renders it for a container with
// the default capability set on this host. Generate renders a custom profile with the
// container's real capabilities; this is for callers that only want the OCI section.
func LoadSeccompProfile(data []byte) (*specs.LinuxSeccomp, error) {
	p, err := ParseSeccompProfile(data)
	if err != nil {
		return nil, err
	}
	return p.Render(DefaultCapabilities)
}
