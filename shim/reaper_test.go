package shim

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/procstatus"
)

// An exec caught half-way when the container's init is killed leaves the runtime's
// bootstrap children as zombies under the shim; until something reaps them the kernel
// cannot finish the container's pid namespace and its exit is never seen.
func TestExecRacingInitKill(t *testing.T) {
	for i := 0; i < 12; i++ {
		c, done := startShim(t, []string{"sleep", "100"}, false, false)
		ctx := context.Background()
		resp, err := c.Call(ctx, Request{Op: OpState})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Call(ctx, Request{Op: OpStart}); err != nil {
			t.Fatal(err)
		}
		p := *readSpec(t, c.Bundle).Process
		p.Args = []string{"true"}
		var wg sync.WaitGroup
		for j := 0; j < 4; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if conn, err := c.Dial(ctx, Request{Op: OpExec, Process: &p}); err == nil {
					conn.Close()
				}
			}()
		}
		time.Sleep(time.Duration(i) * time.Millisecond)
		if err := unix.Kill(resp.Pid, unix.SIGKILL); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: the shim never saw the init's exit (zombies: %v)", i, zombieChildren())
		}
	}
}

// The reaper takes a leftover bootstrap stage, and leaves a child the shim owns (an init
// or exec that died before its exec still bears the stage-2 name) to waitPid.
func TestReaperTakesOnlyUnownedStages(t *testing.T) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "runc:[2:INIT]")
	if err := os.Symlink("/bin/true", stage); err != nil {
		t.Fatal(err)
	}
	spawn := func() int {
		cmd := exec.Command(stage)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd.Process.Pid
	}
	owned := spawn()
	own(owned)
	leftover := spawn()
	kickReaper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := procstatus.Read(leftover); err != nil {
			break // reaped
		}
		if time.Now().After(deadline) {
			t.Fatalf("leftover stage %d was not reaped", leftover)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Give the reaper two more sweeps, at least, to get it wrong.
	time.Sleep(3 * orphanGrace)
	if st, err := procstatus.Read(owned); err != nil || !strings.HasPrefix(st["State"], "Z") {
		t.Fatalf("owned child %d: reaped by the reaper (state %q, %v)", owned, st["State"], err)
	}
	ws, err := waitPid(owned)
	if err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("waitPid of the owned child: %v %v", ws, err)
	}
}
