package shim

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/procstatus"
)

// The runtime's bootstrap forks the container's processes in stages, "runc:[1:CHILD]"
// and "runc:[2:INIT]", both children of the shim. The runtime reaps them itself unless it
// gives up half-way, as an exec does when the container's init dies under it. Then they
// stay zombies here, and a stage-2 zombie lives in the container's pid namespace, which
// the kernel cannot finish while it is unreaped: the init never exits and its exit is
// never reported. The shim reaps such leftovers.
//
// It looks for them only after a create or exec has failed (kickReaper), not on every
// SIGCHLD: a sweep reads /proc for every thread and child, and a shim's containers start
// and exec all the time. It reaps only processes named as those stages, and only once they
// have stayed zombies for a whole grace period, so it never takes an exit the runtime is
// about to wait for (the runtime ignores losing those two anyway). A general wait4(-1)
// reaper would race the runtime's own waits on the stage-0 process. A container's init or
// exec that dies before its exec still bears the stage-2 name: those the shim waits for
// itself (waitPid), and the reaper leaves them alone.
var bootstrapStages = []string{"runc:[1:CHILD]", "runc:[2:INIT]"}

const (
	orphanGrace = 250 * time.Millisecond
	// quietSweeps ends a round of sweeps: the leftovers of a failed bootstrap appear while
	// it unwinds, within a few sweeps of the failure.
	quietSweeps = 4
)

var (
	reaperOnce sync.Once
	reaperKick = make(chan struct{}, 1)
	waited     sync.Map // pid -> struct{}: children the shim waits for itself
)

// own marks pid as a child the shim waits for with waitPid.
func own(pid int) { waited.Store(pid, struct{}{}) }

// kickReaper has the shim look for bootstrap leftovers: a create or exec failed.
func kickReaper() {
	reaperOnce.Do(func() { go reapBootstrapOrphans() })
	select {
	case reaperKick <- struct{}{}:
	default: // a round is due anyway
	}
}

func reapBootstrapOrphans() {
	for range reaperKick {
		var seen map[int]bool // leftovers found by the last sweep
		for quiet := 0; quiet < quietSweeps; {
			time.Sleep(orphanGrace)
			next := map[int]bool{}
			for pid, comm := range zombieChildren() {
				if _, ok := waited.Load(pid); ok || !isBootstrapStage(comm) {
					continue
				}
				if seen[pid] {
					var ws unix.WaitStatus
					_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
				} else {
					next[pid] = true
				}
			}
			if seen = next; len(seen) == 0 {
				quiet++
			} else {
				quiet = 0
			}
		}
	}
}

func isBootstrapStage(comm string) bool {
	for _, s := range bootstrapStages {
		if comm == s {
			return true
		}
	}
	return false
}

// zombieChildren maps this process's zombie children to their names. Children hang off
// the thread that forked them (or took them in as a subreaper), so every thread's list is
// read.
func zombieChildren() map[int]string {
	zombies := map[int]string{}
	lists, _ := filepath.Glob("/proc/self/task/*/children")
	for _, list := range lists {
		data, err := os.ReadFile(list)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if st, err := procstatus.Read(pid); err == nil && strings.HasPrefix(st["State"], "Z") {
				zombies[pid] = st["Name"]
			}
		}
	}
	return zombies
}
