package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/drover/drover/internal/errdefs"
)

func TestLocalNames(t *testing.T) {
	up := startUpstream(t, answerWith("203.0.113.7"))
	_, addrs := newServer(t, []string{up.addr.String()}, "net1", "net2")
	ip := netip.MustParseAddr

	tests := []struct {
		name    string
		netID   string
		qname   string
		qtype   dnsmessage.Type
		want    []netip.Addr
		wantPTR string
	}{
		{name: "container name", netID: "net1", qname: "web.", qtype: dnsmessage.TypeA, want: []netip.Addr{ip("10.88.0.2")}},
		{name: "case-insensitive", netID: "net1", qname: "WeB.", qtype: dnsmessage.TypeA, want: []netip.Addr{ip("10.88.0.2")}},
		{name: "alias", netID: "net1", qname: "alias.", qtype: dnsmessage.TypeA, want: []netip.Addr{ip("10.88.0.2")}},
		{name: "several addresses", netID: "net1", qname: "multi.", qtype: dnsmessage.TypeA, want: []netip.Addr{ip("10.88.0.4"), ip("10.88.0.5")}},
		{name: "search domain", netID: "net1", qname: "Web.Example.COM.", qtype: dnsmessage.TypeA, want: []netip.Addr{ip("10.88.0.2")}},
		{name: "second search domain", netID: "net1", qname: "db.corp.example.", qtype: dnsmessage.TypeA, want: []netip.Addr{ip("10.88.0.3")}},
		{name: "other network sees its own", netID: "net2", qname: "db.", qtype: dnsmessage.TypeA, want: []netip.Addr{ip("10.99.0.3")}},
		{name: "AAAA empty NOERROR", netID: "net1", qname: "web.", qtype: dnsmessage.TypeAAAA, want: nil},
		{name: "PTR", netID: "net1", qname: "2.0.88.10.in-addr.arpa.", qtype: dnsmessage.TypePTR, wantPTR: "web."},
		{name: "PTR upper case", netID: "net1", qname: "3.0.88.10.IN-ADDR.ARPA.", qtype: dnsmessage.TypePTR, wantPTR: "db."},
	}
	for _, network := range []string{"udp", "tcp"} {
		for i, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				m := query(t, network, addrs[tt.netID], uint16(1000+i), tt.qname, tt.qtype)
				if m.Header.RCode != dnsmessage.RCodeSuccess || !m.Header.Authoritative {
					t.Fatalf("header %+v, want authoritative NOERROR", m.Header)
				}
				if len(m.Questions) != 1 || m.Questions[0].Name.String() != tt.qname {
					t.Fatalf("questions %v, want %s echoed", m.Questions, tt.qname)
				}
				if tt.wantPTR != "" {
					if len(m.Answers) != 1 {
						t.Fatalf("answers %v, want one PTR", m.Answers)
					}
					ptr, ok := m.Answers[0].Body.(*dnsmessage.PTRResource)
					if !ok || ptr.PTR.String() != tt.wantPTR || m.Answers[0].Header.TTL != ttl {
						t.Fatalf("answer %v, want PTR %s TTL %d", m.Answers[0], tt.wantPTR, ttl)
					}
					return
				}
				if got := aRecords(m); !slices.Equal(got, tt.want) || len(m.Answers) != len(tt.want) {
					t.Fatalf("answers %v, want A %v", m.Answers, tt.want)
				}
				for _, r := range m.Answers {
					if r.Header.TTL != ttl || r.Header.Name.String() != tt.qname {
						t.Fatalf("answer header %+v, want name %s TTL %d", r.Header, tt.qname, ttl)
					}
				}
			})
		}
	}
	if n := up.queries(); n != 0 {
		t.Fatalf("upstream got %d queries for local names, want 0", n)
	}
}

func TestForward(t *testing.T) {
	up := startUpstream(t, answerWith("203.0.113.7"))
	_, addrs := newServer(t, []string{up.addr.String()}, "net1", "net2")

	tests := []struct {
		name  string
		netID string
		qname string
		qtype dnsmessage.Type
	}{
		{name: "unknown name", netID: "net1", qname: "example.org.", qtype: dnsmessage.TypeA},
		{name: "name of another network", netID: "net2", qname: "web.", qtype: dnsmessage.TypeA},
		{name: "first label known but not a search domain", netID: "net1", qname: "web.example.org.", qtype: dnsmessage.TypeA},
		{name: "other type of a known name", netID: "net1", qname: "web.", qtype: dnsmessage.TypeMX},
		{name: "PTR of an unknown address", netID: "net1", qname: "9.9.9.9.in-addr.arpa.", qtype: dnsmessage.TypePTR},
	}
	for _, network := range []string{"udp", "tcp"} {
		for i, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				before := up.queries()
				m := query(t, network, addrs[tt.netID], uint16(4000+i), tt.qname, tt.qtype)
				if m.Header.RCode != dnsmessage.RCodeSuccess {
					t.Fatalf("rcode %v, want the upstream's NOERROR", m.Header.RCode)
				}
				if got := aRecords(m); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("203.0.113.7")}) {
					t.Fatalf("answers %v, want the upstream's 203.0.113.7", m.Answers)
				}
				if up.queries() != before+1 {
					t.Fatalf("upstream saw %d queries, want 1", up.queries()-before)
				}
			})
		}
	}
}

func TestForwardTruncatedRetriesTCP(t *testing.T) {
	up := startUpstream(t, func(req dnsmessage.Message, tcp bool) dnsmessage.Message {
		if !tcp {
			return dnsmessage.Message{Header: dnsmessage.Header{Truncated: true}}
		}
		return answerWith("203.0.113.8")(req, tcp)
	})
	_, addrs := newServer(t, []string{up.addr.String()}, "net1")
	m := query(t, "udp", addrs["net1"], 7, "big.example.org.", dnsmessage.TypeA)
	if m.Header.Truncated || !slices.Equal(aRecords(m), []netip.Addr{netip.MustParseAddr("203.0.113.8")}) {
		t.Fatalf("reply %+v %v, want the TCP answer 203.0.113.8", m.Header, m.Answers)
	}
}

// A relayed answer larger than the client's UDP size is truncated, not amplified.
func TestLargeAnswerTruncatedForUDP(t *testing.T) {
	var many []string
	for i := range 60 {
		many = append(many, fmt.Sprintf("198.51.100.%d", i))
	}
	up := startUpstream(t, answerWith(many...))
	_, addrs := newServer(t, []string{up.addr.String()}, "net1")

	m := query(t, "udp", addrs["net1"], 8, "many.example.org.", dnsmessage.TypeA)
	if !m.Header.Truncated || len(m.Answers) != 0 || len(m.Questions) != 1 {
		t.Fatalf("udp reply %+v with %d answers, want TC and no answers", m.Header, len(m.Answers))
	}
	m = query(t, "tcp", addrs["net1"], 9, "many.example.org.", dnsmessage.TypeA)
	if m.Header.Truncated || len(aRecords(m)) != len(many) {
		t.Fatalf("tcp reply %+v with %d answers, want all %d", m.Header, len(m.Answers), len(many))
	}
}

func TestUpstreamFailure(t *testing.T) {
	good := startUpstream(t, answerWith("203.0.113.9"))
	refusing := startUpstream(t, func(dnsmessage.Message, bool) dnsmessage.Message {
		return dnsmessage.Message{Header: dnsmessage.Header{RCode: dnsmessage.RCodeRefused}}
	})
	// silent reads queries and never answers, so only the per-upstream timeout ends them.
	silent, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	silentAddr := silent.LocalAddr().(*net.UDPAddr).AddrPort().String()
	down := closedPort(t).String()

	tests := []struct {
		name      string
		upstreams []string
		wantRCode dnsmessage.RCode
	}{
		{name: "upstream down", upstreams: []string{down}, wantRCode: dnsmessage.RCodeServerFailure},
		{name: "upstream silent", upstreams: []string{silentAddr}, wantRCode: dnsmessage.RCodeServerFailure},
		{name: "upstream refuses", upstreams: []string{refusing.addr.String()}, wantRCode: dnsmessage.RCodeServerFailure},
		{name: "first down, second answers", upstreams: []string{down, good.addr.String()}, wantRCode: dnsmessage.RCodeSuccess},
		{name: "first refuses, second answers", upstreams: []string{refusing.addr.String(), good.addr.String()}, wantRCode: dnsmessage.RCodeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addrs := newServer(t, tt.upstreams, "net1")
			for _, network := range []string{"udp", "tcp"} {
				m := query(t, network, addrs["net1"], 11, "example.org.", dnsmessage.TypeA)
				if m.Header.RCode != tt.wantRCode {
					t.Fatalf("%s: rcode %v, want %v", network, m.Header.RCode, tt.wantRCode)
				}
			}
		})
	}
}

func TestNoUpstreams(t *testing.T) {
	// No nameserver lines (or only an unusable one): unknown names fail fast, local names work.
	for _, content := range []string{"", "search example.com\n", "nameserver 0.0.0.0\n"} {
		s, err := New(Config{Resolver: testTable(), ResolvConf: writeResolvConf(t, content)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		a, err := s.Listen("net1", netip.MustParseAddrPort("127.0.0.1:0"))
		if err != nil {
			t.Fatal(err)
		}
		if m := query(t, "udp", a, 12, "example.org.", dnsmessage.TypeA); m.Header.RCode != dnsmessage.RCodeServerFailure {
			t.Errorf("resolv.conf %q: rcode %v, want SERVFAIL", content, m.Header.RCode)
		}
		if m := query(t, "udp", a, 13, "web.", dnsmessage.TypeA); len(aRecords(m)) != 1 {
			t.Errorf("resolv.conf %q: local name not answered: %v", content, m.Answers)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolvConfUpstreams(t *testing.T) {
	// The server lives in the host's namespace, so a loopback nameserver is a usable
	// upstream for it (unlike for containers, see ParseResolvConf).
	conf := writeResolvConf(t, "nameserver 127.0.0.53\nnameserver ::1\n")
	s, err := New(Config{Resolver: testTable(), ResolvConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.53:53"), netip.MustParseAddrPort("[::1]:53")}; !slices.Equal(s.upstreams, want) {
		t.Fatalf("upstreams %v, want %v", s.upstreams, want)
	}
}

// Forwarding to one of the server's own addresses would loop; it must SERVFAIL instead.
func TestNoForwardToSelf(t *testing.T) {
	self := closedPort(t)
	s, err := New(Config{Resolver: testTable(), Upstreams: []string{self.String()}, ResolvConf: writeResolvConf(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := s.Listen("net1", self)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", self, err)
	}
	for _, network := range []string{"udp", "tcp"} {
		if m := query(t, network, a, 14, "example.org.", dnsmessage.TypeA); m.Header.RCode != dnsmessage.RCodeServerFailure {
			t.Fatalf("%s: rcode %v, want SERVFAIL", network, m.Header.RCode)
		}
	}
}

func TestListenUnlisten(t *testing.T) {
	up := startUpstream(t, answerWith("203.0.113.7"))
	s, addrs := newServer(t, []string{up.addr.String()}, "net1", "net2")

	// Listening again on the same address for the same network is a no-op.
	again, err := s.Listen("net1", addrs["net1"])
	if err != nil || again != addrs["net1"] {
		t.Fatalf("Listen again = %v, %v; want %v, nil", again, err, addrs["net1"])
	}
	again, err = s.Listen("net1", netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil || again != addrs["net1"] {
		t.Fatalf("Listen again with port 0 = %v, %v; want %v, nil", again, err, addrs["net1"])
	}
	if _, err := s.Listen("net2", addrs["net1"]); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("Listen on net1's address for net2: %v, want ErrAlreadyExists", err)
	}
	for _, bad := range []string{"0.0.0.0:53", "[::]:53"} {
		if _, err := s.Listen("net3", netip.MustParseAddrPort(bad)); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("Listen %s: %v, want ErrInvalidArgument", bad, err)
		}
	}

	if err := s.Unlisten("net1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlisten("net1"); err != nil {
		t.Fatalf("second Unlisten: %v", err)
	}
	// Nothing listens any more: TCP is refused and UDP gets ICMP port unreachable.
	for _, network := range []string{"udp", "tcp"} {
		if _, err := exchange(network, addrs["net1"], newQuery(15, "web.", dnsmessage.TypeA)); err == nil {
			t.Fatalf("%s: net1 still answers after Unlisten", network)
		}
	}
	// The other network is unaffected.
	if m := query(t, "udp", addrs["net2"], 16, "db.", dnsmessage.TypeA); len(aRecords(m)) != 1 {
		t.Fatalf("net2 answers %v after net1's Unlisten", m.Answers)
	}
	// The address can be reused.
	if _, err := s.Listen("net3", addrs["net1"]); err != nil {
		t.Fatalf("Listen on the released address: %v", err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Listen("net1", netip.MustParseAddrPort("127.0.0.1:0")); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("Listen after Close: %v, want ErrConflict", err)
	}
}

func TestListenUnlistenWhileServing(t *testing.T) {
	up := startUpstream(t, answerWith("203.0.113.7"))
	s, addrs := newServer(t, []string{up.addr.String()}, "stable")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			id := fmt.Sprintf("churn%d", w)
			for range 20 {
				a, err := s.Listen(id, netip.MustParseAddrPort("127.0.0.1:0"))
				if err != nil {
					t.Error(err)
					return
				}
				// The reply may or may not come before Unlisten; only crashes and races matter.
				if c, err := net.Dial("udp", a.String()); err == nil {
					c.Write(newQuery(17, "example.org.", dnsmessage.TypeA))
					c.Close()
				}
				if err := s.Unlisten(id); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range 20 {
				network := []string{"udp", "tcp"}[i%2]
				m, err := exchange(network, addrs["stable"], newQuery(uint16(i), "example.org.", dnsmessage.TypeA))
				if err != nil || len(aRecords(m)) != 1 {
					t.Errorf("%s: answers %v, %v", network, m.Answers, err)
				}
			}
		})
	}
	wg.Wait()
}

func TestNew(t *testing.T) {
	conf := writeResolvConf(t, "")
	tests := []struct {
		name string
		cfg  Config
		want []netip.AddrPort
		err  error
	}{
		{name: "nil resolver", cfg: Config{ResolvConf: conf}, err: errdefs.ErrInvalidArgument},
		{name: "bad upstream", cfg: Config{Resolver: testTable(), Upstreams: []string{"dns.google"}, ResolvConf: conf}, err: errdefs.ErrInvalidArgument},
		{name: "port 0", cfg: Config{Resolver: testTable(), Upstreams: []string{"1.1.1.1:0"}, ResolvConf: conf}, err: errdefs.ErrInvalidArgument},
		{name: "upstream forms", cfg: Config{Resolver: testTable(), Upstreams: []string{"192.0.2.1", "192.0.2.2:5353", "2001:db8::1", "[2001:db8::2]:54"}, ResolvConf: conf},
			want: []netip.AddrPort{
				netip.MustParseAddrPort("192.0.2.1:53"), netip.MustParseAddrPort("192.0.2.2:5353"),
				netip.MustParseAddrPort("[2001:db8::1]:53"), netip.MustParseAddrPort("[2001:db8::2]:54"),
			}},
		{name: "missing resolv.conf", cfg: Config{Resolver: testTable(), ResolvConf: conf + ".missing"}},
		{name: "from resolv.conf", cfg: Config{Resolver: testTable(), ResolvConf: writeResolvConf(t, "nameserver 192.0.2.5\nnameserver 2001:db8::5\n")},
			want: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.5:53"), netip.MustParseAddrPort("[2001:db8::5]:53")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("New: %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !slices.Equal(s.upstreams, tt.want) {
				t.Fatalf("upstreams %v, want %v", s.upstreams, tt.want)
			}
		})
	}
}

// Malformed or non-query messages get an error reply or none, never a forward.
func TestHandleOddMessages(t *testing.T) {
	s, err := New(Config{Resolver: testTable(), Upstreams: []string{closedPort(t).String()}, ResolvConf: writeResolvConf(t, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pack := func(m dnsmessage.Message) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("web."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	tests := []struct {
		name      string
		msg       []byte
		wantNil   bool
		wantRCode dnsmessage.RCode
	}{
		{name: "short", msg: []byte{1, 2, 3}, wantNil: true},
		{name: "a response", msg: pack(dnsmessage.Message{Header: dnsmessage.Header{ID: 1, Response: true}, Questions: []dnsmessage.Question{q}}), wantNil: true},
		{name: "no question", msg: pack(dnsmessage.Message{Header: dnsmessage.Header{ID: 2}}), wantRCode: dnsmessage.RCodeFormatError},
		{name: "two questions", msg: pack(dnsmessage.Message{Header: dnsmessage.Header{ID: 3}, Questions: []dnsmessage.Question{q, q}}), wantRCode: dnsmessage.RCodeFormatError},
		{name: "update opcode", msg: pack(dnsmessage.Message{Header: dnsmessage.Header{ID: 4, OpCode: 5}, Questions: []dnsmessage.Question{q}}), wantRCode: dnsmessage.RCodeNotImplemented},
		{name: "question cut short", msg: newQuery(5, "web.", dnsmessage.TypeA)[:16], wantRCode: dnsmessage.RCodeFormatError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := s.handle("net1", netip.Addr{}, tt.msg)
			if tt.wantNil {
				if resp != nil {
					t.Fatalf("got a reply, want none")
				}
				return
			}
			var m dnsmessage.Message
			if err := m.Unpack(resp); err != nil {
				t.Fatal(err)
			}
			if m.Header.RCode != tt.wantRCode || !m.Header.Response {
				t.Fatalf("header %+v, want rcode %v", m.Header, tt.wantRCode)
			}
		})
	}
}

func TestClientUDPSize(t *testing.T) {
	for _, size := range []uint16{0, 100, 512, 1232, 4096} {
		m := dnsmessage.Message{
			Header:    dnsmessage.Header{ID: 1},
			Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName("x."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
		}
		want := minUDPSize
		if size != 0 {
			var rh dnsmessage.ResourceHeader
			if err := rh.SetEDNS0(int(size), dnsmessage.RCodeSuccess, false); err != nil {
				t.Fatal(err)
			}
			m.Additionals = []dnsmessage.Resource{{Header: rh, Body: &dnsmessage.OPTResource{}}}
			want = max(minUDPSize, int(size))
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		var p dnsmessage.Parser
		p.Start(b)
		p.SkipAllQuestions()
		if got := clientUDPSize(&p); got != want {
			t.Errorf("EDNS size %d: got %d, want %d", size, got, want)
		}
	}
}

func TestParseReverse(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = not an IPv4 reverse name
	}{
		{"4.3.2.1.in-addr.arpa", "1.2.3.4"},
		{"0.0.0.0.in-addr.arpa", "0.0.0.0"},
		{"255.255.255.255.in-addr.arpa", "255.255.255.255"},
		{"256.0.0.1.in-addr.arpa", ""},
		{"3.2.1.in-addr.arpa", ""},
		{"5.4.3.2.1.in-addr.arpa", ""},
		{"a.2.3.4.in-addr.arpa", ""},
		{"+1.2.3.4.in-addr.arpa", ""},
		{"0001.2.3.4.in-addr.arpa", ""},
		{".2.3.4.in-addr.arpa", ""},
		{"1.2.3.4.ip6.arpa", ""},
		{"in-addr.arpa", ""},
	}
	for _, tt := range tests {
		got, ok := parseReverse(tt.in)
		if (tt.want == "") == ok || (ok && got.String() != tt.want) {
			t.Errorf("parseReverse(%q) = %v, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

// FuzzHandle feeds arbitrary messages (untrusted input from containers) to the query
// handler: it must not panic, and any reply must be a response to the same ID.
func FuzzHandle(f *testing.F) {
	f.Add(newQuery(1, "web.", dnsmessage.TypeA))
	f.Add(newQuery(2, "web.example.com.", dnsmessage.TypeAAAA))
	f.Add(newQuery(3, "2.0.88.10.in-addr.arpa.", dnsmessage.TypePTR))
	f.Add(newQuery(4, "unknown.", dnsmessage.TypeTXT))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c})
	s, err := New(Config{Resolver: testTable(), ResolvConf: writeResolvConf(f, "search example.com\n")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, msg []byte) {
		resp, size := s.handle("net1", netip.Addr{}, msg)
		if size < minUDPSize || size > 65535 {
			t.Fatalf("udp size %d", size)
		}
		if resp == nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(resp)
		if err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if !h.Response || h.ID != uint16(msg[0])<<8|uint16(msg[1]) {
			t.Fatalf("reply header %+v does not answer the query", h)
		}
		if len(resp) > size && truncated(resp) == nil {
			t.Fatalf("cannot truncate reply")
		}
	})
}

// clientUpstreams is a table whose clients on 127.0.0.1 have upstreams of their own.
type clientUpstreams struct {
	*table
	ups []netip.AddrPort
}

func (c clientUpstreams) Upstreams(netID string, client netip.Addr) []netip.AddrPort {
	if client == netip.MustParseAddr("127.0.0.1") {
		return c.ups
	}
	return nil
}

func TestClientUpstreams(t *testing.T) {
	server := startUpstream(t, answerWith("203.0.113.7"))
	own := startUpstream(t, answerWith("198.51.100.9"))
	s, err := New(Config{
		Resolver:   clientUpstreams{table: testTable(), ups: []netip.AddrPort{own.addr}},
		Upstreams:  []string{server.addr.String()},
		ResolvConf: writeResolvConf(t, ""),
		Logf:       t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addr, err := s.Listen("net1", netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	// Other names go to the client's own upstream; its network's names still answer.
	m := query(t, "udp", addr, 7001, "example.org.", dnsmessage.TypeA)
	if got := aRecords(m); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("198.51.100.9")}) {
		t.Fatalf("answers %v, want the client's upstream's 198.51.100.9", m.Answers)
	}
	if server.queries() != 0 || own.queries() != 1 {
		t.Fatalf("queries: server's upstream %d, client's %d; want 0 and 1", server.queries(), own.queries())
	}
	m = query(t, "udp", addr, 7002, "web.", dnsmessage.TypeA)
	if got := aRecords(m); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.88.0.2")}) {
		t.Fatalf("local name: answers %v", m.Answers)
	}
}
