// Package ocicli is "drover runtime": a runc-compatible command line over a
// runtime.Runtime, so engines that drive OCI runtimes (podman --runtime, containerd, the
// OCI validation suites, drover's own runtime/oci) can use drover's embedded runtime.
package ocicli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/signals"
	"github.com/drover/drover/runtime"
)

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/drover-runtime"

// NewCommand returns the runtime command line; newRuntime builds the runtime for a state
// root.
func NewCommand(use string, newRuntime func(root string) runtime.Runtime) *cobra.Command {
	var root, logFile, logFormat string
	var rt runtime.Runtime
	cmd := &cobra.Command{
		Use:           use,
		Short:         "Run OCI containers with drover's embedded runtime (runc-compatible command line)",
		Version:       specs.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			rt = newRuntime(root)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&root, "root", DefaultRoot, "directory for container state")
	pf.StringVar(&logFile, "log", "", "write errors to this file as well")
	pf.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	pf.Bool("systemd-cgroup", false, "not supported: drover uses cgroupfs paths")
	pf.Bool("debug", false, "accepted for compatibility")
	ctx := context.Background()
	get := func() runtime.Runtime { return rt }

	cmd.AddCommand(
		createCommand(ctx, get, false),
		createCommand(ctx, get, true),
		&cobra.Command{Use: "start ID", Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error {
			return rt.Start(ctx, a[0])
		}},
		&cobra.Command{Use: "state ID", Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error {
			st, err := rt.State(ctx, a[0])
			if err != nil {
				return err
			}
			return printJSON(specs.State{Version: specs.Version, ID: st.ID, Status: specs.ContainerState(st.Status), Pid: st.Pid, Bundle: st.Bundle})
		}},
		killCommand(ctx, get),
		deleteCommand(ctx, get),
		&cobra.Command{Use: "pause ID", Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error { return rt.Pause(ctx, a[0]) }},
		&cobra.Command{Use: "resume ID", Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error { return rt.Resume(ctx, a[0]) }},
		psCommand(ctx, get),
		execCommand(ctx, get),
	)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return err })
	// Errors also go to --log, where callers such as conmon and drover's runtime/oci look.
	for _, c := range cmd.Commands() {
		run := c.RunE
		c.RunE = func(c *cobra.Command, a []string) error {
			err := run(c, a)
			if err != nil && logFile != "" {
				writeLog(logFile, logFormat, err)
			}
			return err
		}
	}
	return cmd
}

func writeLog(path, format string, err error) {
	f, ferr := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if ferr != nil {
		return
	}
	defer f.Close()
	if format == "json" {
		data, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().UTC().Format(time.RFC3339Nano)})
		fmt.Fprintln(f, string(data))
		return
	}
	fmt.Fprintln(f, "error:", err)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stdio hands this process's stdio to the container, as runc does without a terminal.
func stdio(terminal bool) runtime.IO {
	if terminal {
		return runtime.IO{Terminal: true}
	}
	return runtime.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
}

// sendConsole passes a terminal's master to the caller's console socket.
func sendConsole(path string, console *os.File) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("connect to console socket: %w", err)
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
		return err
	}
	return os.Rename(tmp, path)
}

func createCommand(ctx context.Context, rt func() runtime.Runtime, run bool) *cobra.Command {
	var bundle, pidFile, consoleSocket string
	var detach bool
	use := "create ID"
	if run {
		use = "run ID"
	}
	cmd := &cobra.Command{Use: use, Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error {
		abs, err := filepath.Abs(bundle)
		if err != nil {
			return err
		}
		terminal := consoleSocket != "" || (run && !detach && isTerminalSpec(abs))
		p, err := rt().Create(ctx, a[0], abs, stdio(terminal))
		if err != nil {
			return err
		}
		if p.Console != nil {
			defer p.Console.Close()
			if consoleSocket == "" {
				go io.Copy(os.Stdout, p.Console)
				go io.Copy(p.Console, os.Stdin)
			} else if err := sendConsole(consoleSocket, p.Console); err != nil {
				_ = rt().Delete(ctx, a[0], true)
				return err
			}
		}
		if err := writePid(pidFile, p.Pid); err != nil {
			_ = rt().Delete(ctx, a[0], true)
			return err
		}
		if !run {
			return nil
		}
		if err := rt().Start(ctx, a[0]); err != nil {
			_ = rt().Delete(ctx, a[0], true)
			return err
		}
		if detach {
			return nil
		}
		code := waitExit(p.Pid)
		_ = rt().Delete(ctx, a[0], true)
		os.Exit(code)
		return nil
	}}
	f := cmd.Flags()
	f.StringVarP(&bundle, "bundle", "b", ".", "path to the OCI bundle")
	f.StringVar(&pidFile, "pid-file", "", "write the container's pid here")
	f.StringVar(&consoleSocket, "console-socket", "", "unix socket that receives the terminal's master")
	f.Bool("no-pivot", false, "accepted for compatibility")
	f.Bool("no-new-keyring", false, "accepted for compatibility")
	if run {
		f.BoolVarP(&detach, "detach", "d", false, "do not wait for the container")
	}
	return cmd
}

func isTerminalSpec(bundle string) bool {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return false
	}
	var s specs.Spec
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

func killCommand(ctx context.Context, rt func() runtime.Runtime) *cobra.Command {
	var all bool
	cmd := &cobra.Command{Use: "kill ID [SIGNAL]", Args: cobra.RangeArgs(1, 2), RunE: func(_ *cobra.Command, a []string) error {
		sig := syscall.SIGTERM
		if len(a) == 2 {
			s, err := signals.Parse(a[1])
			if err != nil {
				return err
			}
			sig = s
		}
		return rt().Kill(ctx, a[0], sig, all)
	}}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every process of the container")
	return cmd
}

func deleteCommand(ctx context.Context, rt func() runtime.Runtime) *cobra.Command {
	var force bool
	cmd := &cobra.Command{Use: "delete ID", Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error {
		return rt().Delete(ctx, a[0], force)
	}}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it runs")
	return cmd
}

func psCommand(ctx context.Context, rt func() runtime.Runtime) *cobra.Command {
	var format string
	cmd := &cobra.Command{Use: "ps ID", Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error {
		pids, err := rt().Pids(ctx, a[0])
		if err != nil {
			return err
		}
		if format == "json" {
			if pids == nil {
				pids = []int{}
			}
			return printJSON(pids)
		}
		for _, p := range pids {
			fmt.Println(p)
		}
		return nil
	}}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	return cmd
}

func execCommand(ctx context.Context, rt func() runtime.Runtime) *cobra.Command {
	var processFile, pidFile, consoleSocket, cwd string
	var env []string
	var detach, tty bool
	cmd := &cobra.Command{Use: "exec ID [COMMAND ARGS...]", Args: cobra.MinimumNArgs(1), RunE: func(_ *cobra.Command, a []string) error {
		var p specs.Process
		switch {
		case processFile != "":
			data, err := os.ReadFile(processFile)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(data, &p); err != nil {
				return fmt.Errorf("parse process file: %w", err)
			}
		case len(a) > 1:
			p = specs.Process{Args: a[1:], Env: env, Cwd: "/", Terminal: tty}
			if cwd != "" {
				p.Cwd = cwd
			}
		default:
			return errors.New("exec needs --process or a command")
		}
		proc, err := rt().Exec(ctx, a[0], &p, stdio(p.Terminal))
		if err != nil {
			return err
		}
		if proc.Console != nil {
			defer proc.Console.Close()
			if consoleSocket != "" {
				if err := sendConsole(consoleSocket, proc.Console); err != nil {
					return err
				}
			} else {
				go io.Copy(os.Stdout, proc.Console)
				go io.Copy(proc.Console, os.Stdin)
			}
		}
		if err := writePid(pidFile, proc.Pid); err != nil {
			return err
		}
		if detach {
			return nil
		}
		os.Exit(waitExit(proc.Pid))
		return nil
	}}
	f := cmd.Flags()
	f.StringVarP(&processFile, "process", "p", "", "JSON file of the process to run")
	f.StringVar(&pidFile, "pid-file", "", "write the process's pid here")
	f.StringVar(&consoleSocket, "console-socket", "", "unix socket that receives the terminal's master")
	f.StringVar(&cwd, "cwd", "", "working directory")
	f.StringArrayVarP(&env, "env", "e", nil, "environment variables")
	f.BoolVarP(&detach, "detach", "d", false, "do not wait for the process")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a terminal")
	return cmd
}
