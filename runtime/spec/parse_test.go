package spec

import (
	"errors"
	"math"
	"path"
	"reflect"
	"strings"
	"testing"

	"github.com/drover/drover/internal/errdefs"
)

func TestParseUlimit(t *testing.T) {
	tests := []struct {
		in      string
		want    Ulimit
		wantErr string
	}{
		{"nofile=1024:2048", Ulimit{"nofile", 1024, 2048}, ""},
		{"nofile=1024", Ulimit{"nofile", 1024, 1024}, ""},
		{"NPROC=10:20", Ulimit{"nproc", 10, 20}, ""},
		{"core=-1", Ulimit{"core", RlimInfinity, RlimInfinity}, ""},
		{"core=0:unlimited", Ulimit{"core", 0, RlimInfinity}, ""},
		{"memlock=unlimited:unlimited", Ulimit{"memlock", RlimInfinity, RlimInfinity}, ""},
		{"nofile=2048:1024", Ulimit{}, "soft limit 2048 is above hard limit 1024"},
		{"nofile=unlimited:5", Ulimit{}, "soft limit unlimited is above"},
		{"nofile", Ulimit{}, "want name=soft[:hard]"},
		{"=5", Ulimit{}, "want name=soft[:hard]"},
		{"nofile=", Ulimit{}, "want name=soft[:hard]"},
		{"bogus=1", Ulimit{}, "unknown resource"},
		{"nofile=abc", Ulimit{}, "not a number"},
		{"nofile=1:", Ulimit{}, "hard limit"},
		{"nofile=-2", Ulimit{}, "not a number"},
		{"nofile=1:2:3", Ulimit{}, "hard limit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUlimit(tt.in)
			checkParse(t, got, tt.want, err, tt.wantErr)
		})
	}
}

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in      string
		want    Mount
		wantErr string
	}{
		{"/src:/dst", Mount{Type: MountBind, Source: "/src", Destination: "/dst"}, ""},
		{"/src/:/dst/x/../y:ro", Mount{Type: MountBind, Source: "/src", Destination: "/dst/y", ReadOnly: true}, ""},
		{"/src:/dst:rw,rslave", Mount{Type: MountBind, Source: "/src", Destination: "/dst", Propagation: "rslave"}, ""},
		{"/src:/dst:Z,ro,shared,cached", Mount{Type: MountBind, Source: "/src", Destination: "/dst", ReadOnly: true, Propagation: "shared"}, ""},
		{"data:/dst", Mount{}, "named volumes are not supported yet"},
		{"./rel:/dst", Mount{}, "named volumes are not supported yet"},
		{"/dst", Mount{}, "anonymous volumes are not supported yet"},
		{"dst", Mount{}, "want /host/path"},
		{"/src:dst", Mount{}, "must be an absolute path"},
		{"/src:/", Mount{}, "over the container's root"},
		{":/dst", Mount{}, "want /host/path"},
		{"/src:", Mount{}, "want /host/path"},
		{"/a:/b:ro:x", Mount{}, "too many colons"},
		{"/a:/b:ro,rw", Mount{}, "only one of ro, rro and rw"},
		{"/src:/dst:ro,noexec,nosuid", Mount{Type: MountBind, Source: "/src", Destination: "/dst", ReadOnly: true, Options: []string{"noexec", "nosuid"}}, ""},
		{"/src:/dst:rro", Mount{Type: MountBind, Source: "/src", Destination: "/dst", ReadOnly: true, Options: []string{"rro"}}, ""},
		{"/a:/b:shared,slave", Mount{}, "more than one propagation"},
		{"/a:/b:nocopy", Mount{}, "named volumes only"},
		{"/a:/b:bogus", Mount{}, "unknown mode"},
		{"/a:/b:", Mount{}, "unknown mode"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in)
			checkParse(t, got, tt.want, err, tt.wantErr)
		})
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in      string
		want    Mount
		wantErr string
	}{
		{"/run", Mount{Type: MountTmpfs, Destination: "/run"}, ""},
		{"/run:size=64m,mode=1777", Mount{Type: MountTmpfs, Destination: "/run", Options: []string{"size=67108864", "mode=1777"}}, ""},
		{"/run/:ro,exec,uid=1000,gid=1000", Mount{Type: MountTmpfs, Destination: "/run", ReadOnly: true, Options: []string{"exec", "uid=1000", "gid=1000"}}, ""},
		{"/run:ro,rw", Mount{Type: MountTmpfs, Destination: "/run"}, ""},
		{"/t:size=50%,nr_inodes=10k,huge=within_size,noswap", Mount{Type: MountTmpfs, Destination: "/t", Options: []string{"size=50%", "nr_inodes=10k", "huge=within_size", "noswap"}}, ""},
		{"/t:mode=755", Mount{Type: MountTmpfs, Destination: "/t", Options: []string{"mode=0755"}}, ""},
		{"run", Mount{}, "absolute path"},
		{"", Mount{}, "want /path"},
		{":size=1m", Mount{}, "want /path"},
		{"/", Mount{}, "container's root"},
		{"/t:size=0", Mount{}, "positive size"},
		{"/t:size=lots", Mount{}, "positive size"},
		{"/t:size=101%", Mount{}, "percentage"},
		{"/t:mode=999", Mount{}, "octal"},
		{"/t:mode=17777", Mount{}, "octal"},
		{"/t:uid=-1", Mount{}, "want a number"},
		{"/t:nr_inodes=kk", Mount{}, "k, m or g"},
		{"/t:nr_inodes=10kk", Mount{}, "k, m or g"},
		{"/t:huge=sometimes", Mount{}, "huge"},
		{"/t:size=1m,size=2m", Mount{}, "given twice"},
		{"/t:bogus", Mount{}, "unknown tmpfs option"},
		{"/t:bogus=1", Mount{}, "unknown tmpfs option"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTmpfs(tt.in)
			checkParse(t, got, tt.want, err, tt.wantErr)
		})
	}
}

func TestParseSecurityOpt(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		in      string
		want    SecurityOpt
		wantErr string
	}{
		{"no-new-privileges", SecurityOpt{NoNewPrivileges: &yes}, ""},
		{"no-new-privileges=true", SecurityOpt{NoNewPrivileges: &yes}, ""},
		{"no-new-privileges=false", SecurityOpt{NoNewPrivileges: &no}, ""},
		{"no-new-privileges:true", SecurityOpt{NoNewPrivileges: &yes}, ""},
		{"seccomp=unconfined", SecurityOpt{Seccomp: ptr(SeccompUnconfined)}, ""},
		{"seccomp:unconfined", SecurityOpt{Seccomp: ptr(SeccompUnconfined)}, ""},
		{"seccomp=builtin", SecurityOpt{Seccomp: ptr(SeccompDefault)}, ""},
		{"seccomp=/etc/profile.json", SecurityOpt{Seccomp: ptr(SeccompCustom), SeccompProfilePath: "/etc/profile.json"}, ""},
		{"seccomp=rel=odd.json", SecurityOpt{Seccomp: ptr(SeccompCustom), SeccompProfilePath: "rel=odd.json"}, ""},
		{"apparmor=unconfined", SecurityOpt{}, ""},
		{"label=disable", SecurityOpt{}, ""},
		{"no-new-privileges=maybe", SecurityOpt{}, "true or false"},
		{"seccomp=", SecurityOpt{}, "want seccomp=unconfined"},
		{"seccomp", SecurityOpt{}, "want seccomp=unconfined"},
		{"apparmor=docker-default", SecurityOpt{}, "AppArmor"},
		{"label=type:foo", SecurityOpt{}, "SELinux"},
		{"bogus", SecurityOpt{}, "unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSecurityOpt(tt.in)
			checkParse(t, got, tt.want, err, tt.wantErr)
		})
	}
}

func TestParseCPUs(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"1.5", 1.5, ""},
		{" 2 ", 2, ""},
		{"0", 0, ""},
		{"0.01", 0.01, ""},
		{"0.001", 0, "smallest"},
		{"-1", 0, "negative"},
		{"NaN", 0, "want a number"},
		{"Inf", 0, "want a number"},
		{"one", 0, "want a number"},
		{"1e9", 0, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCPUs(tt.in)
			checkParse(t, got, tt.want, err, tt.wantErr)
		})
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in      string
		swap    bool
		want    int64
		wantErr string
	}{
		{"512m", false, 512 << 20, ""},
		{"1g", false, 1 << 30, ""},
		{"1.5GiB", false, 3 << 29, ""},
		{"4096", false, 4096, ""},
		{"0", false, 0, "positive size"},
		{"-1", false, 0, "positive size"},
		{"lots", false, 0, "positive size"},
		{"-1", true, -1, ""},
		{"2g", true, 2 << 30, ""},
		{"-2", true, 0, "or -1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			parse := ParseMemory
			if tt.swap {
				parse = ParseMemorySwap
			}
			got, err := parse(tt.in)
			checkParse(t, got, tt.want, err, tt.wantErr)
		})
	}
}

func TestNormalizeCapability(t *testing.T) {
	for in, want := range map[string]string{
		"NET_ADMIN": "CAP_NET_ADMIN", "cap_net_admin": "CAP_NET_ADMIN", " chown ": "CAP_CHOWN",
		"all": "ALL", "CAP_ALL": "ALL", "checkpoint_restore": "CAP_CHECKPOINT_RESTORE",
	} {
		if got, err := NormalizeCapability(in); err != nil || got != want {
			t.Errorf("NormalizeCapability(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "CAP_", "fly", "CAP_CAP_CHOWN"} {
		if _, err := NormalizeCapability(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("NormalizeCapability(%q) = %v, want ErrInvalidArgument", in, err)
		}
	}
}

func TestParseKernelVersion(t *testing.T) {
	for in, want := range map[string][2]int{"6.1.0-18-amd64": {6, 1}, "4.8": {4, 8}, "5.15-rc1": {5, 15}, "6.18.44-fc-v769": {6, 18}} {
		if got, err := parseKernelVersion(in); err != nil || got != want {
			t.Errorf("parseKernelVersion(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "6", "a.b", "6x.1", ".1"} {
		if _, err := parseKernelVersion(in); err == nil {
			t.Errorf("parseKernelVersion(%q) succeeded", in)
		}
	}
}

// checkParse compares a parser's result, or checks its error names the problem and is an
// ErrInvalidArgument.
func checkParse[T any](t *testing.T, got, want T, err error, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("got %+v, want an error mentioning %q", got, wantErr)
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("error %q does not mention %q", err, wantErr)
		}
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("error %q is not ErrInvalidArgument", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// The fuzz targets check that parsers never panic, that whatever they accept is well
// formed, and that everything they reject is an ErrInvalidArgument.

func FuzzParseUlimit(f *testing.F) {
	for _, s := range []string{"nofile=1024:2048", "core=-1", "nproc=unlimited", "x=1:2:3", "nofile=18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUlimit(s)
		if err != nil {
			requireInvalid(t, err)
			return
		}
		if _, known := rlimitResources[u.Name]; u.Soft > u.Hard || !known {
			t.Fatalf("accepted %q as %+v", s, u)
		}
	})
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/a:/b", "/a:/b:ro,rslave", "name:/b", "/b", "::", "/a:/b:z,Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseVolume(s)
		if err != nil {
			requireInvalid(t, err)
			return
		}
		if m.Type != MountBind || !path.IsAbs(m.Source) || !path.IsAbs(m.Destination) || m.Destination == "/" ||
			path.Clean(m.Destination) != m.Destination {
			t.Fatalf("accepted %q as %+v", s, m)
		}
	})
}

func FuzzParseTmpfs(f *testing.F) {
	for _, s := range []string{"/run", "/run:size=64m,mode=1777", "/t:size=50%", "/t:nr_inodes=1k,ro", "/t:a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseTmpfs(s)
		if err != nil {
			requireInvalid(t, err)
			return
		}
		if m.Type != MountTmpfs || !path.IsAbs(m.Destination) || m.Destination == "/" {
			t.Fatalf("accepted %q as %+v", s, m)
		}
		// What ParseTmpfs accepts, Generate's own check accepts again unchanged.
		if _, err := tmpfsMountOptions(m.Options); err != nil {
			t.Fatalf("options of %q rejected on second look: %v", s, err)
		}
		for _, o := range m.Options {
			if strings.ContainsAny(o, ",\x00") {
				t.Fatalf("option %q of %q would split or truncate", o, s)
			}
		}
	})
}

func FuzzParseSecurityOpt(f *testing.F) {
	for _, s := range []string{"no-new-privileges", "seccomp=unconfined", "seccomp:/p.json", "label=disable", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseSecurityOpt(s)
		if err != nil {
			requireInvalid(t, err)
			return
		}
		if o.NoNewPrivileges != nil && o.Seccomp != nil {
			t.Fatalf("%q set two options: %+v", s, o)
		}
		if o.Seccomp != nil && (*o.Seccomp == SeccompCustom) != (o.SeccompProfilePath != "") {
			t.Fatalf("%q: custom mode and profile path disagree: %+v", s, o)
		}
	})
}

func FuzzParseCPUs(f *testing.F) {
	for _, s := range []string{"1.5", "0", "1e3", "-0", "0x1p-2", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCPUs(s)
		if err != nil {
			requireInvalid(t, err)
			return
		}
		if math.IsNaN(c) || c < 0 || c > 1<<20 || c != 0 && c < 0.01 {
			t.Fatalf("accepted %q as %v", s, c)
		}
	})
}

func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"512m", "1.5g", "-1", "99999999999999999999t", "1 kb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseMemory(s)
		if err != nil {
			requireInvalid(t, err)
		} else if n <= 0 {
			t.Fatalf("accepted %q as %d", s, n)
		}
		n, err = ParseMemorySwap(s)
		if err != nil {
			requireInvalid(t, err)
		} else if n <= 0 && n != -1 {
			t.Fatalf("swap accepted %q as %d", s, n)
		}
	})
}

func requireInvalid(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("error %q is not ErrInvalidArgument", err)
	}
}
