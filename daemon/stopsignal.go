package daemon

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// signalCaught reports whether process pid has its own handler for sig (its SigCgt
// mask in /proc) and is past the runtime's init, which catches every signal and drops
// it before it execs the container's program (libcontainer names that stage
// "runc:[N:...]"). An unknown process counts as catching it: nothing more is to be done.
func signalCaught(pid int, sig syscall.Signal) bool {
	if pid <= 0 {
		return true
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "Name:"); ok && strings.HasPrefix(strings.TrimSpace(name), "runc:[") {
			return false
		}
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return true
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

// closedTimeChan stands for a timer that has already fired.
var closedTimeChan = func() <-chan time.Time {
	ch := make(chan time.Time)
	close(ch)
	return ch
}()
