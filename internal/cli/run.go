package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/drover/drover/client"
)

func runCommand() *cobra.Command {
	var f containerFlags
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container",
		Long: `Create and run a new container. In the foreground, drover run streams the container's
output, forwards signals to it and exits with its exit code; 125 means drover itself
failed, 126 that the command could not be run, 127 that it was not found.

--privileged gives the container every capability drover has, all devices in the device
cgroup, no seccomp filter and no masked /proc paths: only for trusted workloads.`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config(cmd.Flags(), args)
			if err != nil {
				return err
			}
			if detach && f.rm && f.restart != "no" && f.restart != "" {
				return exitCode(125, "conflicting options: --restart and --rm")
			}
			ctx := cmd.Context()
			c := clientFor()
			if detach {
				created, err := createContainer(ctx, c, cfg, f.pull, f.platform)
				if err != nil {
					return exitCode(125, err.Error())
				}
				if err := c.ContainerStart(ctx, created.ID); err != nil {
					if f.rm {
						_ = c.ContainerRemove(ctx, created.ID, client.RemoveOptions{Force: true})
					}
					return startExitCode(err)
				}
				fmt.Println(created.ID)
				return nil
			}
			// Create, start and attach are one request; the daemon removes a --rm
			// container whose start failed.
			var conn *client.Hijacked
			err = withPull(ctx, c, cfg.Image, f.pull, f.platform, func() error {
				var err error
				conn, err = c.ContainerRun(ctx, cfg, client.AttachOptions{Stdin: f.interactive})
				return err
			})
			if err != nil {
				return startExitCode(err) // 125, or Docker's 126 and 127 for a command that cannot run
			}
			code, err := pump(ctx, c, conn, streamOptions{stdin: f.interactive, tty: f.tty, proxySignals: true, id: conn.ContainerID})
			if err != nil {
				return exitCode(125, err.Error())
			}
			if code != 0 {
				return exitCode(code, "")
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	registerContainerCompletions(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background and print the container ID")
	cmd.Flags().BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	return cmd
}

func createCommand() *cobra.Command {
	var f containerFlags
	cmd := &cobra.Command{
		Use:               "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short:             "Create a new container without starting it",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeImages,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config(cmd.Flags(), args)
			if err != nil {
				return err
			}
			created, err := createContainer(cmd.Context(), clientFor(), cfg, f.pull, f.platform)
			if err != nil {
				return exitCode(125, err.Error())
			}
			fmt.Println(created.ID)
			return nil
		},
	}
	f.register(cmd.Flags())
	registerContainerCompletions(cmd)
	cmd.Flags().BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	return cmd
}

func startCommand() *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:               "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short:             "Start one or more stopped containers",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c := clientFor()
			if attach || interactive {
				if len(args) > 1 {
					return exitCode(125, "you cannot start and attach several containers at once")
				}
				return attachAndPump(ctx, c, args[0], interactive, true, true)
			}
			return forEach(args, func(name string) error {
				if err := c.ContainerStart(ctx, name); err != nil {
					return err
				}
				fmt.Println(name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach stdout/stderr and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach stdin")
	return cmd
}

func attachCommand() *cobra.Command {
	var noStdin, sigProxy bool
	cmd := &cobra.Command{
		Use:               "attach [OPTIONS] CONTAINER",
		Short:             "Attach local stdin, stdout and stderr to a running container",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			return attachAndPump(cmd.Context(), clientFor(), args[0], !noStdin, false, sigProxy)
		},
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach stdin")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "forward received signals to the container")
	return cmd
}

// attachAndPump attaches to a container (starting it when start is set) and relays its
// stdio until it exits, returning its exit code as the command's.
func attachAndPump(ctx context.Context, c *client.Client, name string, stdin, start, proxy bool) error {
	info, err := c.ContainerInspect(ctx, name)
	if err != nil {
		return exitCode(1, err.Error())
	}
	stdin = stdin && info.Config.OpenStdin
	conn, err := c.ContainerAttach(ctx, name, client.AttachOptions{Stdin: stdin, Start: start})
	if err != nil {
		if start {
			return startExitCode(err)
		}
		return exitCode(1, err.Error())
	}
	code, err := pump(ctx, c, conn, streamOptions{stdin: stdin, tty: info.Config.Tty, proxySignals: proxy, id: info.ID})
	if err != nil {
		return exitCode(1, err.Error())
	}
	return exitCode(code, "")
}

// registerContainerCompletions completes the flags of run and create that name objects.
func registerContainerCompletions(cmd *cobra.Command) {
	networks := func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		names, dir := completeNetworks(c, args, toComplete)
		return append(names, "none", "host", "container:"), dir
	}
	_ = cmd.RegisterFlagCompletionFunc("network", networks)
	_ = cmd.RegisterFlagCompletionFunc("pod", completePods)
}
