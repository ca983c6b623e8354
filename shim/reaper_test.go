package shim

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
