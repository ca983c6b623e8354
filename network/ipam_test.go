package network

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/drover/drover/internal/errdefs"
)

func TestParseSubnet(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"10.0.0.0/24", "10.0.0.0/24", nil},
		{" 172.20.0.0/16 ", "172.20.0.0/16", nil},
		{"10.0.0.1/24", "", errdefs.ErrInvalidArgument},
		{"10.0.0.0/31", "", errdefs.ErrInvalidArgument},
		{"10.0.0.0/7", "", errdefs.ErrInvalidArgument},
		{"fd00::/64", "", errdefs.ErrInvalidArgument},
		{"10.0.0.0", "", errdefs.ErrInvalidArgument},
		{"", "", errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSubnet(tt.in)
			if !errors.Is(err, tt.err) || (err == nil && got.String() != tt.want) {
				t.Fatalf("parseSubnet(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

func TestNextFree(t *testing.T) {
	sub := netip.MustParsePrefix("10.0.0.0/29") // hosts .1 - .6
	a := netip.MustParseAddr
	tests := []struct {
		name  string
		after string
		used  []string
		want  string
	}{
		{"first", "", []string{"10.0.0.1"}, "10.0.0.2"},
		{"after last", "10.0.0.3", []string{"10.0.0.1"}, "10.0.0.4"},
		{"wraps", "10.0.0.6", []string{"10.0.0.1"}, "10.0.0.2"},
		{"skips used", "10.0.0.2", []string{"10.0.0.1", "10.0.0.3", "10.0.0.4"}, "10.0.0.5"},
		{"full", "", []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}, ""},
		{"after outside", "192.168.0.1", nil, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := map[netip.Addr]bool{}
			for _, u := range tt.used {
				used[a(u)] = true
			}
			var after netip.Addr
			if tt.after != "" {
				after = a(tt.after)
			}
			got, err := nextFree(sub, after, used)
			if tt.want == "" {
				if !errors.Is(err, errdefs.ErrConflict) {
					t.Fatalf("want full-subnet conflict, got %v, %v", got, err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("nextFree = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestPoolCandidates(t *testing.T) {
	got, err := poolCandidates([]string{"10.1.0.0/16@18", "192.168.5.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	want := "10.1.0.0/18 10.1.64.0/18 10.1.128.0/18 10.1.192.0/18 192.168.5.0/24"
	if strings.Join(s, " ") != want {
		t.Fatalf("got %v, want %s", s, want)
	}
	def, _ := poolCandidates(nil)
	if def[0].String() != "172.17.0.0/16" || def[15].String() != "192.168.0.0/24" {
		t.Fatalf("default candidates start %v ... %v", def[0], def[15])
	}
	for _, bad := range []string{"x", "10.0.0.1/16", "10.0.0.0/16@8", "10.0.0.0/16@31", "10.0.0.0/16@x", "fd00::/64"} {
		if _, err := poolCandidates([]string{bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("pool %q: got %v", bad, err)
		}
	}
}

func TestMacFromIP(t *testing.T) {
	if got := macFromIP(netip.MustParseAddr("172.17.0.2")).String(); got != "02:42:ac:11:00:02" {
		t.Fatalf("got %s", got)
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "my-net", "my_net.1", "A9"} {
		if err := validateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", ".a", "a b", "a/b", "host", "none", strings.Repeat("a", 65)} {
		if err := validateName(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, bad := range []string{"ab", "Drover", "1abc", "abcdefghijklm", "a-bc"} {
		if _, err := (Config{StateFile: "x", Prefix: bad}).withDefaults(); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("prefix %q: %v", bad, err)
		}
	}
	c, err := Config{StateFile: "x"}.withDefaults()
	if err != nil || c.Prefix != "drover" || c.NetnsDir != "/run/drover/netns" {
		t.Fatalf("defaults = %+v, %v", c, err)
	}
	if c.defaultBridge() != "drover0" || len(c.userBridge(newID())) > 15 || len(randomVethName(c.vethPrefix())) != 15 {
		t.Fatalf("names: %s %s", c.defaultBridge(), c.userBridge(newID()))
	}
	if _, err := (Config{}).withDefaults(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("missing StateFile: %v", err)
	}
}

func TestNormalizeBindings(t *testing.T) {
	got, err := normalizeBindings([]PortBinding{{ContainerPort: 80}, {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "UDP"}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Proto != "tcp" || got[0].HostIP != "0.0.0.0" || got[1].Proto != "udp" || got[1].HostIP != "127.0.0.1" {
		t.Fatalf("got %+v", got)
	}
}

func FuzzParseSubnet(f *testing.F) {
	for _, s := range []string{"10.0.0.0/24", "1.2.3.4/0", "::/0", "300.1.1.1/8", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSubnet(s)
		if err != nil {
			return
		}
		if !p.Addr().Is4() || p.Masked() != p || p.Bits() < 8 || p.Bits() > 30 {
			t.Fatalf("parseSubnet(%q) accepted %v", s, p)
		}
		if a, err := parseAddrIn("ip", p.Addr().String(), p); err == nil {
			t.Fatalf("network address %v accepted", a)
		}
		if _, err := nextFree(p, netip.Addr{}, nil); err != nil {
			t.Fatalf("empty subnet %v has no free address: %v", p, err)
		}
	})
}

func FuzzPoolCandidates(f *testing.F) {
	for _, s := range []string{"10.0.0.0/16@24", "10.0.0.0/8@30", "192.168.0.0/24", "x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := poolCandidates([]string{s})
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > 1<<16 {
			t.Fatalf("pool %q gave %d candidates", s, len(got))
		}
		for _, p := range got {
			if p.Masked() != p {
				t.Fatalf("pool %q gave unmasked %v", s, p)
			}
		}
	})
}

func FuzzNormalizeBindings(f *testing.F) {
	f.Add("127.0.0.1", uint16(80), uint16(8080), "tcp")
	f.Add("", uint16(0), uint16(53), "UDP")
	f.Fuzz(func(t *testing.T, ip string, hp, cp uint16, proto string) {
		got, err := normalizeBindings([]PortBinding{{HostIP: ip, HostPort: hp, ContainerPort: cp, Proto: proto}})
		if err != nil {
			return
		}
		b := got[0]
		a, perr := netip.ParseAddr(b.HostIP)
		if perr != nil || !a.Is4() || (b.Proto != "tcp" && b.Proto != "udp") || b.ContainerPort == 0 {
			t.Fatalf("accepted %+v", b)
		}
	})
}
