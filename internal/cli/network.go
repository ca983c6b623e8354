package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
)

func networkCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks"}
	cmd.AddCommand(networkCreateCommand(), networkLsCommand(), networkInspectCommand(), networkRmCommand(),
		networkConnectCommand(), networkDisconnectCommand(), networkPruneCommand())
	return cmd
}

func completeNetworks(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	nets, err := clientFor().NetworkList(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, n := range nets {
		out = append(out, n.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func networkCreateCommand() *cobra.Command {
	var req api.NetworkCreate
	var labels []string
	var driver string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != "bridge" {
				return exitCode(125, fmt.Sprintf("network driver %q is not supported: drover networks are bridges (use --driver bridge)", driver))
			}
			req.Name = args[0]
			req.Labels = parseLabels(labels)
			n, err := clientFor().NetworkCreate(cmd.Context(), req)
			if err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Println(n.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", "bridge", "network driver")
	f.StringVar(&req.Subnet, "subnet", "", "IPv4 subnet in CIDR form (default: a free one)")
	f.StringVar(&req.Gateway, "gateway", "", "gateway address in the subnet (default: its first address)")
	f.BoolVar(&req.Internal, "internal", false, "no access to or from outside the network")
	stringsVar(f, &req.NonMasquerade, "non-masquerade", "", "reach this CIDR with the containers' own addresses, not masqueraded (routed networks)")
	stringsVar(f, &labels, "label", "", "set metadata (KEY=VALUE)")
	return cmd
}

func parseLabels(in []string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, l := range in {
		k, v, _ := strings.Cut(l, "=")
		out[k] = v
	}
	return out
}

type networkRow struct {
	ID, Name, Driver, Scope, Subnet, Gateway string
	Internal                                 bool
}

func networkLsCommand() *cobra.Command {
	var quiet, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			nets, err := clientFor().NetworkList(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			var rows []any
			for _, n := range nets {
				id := n.ID
				if !noTrunc {
					id = shortID(id)
				}
				if quiet {
					fmt.Println(id)
					continue
				}
				rows = append(rows, networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: "local", Subnet: n.Subnet, Gateway: n.Gateway, Internal: n.Internal})
			}
			if quiet {
				return nil
			}
			return render(cmd.OutOrStdout(), format, []string{"NETWORK ID", "NAME", "DRIVER", "SCOPE", "SUBNET"}, "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Subnet}}", rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show network IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs")
	cmd.Flags().StringVar(&format, "format", "", "output format: table, json or a Go template")
	return cmd
}

func networkInspectCommand() *cobra.Command {
	return objectInspectCommand("NETWORK", "networks", completeNetworks, func(ctx context.Context, name string) (any, error) {
		return clientFor().NetworkInspect(ctx, name)
	})
}

func networkRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "rm NETWORK [NETWORK...]",
		Aliases:           []string{"remove"},
		Short:             "Remove networks",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeNetworks,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(args, func(name string) error {
				if err := clientFor().NetworkRemove(cmd.Context(), name); err != nil {
					return err
				}
				fmt.Println(name)
				return nil
			})
		},
	}
}

func networkConnectCommand() *cobra.Command {
	var ec api.EndpointConfig
	cmd := &cobra.Command{
		Use:               "connect [OPTIONS] NETWORK CONTAINER",
		Short:             "Connect a container to a network",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeNetworks,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := clientFor().NetworkConnect(cmd.Context(), args[0], api.NetworkConnect{Container: args[1], Endpoint: ec})
			if err != nil {
				return exitCode(1, err.Error())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&ec.IPAddress, "ip", "", "IPv4 address in the network's subnet")
	stringsVar(cmd.Flags(), &ec.Aliases, "alias", "", "another DNS name of the container on this network")
	return cmd
}

func networkDisconnectCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "disconnect [OPTIONS] NETWORK CONTAINER",
		Short:             "Disconnect a container from a network",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeNetworks,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := clientFor().NetworkDisconnect(cmd.Context(), args[0], api.NetworkConnect{Container: args[1], Force: force}); err != nil {
				return exitCode(1, err.Error())
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "accepted for Docker compatibility")
	return cmd
}

func networkPruneCommand() *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all networks no container uses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := api.ParsePruneFilter(filters, time.Now())
			if err != nil {
				return exitCode(1, err.Error())
			}
			if !force && !confirm("This will remove all custom networks not used by at least one container.") {
				return nil
			}
			res, err := clientFor().NetworkPrune(cmd.Context(), f)
			if err != nil {
				return exitCode(1, err.Error())
			}
			printList("Deleted Networks:", res.Deleted)
			return nil
		},
	}
	stringsVar(cmd.Flags(), &filters, "filter", "", pruneFilterUsage)
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

// portText is Docker's PORTS column: 0.0.0.0:8080->80/tcp, ...
func portText(ports []api.PortBinding) string {
	var out []string
	for _, p := range ports {
		out = append(out, fmt.Sprintf("%s:%d->%d/%s", hostIPOr(p.HostIP), p.HostPort, p.ContainerPort, protoOr(p.Proto)))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func hostIPOr(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}

func protoOr(p string) string {
	if p == "" {
		return "tcp"
	}
	return p
}

func portCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short:             "List a container's published ports",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := clientFor().ContainerInspect(cmd.Context(), args[0])
			if err != nil {
				return exitCode(1, err.Error())
			}
			want := ""
			if len(args) == 2 {
				want = args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
			}
			found := false
			for _, p := range c.NetworkSettings.Ports {
				key := fmt.Sprintf("%d/%s", p.ContainerPort, protoOr(p.Proto))
				switch {
				case want == "":
					fmt.Printf("%s -> %s:%d\n", key, hostIPOr(p.HostIP), p.HostPort)
				case want == key:
					fmt.Printf("%s:%d\n", hostIPOr(p.HostIP), p.HostPort)
				default:
					continue
				}
				found = true
			}
			if want != "" && !found {
				return exitCode(1, fmt.Sprintf("no public port '%s' published for %s", want, args[0]))
			}
			return nil
		},
	}
}
