package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
)

func volumeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	cmd.AddCommand(volumeCreateCommand(), volumeLsCommand(), volumeInspectCommand(), volumeRmCommand(), volumePruneCommand())
	return cmd
}

func completeVolumes(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	vs, err := clientFor().VolumeList(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func volumeCreateCommand() *cobra.Command {
	var req api.VolumeCreate
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				req.Name = args[0]
			}
			req.Labels = parseLabels(labels)
			if len(opts) > 0 {
				req.DriverOpts = map[string]string{}
				for _, o := range opts {
					k, v, ok := strings.Cut(o, "=")
					if !ok {
						return exitCode(125, fmt.Sprintf("invalid --opt %q: use KEY=VALUE, e.g. type=tmpfs", o))
					}
					req.DriverOpts[k] = v
				}
			}
			v, err := clientFor().VolumeCreate(cmd.Context(), req)
			if err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Println(v.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&req.Driver, "driver", "d", "local", "volume driver")
	stringsVar(f, &opts, "opt", "o", "driver options: type=tmpfs, device=tmpfs, o=size=64m")
	stringsVar(f, &labels, "label", "", "set metadata (KEY=VALUE)")
	return cmd
}

type volumeRow struct{ Driver, Name, Mountpoint string }

func volumeLsCommand() *cobra.Command {
	var quiet bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			vs, err := clientFor().VolumeList(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			var rows []any
			for _, v := range vs {
				if quiet {
					fmt.Println(v.Name)
					continue
				}
				rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint})
			}
			if quiet {
				return nil
			}
			return render(cmd.OutOrStdout(), format, []string{"DRIVER", "VOLUME NAME"}, "{{.Driver}}\t{{.Name}}", rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show volume names")
	cmd.Flags().StringVar(&format, "format", "", "output format: table, json or a Go template")
	return cmd
}

func volumeInspectCommand() *cobra.Command {
	return objectInspectCommand("VOLUME", "volumes", completeVolumes, func(ctx context.Context, name string) (any, error) {
		return clientFor().VolumeInspect(ctx, name)
	})
}

func volumeRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases:           []string{"remove"},
		Short:             "Remove volumes",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeVolumes,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(args, func(name string) error {
				if err := clientFor().VolumeRemove(cmd.Context(), name, force); err != nil {
					return err
				}
				fmt.Println(name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not fail when a volume does not exist")
	return cmd
}

func volumePruneCommand() *cobra.Command {
	var force, all bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused anonymous volumes (all unused volumes with -a)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirm("This will remove all unused local volumes.") {
				return nil
			}
			res, err := clientFor().VolumePrune(cmd.Context(), all)
			if err != nil {
				return exitCode(1, err.Error())
			}
			if len(res.Deleted) > 0 {
				fmt.Println("Deleted Volumes:")
				for _, n := range res.Deleted {
					fmt.Println(n)
				}
			}
			fmt.Printf("\nTotal reclaimed space: %s\n", humanSize(res.SpaceReclaimed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused volumes, not only anonymous ones")
	return cmd
}
