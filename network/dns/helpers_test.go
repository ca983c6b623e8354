package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// clientTimeout only keeps a broken test from hanging; no test passes or fails on timing.
const clientTimeout = 15 * time.Second

// table is a Resolver backed by maps: netID -> name -> addresses.
type table struct {
	mu    sync.Mutex
	names map[string]map[string][]netip.Addr
}

func (t *table) Lookup(netID string, _ netip.Addr, name string) []netip.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names[netID][name]
}

func (t *table) Reverse(netID string, _, addr netip.Addr) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, n := range []string{"web", "db", "alias", "multi"} { // canonical first
		for _, a := range t.names[netID][n] {
			if a == addr {
				out = append(out, n)
			}
		}
	}
	return out
}

func testTable() *table {
	ip := netip.MustParseAddr
	return &table{names: map[string]map[string][]netip.Addr{
		"net1": {
			"web":   {ip("10.88.0.2")},
			"alias": {ip("10.88.0.2")},
			"db":    {ip("10.88.0.3")},
			"multi": {ip("10.88.0.4"), ip("10.88.0.5")},
		},
		"net2": {
			"db": {ip("10.99.0.3")},
		},
	}}
}

func writeResolvConf(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// newServer starts a Server with the given upstreams and one listener per netID on
// 127.0.0.1:0; it returns the bound addresses by netID.
func newServer(t *testing.T, upstreams []string, netIDs ...string) (*Server, map[string]netip.AddrPort) {
	t.Helper()
	s, err := New(Config{
		Resolver:   testTable(),
		Upstreams:  upstreams,
		ResolvConf: writeResolvConf(t, "search example.com corp.example\n"),
		Logf:       t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	addrs := map[string]netip.AddrPort{}
	for _, id := range netIDs {
		a, err := s.Listen(id, netip.MustParseAddrPort("127.0.0.1:0"))
		if err != nil {
			t.Fatal(err)
		}
		addrs[id] = a
	}
	return s, addrs
}

func newQuery(id uint16, name string, typ dnsmessage.Type) []byte {
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}},
	}
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

// exchange sends msg over network ("udp" or "tcp") and returns the unpacked reply.
func exchange(network string, addr netip.AddrPort, msg []byte) (dnsmessage.Message, error) {
	c, err := net.Dial(network, addr.String())
	if err != nil {
		return dnsmessage.Message{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(clientTimeout))
	var resp []byte
	if network == "tcp" {
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)); err != nil {
			return dnsmessage.Message{}, err
		}
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return dnsmessage.Message{}, err
		}
		resp = make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, resp); err != nil {
			return dnsmessage.Message{}, err
		}
	} else {
		if _, err := c.Write(msg); err != nil {
			return dnsmessage.Message{}, err
		}
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			return dnsmessage.Message{}, err
		}
		resp = buf[:n]
	}
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		return m, fmt.Errorf("unpack reply: %w", err)
	}
	return m, nil
}

func query(t *testing.T, network string, addr netip.AddrPort, id uint16, name string, typ dnsmessage.Type) dnsmessage.Message {
	t.Helper()
	m, err := exchange(network, addr, newQuery(id, name, typ))
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, typ, err)
	}
	if m.Header.ID != id || !m.Header.Response {
		t.Fatalf("reply header %+v, want ID %d and response", m.Header, id)
	}
	return m
}

func aRecords(m dnsmessage.Message) []netip.Addr {
	var out []netip.Addr
	for _, r := range m.Answers {
		if a, ok := r.Body.(*dnsmessage.AResource); ok {
			out = append(out, netip.AddrFrom4(a.A))
		}
	}
	return out
}

// fakeUpstream is a second DNS server on 127.0.0.1 (UDP and TCP on one port) answering
// every query with answer(); it records the IDs it saw.
type fakeUpstream struct {
	addr netip.AddrPort
	// answer fills the reply; tcp tells over which transport the query came.
	answer func(req dnsmessage.Message, tcp bool) dnsmessage.Message

	mu  sync.Mutex
	ids []uint16
}

func startUpstream(t *testing.T, answer func(req dnsmessage.Message, tcp bool) dnsmessage.Message) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{answer: answer}
	var udp *net.UDPConn
	var tcp *net.TCPListener
	for range 20 {
		var err error
		udp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		tcp, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(udp.LocalAddr().(*net.UDPAddr).AddrPort()))
		if err == nil {
			break
		}
		udp.Close()
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
	}
	u.addr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
	var wg sync.WaitGroup
	t.Cleanup(func() { udp.Close(); tcp.Close(); wg.Wait() })
	wg.Go(func() {
		buf := make([]byte, 65535)
		for {
			n, src, err := udp.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if resp := u.reply(buf[:n], false); resp != nil {
				udp.WriteToUDPAddrPort(resp, src)
			}
		}
	})
	wg.Go(func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				req := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, req); err != nil {
					return
				}
				if resp := u.reply(req, true); resp != nil {
					c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...))
				}
			})
		}
	})
	return u
}

func (u *fakeUpstream) reply(req []byte, tcp bool) []byte {
	var m dnsmessage.Message
	if err := m.Unpack(req); err != nil {
		return nil
	}
	u.mu.Lock()
	u.ids = append(u.ids, m.Header.ID)
	u.mu.Unlock()
	resp := u.answer(m, tcp)
	resp.Header.ID = m.Header.ID
	resp.Header.Response = true
	resp.Questions = m.Questions
	b, err := resp.Pack()
	if err != nil {
		return nil
	}
	return b
}

func (u *fakeUpstream) queries() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.ids)
}

// answerWith returns an upstream handler answering A queries with addrs.
func answerWith(addrs ...string) func(dnsmessage.Message, bool) dnsmessage.Message {
	return func(req dnsmessage.Message, _ bool) dnsmessage.Message {
		var m dnsmessage.Message
		for _, a := range addrs {
			m.Answers = append(m.Answers, dnsmessage.Resource{
				Header: dnsmessage.ResourceHeader{Name: req.Questions[0].Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 30},
				Body:   &dnsmessage.AResource{A: netip.MustParseAddr(a).As4()},
			})
		}
		return m
	}
}

// closedPort returns a 127.0.0.1 address nothing listens on (UDP gets ICMP unreachable).
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	a := c.LocalAddr().(*net.UDPAddr).AddrPort()
	c.Close()
	return a
}
