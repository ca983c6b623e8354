package dns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ns      []string
		search  []string
		options []string
	}{
		{name: "empty"},
		{
			name: "typical",
			in:   "# generated\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch example.com corp.example\noptions ndots:2 edns0\n",
			ns:   []string{"192.0.2.53", "2001:db8::53"}, search: []string{"example.com", "corp.example"}, options: []string{"ndots:2", "edns0"},
		},
		{
			name: "loopback dropped",
			in:   "nameserver 127.0.0.53\nnameserver 127.1.2.3\nnameserver ::1\nnameserver ::ffff:127.0.0.1\nnameserver 0.0.0.0\nnameserver 192.0.2.1\n",
			ns:   []string{"192.0.2.1"},
		},
		{
			name: "comments, blanks, CRLF, tabs",
			in:   "; comment\r\n\r\n  nameserver\t192.0.2.1 # trailing\r\n#nameserver 192.0.2.2\nnameserver 192.0.2.3;x\n",
			ns:   []string{"192.0.2.1"},
		},
		{
			name: "invalid addresses skipped",
			in:   "nameserver dns.example\nnameserver 300.1.1.1\nnameserver\nnameserver 192.0.2.4 extra\n",
			ns:   []string{"192.0.2.4"},
		},
		{name: "IPv6 with zone", in: "nameserver fe80::1%eth0\n", ns: []string{"fe80::1%eth0"}},
		{name: "last search wins", in: "search a.example\nsearch b.example c.example\n", search: []string{"b.example", "c.example"}},
		{name: "domain after search wins", in: "search a.example b.example\ndomain d.example\n", search: []string{"d.example"}},
		{name: "search after domain wins", in: "domain d.example\nsearch a.example\n", search: []string{"a.example"}},
		{name: "options accumulate", in: "options ndots:1\noptions timeout:2 attempts:3\n", options: []string{"ndots:1", "timeout:2", "attempts:3"}},
		{name: "unknown keywords ignored", in: "sortlist 10.0.0.0/8\nlookup file bind\nNAMESERVER 192.0.2.9\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, search, options := ParseResolvConf([]byte(tt.in))
			var got []string
			for _, a := range ns {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tt.ns) || !slices.Equal(search, tt.search) || !slices.Equal(options, tt.options) {
				t.Fatalf("got %v %v %v, want %v %v %v", got, search, options, tt.ns, tt.search, tt.options)
			}
		})
	}
}

func FuzzParseResolvConf(f *testing.F) {
	f.Add([]byte("nameserver 192.0.2.53\nsearch example.com\noptions ndots:2\n"))
	f.Add([]byte("nameserver ::1\nnameserver fe80::1%eth0 # x\ndomain a\n"))
	f.Add([]byte("; c\r\nnameserver\t127.0.0.1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ns, search, options := ParseResolvConf(data)
		for _, a := range ns {
			if !a.IsValid() || a.Unmap().IsLoopback() || a.IsUnspecified() {
				t.Fatalf("nameserver %v should have been dropped", a)
			}
			if _, err := netip.ParseAddr(a.String()); err != nil {
				t.Fatalf("nameserver %v does not round-trip: %v", a, err)
			}
		}
		for _, v := range slices.Concat(search, options) {
			if v == "" || strings.ContainsAny(v, " \t\r\n#;") {
				t.Fatalf("value %q should be one clean word", v)
			}
		}
	})
}
