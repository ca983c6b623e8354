package libcontainer

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// A container's init is a Go program, and a Go runtime reserves about 1.1 GB of address
// space as it starts (the page allocator's and the scavenger's indexes). libcontainer
// applies the spec's rlimits to the init before it builds the seccomp filter, so an
// RLIMIT_AS near 1 GB, or a small RLIMIT_DATA, makes every later mapping of the init fail
// and the container with it. Those two limits are therefore held back and applied at the
// init's execve of the container's process, which the runtime catches with ptrace: the
// process never runs a single instruction without them.

// deferredLabel marks a held-back rlimit in the container's config labels, which
// libcontainer keeps in its state, so a later `start` finds it.
const deferredLabel = "drover.rlimit="

var deferrable = map[int]bool{unix.RLIMIT_AS: true, unix.RLIMIT_DATA: true}

// roomForGo is the address space below which a limit would starve the init's Go runtime.
const roomForGo = 4 << 30

// deferRlimits splits off the RLIMIT_AS and RLIMIT_DATA limits too tight for the init.
func deferRlimits(limits []configs.Rlimit) (kept, deferred []configs.Rlimit) {
	for _, rl := range limits {
		if deferrable[rl.Type] && rl.Soft < roomForGo {
			deferred = append(deferred, rl)
		} else {
			kept = append(kept, rl)
		}
	}
	return kept, deferred
}

func rlimitLabels(limits []configs.Rlimit) []string {
	var out []string
	for _, rl := range limits {
		out = append(out, fmt.Sprintf("%s%d:%d:%d", deferredLabel, rl.Type, rl.Soft, rl.Hard))
	}
	return out
}

func deferredRlimits(labels []string) []configs.Rlimit {
	var out []configs.Rlimit
	for _, l := range labels {
		v, ok := strings.CutPrefix(l, deferredLabel)
		if !ok {
			continue
		}
		f := strings.Split(v, ":")
		if len(f) != 3 {
			continue
		}
		typ, err1 := strconv.Atoi(f[0])
		soft, err2 := strconv.ParseUint(f[1], 10, 64)
		hard, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 == nil && err2 == nil && err3 == nil {
			out = append(out, configs.Rlimit{Type: typ, Soft: soft, Hard: hard})
		}
	}
	return out
}

// execWithRlimits runs release (which lets the init exec the container's process) while
// tracing the init, and sets limits on it when its execve stops it.
func execWithRlimits(pid int, limits []configs.Rlimit, release func() error) error {
	// ptrace requests must come from the thread that attached.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// PTRACE_SEIZE takes the options at once: PTRACE_SETOPTIONS needs a stopped tracee.
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, unix.PTRACE_O_TRACEEXEC, 0, 0); e != 0 {
		return fmt.Errorf("trace init %d to apply the spec's RLIMIT_AS/RLIMIT_DATA at its execve (needs CAP_SYS_PTRACE): %w", pid, e)
	}
	released := make(chan error, 1)
	go func() { released <- release() }()
	err := awaitExec(pid, limits)
	if rerr := <-released; rerr != nil {
		return rerr
	}
	return err
}

// awaitExec waits for the traced pid's execve, applies limits and detaches. Signals the
// init gets meanwhile are passed on.
func awaitExec(pid int, limits []configs.Rlimit) error {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for init %d: %w", pid, err)
		}
		if ws.Exited() || ws.Signaled() {
			return fmt.Errorf("container init %d ended before it started the container's process", pid)
		}
		if !ws.Stopped() {
			continue
		}
		if ws.TrapCause() == unix.PTRACE_EVENT_EXEC {
			var setErr error
			for _, rl := range limits {
				lim := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
				if err := unix.Prlimit(pid, rl.Type, &lim, nil); err != nil && setErr == nil {
					setErr = fmt.Errorf("set rlimit %d of the container's process: %w", rl.Type, err)
				}
			}
			if setErr != nil {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
			_ = unix.PtraceDetach(pid)
			return setErr
		}
		// A signal-delivery stop: deliver it. Group stops (PTRACE_EVENT_STOP) resume as is.
		sig := 0
		if ws.TrapCause() <= 0 && ws.StopSignal() != unix.SIGTRAP {
			sig = int(ws.StopSignal())
		}
		_ = unix.PtraceCont(pid, sig)
	}
}
