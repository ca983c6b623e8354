package ocicli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime"
	"github.com/drover/drover/runtime/cgroupwarm"
)

// execFlags are runc exec's options for a process given on the command line.
type execFlags struct {
	processFile, pidFile, consoleSocket, cwd, user, apparmor, label string
	env, caps                                                       []string
	gids                                                            []int
	detach, tty, noNewPrivs                                         bool
	preserveFds                                                     int
}

func execCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	var x execFlags
	cmd := &cobra.Command{Use: "exec ID [COMMAND ARGS...]", Short: "Run a process in a running container",
		Args: cobra.MinimumNArgs(1), RunE: func(_ *cobra.Command, a []string) error {
			cgroupwarm.Warm()
			st, err := rt().State(ctx, a[0])
			if err != nil {
				return err
			}
			if st.Status != runtime.StatusRunning {
				return fmt.Errorf("container %s is %s: exec needs a running container: %w", a[0], st.Status, errdefs.ErrConflict)
			}
			p, err := x.process(st.Bundle, a[1:])
			if err != nil {
				return err
			}
			if p.Terminal && x.consoleSocket == "" && x.detach {
				return fmt.Errorf("a terminal with --detach needs --console-socket to receive it: %w", errdefs.ErrInvalidArgument)
			}
			rio := stdio(p.Terminal)
			rio.ExtraFiles = preserved(x.preserveFds)
			if p.Terminal && x.consoleSocket == "" {
				if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
					rio.ConsoleWidth, rio.ConsoleHeight = uint16(w), uint16(h)
				}
			}
			proc, err := rt().Exec(ctx, a[0], p, rio)
			if err != nil {
				return err
			}
			if proc.Console != nil {
				defer proc.Console.Close()
				if x.consoleSocket != "" {
					if err := sendConsole(x.consoleSocket, proc.Console); err != nil {
						return err
					}
				}
			}
			if err := writePid(x.pidFile, proc.Pid); err != nil {
				return err
			}
			if x.detach {
				return nil
			}
			return exitError{foreground(proc, x.consoleSocket == "")}
		}}
	f := cmd.Flags()
	// Options end at the container id, as in runc: "exec ID sh -c ..." passes -c to sh.
	f.SetInterspersed(false)
	f.StringVarP(&x.processFile, "process", "p", "", "JSON file of the process to run (the runtime spec's process object)")
	f.StringVar(&x.pidFile, "pid-file", "", "write the process's pid here")
	f.StringVar(&x.consoleSocket, "console-socket", "", "unix socket that receives the terminal's master")
	f.StringVar(&x.cwd, "cwd", "", "working directory")
	f.StringArrayVarP(&x.env, "env", "e", nil, "set an environment variable KEY=VALUE (repeatable)")
	f.StringVarP(&x.user, "user", "u", "", "UID[:GID] to run as")
	f.IntSliceVarP(&x.gids, "additional-gids", "g", nil, "additional group ids")
	f.StringArrayVarP(&x.caps, "cap", "c", nil, "add a capability, e.g. CAP_NET_ADMIN (repeatable)")
	f.BoolVarP(&x.detach, "detach", "d", false, "do not wait for the process")
	f.BoolVarP(&x.tty, "tty", "t", false, "allocate a terminal")
	f.BoolVar(&x.noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
	f.StringVar(&x.apparmor, "apparmor", "", "AppArmor profile of the process")
	f.StringVar(&x.label, "process-label", "", "SELinux label of the process")
	f.IntVar(&x.preserveFds, "preserve-fds", 0, "pass this many extra fds (from fd 3 on) to the process")
	return cmd
}

// process builds the process to run: the --process file as it is, or the container's own
// process from its bundle with the command line's args and options, as runc does.
func (x *execFlags) process(bundle string, args []string) (*specs.Process, error) {
	var p specs.Process
	if x.processFile != "" {
		data, err := os.ReadFile(x.processFile)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %v: %w", x.processFile, err, errdefs.ErrInvalidArgument)
		}
		if len(p.Args) == 0 {
			return nil, fmt.Errorf("--process %s has no args: %w", x.processFile, errdefs.ErrInvalidArgument)
		}
		return &p, nil
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("exec needs a command or --process FILE: %w", errdefs.ErrInvalidArgument)
	}
	if data, err := os.ReadFile(filepath.Join(bundle, "config.json")); err == nil {
		var s specs.Spec
		if json.Unmarshal(data, &s) == nil && s.Process != nil {
			p = *s.Process
		}
	}
	p.Args = args
	p.Terminal = x.tty
	p.ConsoleSize = nil
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if x.cwd != "" {
		p.Cwd = x.cwd
	}
	p.Env = append(p.Env, x.env...)
	if x.user != "" {
		uid, gid, err := parseUser(x.user)
		if err != nil {
			return nil, err
		}
		p.User.UID, p.User.GID = uid, gid
	}
	for _, g := range x.gids {
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if len(x.caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		for _, c := range x.caps {
			c = strings.ToUpper(c)
			if !strings.HasPrefix(c, "CAP_") {
				c = "CAP_" + c
			}
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, c)
			p.Capabilities.Effective = append(p.Capabilities.Effective, c)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, c)
		}
	}
	if x.noNewPrivs {
		p.NoNewPrivileges = true
	}
	if x.apparmor != "" {
		p.ApparmorProfile = x.apparmor
	}
	if x.label != "" {
		p.SelinuxLabel = x.label
	}
	return &p, nil
}

func parseUser(s string) (uid, gid uint32, err error) {
	u, g, hasGid := strings.Cut(s, ":")
	n, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: give a numeric UID[:GID]: %w", s, errdefs.ErrInvalidArgument)
	}
	uid = uint32(n)
	if hasGid {
		m, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("--user %q: give a numeric UID[:GID]: %w", s, errdefs.ErrInvalidArgument)
		}
		gid = uint32(m)
	}
	return uid, gid, nil
}
