package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
)

func nodeCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Manage the cluster's nodes"}
	cmd.AddCommand(nodeLsCommand(), nodeCordonCommand(true), nodeCordonCommand(false), nodeDrainCommand())
	return cmd
}

type nodeRow struct {
	Name, Status, Roles, Age, Version, InternalIP string
}

func nodeLsCommand() *cobra.Command {
	var format string
	var wide bool
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List the cluster's nodes (as kubectl get nodes)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nodes, err := clientFor().NodeList(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			if format == "json" {
				rows := make([]any, len(nodes))
				for i := range nodes {
					rows[i] = nodes[i]
				}
				return render(cmd.OutOrStdout(), format, nil, "", rows)
			}
			var rows []any
			for _, n := range nodes {
				rows = append(rows, nodeRow{Name: n.Name, Status: n.Status, Roles: n.Roles, Age: kubeAge(n.Created), Version: n.Version, InternalIP: n.InternalIP})
			}
			header := []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"}
			tmpl := "{{.Name}}\t{{.Status}}\t{{.Roles}}\t{{.Age}}\t{{.Version}}"
			if wide {
				header = append(header, "INTERNAL-IP")
				tmpl += "\t{{.InternalIP}}"
			}
			return render(cmd.OutOrStdout(), format, header, tmpl, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output format: table, json or a Go template")
	cmd.Flags().BoolVar(&wide, "wide", false, "also show the nodes' addresses")
	return cmd
}

// kubeAge is a node's age as kubectl shows it (2m, 3h, 5d).
func kubeAge(created time.Time) string {
	d := now().Sub(created)
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func nodeCordonCommand(cordon bool) *cobra.Command {
	use, short, done := "uncordon NODE", "Let the scheduler place pods on a node again", "uncordoned"
	if cordon {
		use, short, done = "cordon NODE", "Stop the scheduler from placing new pods on a node", "cordoned"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := clientFor().NodeCordon(cmd.Context(), args[0], cordon); err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node/%s %s\n", args[0], done)
			return nil
		},
	}
}

func nodeDrainCommand() *cobra.Command {
	req := api.NodeDrain{GracePeriod: -1}
	cmd := &cobra.Command{
		Use:   "drain NODE [OPTIONS]",
		Short: "Cordon a node and evict its pods so their controllers start them elsewhere",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := clientFor().NodeDrain(cmd.Context(), args[0], req); err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node/%s drained\n", args[0])
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&req.Force, "force", false, "also delete pods that no controller owns (they are not started again)")
	f.IntVar(&req.GracePeriod, "grace-period", -1, "seconds each pod gets to stop (-1: the pod's own)")
	f.DurationVar(&req.Timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}
