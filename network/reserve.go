package network

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/drover/drover/internal/errdefs"
	"golang.org/x/sys/unix"
)

// reservation is a host socket bound (never listening) to a published port. Holding it
// makes the kernel refuse the port to every other program, and binding it first turns a
// port that is taken into a clear error before any rule is written.
type reservation struct {
	fd    int
	proto string
	ip    netip.Addr
	port  uint16
}

// reservePort binds a socket to ip:port/proto in the host namespace. Port 0 picks a free
// ephemeral port; the returned reservation says which. SO_REUSEADDR is deliberately not
// set: a socket without it blocks every later bind of the port, including ones with it.
func reservePort(proto string, ip netip.Addr, port uint16) (*reservation, error) {
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reserve port %d/%s: socket: %w", port, proto, err)
	}
	sa := &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.EADDRINUSE):
			return nil, fmt.Errorf("port %d/%s on %s is already in use: pick another host port: %w", port, proto, ip, errdefs.ErrConflict)
		case errors.Is(err, unix.EADDRNOTAVAIL):
			return nil, fmt.Errorf("host IP %s is not an address of this host: use one of its addresses or 0.0.0.0: %w", ip, errdefs.ErrInvalidArgument)
		case errors.Is(err, unix.EACCES):
			return nil, fmt.Errorf("port %d/%s on %s: permission denied: %w", port, proto, ip, err)
		}
		return nil, fmt.Errorf("reserve port %d/%s on %s: %w", port, proto, ip, err)
	}
	if port == 0 {
		got, err := unix.Getsockname(fd)
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("reserve port %s: getsockname: %w", proto, err)
		}
		port = uint16(got.(*unix.SockaddrInet4).Port)
	}
	return &reservation{fd: fd, proto: proto, ip: ip, port: port}, nil
}

// release closes the socket, freeing the port.
func (r *reservation) release() {
	if r != nil && r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

func releaseAll(rs []*reservation) {
	for _, r := range rs {
		r.release()
	}
}
