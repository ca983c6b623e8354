package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
)

func clusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Make or join a cluster of machines that kubectl drives",
		Long: `A cluster runs pods across machines: servers keep the replicated state and
serve a Kubernetes-shaped API (kubectl works against it), every machine runs the pods
bound to it on its own engine. Start with "drover cluster init" on one machine.`,
	}
	cmd.AddCommand(clusterInitCommand(), clusterJoinCommand(), clusterLeaveCommand(), clusterStatusCommand(),
		clusterKubeconfigCommand(), clusterTokenCommand())
	return cmd
}

func clusterInitCommand() *cobra.Command {
	var req api.ClusterInit
	var format string
	cmd := &cobra.Command{
		Use:   "init [OPTIONS]",
		Short: "Make this machine the first server of a new cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := clientFor().ClusterInit(cmd.Context(), req)
			if err != nil {
				return exitCode(1, err.Error())
			}
			if format == "json" {
				return render(cmd.OutOrStdout(), format, nil, "", []any{res})
			}
			addr := res.Status.API
			fmt.Fprintf(cmd.OutOrStdout(), `Cluster created: %s is its first server, its API at %s.

Join more machines as agents with:
  drover cluster join %s --token %s

or as servers (1, 3 or 5 servers replicate the state) with:
  drover cluster join %s --token %s --server

The tokens expire at %s; "drover cluster token create [--server]" makes new ones.
Point kubectl at the cluster with:
  drover cluster kubeconfig > kubeconfig && export KUBECONFIG=$PWD/kubeconfig
`, res.Status.NodeName, addr, hostPort(addr), res.AgentToken, hostPort(addr), res.ServerToken, res.Expires.Local().Format(time.RFC1123))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Advertise, "advertise", "", "address other machines reach this one at (default: the address of the default route's interface)")
	f.StringVar(&req.NodeName, "node-name", "", "name of this machine in the cluster (default: the host name)")
	f.IntVar(&req.APIPort, "api-port", 6443, "port of the API server and of joins")
	f.IntVar(&req.RaftPort, "raft-port", 6444, "port the servers replicate the state on")
	f.StringVar(&format, "format", "", "output format: text or json (the tokens, for scripts)")
	return cmd
}

func clusterJoinCommand() *cobra.Command {
	var req api.ClusterJoin
	cmd := &cobra.Command{
		Use:   "join ADDR --token TOKEN [--server]",
		Short: "Add this machine to a cluster, as an agent or a server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Token == "" {
				return exitCode(125, "--token is required: a server prints one at init, or makes one with \"drover cluster token create\"")
			}
			req.Addr = args[0]
			st, err := clientFor().ClusterJoin(cmd.Context(), req)
			if err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Joined the cluster as %s %s.\n", st.Role, st.NodeName)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Token, "token", "", "join token from \"drover cluster init\" or \"drover cluster token create\"")
	f.BoolVar(&req.Server, "server", false, "join as a server, which keeps a replica of the state (needs a server token)")
	f.StringVar(&req.Advertise, "advertise", "", "address other machines reach this one at (default: the address of the default route's interface)")
	f.StringVar(&req.NodeName, "node-name", "", "name of this machine in the cluster (default: the host name)")
	f.IntVar(&req.APIPort, "api-port", 6443, "port of this server's API (with --server)")
	f.IntVar(&req.RaftPort, "raft-port", 6444, "port this server replicates the state on (with --server)")
	return cmd
}

func clusterLeaveCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "leave",
		Short: "Take this machine out of its cluster: its pods stop and its node is removed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := clientFor().ClusterLeave(cmd.Context(), force); err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Left the cluster.")
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "leave even when the servers cannot be reached, or when this is the last server")
	return cmd
}

func clusterStatusCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show this machine's view of its cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := clientFor().ClusterStatus(cmd.Context())
			if err != nil {
				return exitCode(1, err.Error())
			}
			if format == "json" {
				return render(cmd.OutOrStdout(), format, nil, "", []any{st})
			}
			if !st.Member {
				fmt.Fprintln(cmd.OutOrStdout(), "Not in a cluster: \"drover cluster init\" makes one, \"drover cluster join\" joins one.")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Node:    %s\nRole:    %s\n", st.NodeName, st.Role)
			if st.API != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "API:     %s\nLeader:  %s\n", st.API, st.Leader)
			}
			for _, s := range st.Servers {
				fmt.Fprintf(cmd.OutOrStdout(), "Server:  %s\n", s)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output format: text or json")
	return cmd
}

func clusterKubeconfigCommand() *cobra.Command {
	var server, output string
	cmd := &cobra.Command{
		Use:   "kubeconfig [OPTIONS]",
		Short: "Print a kubeconfig with an administrator's certificate (on a server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kc, err := clientFor().ClusterKubeconfig(cmd.Context(), server)
			if err != nil {
				return exitCode(1, err.Error())
			}
			if output != "" {
				return os.WriteFile(output, kc, 0o600)
			}
			_, err = cmd.OutOrStdout().Write(kc)
			return err
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "API URL the kubeconfig points at (default: this server's)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file (mode 0600) instead of standard output")
	return cmd
}

func clusterTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage join tokens"}
	var req api.ClusterTokenCreate
	create := &cobra.Command{
		Use:   "create [--server] [--ttl DURATION]",
		Short: "Make a join token (on a server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := clientFor().ClusterTokenCreate(cmd.Context(), req)
			if err != nil {
				return exitCode(1, err.Error())
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok.Token)
			return nil
		},
	}
	create.Flags().BoolVar(&req.Server, "server", false, "the token joins servers (default: agents)")
	create.Flags().DurationVar(&req.TTL, "ttl", 24*time.Hour, "how long the token works")
	cmd.AddCommand(create)
	return cmd
}

// hostPort strips the scheme of an API URL for the join command.
func hostPort(apiURL string) string {
	for _, p := range []string{"https://", "http://"} {
		if len(apiURL) > len(p) && apiURL[:len(p)] == p {
			return apiURL[len(p):]
		}
	}
	return apiURL
}
