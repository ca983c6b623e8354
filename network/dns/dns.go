// Package dns is drover's embedded DNS server. Containers on a user-defined network resolve
// each other by container name, network alias and short ID through it; every other name is
// forwarded to the host's upstream resolvers.
//
// The daemon runs one Server and calls Listen once per user network with the network's
// gateway address, so the server lives in the host's network namespace and answers only on
// those addresses. Messages are parsed and built with golang.org/x/net/dns/dnsmessage.
package dns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/drover/drover/internal/errdefs"
)

// Resolver answers names for one network; the daemon implements it from its container table.
type Resolver interface {
	// Lookup returns the IPv4 addresses of name (already lowercased, without trailing dot)
	// as seen by the client at address client that asked on network netID, or nil when the
	// name is not a container/alias the client can see. (A container connected to several
	// networks asks on one of them but sees the names of all.)
	Lookup(netID string, client netip.Addr, name string) []netip.Addr
	// Reverse returns the names (first is canonical) for addr as seen by client, or nil.
	Reverse(netID string, client, addr netip.Addr) []string
}

// UpstreamResolver is a Resolver that may name other upstreams for some clients (a
// container started with --dns): their queries for other names go there instead of to
// the server's upstreams. Nil means the server's.
type UpstreamResolver interface {
	Resolver
	Upstreams(netID string, client netip.Addr) []netip.AddrPort
}

// Config configures a Server.
type Config struct {
	Resolver Resolver
	// Upstreams are "ip" or "ip:port" (IPv6 as "[ip]:port"); empty means the nameservers
	// of ResolvConf.
	Upstreams []string
	// ResolvConf is read for search domains, and for upstreams when Upstreams is empty.
	// Default /etc/resolv.conf; a missing file means no search domains and no upstreams.
	ResolvConf string
	Logf       func(format string, args ...any)
}

const (
	defaultResolvConf = "/etc/resolv.conf"
	// Bounds on work a flood of queries can cause; beyond them UDP queries are dropped
	// (clients retry) and TCP connections are closed.
	maxInflightUDP = 256
	maxTCPConns    = 64
)

// Server is the embedded DNS server. All methods are safe for concurrent use.
type Server struct {
	resolver  Resolver
	upstreams []netip.AddrPort
	search    []string // lowercased, no trailing dot
	logf      func(format string, args ...any)

	ctx    context.Context // cancelled by Close to abort forwarding
	cancel context.CancelFunc
	udpSem chan struct{}
	tcpSem chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	nets   map[string][]*listener
}

// listener is one UDP+TCP address pair serving one network.
type listener struct {
	netID string
	want  netip.AddrPort // as passed to Listen (port may be 0)
	addr  netip.AddrPort // bound
	udp   *net.UDPConn
	tcp   *net.TCPListener

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// New returns a Server with no listeners.
func New(cfg Config) (*Server, error) {
	if cfg.Resolver == nil {
		return nil, fmt.Errorf("dns: Config.Resolver is nil: %w", errdefs.ErrInvalidArgument)
	}
	path := cfg.ResolvConf
	if path == "" {
		path = defaultResolvConf
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dns: read %s: %w (set Config.ResolvConf to a readable file)", path, err)
	}
	nameservers, search, _ := parseResolvConf(data)

	s := &Server{
		resolver: cfg.Resolver,
		logf:     cfg.Logf,
		udpSem:   make(chan struct{}, maxInflightUDP),
		tcpSem:   make(chan struct{}, maxTCPConns),
		nets:     map[string][]*listener{},
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	for _, d := range search {
		if d = canonicalName(d); d != "" {
			s.search = append(s.search, d)
		}
	}
	if len(cfg.Upstreams) > 0 {
		for _, u := range cfg.Upstreams {
			ap, err := parseUpstream(u)
			if err != nil {
				return nil, err
			}
			s.upstreams = append(s.upstreams, ap)
		}
	} else {
		for _, a := range nameservers {
			if a.IsUnspecified() {
				continue
			}
			s.upstreams = append(s.upstreams, netip.AddrPortFrom(a.Unmap(), 53))
		}
	}
	if len(s.upstreams) == 0 {
		s.logf("dns: no upstream nameservers (read %s): names outside drover's networks will get SERVFAIL", path)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func parseUpstream(u string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(u); err == nil {
		if ap.Port() == 0 || ap.Addr().IsUnspecified() {
			return netip.AddrPort{}, fmt.Errorf("dns: upstream %q: need a non-zero address and port: %w", u, errdefs.ErrInvalidArgument)
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(u)
	if err != nil || a.IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("dns: upstream %q: want \"ip\" or \"ip:port\" ([ip]:port for IPv6): %w", u, errdefs.ErrInvalidArgument)
	}
	return netip.AddrPortFrom(a.Unmap(), 53), nil
}

// Listen starts UDP and TCP listeners on addr for network netID and returns the bound UDP
// address. Port 0 (for tests) picks a port free for both UDP and TCP. Listening twice on the
// same addr for the same netID is a no-op; a netID may listen on several addresses.
func (s *Server) Listen(netID string, addr netip.AddrPort) (netip.AddrPort, error) {
	if !addr.IsValid() || addr.Addr().IsUnspecified() {
		// A wildcard address would answer (and forward for) the whole world.
		return netip.AddrPort{}, fmt.Errorf("dns: listen %s: need a specific address such as the network's gateway: %w", addr, errdefs.ErrInvalidArgument)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return netip.AddrPort{}, fmt.Errorf("dns: listen %s: server is closed: %w", addr, errdefs.ErrConflict)
	}
	for id, ls := range s.nets {
		for _, l := range ls {
			if l.addr == addr || (id == netID && l.want == addr) {
				if id != netID {
					return netip.AddrPort{}, fmt.Errorf("dns: listen %s for network %s: already serving network %s there; unlisten it first: %w", addr, netID, id, errdefs.ErrAlreadyExists)
				}
				return l.addr, nil
			}
		}
	}
	l, err := bind(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	l.netID, l.want = netID, addr
	s.nets[netID] = append(s.nets[netID], l)
	s.wg.Add(2)
	go s.serveUDP(l)
	go s.serveTCP(l)
	return l.addr, nil
}

// bind opens the UDP and TCP sockets. With port 0 the kernel picks the UDP port, which may
// be taken for TCP, so that case retries a few times.
func bind(addr netip.AddrPort) (*listener, error) {
	var lastErr error
	for range 20 {
		udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			return nil, fmt.Errorf("dns: listen udp %s: %w (is another DNS server bound there?)", addr, err)
		}
		bound := udp.LocalAddr().(*net.UDPAddr).AddrPort()
		bound = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
		tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(bound))
		if err == nil {
			return &listener{addr: bound, udp: udp, tcp: tcp, conns: map[net.Conn]struct{}{}}, nil
		}
		udp.Close()
		lastErr = err
		if addr.Port() != 0 || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("dns: listen tcp %s: %w (is another DNS server bound there?)", addr, lastErr)
}

// Unlisten closes the listeners of network netID. Unknown networks are a no-op so the
// daemon can call it from cleanup and recovery paths.
func (s *Server) Unlisten(netID string) error {
	s.mu.Lock()
	ls := s.nets[netID]
	delete(s.nets, netID)
	s.mu.Unlock()
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.close())
	}
	return errors.Join(errs...)
}

// Close closes all listeners, aborts forwarded queries and waits for all goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	nets := s.nets
	s.nets = map[string][]*listener{}
	s.mu.Unlock()

	s.cancel()
	var errs []error
	for _, ls := range nets {
		for _, l := range ls {
			errs = append(errs, l.close())
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func (l *listener) close() error {
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	err := errors.Join(l.udp.Close(), l.tcp.Close())
	if err != nil {
		return fmt.Errorf("dns: close listener %s: %w", l.addr, err)
	}
	return nil
}

// isOwn reports whether ap is one of the server's listen addresses; forwarding there would
// loop.
func (s *Server) isOwn(ap netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ls := range s.nets {
		for _, l := range ls {
			if l.addr == ap {
				return true
			}
		}
	}
	return false
}

// canonicalName lowercases ASCII letters (DNS case-insensitivity is ASCII only) and drops
// the trailing dot.
func canonicalName(name string) string {
	name = strings.TrimSuffix(name, ".")
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
