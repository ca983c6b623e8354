package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/network"
)

// DialPod connects to port on the loopback of a pod's network namespace (the CRI's port
// forwarding): the socket is made inside the namespace the infra container holds, so the
// pod's ports need not be published. A host-network pod's loopback is the host's.
func (d *Daemon) DialPod(ctx context.Context, ref string, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port %d is out of range 1-65535: %w", port, errdefs.ErrInvalidArgument)
	}
	p, err := d.podTab.get(ref)
	if err != nil {
		return nil, err
	}
	infra, err := d.lookup(p.InfraID)
	if err != nil {
		return nil, fmt.Errorf("pod %s lost its infra container: remove the pod and create it again: %w", p.Name, err)
	}
	s := infra.snapshot()
	if !s.State.Running {
		return nil, fmt.Errorf("pod %s is not running: start it first: %w", p.Name, errdefs.ErrConflict)
	}
	// The bind-mounted namespace file where there is one; the infra process's own
	// namespace otherwise (host network, none); a pinned pod without one is on the host's.
	nsPath := s.NetworkSettings.SandboxKey
	switch {
	case nsPath != "":
	case s.State.Pid > 0:
		nsPath = "/proc/" + strconv.Itoa(s.State.Pid) + "/ns/net"
	default:
		nsPath = "/proc/self/ns/net"
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conn, err := network.DialIn(ctx, nsPath, addr)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, fmt.Errorf("nothing listens on port %d in pod %s: start the server there first, listening on 127.0.0.1 or all addresses: %w", port, p.Name, errdefs.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to port %d in pod %s: %w", port, p.Name, err)
	}
	return conn, nil
}
