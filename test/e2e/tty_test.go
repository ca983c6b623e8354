package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// syncBuffer collects a terminal's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTTY runs drover run -it on a real pseudo-terminal: the container gets a terminal of
// the client's size, input typed on the terminal reaches it, and a resize follows.
func TestTTY(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	master, slave := openPTY(t)
	defer master.Close()
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.bin, "run", "--rm", "-it", "busybox", "sh")
	cmd.Env = append(os.Environ(), "DROVER_HOST="+e.sock)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out syncBuffer
	go io.Copy(&out, master)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("terminal never showed %q; got:\n%s", what, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	master.Write([]byte("tty; stty size; echo mark-$((6*7))\r"))
	waitFor("mark-42")
	if !strings.Contains(out.String(), "/dev/pts/0") || !strings.Contains(out.String(), "33 111") {
		t.Fatalf("container terminal:\n%s", out.String())
	}
	// Resize the client's terminal: drover forwards SIGWINCH as a resize.
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	_ = cmd.Process.Signal(syscall.SIGWINCH)
	deadline := time.Now().Add(10 * time.Second)
	for {
		master.Write([]byte("stty size\r"))
		time.Sleep(100 * time.Millisecond)
		if strings.Contains(out.String(), "40 120") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("resize not seen:\n%s", out.String())
		}
	}
	master.Write([]byte("exit 3\r"))
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err == nil || !asExit(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("drover run -it ended with %v, want exit 3", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("drover run -it did not end")
	}
}

func asExit(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}

// TestSignalsReachContainer sends signals to a foreground drover run.
func TestSignalsReachContainer(t *testing.T) {
	e := newEnv(t)
	e.importTestprog("testprog")
	cmd := exec.Command(e.bin, "run", "--rm", "testprog", "/testprog", "signals")
	cmd.Env = append(os.Environ(), "DROVER_HOST="+e.sock)
	var out syncBuffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.eventually(15*time.Second, "the program to be ready", func() bool { return strings.Contains(out.String(), "ready") })
	cmd.Process.Signal(syscall.SIGUSR1)
	e.eventually(10*time.Second, "SIGUSR1 to arrive", func() bool { return strings.Contains(out.String(), "SIGUSR1") })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("drover run after SIGTERM: %v (output %q)", err, out.String())
	}
	if !strings.Contains(out.String(), "SIGTERM") {
		t.Fatalf("SIGTERM not seen by the container: %q", out.String())
	}
}
