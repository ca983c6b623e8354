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
// for the bundles it is to serve, so starting a container does not wait for a process to
// start up. A shim serves up to group containers (ADR 0005): the launcher hands it bundles
// one after the other until it is full, then closes its socket (the shim exits once its
// containers have) and moves on to the next warm shim. Exactly one shim is booting or
// ready at any time, so back-to-back starts never boot two at once.
type Launcher struct {
	exe   string // the binary the shims run
	name  string // their argv[0]
	group int
	ready chan bootResult // holds the next shim once it has booted

	launch sync.Mutex // the hand-over protocol is one bundle at a time
	mu     sync.Mutex // guards done and cur
	done   bool
	cur    *warmShim // the shim being filled, nil when the next bundle takes a new one
}

type bootResult struct {
	w   *warmShim
	err error
}

type warmShim struct {
	cmd     *exec.Cmd
	conn    *os.File // our end of the socketpair that is the shim's fd 3
	replies *bufio.Reader
	served  int           // containers handed to it
	exited  chan struct{} // closed once the process is reaped
}

// NewLauncher returns a launcher that starts "exe shim" processes named name (their
// argv[0]), each serving up to group containers (at least 1).
func NewLauncher(exe, name string, group int) *Launcher {
	l := &Launcher{exe: exe, name: name, group: max(group, 1), ready: make(chan bootResult, 1)}
	go l.refill()
	return l
}

// boot starts a shim that waits for its bundles on fd 3. The launcher reaps it.
func (l *Launcher) boot() (*warmShim, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "launcher"), os.NewFile(uintptr(fds[1]), "shim-sync")
	defer theirs.Close()
	cmd := exec.Command(l.exe, "shim")
	cmd.Args[0] = l.name
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = shimEnv()
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	w := &warmShim{cmd: cmd, conn: ours, replies: bufio.NewReader(ours), exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(w.exited) }()
	return w, nil
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

// kill ends a shim that serves no container.
func (w *warmShim) kill() {
	w.conn.Close() // the shim exits at EOF
	_ = w.cmd.Process.Kill()
	<-w.exited
}

// retire tells a shim that no more bundles come: it exits once its containers have.
func (w *warmShim) retire() { w.conn.Close() }

func (w *warmShim) dead() bool {
	select {
	case <-w.exited:
		return true
	default:
		return false
	}
}

// Close stops the warm shim and retires the one being filled; running containers keep
// their shims.
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
	if l.cur != nil {
		l.cur.retire()
		l.cur = nil
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

// next returns the shim for the next bundle: the one being filled if it is still alive,
// else a warm one.
func (l *Launcher) next() (*warmShim, error) {
	l.mu.Lock()
	w := l.cur
	l.cur = nil
	l.mu.Unlock()
	if w != nil {
		if !w.dead() {
			return w, nil
		}
		w.retire() // close our end of its socket
	}
	return l.take()
}

// keep makes w the shim for the next bundle, or retires it when it is full.
func (l *Launcher) keep(w *warmShim) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.served >= l.group || l.done {
		w.retire()
		return
	}
	l.cur = w
}

// Launch writes cfg into its bundle and has a shim create the container. It returns the
// shim's and the container init's pids. The launcher reaps its shims.
func (l *Launcher) Launch(cfg Config) (shimPid, initPid int, err error) {
	if err := WriteConfig(cfg); err != nil {
		return 0, 0, err
	}
	l.launch.Lock()
	defer l.launch.Unlock()
	w, err := l.next()
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Fprintln(w.conn, cfg.Bundle); err != nil {
		// The shim died while it waited (killed, OOM): boot one for this start.
		if w.served == 0 {
			w.kill()
		} else {
			w.retire()
		}
		if w, err = l.boot(); err != nil {
			return 0, 0, err
		}
		if _, err := fmt.Fprintln(w.conn, cfg.Bundle); err != nil {
			w.kill()
			return 0, 0, fmt.Errorf("hand bundle to shim: %w", err)
		}
	}
	line, rerr := w.replies.ReadString('\n')
	line = strings.TrimSpace(line)
	if rerr != nil || !strings.HasPrefix(line, "ok") {
		msg := strings.TrimPrefix(line, "error ")
		if rerr != nil { // the shim died: what it said is in the log
			w.retire()
			<-w.exited
			data, _ := os.ReadFile(filepath.Join(cfg.Bundle, LogName))
			msg = "shim exited: " + strings.TrimSpace(string(data))
		} else {
			l.keep(w) // it refused this bundle but serves its others
		}
		return 0, 0, errors.New(msg)
	}
	w.served++
	l.keep(w)
	initPid, _ = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ok")))
	_ = os.WriteFile(filepath.Join(cfg.Bundle, PidName), []byte(strconv.Itoa(w.cmd.Process.Pid)), 0o600)
	return w.cmd.Process.Pid, initPid, nil
}

// Assignments reads the bundles the launcher hands a shim, one a line.
type Assignments struct {
	r     *bufio.Reader
	first bool
}

// NewAssignments reads from sync (the shim's fd 3).
func NewAssignments(sync *os.File) *Assignments {
	return &Assignments{r: bufio.NewReader(sync), first: true}
}

// Next waits for the next bundle. ok is false when the launcher has no more for this shim
// (it is full, or the daemon went away). The shim's own output goes to the first bundle's
// shim.log, where the launcher looks when a shim dies.
func (a *Assignments) Next() (bundle string, ok bool, err error) {
	line, err := a.r.ReadString('\n')
	if err != nil {
		return "", false, nil
	}
	bundle = strings.TrimSpace(line)
	if !a.first {
		return bundle, true, nil
	}
	a.first = false
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
