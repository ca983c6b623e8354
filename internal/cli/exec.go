package cli

import (
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drover/drover/api"
)

func execCommand() *cobra.Command {
	var cfg api.ExecConfig
	var detach bool
	var env []string
	cmd := &cobra.Command{
		Use:               "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short:             "Run a command in a running container",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Cmd = args[1:]
			for _, e := range env {
				if v, ok := os.LookupEnv(e); ok && !containsEq(e) {
					e += "=" + v
				}
				cfg.Env = append(cfg.Env, e)
			}
			if cfg.Tty {
				if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
					cfg.Width, cfg.Height = uint16(w), uint16(h)
				}
			}
			ctx := cmd.Context()
			c := clientFor()
			if detach {
				cfg.Stdin, cfg.Tty, cfg.Detach = false, false, true
			}
			conn, err := c.ContainerExec(ctx, args[0], cfg)
			if err != nil {
				return startExitCode(err)
			}
			if detach {
				conn.Close() // the daemon answered once the process was running
				return nil
			}
			code, err := pump(ctx, c, conn, streamOptions{stdin: cfg.Stdin, tty: cfg.Tty})
			if err != nil {
				return exitCode(126, err.Error())
			}
			return exitCode(code, "")
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&cfg.Stdin, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&cfg.Tty, "tty", "t", false, "allocate a pseudo-terminal")
	stringsVar(f, &env, "env", "e", "set environment variables")
	f.StringVarP(&cfg.User, "user", "u", "", "user[:group] to run as")
	f.StringVarP(&cfg.WorkingDir, "workdir", "w", "", "working directory")
	f.BoolVar(&cfg.Privileged, "privileged", false, "give the process all capabilities")
	f.BoolVarP(&detach, "detach", "d", false, "run the command in the background")
	return cmd
}

func containsEq(s string) bool {
	for _, c := range s {
		if c == '=' {
			return true
		}
	}
	return false
}
