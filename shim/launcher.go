package shim

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Launcher starts shims. It keeps one shim booted in advance ("warm"), waiting on a socket
// for the bundle it is to serve, so starting a container does not wait for a process to
// start up: that is a tenth of a container's start time. Exactly one shim is booting or
// ready at any time, so back-to-back starts never boot two at once.
type Launcher struct {
	self  string
	ready chan bootResult // holds the next shim once it has booted
	mu    sync.Mutex
	done  bool
}

type bootResult struct {
	w   *warmShim
	err error
}

type warmShim struct {
	cmd  *exec.Cmd
	conn *os.File // our end of the socketpair that is the shim's fd 3
}

// NewLauncher returns a launcher that starts "self shim" processes.
func NewLauncher(self string) *Launcher {
	l := &Launcher{self: self, ready: make(chan bootResult, 1)}
	go l.refill()
	return l
}

// boot starts a shim that waits for its bundle on fd 3.
func (l *Launcher) boot() (*warmShim, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "launcher"), os.NewFile(uintptr(fds[1]), "shim-sync")
	defer theirs.Close()
	cmd := exec.Command(l.self, "shim")
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = shimEnv()
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	return &warmShim{cmd: cmd, conn: ours}, nil
}

func (l *Launcher) refill() {
	w, err := l.boot()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		if w != nil {
			w.kill()
		}
		return
	}
	l.ready <- bootResult{w, err}
}

func (w *warmShim) kill() {
	w.conn.Close() // the shim exits at EOF
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
}

// Close stops the warm shim.
func (l *Launcher) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	select {
	case r := <-l.ready:
		if r.w != nil {
			r.w.kill()
		}
	default:
	}
}

// take returns the booted shim (waiting for the boot under way) and starts the next boot.
func (l *Launcher) take() (*warmShim, error) {
	r := <-l.ready
	l.mu.Lock()
	done := l.done
	l.mu.Unlock()
	if !done {
		go l.refill()
	}
	if r.err != nil {
		return l.boot() // the last boot failed: try once more, directly
	}
	return r.w, nil
}

// Launch writes cfg into its bundle and has a shim create the container. It returns the
// shim's and the container init's pids, and a function that reaps the shim.
func (l *Launcher) Launch(cfg Config) (shimPid, initPid int, wait func() error, err error) {
	if err := WriteConfig(cfg); err != nil {
		return 0, 0, nil, err
	}
	w, err := l.take()
	if err != nil {
		return 0, 0, nil, err
	}
	if _, err := fmt.Fprintln(w.conn, cfg.Bundle); err != nil {
		// The warm shim died while it waited (killed, OOM): boot one for this start.
		w.kill()
		if w, err = l.boot(); err != nil {
			return 0, 0, nil, err
		}
		if _, err := fmt.Fprintln(w.conn, cfg.Bundle); err != nil {
			w.kill()
			return 0, 0, nil, fmt.Errorf("hand bundle to shim: %w", err)
		}
	}
	defer w.conn.Close()
	line, rerr := bufio.NewReader(w.conn).ReadString('\n')
	line = strings.TrimSpace(line)
	if rerr != nil || !strings.HasPrefix(line, "ok") {
		_ = w.cmd.Wait()
		msg := strings.TrimPrefix(line, "error ")
		if msg == "" {
			data, _ := os.ReadFile(filepath.Join(cfg.Bundle, LogName))
			msg = "shim exited: " + strings.TrimSpace(string(data))
		}
		return 0, 0, nil, errors.New(msg)
	}
	initPid, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ok")))
	_ = os.WriteFile(filepath.Join(cfg.Bundle, PidName), []byte(strconv.Itoa(w.cmd.Process.Pid)), 0o600)
	return w.cmd.Process.Pid, initPid, w.cmd.Wait, nil
}

// Assignment is run by a warm shim: it waits for its bundle on sync, moves into it and
// sends its output to the bundle's shim.log. ok is false when the launcher went away.
func Assignment(sync *os.File) (bundle string, ok bool, err error) {
	line, err := bufio.NewReader(sync).ReadString('\n')
	if err != nil {
		return "", false, nil
	}
	bundle = strings.TrimSpace(line)
	if err := os.Chdir(bundle); err != nil {
		return bundle, true, err
	}
	logf, err := os.OpenFile(filepath.Join(bundle, LogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return bundle, true, err
	}
	defer logf.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(logf.Fd()), fd, 0); err != nil {
			return bundle, true, err
		}
	}
	return bundle, true, nil
}
