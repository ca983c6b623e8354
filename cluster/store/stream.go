package store

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// streamLayer carries raft's RPCs: TCP, wrapped in mutual TLS when
// configured. It can also refuse chosen peers, which the tests use to cut
// the network between servers.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	tls       *tls.Config

	mu      sync.Mutex
	blocked map[string]bool
	conns   map[string]map[net.Conn]struct{} // dialed, by target, so a block cuts them
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(bind, advertise string, cfg *tls.Config) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", bind, err)
	}
	s := &streamLayer{Listener: ln, advertise: ln.Addr(), blocked: map[string]bool{}, conns: map[string]map[net.Conn]struct{}{}}
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("raft advertise address %s: %w", advertise, err)
		}
		if a.IP == nil || a.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("raft advertise address %s: give an address peers can reach, not a wildcard", advertise)
		}
		s.advertise = a
	} else if tcp := ln.Addr().(*net.TCPAddr); tcp.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("raft bind address %s is a wildcard: set Advertise to the address peers reach this server on", bind)
	}
	if cfg != nil {
		s.tls = cfg.Clone()
		s.Listener = tls.NewListener(ln, s.tls)
	}
	return s, nil
}

// Addr is what raft records as this server's address in the configuration.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	target := string(addr)
	if s.isBlocked(target) {
		return nil, fmt.Errorf("dial %s: blocked (partitioned)", target)
	}
	d := &net.Dialer{Timeout: timeout}
	var conn net.Conn
	var err error
	if s.tls != nil {
		cfg := s.tls
		if cfg.ServerName == "" {
			// Verify the peer's certificate against the host we dial.
			host, _, _ := net.SplitHostPort(target)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		conn, err = tls.DialWithDialer(d, "tcp", target, cfg)
	} else {
		conn, err = d.Dial("tcp", target)
	}
	if err != nil {
		return nil, err
	}
	return s.track(target, conn)
}

func (s *streamLayer) isBlocked(target string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked[target]
}

func (s *streamLayer) track(target string, c net.Conn) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[target] { // blocked while dialing
		c.Close()
		return nil, fmt.Errorf("dial %s: blocked (partitioned)", target)
	}
	if s.conns[target] == nil {
		s.conns[target] = map[net.Conn]struct{}{}
	}
	s.conns[target][c] = struct{}{}
	return &trackedConn{Conn: c, forget: func() {
		s.mu.Lock()
		delete(s.conns[target], c)
		s.mu.Unlock()
	}}, nil
}

// block refuses new connections to the targets and cuts the open ones; a
// partition needs both sides to block each other, as each side only dials.
func (s *streamLayer) block(targets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range targets {
		s.blocked[t] = true
		for c := range s.conns[t] {
			c.Close()
		}
		delete(s.conns, t)
	}
}

// unblockAll heals every partition this side made.
func (s *streamLayer) unblockAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked = map[string]bool{}
}

type trackedConn struct {
	net.Conn
	once   sync.Once
	forget func()
}

func (c *trackedConn) Close() error {
	c.once.Do(c.forget)
	return c.Conn.Close()
}
