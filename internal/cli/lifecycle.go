package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
)

// simpleVerb builds a command that applies one call to each named container and prints
// the name back, as Docker's stop, kill, pause... do.
func simpleVerb(use, short string, setup func(*cobra.Command) func(cmd *cobra.Command, name string) error) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.MinimumNArgs(1), ValidArgsFunction: completeContainers}
	do := setup(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return forEach(args, func(name string) error {
			if err := do(cmd, name); err != nil {
				return err
			}
			fmt.Println(name)
			return nil
		})
	}
	return cmd
}

func timeoutFlag(cmd *cobra.Command) *int {
	return cmd.Flags().IntP("time", "t", -2, "seconds to wait before killing the container")
}

func timeout(cmd *cobra.Command, t *int) *time.Duration {
	if !cmd.Flags().Changed("time") {
		return nil
	}
	d := time.Duration(*t) * time.Second
	return &d
}

func stopCommand() *cobra.Command {
	return simpleVerb("stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", func(cmd *cobra.Command) func(*cobra.Command, string) error {
		t := timeoutFlag(cmd)
		sig := cmd.Flags().StringP("signal", "s", "", "signal to send (default: the container's stop signal)")
		return func(cmd *cobra.Command, name string) error {
			if _, err := parseSignal(*sig); err != nil {
				return err
			}
			return clientFor().ContainerStop(cmd.Context(), name, timeout(cmd, t), *sig)
		}
	})
}

func restartCommand() *cobra.Command {
	return simpleVerb("restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", func(cmd *cobra.Command) func(*cobra.Command, string) error {
		t := timeoutFlag(cmd)
		return func(cmd *cobra.Command, name string) error {
			return clientFor().ContainerRestart(cmd.Context(), name, timeout(cmd, t))
		}
	})
}

func killCommand() *cobra.Command {
	return simpleVerb("kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", func(cmd *cobra.Command) func(*cobra.Command, string) error {
		sig := cmd.Flags().StringP("signal", "s", "KILL", "signal to send")
		return func(cmd *cobra.Command, name string) error {
			if _, err := parseSignal(*sig); err != nil {
				return err
			}
			return clientFor().ContainerKill(cmd.Context(), name, *sig)
		}
	})
}

func pauseCommand() *cobra.Command {
	return simpleVerb("pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", func(*cobra.Command) func(*cobra.Command, string) error {
		return func(cmd *cobra.Command, name string) error { return clientFor().ContainerPause(cmd.Context(), name) }
	})
}

func unpauseCommand() *cobra.Command {
	return simpleVerb("unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", func(*cobra.Command) func(*cobra.Command, string) error {
		return func(cmd *cobra.Command, name string) error { return clientFor().ContainerUnpause(cmd.Context(), name) }
	})
}

func rmCommand() *cobra.Command {
	return simpleVerb("rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", func(cmd *cobra.Command) func(*cobra.Command, string) error {
		force := cmd.Flags().BoolP("force", "f", false, "force the removal of a running container (SIGKILL)")
		volumes := cmd.Flags().BoolP("volumes", "v", false, "remove anonymous volumes of the container")
		return func(cmd *cobra.Command, name string) error {
			return clientFor().ContainerRemove(cmd.Context(), name, client.RemoveOptions{Force: *force, Volumes: *volumes})
		}
	})
}

func waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "wait CONTAINER [CONTAINER...]",
		Short:             "Block until containers stop, then print their exit codes",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(args, func(name string) error {
				res, err := clientFor().ContainerWait(cmd.Context(), name, "")
				if err != nil {
					return err
				}
				fmt.Println(res.StatusCode)
				return nil
			})
		},
	}
}

func renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "rename CONTAINER NEW_NAME",
		Short:             "Rename a container",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := clientFor().ContainerRename(cmd.Context(), args[0], args[1]); err != nil {
				return exitCode(1, err.Error())
			}
			return nil
		},
	}
}

func pruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := api.ParsePruneFilter(filters, time.Now())
			if err != nil {
				return exitCode(1, err.Error())
			}
			if !force && !confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ") {
				return nil
			}
			res, err := clientFor().ContainersPrune(cmd.Context(), f)
			if err != nil {
				return exitCode(1, err.Error())
			}
			printList("Deleted Containers:", res.Deleted)
			fmt.Printf("Total reclaimed space: %s\n", units.HumanSize(float64(res.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	stringsVar(cmd.Flags(), &filters, "filter", "", pruneFilterUsage)
	return cmd
}

// pruneFilterUsage is the --filter help of every prune.
const pruneFilterUsage = `only what matches: until=TIME (created before; a duration such as 24h, or a timestamp), label=KEY[=VALUE], label!=KEY[=VALUE]`

func confirm(prompt string) bool {
	fmt.Fprint(os.Stderr, prompt)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes"
}

// containerCommand groups the container verbs as "drover container VERB".
func containerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	ls := psCommand()
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"ps", "list"}
	cmd.AddCommand(ls, runCommand(), createCommand(), startCommand(), stopCommand(), killCommand(), restartCommand(),
		rmCommand(), logsCommand(), execCommand(), inspectCommand(), waitCommand(), topCommand(), statsCommand(),
		renameCommand(), pauseCommand(), unpauseCommand(), cpCommand(), attachCommand(), commitCommand(), diffCommand(), pruneCommand())
	return cmd
}
