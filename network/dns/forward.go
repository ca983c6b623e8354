package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// upstreamTimeout bounds each attempt (UDP, then TCP on truncation) at one upstream.
const upstreamTimeout = 2 * time.Second

var errMismatch = errors.New("reply does not match the query")

// upstreamsFor is where the client's other queries go: its own upstreams when the
// resolver names some, else the server's.
func (s *Server) upstreamsFor(netID string, client netip.Addr) []netip.AddrPort {
	if ur, ok := s.resolver.(UpstreamResolver); ok {
		if ups := ur.Upstreams(netID, client); len(ups) > 0 {
			return ups
		}
	}
	return s.upstreams
}

// forward relays the query to the upstreams in order and returns the first usable answer
// with the client's ID, or SERVFAIL.
func (s *Server) forward(h dnsmessage.Header, q dnsmessage.Question, req []byte, upstreams []netip.AddrPort) []byte {
	for _, up := range upstreams {
		if s.ctx.Err() != nil {
			break
		}
		if s.isOwn(up) {
			continue // forwarding to ourselves would loop
		}
		resp, err := s.exchange(up, q, req)
		if err != nil {
			s.logf("dns: forward %s %s to %s: %v", q.Name, q.Type, up, err)
			continue
		}
		var p dnsmessage.Parser
		rh, err := p.Start(resp)
		if err != nil {
			continue
		}
		if rh.RCode == dnsmessage.RCodeServerFailure || rh.RCode == dnsmessage.RCodeRefused {
			continue // this upstream cannot help; the next may
		}
		binary.BigEndian.PutUint16(resp, h.ID)
		return resp
	}
	return reply(h, &q, dnsmessage.RCodeServerFailure)
}

// exchange sends the query unchanged except for a fresh random ID, so replies cannot be
// guessed by a third party, over UDP and retries over TCP when the reply is truncated.
func (s *Server) exchange(up netip.AddrPort, q dnsmessage.Question, req []byte) ([]byte, error) {
	msg := slices.Clone(req)
	id := uint16(rand.Uint32())
	binary.BigEndian.PutUint16(msg, id)
	resp, err := s.exchangeUDP(up, q, msg, id)
	if err != nil {
		return nil, err
	}
	if resp[2]&0x02 != 0 { // TC bit
		return s.exchangeTCP(up, q, msg, id)
	}
	return resp, nil
}

func (s *Server) exchangeUDP(up netip.AddrPort, q dnsmessage.Question, msg []byte, id uint16) ([]byte, error) {
	// A connected socket on a fresh port only accepts datagrams from the upstream.
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(up))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := s.abortOnClose(c, upstreamTimeout)
	defer stop()
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if matches(buf[:n], id, q) {
			return slices.Clone(buf[:n]), nil
		}
	}
}

func (s *Server) exchangeTCP(up netip.AddrPort, q dnsmessage.Question, msg []byte, id uint16) ([]byte, error) {
	d := net.Dialer{Timeout: upstreamTimeout}
	c, err := d.DialContext(s.ctx, "tcp", up.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := s.abortOnClose(c, upstreamTimeout)
	defer stop()
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)); err != nil {
		return nil, err
	}
	var lenBuf [2]byte
	if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	resp := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
	if _, err := io.ReadFull(c, resp); err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	if !matches(resp, id, q) {
		return nil, errMismatch
	}
	return resp, nil
}

// abortOnClose sets c's deadline and makes Close interrupt it at once.
func (s *Server) abortOnClose(c net.Conn, timeout time.Duration) (stop func() bool) {
	c.SetDeadline(time.Now().Add(timeout))
	return context.AfterFunc(s.ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
}

// matches checks that resp answers our query: same ID, a response, and the same question
// when the upstream echoed one (some error replies carry none).
func matches(resp []byte, id uint16, q dnsmessage.Question) bool {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil || h.ID != id || !h.Response {
		return false
	}
	rq, err := p.Question()
	if errors.Is(err, dnsmessage.ErrSectionDone) {
		return true
	}
	return err == nil && rq.Type == q.Type && rq.Class == q.Class &&
		canonicalName(rq.Name.String()) == canonicalName(q.Name.String())
}
