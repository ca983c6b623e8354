package cli

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func topCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "top CONTAINER [ps OPTIONS]",
		Short:              "Display the running processes of a container",
		Args:               cobra.MinimumNArgs(1),
		ValidArgsFunction:  completeContainers,
		DisableFlagParsing: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := clientFor().ContainerTop(cmd.Context(), args[0], strings.Join(args[1:], " "))
			if err != nil {
				return exitCode(1, err.Error())
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(res.Titles, "\t"))
			for _, p := range res.Processes {
				fmt.Fprintln(tw, strings.Join(p, "\t"))
			}
			return tw.Flush()
		},
	}
}
