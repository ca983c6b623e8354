package network

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// hostLockPath serializes subnet choice between managers on one host (several daemons,
// parallel tests): without it two could pick the same free subnet at once.
const hostLockPath = "/run/drover-network.lock"

// lockHost takes the host-wide lock and returns its release.
func lockHost() (func(), error) {
	f, err := os.OpenFile(hostLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", hostLockPath, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", hostLockPath, err)
	}
	return func() { f.Close() }, nil
}
