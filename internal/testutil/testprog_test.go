package testutil

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runProg runs the test program and returns its stdout and exit status.
func runProg(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(TestProgram(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "TESTPROG_MARK=xyz")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("testprog %v: %v", args, err)
	}
	return string(out), 0
}

func TestTestProgramCommands(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("file content\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		stdin    string
		args     []string
		want     string // exact output, or
		contains string // a part of it
		code     int
	}{
		{name: "exit 3", args: []string{"exit", "3"}, code: 3},
		{name: "exit 0", args: []string{"exit", "0"}},
		{name: "exit bad", args: []string{"exit", "x"}, code: 1},
		{name: "echo", args: []string{"echo", "a", "b c"}, want: "a b c\n"},
		{name: "env", args: []string{"env"}, contains: "TESTPROG_MARK=xyz\n"},
		{name: "stdin", stdin: "one\ntwo", args: []string{"stdin"}, want: "one\ntwo"},
		{name: "spam", args: []string{"spam", "3"}, want: "spam line 0\nspam line 1\nspam line 2\n"},
		{name: "spam to stderr", args: []string{"spam", "3", "stderr"}, want: ""},
		{name: "alloc", args: []string{"alloc", "4"}, want: "allocated 4 MiB\n"},
		{name: "tty without a terminal", args: []string{"tty"}, want: "tty=false\n"},
		{name: "cat", args: []string{"cat", file}, want: "file content\n"},
		{name: "cat missing", args: []string{"cat", file + ".no"}, code: 1},
		{name: "sleep", args: []string{"sleep", "1ms"}},
		{name: "sleep seconds", args: []string{"sleep", "0.001"}},
		{name: "forkbomb small", args: []string{"forkbomb", "3"}, want: "forkbomb: started 3, failed 0\n"},
		{name: "unknown", args: []string{"nope"}, code: 2},
		{name: "no command", args: nil, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, code := runProg(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (output %q)", code, tt.code, out)
			}
			if tt.contains != "" && !strings.Contains(out, tt.contains) {
				t.Fatalf("output %q lacks %q", out, tt.contains)
			}
			if tt.contains == "" && out != tt.want {
				t.Fatalf("output %q, want %q", out, tt.want)
			}
		})
	}
}

func TestTestProgramIsStatic(t *testing.T) {
	f, err := elf.Open(TestProgram(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("testprog is dynamically linked")
		}
	}
}

// startProg starts the test program with its stdout as lines on a channel.
func startProg(t *testing.T, args ...string) (*exec.Cmd, chan string) {
	t.Helper()
	cmd := exec.Command(TestProgram(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return cmd, lines
}

func nextLine(t *testing.T, lines chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("testprog closed its output")
		}
		return l
	case <-time.After(30 * time.Second): // a hang guard, not a timing check
		t.Fatal("no output from testprog")
	}
	return ""
}

func TestTestProgramSignals(t *testing.T) {
	cmd, lines := startProg(t, "signals")
	if l := nextLine(t, lines); l != "ready" {
		t.Fatalf("first line %q, want ready", l)
	}
	for _, s := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGTERM} {
		if err := cmd.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
		if l, want := nextLine(t, lines), signalName(s); l != want {
			t.Fatalf("after %v: %q, want %q", s, l, want)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func signalName(s syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGHUP: "SIGHUP", syscall.SIGTERM: "SIGTERM"}[s]
}

func TestTestProgramSleepTerm(t *testing.T) {
	cmd, _ := startProg(t, "sleep", "1h")
	var ee *exec.ExitError
	// The handler may not be installed yet right after start: signal until it exits.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	Eventually(t, 30*time.Second, func() bool {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if !errors.As(err, &ee) {
				t.Fatalf("wait: %v", err)
			}
			return true
		case <-time.After(10 * time.Millisecond):
			return false
		}
	}, "testprog sleep to exit on SIGTERM")
	if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() && ws.Signal() == syscall.SIGTERM {
		return // killed before its handler was installed: fine
	}
	if ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d, want %d", ee.ExitCode(), 128+int(syscall.SIGTERM))
	}
}

func TestTestProgramHTTP(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	_, lines := startProg(t, "http", addr)
	if l := nextLine(t, lines); l != "listening on "+addr {
		t.Fatalf("first line %q", l)
	}
	for path, want := range map[string]string{"/": "hello from testprog\n", "/env": "PATH="} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
		}
	}
}

func TestTestProgramPid(t *testing.T) {
	cmd, lines := startProg(t, "pid")
	if l := nextLine(t, lines); l != fmt.Sprint(cmd.Process.Pid) {
		t.Fatalf("pid %q, want %d", l, cmd.Process.Pid)
	}
}

func TestTestProgramRootfs(t *testing.T) {
	RequiresRoot(t)
	root := TestProgramRootfs(t)
	if root == BusyboxRootfs(t) {
		t.Fatal("the testprog rootfs is the busybox rootfs itself")
	}
	out, code := chroot(t, root, 0, 0, "/testprog", "echo", "inside")
	if code != 0 || out != "inside\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if out, code := chroot(t, root, DroverUID, DroverGID, "/bin/sh", "-c", "/testprog exit 3"); code != 3 {
		t.Fatalf("exit %d (%q), want 3", code, out)
	}
	if _, err := os.Stat(filepath.Join(BusyboxRootfs(t), "testprog")); err == nil {
		t.Fatal("testprog leaked into the plain busybox rootfs")
	}
	// The tarball has it too.
	f, err := os.Open(TestProgramTar(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	if !strings.Contains(string(data), "testprog") {
		t.Fatal("no testprog in the tarball")
	}
}
