package daemon

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestSignalCaught reads the handler masks of real processes: sleep has no handler for
// SIGTERM, a shell that traps it has.
func TestSignalCaught(t *testing.T) {
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(args[0], args[1:]...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	sleeper := start("sleep", "30")
	trapper := start("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done")
	time.Sleep(200 * time.Millisecond) // let the shell set its trap
	if signalCaught(sleeper.Process.Pid, syscall.SIGTERM) {
		t.Error("sleep reported as catching SIGTERM")
	}
	if !signalCaught(trapper.Process.Pid, syscall.SIGTERM) {
		t.Error("a shell trapping TERM reported as not catching it")
	}
	if !signalCaught(0, syscall.SIGTERM) || !signalCaught(1<<30, syscall.SIGTERM) {
		t.Error("an unknown process must count as catching (nothing to resend)")
	}
}
