package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
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
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name in parentheses may hold spaces: the fields follow its last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	return ppid
}
