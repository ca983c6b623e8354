package dns

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const (
	ttl            = 600 // seconds, like Docker's embedded DNS
	minUDPSize     = 512 // RFC 1035 limit without EDNS
	tcpIdleTimeout = 10 * time.Second
)

func (s *Server) serveUDP(l *listener) {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, src, err := l.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.logf("dns: read udp %s: %v", l.addr, err)
			continue
		}
		select {
		case s.udpSem <- struct{}{}:
		default:
			continue // overloaded: drop, the client retries
		}
		req := slices.Clone(buf[:n])
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.udpSem }()
			resp, size := s.handle(l.netID, src.Addr().Unmap(), req)
			if resp == nil {
				return
			}
			if len(resp) > size {
				if resp = truncated(resp); resp == nil {
					return
				}
			}
			if _, err := l.udp.WriteToUDPAddrPort(resp, src); err != nil && !errors.Is(err, net.ErrClosed) {
				s.logf("dns: reply to %s: %v", src, err)
			}
		}()
	}
}

func (s *Server) serveTCP(l *listener) {
	defer s.wg.Done()
	for {
		c, err := l.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.logf("dns: accept tcp %s: %v", l.addr, err)
			time.Sleep(50 * time.Millisecond) // e.g. EMFILE: don't spin
			continue
		}
		select {
		case s.tcpSem <- struct{}{}:
		default:
			c.Close()
			continue
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			<-s.tcpSem
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.tcpSem }()
			defer func() {
				l.mu.Lock()
				delete(l.conns, c)
				l.mu.Unlock()
				c.Close()
			}()
			s.serveConn(l.netID, c)
		}()
	}
}

// serveConn answers length-prefixed queries (RFC 1035 4.2.2) one after the other.
func (s *Server) serveConn(netID string, c net.Conn) {
	var client netip.Addr
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		client = ap.Addr().Unmap()
	}
	var lenBuf [2]byte
	for {
		c.SetReadDeadline(time.Now().Add(tcpIdleTimeout))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		req := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		resp, _ := s.handle(netID, client, req)
		if resp == nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(tcpIdleTimeout))
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...)); err != nil {
			return
		}
	}
}

// handle answers one query from network netID. It returns nil when the message must not be
// answered, and the largest UDP reply the client accepts.
func (s *Server) handle(netID string, client netip.Addr, req []byte) (resp []byte, udpSize int) {
	udpSize = minUDPSize
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil, udpSize // not even a header: nothing to reply to
	}
	if h.Response {
		// Never answer answers: a spoofed source could otherwise bounce messages between
		// two servers forever.
		return nil, udpSize
	}
	if h.OpCode != 0 {
		return reply(h, nil, dnsmessage.RCodeNotImplemented), udpSize
	}
	q, err := p.Question()
	if err != nil {
		return reply(h, nil, dnsmessage.RCodeFormatError), udpSize
	}
	if _, err := p.Question(); !errors.Is(err, dnsmessage.ErrSectionDone) {
		return reply(h, &q, dnsmessage.RCodeFormatError), udpSize
	}
	udpSize = clientUDPSize(&p)

	if q.Class == dnsmessage.ClassINET {
		name := canonicalName(q.Name.String())
		switch q.Type {
		case dnsmessage.TypeA, dnsmessage.TypeAAAA:
			if addrs := s.lookup(netID, client, name); addrs != nil {
				if resp := answerA(h, q, addrs); resp != nil {
					return resp, udpSize
				}
			}
		case dnsmessage.TypePTR:
			if addr, ok := parseReverse(name); ok {
				if names := s.resolver.Reverse(netID, client, addr); len(names) > 0 {
					if resp := answerPTR(h, q, names[0]); resp != nil {
						return resp, udpSize
					}
					s.logf("dns: network %s: %s has invalid name %q", netID, addr, names[0])
				}
			}
		}
	}
	return s.forward(h, q, req, s.upstreamsFor(netID, client)), udpSize
}

// clientUDPSize reads the EDNS0 payload size of the query (RFC 6891), so relayed answers
// are truncated to what the client accepts instead of amplified.
func clientUDPSize(p *dnsmessage.Parser) int {
	if p.SkipAllAnswers() != nil || p.SkipAllAuthorities() != nil {
		return minUDPSize
	}
	for {
		rh, err := p.AdditionalHeader()
		if err != nil {
			return minUDPSize
		}
		if rh.Type == dnsmessage.TypeOPT {
			return max(minUDPSize, int(rh.Class))
		}
		if p.SkipAdditional() != nil {
			return minUDPSize
		}
	}
}

// lookup matches the whole name, then "first label" when the rest is a search domain.
func (s *Server) lookup(netID string, client netip.Addr, name string) []netip.Addr {
	if name == "" {
		return nil
	}
	if addrs := ipv4Only(s.resolver.Lookup(netID, client, name)); addrs != nil {
		return addrs
	}
	first, rest, ok := strings.Cut(name, ".")
	if ok && first != "" && slices.Contains(s.search, rest) {
		return ipv4Only(s.resolver.Lookup(netID, client, first))
	}
	return nil
}

func ipv4Only(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

// parseReverse turns "4.3.2.1.in-addr.arpa" into 1.2.3.4.
func parseReverse(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var ip [4]byte
	for i, part := range parts {
		if len(part) == 0 || len(part) > 3 || strings.Trim(part, "0123456789") != "" {
			return netip.Addr{}, false
		}
		n, err := strconv.Atoi(part)
		if err != nil || n > 255 {
			return netip.Addr{}, false
		}
		ip[3-i] = byte(n)
	}
	return netip.AddrFrom4(ip), true
}

func responseHeader(h dnsmessage.Header, rcode dnsmessage.RCode) dnsmessage.Header {
	return dnsmessage.Header{
		ID:                 h.ID,
		Response:           true,
		OpCode:             h.OpCode,
		RecursionDesired:   h.RecursionDesired,
		RecursionAvailable: true,
		RCode:              rcode,
	}
}

// reply builds an answerless response; q may be nil.
func reply(h dnsmessage.Header, q *dnsmessage.Question, rcode dnsmessage.RCode) []byte {
	b := dnsmessage.NewBuilder(nil, responseHeader(h, rcode))
	if q != nil {
		if b.StartQuestions() != nil || b.Question(*q) != nil {
			return nil
		}
	}
	return finish(&b)
}

// answerA answers A with addrs and AAAA with an empty NOERROR (the name exists, IPv4 only).
func answerA(h dnsmessage.Header, q dnsmessage.Question, addrs []netip.Addr) []byte {
	return answer(h, q, func(b *dnsmessage.Builder, hdr dnsmessage.ResourceHeader) error {
		if q.Type != dnsmessage.TypeA {
			return nil
		}
		for _, a := range addrs {
			if err := b.AResource(hdr, dnsmessage.AResource{A: a.As4()}); err != nil {
				return err
			}
		}
		return nil
	})
}

func answerPTR(h dnsmessage.Header, q dnsmessage.Question, name string) []byte {
	target, err := dnsmessage.NewName(strings.TrimSuffix(name, ".") + ".")
	if err != nil {
		return nil
	}
	return answer(h, q, func(b *dnsmessage.Builder, hdr dnsmessage.ResourceHeader) error {
		return b.PTRResource(hdr, dnsmessage.PTRResource{PTR: target})
	})
}

// answer builds an authoritative NOERROR response to q; add writes its resources, each
// with hdr (q's name, class IN, our TTL). A response that cannot be built is nil.
func answer(h dnsmessage.Header, q dnsmessage.Question, add func(*dnsmessage.Builder, dnsmessage.ResourceHeader) error) []byte {
	rh := responseHeader(h, dnsmessage.RCodeSuccess)
	rh.Authoritative = true
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil
	}
	if add(&b, dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: ttl}) != nil {
		return nil
	}
	return finish(&b)
}

// finish returns the built message, nil if it cannot be built.
func finish(b *dnsmessage.Builder) []byte {
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}

// truncated turns a reply too large for the client's UDP size into header+question with
// the TC bit, telling the client to retry over TCP.
func truncated(resp []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil {
		return nil
	}
	h.Truncated = true
	b := dnsmessage.NewBuilder(nil, h)
	if q, err := p.Question(); err == nil {
		if b.StartQuestions() != nil || b.Question(q) != nil {
			return nil
		}
	}
	return finish(&b)
}
