package daemon

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drover/drover/internal/procstatus"
)

// signalCaught reports whether process pid has its own handler for sig (its SigCgt
// mask in /proc) and is past the runtime's init, which catches every signal and drops
// it before it execs the container's program (libcontainer names that stage
// "runc:[N:...]"). An unknown process counts as catching it: nothing more is to be done.
func signalCaught(pid int, sig syscall.Signal) bool {
	if pid <= 0 {
		return true
	}
	st, err := procstatus.Read(pid)
	if err != nil {
		return true
	}
	if strings.HasPrefix(st["Name"], "runc:[") {
		return false
	}
	mask, err := strconv.ParseUint(st["SigCgt"], 16, 64)
	return err != nil || mask&(1<<(uint(sig)-1)) != 0
}

// resendWhenCaught watches a container that got sig while it had no handler for it and
// sends sig again as soon as it has one, unless it exits or the stop's deadline passes
// first (then it reports true). The watch is short: a process installs its handlers as
// it starts.
func (d *Daemon) resendWhenCaught(ctx context.Context, c *container, pid int, sig syscall.Signal, exited <-chan struct{}, deadline <-chan time.Time) (deadlinePassed bool) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(5 * time.Second)
	for {
		select {
		case <-exited:
			return false
		case <-deadline:
			return true
		case <-giveUp:
			return false
		case <-ctx.Done():
			return false
		case <-tick.C:
			if signalCaught(pid, sig) {
				_ = d.kill(ctx, c, sig)
				return false
			}
		}
	}
}
