// Package oci drives any OCI runtime that speaks runc's command line (runc, crun, kata,
// or drover's own "drover runtime"). The calling process must be a child subreaper so the
// container processes the runtime starts and leaves behind are reparented to it.
package oci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime"
)

// Runtime runs the binary Path with its state under Root.
type Runtime struct {
	Path string
	Root string
}

var _ runtime.Runtime = (*Runtime)(nil)

// New resolves the runtime binary (a name in $PATH or a path) and returns a Runtime.
func New(path, root string) (*Runtime, error) {
	p, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("oci runtime %q not found: install it or give its full path: %w", path, errdefs.ErrInvalidArgument)
	}
	return &Runtime{Path: p, Root: root}, nil
}

func (r *Runtime) command(ctx context.Context, logFile string, args ...string) *exec.Cmd {
	base := []string{"--root", r.Root}
	if logFile != "" {
		base = append(base, "--log", logFile, "--log-format", "json")
	}
	return exec.CommandContext(ctx, r.Path, append(base, args...)...)
}

// run executes a runtime command whose stdio is not the container's and returns its output.
func (r *Runtime) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := r.command(ctx, "", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, r.wrap(args[0], strings.TrimSpace(stderr.String()), err)
	}
	return out, nil
}

func (r *Runtime) wrap(op, msg string, err error) error {
	if msg == "" {
		msg = err.Error()
	}
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "does not exist") || strings.Contains(lower, "not found"):
		return fmt.Errorf("%s %s: %s: %w", filepath.Base(r.Path), op, msg, errdefs.ErrNotFound)
	case strings.Contains(lower, "not running") || strings.Contains(lower, "is not stopped"):
		return fmt.Errorf("%s %s: %s: %w", filepath.Base(r.Path), op, msg, errdefs.ErrConflict)
	}
	return fmt.Errorf("%s %s: %s", filepath.Base(r.Path), op, msg)
}

// startWithStdio runs a runtime command whose stdio is handed to the container process, so
// its own errors are read from a JSON log file instead of stderr.
func (r *Runtime) startWithStdio(ctx context.Context, dir, op string, io runtime.IO, args []string) (runtime.Process, error) {
	logFile := filepath.Join(dir, op+"-runtime.log")
	pidFile := filepath.Join(dir, op+".pid")
	_ = os.Remove(pidFile)
	defer os.Remove(logFile)
	defer os.Remove(pidFile)

	var consoleLn *net.UnixListener
	if io.Terminal {
		sock := filepath.Join(dir, op+"-console.sock")
		_ = os.Remove(sock)
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			return runtime.Process{}, fmt.Errorf("console socket: %w", err)
		}
		defer os.Remove(sock)
		defer ln.Close()
		consoleLn = ln
		args = append([]string{"--console-socket", sock}, args...)
	}
	args = append([]string{"--pid-file", pidFile}, args...)
	cmd := r.command(ctx, logFile, append([]string{op}, args...)...)
	if !io.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nilIfNil(io.Stdin), nilIfNilW(io.Stdout), nilIfNilW(io.Stderr)
	}
	consoleCh := make(chan consoleResult, 1)
	if consoleLn != nil {
		go func() {
			conn, err := consoleLn.AcceptUnix()
			if err != nil {
				consoleCh <- consoleResult{err: err}
				return
			}
			defer conn.Close()
			f, err := conn.File()
			if err != nil {
				consoleCh <- consoleResult{err: err}
				return
			}
			defer f.Close()
			m, err := runtime.RecvFd(f)
			consoleCh <- consoleResult{f: m, err: err}
		}()
	}
	if err := cmd.Run(); err != nil {
		return runtime.Process{}, r.wrap(op, lastLogError(logFile), err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return runtime.Process{}, fmt.Errorf("%s %s: read pid file: %w", filepath.Base(r.Path), op, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return runtime.Process{}, fmt.Errorf("%s %s: bad pid file: %w", filepath.Base(r.Path), op, err)
	}
	p := runtime.Process{Pid: pid}
	if consoleLn != nil {
		res := <-consoleCh
		if res.err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return runtime.Process{}, fmt.Errorf("receive console: %w", res.err)
		}
		p.Console = res.f
		if io.ConsoleWidth > 0 && io.ConsoleHeight > 0 {
			_ = unix.IoctlSetWinsize(int(res.f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: io.ConsoleWidth, Row: io.ConsoleHeight})
		}
	}
	return p, nil
}

type consoleResult struct {
	f   *os.File
	err error
}

// nilIfNil keeps a nil *os.File from becoming a non-nil interface value.
func nilIfNil(f *os.File) interface{ Read([]byte) (int, error) } {
	if f == nil {
		return nil
	}
	return f
}

func nilIfNilW(f *os.File) interface{ Write([]byte) (int, error) } {
	if f == nil {
		return nil
	}
	return f
}

// lastLogError returns the last error message in a runtime's JSON log.
func lastLogError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var msg string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") {
			msg = e.Msg
		}
	}
	return msg
}

func (r *Runtime) Create(ctx context.Context, id, bundle string, io runtime.IO) (runtime.Process, error) {
	return r.startWithStdio(ctx, bundle, "create", io, []string{"--bundle", bundle, id})
}

func (r *Runtime) Start(ctx context.Context, id string) error {
	_, err := r.run(ctx, "start", id)
	return err
}

func (r *Runtime) Exec(ctx context.Context, id string, p *specs.Process, io runtime.IO) (runtime.Process, error) {
	dir, err := os.MkdirTemp("", "drover-exec-")
	if err != nil {
		return runtime.Process{}, err
	}
	defer os.RemoveAll(dir)
	data, err := json.Marshal(p)
	if err != nil {
		return runtime.Process{}, err
	}
	procFile := filepath.Join(dir, "process.json")
	if err := os.WriteFile(procFile, data, 0o600); err != nil {
		return runtime.Process{}, err
	}
	args := []string{"--detach", "--process", procFile}
	if io.Terminal {
		args = append(args, "--tty")
	}
	return r.startWithStdio(ctx, dir, "exec", io, append(args, id))
}

func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := r.run(ctx, append(args, id, strconv.Itoa(int(sig)))...)
	return err
}

func (r *Runtime) Pause(ctx context.Context, id string) error {
	_, err := r.run(ctx, "pause", id)
	return err
}

func (r *Runtime) Resume(ctx context.Context, id string) error {
	_, err := r.run(ctx, "resume", id)
	return err
}

func (r *Runtime) State(ctx context.Context, id string) (runtime.State, error) {
	out, err := r.run(ctx, "state", id)
	if err != nil {
		return runtime.State{}, err
	}
	var s specs.State
	if err := json.Unmarshal(out, &s); err != nil {
		return runtime.State{}, fmt.Errorf("parse runtime state: %w", err)
	}
	return runtime.State{ID: s.ID, Pid: s.Pid, Status: runtime.Status(s.Status), Bundle: s.Bundle, Annotations: s.Annotations}, nil
}

func (r *Runtime) Pids(ctx context.Context, id string) ([]int, error) {
	out, err := r.run(ctx, "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("parse runtime ps: %w", err)
	}
	return pids, nil
}

func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.run(ctx, append(args, id)...)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}
