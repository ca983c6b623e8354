package ocicli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime"
	"github.com/drover/drover/runtime/cgroupwarm"
)

func createCommand(ctx context.Context, rt func() Runtime, run bool) *cobra.Command {
	var bundle, pidFile, consoleSocket string
	var detach bool
	var opts runtime.CreateOptions
	var preserveFds int
	use, short := "create ID", "Create a container from a bundle; its process waits for `start`"
	if run {
		use, short = "run ID", "Create and start a container, and wait for it unless --detach"
	}
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error {
		// The kernel's first cgroup move after a quiet spell waits for an RCU grace period:
		// pay it while the bundle is read and the container set up.
		cgroupwarm.Warm()
		id := a[0]
		if err := checkID(id); err != nil {
			return err
		}
		abs, err := filepath.Abs(bundle)
		if err != nil {
			return err
		}
		terminal := isTerminalSpec(abs)
		if terminal && consoleSocket == "" && (!run || detach) {
			return fmt.Errorf("process.terminal is set: give --console-socket to receive the terminal, or run in the foreground: %w", errdefs.ErrInvalidArgument)
		}
		if !terminal && consoleSocket != "" {
			return fmt.Errorf("--console-socket needs process.terminal set in the spec: %w", errdefs.ErrInvalidArgument)
		}
		rio := stdio(terminal)
		rio.ExtraFiles = preserved(preserveFds)
		if terminal && consoleSocket == "" {
			if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				rio.ConsoleWidth, rio.ConsoleHeight = uint16(w), uint16(h)
			}
		}
		p, err := rt().CreateWith(ctx, id, abs, rio, opts)
		if err != nil {
			return err
		}
		undo := func() { _ = rt().Delete(ctx, id, true) }
		if p.Console != nil {
			defer p.Console.Close()
			if consoleSocket != "" {
				if err := sendConsole(consoleSocket, p.Console); err != nil {
					undo()
					return err
				}
			}
		}
		if err := writePid(pidFile, p.Pid); err != nil {
			undo()
			return err
		}
		if !run {
			return nil
		}
		if err := rt().Start(ctx, id); err != nil {
			undo()
			return err
		}
		if detach {
			return nil
		}
		code := foreground(p, consoleSocket == "")
		_ = rt().Delete(ctx, id, true)
		return exitError{code}
	}}
	f := cmd.Flags()
	f.StringVarP(&bundle, "bundle", "b", ".", "path to the OCI bundle")
	f.StringVar(&pidFile, "pid-file", "", "write the container's pid here")
	f.StringVar(&consoleSocket, "console-socket", "", "unix socket that receives the terminal's master (process.terminal)")
	f.BoolVar(&opts.NoPivotRoot, "no-pivot", false, "enter the root filesystem with MS_MOVE instead of pivot_root (for a rootfs on a ramdisk)")
	f.BoolVar(&opts.NoNewKeyring, "no-new-keyring", false, "keep the caller's session keyring instead of a new one")
	f.IntVar(&preserveFds, "preserve-fds", 0, "pass this many extra fds (from fd 3 on) to the container")
	if run {
		f.BoolVarP(&detach, "detach", "d", false, "do not wait for the container")
	}
	return cmd
}

func startCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	return &cobra.Command{Use: "start ID", Short: "Start a created container's process", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			st, err := rt().State(ctx, a[0])
			if err != nil {
				return err
			}
			if st.Status != runtime.StatusCreated {
				return fmt.Errorf("container %s is %s: only a created container can start: %w", a[0], st.Status, errdefs.ErrConflict)
			}
			return rt().Start(ctx, a[0])
		}}
}

// checkID refuses ids that could name a path outside the state root.
func checkID(id string) error {
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id || len(id) > 1024 {
		return fmt.Errorf("invalid container id %q: use letters, digits, '-', '_' and '.': %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// stdio hands this process's stdio to the container, as runc does without a terminal.
func stdio(terminal bool) runtime.IO {
	if terminal {
		return runtime.IO{Terminal: true}
	}
	return runtime.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
}

// preserved returns fds 3 .. 3+n-1 of this process for the container.
func preserved(n int) []*os.File {
	var files []*os.File
	for i := 0; i < n; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "preserved-fd-"+strconv.Itoa(3+i)))
	}
	return files
}

// foreground waits for a container process started in the foreground: it forwards the
// signals this process gets, copies the terminal if there is one, and returns the exit code.
func foreground(p runtime.Process, attach bool) int {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	if p.Console != nil && attach {
		if term.IsTerminal(int(os.Stdin.Fd())) {
			if old, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
				defer term.Restore(int(os.Stdin.Fd()), old)
			}
		}
		go io.Copy(os.Stdout, p.Console)
		go io.Copy(p.Console, os.Stdin)
	}
	done := make(chan int, 1)
	go func() { done <- waitExit(p.Pid) }()
	for {
		select {
		case code := <-done:
			return code
		case s := <-sigs:
			sig := s.(unix.Signal)
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
			case unix.SIGWINCH:
				if p.Console != nil {
					if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
						_ = unix.IoctlSetWinsize(int(p.Console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(w), Row: uint16(h)})
					}
				}
			default:
				_ = unix.Kill(p.Pid, sig)
			}
		}
	}
}

func isTerminalSpec(bundle string) bool {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return false
	}
	// Only the one field: decoding the whole spec here would be done again by the create.
	var s struct {
		Process *struct {
			Terminal bool `json:"terminal"`
		} `json:"process"`
	}
	return json.Unmarshal(data, &s) == nil && s.Process != nil && s.Process.Terminal
}

// waitExit reaps pid and returns its exit code in the shell's convention.
func waitExit(pid int) int {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// sendConsole passes a terminal's master to the caller's console socket.
func sendConsole(path string, console *os.File) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("connect to console socket %s: %w", path, err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	rights := unix.UnixRights(int(console.Fd()))
	_, _, err = uc.WriteMsgUnix([]byte(console.Name()), rights, nil)
	return err
}

func writePid(path string, pid int) error {
	if path == "" {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write --pid-file: %w", err)
	}
	return os.Rename(tmp, path)
}
