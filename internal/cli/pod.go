package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
	"github.com/drover/drover/network"
)

func podCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "pod", Short: "Manage pods: containers sharing network, IPC and UTS namespaces"}
	cmd.AddCommand(podCreateCommand(), podLsCommand(), podInspectCommand(), podStartCommand(), podStopCommand(), podRmCommand())
	return cmd
}

func completePods(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	pods, err := clientFor().PodList(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func podCreateCommand() *cobra.Command {
	var req api.PodCreate
	var publish, labels, share []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS]",
		Short: "Create a pod and start its infra process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range publish {
				bs, err := network.ParsePortSpec(p)
				if err != nil {
					return exitCode(125, err.Error())
				}
				for _, b := range bs {
					req.PortBindings = append(req.PortBindings, api.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort, ContainerPort: b.ContainerPort, Proto: b.Proto})
				}
			}
			req.Labels = parseLabels(labels)
			if cmd.Flags().Changed("share") {
				var err error
				if req.SharePID, err = parseShare(share); err != nil {
					return exitCode(125, err.Error())
				}
			}
			p, err := clientFor().PodCreate(cmd.Context(), req)
			if err != nil {
				return exitCode(125, err.Error())
			}
			fmt.Println(p.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "pod name (default: a random one)")
	f.StringVar(&req.Hostname, "hostname", "", "host name of the pod (default: its name)")
	f.StringVar(&req.Network, "network", "", "network of the pod: bridge (default), NAME, none, host or cni (the daemon's CNI configuration)")
	stringsVar(f, &publish, "publish", "p", "publish a port of the pod: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]")
	stringsVar(f, &labels, "label", "", "set metadata (KEY=VALUE)")
	stringsVar(f, &share, "share", "", "namespaces the pod's containers share: net, ipc and uts always; add pid for one PID namespace (the pod then keeps a pause process as its PID 1)")
	return cmd
}

// parseShare reads podman's --share list: it must name the namespaces every drover pod
// shares (net, ipc, uts; cgroup is accepted, as podman's default names it) and may add pid.
func parseShare(list []string) (pid bool, err error) {
	seen := map[string]bool{}
	for _, item := range list {
		for _, ns := range strings.Split(item, ",") {
			switch ns = strings.TrimSpace(ns); ns {
			case "net", "ipc", "uts", "cgroup", "pid":
				seen[ns] = true
			case "":
			default:
				return false, fmt.Errorf("--share %s: unknown namespace %q: use net, ipc, uts, cgroup and pid", strings.Join(list, ","), ns)
			}
		}
	}
	for _, ns := range []string{"net", "ipc", "uts"} {
		if !seen[ns] {
			return false, fmt.Errorf("--share %s: a pod's containers always share the net, ipc and uts namespaces: name them, and add pid to share one PID namespace", strings.Join(list, ","))
		}
	}
	return seen["pid"], nil
}

type podRow struct {
	ID, Name, Status, Created, InfraID string
	Containers                         int
}

func podLsCommand() *cobra.Command {
	var quiet, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list", "ps"},
		Short:   "List pods",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			pods, err := clientFor().PodList(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			var rows []any
			for _, p := range pods {
				id, infra := p.ID, p.InfraID
				if !noTrunc {
					id, infra = shortID(id), shortID(infra)
				}
				if quiet {
					fmt.Println(id)
					continue
				}
				rows = append(rows, podRow{ID: id, Name: p.Name, Status: p.Status, Created: ago(p.Created), InfraID: infra, Containers: len(p.Containers) + 1})
			}
			if quiet {
				return nil
			}
			return render(cmd.OutOrStdout(), format, []string{"POD ID", "NAME", "STATUS", "CREATED", "INFRA ID", "# OF CONTAINERS"},
				"{{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}\t{{.Containers}}", rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show pod IDs")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs")
	cmd.Flags().StringVar(&format, "format", "", "output format: table, json or a Go template")
	return cmd
}

func podInspectCommand() *cobra.Command {
	return objectInspectCommand("POD", "pods", completePods, func(ctx context.Context, name string) (any, error) {
		return clientFor().PodInspect(ctx, name)
	})
}

func podStartCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "start POD [POD...]",
		Short:             "Start pods: the infra process, then every container",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(args, func(name string) error {
				if err := clientFor().PodStart(cmd.Context(), name); err != nil {
					return err
				}
				fmt.Println(name)
				return nil
			})
		},
	}
}

func podStopCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:               "stop [OPTIONS] POD [POD...]",
		Short:             "Stop pods: every container, then the infra process",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *time.Duration
			if cmd.Flags().Changed("time") {
				d := time.Duration(timeout) * time.Second
				t = &d
			}
			return forEach(args, func(name string) error {
				if err := clientFor().PodStop(cmd.Context(), name, t); err != nil {
					return err
				}
				fmt.Println(name)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait for each container to stop before killing it")
	return cmd
}

func podRmCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "rm [OPTIONS] POD [POD...]",
		Aliases:           []string{"remove"},
		Short:             "Remove pods with their containers",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(args, func(name string) error {
				if err := clientFor().PodRemove(cmd.Context(), name, force); err != nil {
					return err
				}
				fmt.Println(name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove running containers of the pod too")
	return cmd
}
