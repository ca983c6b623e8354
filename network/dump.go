package network

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// dumpAttempts bounds the retries of a netlink dump the kernel interrupted.
const dumpAttempts = 5

// consistent retries a netlink dump while the kernel reports it interrupted (links,
// addresses or routes changed during it, as when other containers start and stop at the
// same time): such a dump may miss or repeat entries.
func consistent[T any](dump func() ([]T, error)) ([]T, error) {
	var out []T
	var err error
	for range dumpAttempts {
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}
