package cli

import (
	"errors"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/drover/drover/client"
	"github.com/drover/drover/internal/stream"
)

func logsCommand() *cobra.Command {
	var o client.LogsOptions
	cmd := &cobra.Command{
		Use:               "logs [OPTIONS] CONTAINER",
		Short:             "Fetch the logs of a container",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Tail != "all" {
				if n, err := strconv.Atoi(o.Tail); err != nil || n < 0 {
					return exitCode(125, "invalid --tail value "+strconv.Quote(o.Tail)+": give a number of lines or all")
				}
			}
			body, err := clientFor().ContainerLogs(cmd.Context(), args[0], o)
			if err != nil {
				return exitCode(1, err.Error())
			}
			defer body.Close()
			r := stream.NewReader(body)
			for {
				kind, p, err := r.ReadFrame()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return exitCode(1, err.Error())
				}
				switch kind {
				case stream.Stdout:
					os.Stdout.Write(p)
				case stream.Stderr:
					os.Stderr.Write(p)
				case stream.Error:
					return exitCode(1, string(p))
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "follow log output")
	f.StringVarP(&o.Tail, "tail", "n", "all", "number of lines to show from the end")
	f.StringVar(&o.Since, "since", "", "show logs since a time (RFC 3339, Unix seconds) or a duration ago (10m)")
	f.StringVar(&o.Until, "until", "", "show logs before a time or a duration ago")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	return cmd
}
