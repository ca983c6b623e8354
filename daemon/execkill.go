package daemon

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/procstatus"
)

// Kill ends the exec'd process with SIGKILL (the CRI's ExecSync at its timeout). The
// process is the shim's child until the shim reaps it; a pidfd opened while its parent
// is still the shim names that process, never one that got its PID later.
func (e execStream) Kill() error {
	pid := e.Response.Pid
	if pid <= 0 {
		return errors.New("kill exec: the shim did not report the process's PID")
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil // gone already
	}
	if err != nil {
		return fmt.Errorf("kill exec %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if e.shimPid > 0 && parentPid(pid) != e.shimPid {
		return nil // reaped, and the PID is someone else's now
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill exec %d: %w", pid, err)
	}
	return nil
}

// parentPid reads a process's parent from /proc; 0 when it is gone.
func parentPid(pid int) int {
	st, err := procstatus.Read(pid)
	if err != nil {
		return 0
	}
	ppid, _ := strconv.Atoi(st["PPid"])
	return ppid
}
