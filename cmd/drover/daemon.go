package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/drover/drover/cluster"
	"github.com/drover/drover/daemon"
	"github.com/drover/drover/image/policy"
	"github.com/drover/drover/internal/percontainer"
)

// defaultPolicy is the trust policy the daemon reads when --signature-policy is not given.
const defaultPolicy = "/etc/drover/policy.json"

func daemonCommand() *cobra.Command {
	var cfg daemon.Config
	var policyFile, cniBinDir string
	var reg registryServeFlags
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the drover engine",
		Long: `Run the drover engine: it serves the API on a unix socket, keeps images and
container state, and supervises containers through one shim each. Containers keep
running when the daemon stops; the next daemon picks them up again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if host, _ := cmd.Flags().GetString("host"); host != "" && !cmd.Flags().Changed("socket") {
				cfg.Socket = host
			}
			if !cmd.Flags().Changed("docker-socket") && cfg.ExecRoot != defaultExecRoot {
				// A daemon beside the default one keeps its Docker socket in its own exec root.
				cfg.DockerSocket = filepath.Join(cfg.ExecRoot, "docker.sock")
			}
			if !cmd.Flags().Changed("cri-socket") && cfg.ExecRoot != defaultExecRoot {
				cfg.CRISocket = filepath.Join(cfg.ExecRoot, "cri.sock")
			}
			level := slog.LevelInfo
			if os.Getenv("DROVER_DEBUG") != "" {
				level = slog.LevelDebug
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if cfg.RegistryAddr != "" {
				opts, err := registryOptions(reg)
				if err != nil {
					return fmt.Errorf("--registry-*: %w", err)
				}
				cfg.RegistryOptions, cfg.RegistryTLSCert, cfg.RegistryTLSKey = opts, reg.tlsCert, reg.tlsKey
			}
			if policyFile == "" {
				if _, err := os.Stat(defaultPolicy); err == nil {
					policyFile = defaultPolicy
				}
			}
			if policyFile != "" {
				p, err := policy.Load(policyFile)
				if err != nil {
					return err
				}
				cfg.Registries.Policy = p
			}
			cfg.CNIBinDirs = filepath.SplitList(cniBinDir)
			socket := cfg.Socket
			if socket == "" {
				socket = filepath.Join(cfg.ExecRoot, "drover.sock")
			}
			// The cluster's roles (cluster/) live in the daemon, driving it through its socket.
			cfg.Extensions = append(cfg.Extensions, cluster.New(cluster.Config{
				StateDir: filepath.Join(cfg.Root, "cluster"), EngineSocket: socket, Logger: cfg.Logger}))
			if len(leanRuntime) > 0 {
				// Containers' shims, inits and pauses run the lean binary this one carries.
				self, err := percontainer.Install(filepath.Join(cfg.Root, "bin"), leanRuntime, leanRuntimeDigest)
				releaseLeanRuntime()
				if err != nil {
					return err
				}
				cfg.Self = self
			}
			d, err := daemon.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return d.Serve(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Root, "root", "/var/lib/drover", "directory of persistent state (images, metadata, logs)")
	f.StringVar(&cfg.ExecRoot, "exec-root", defaultExecRoot, "directory of runtime state (bundles, sockets)")
	f.StringVar(&cfg.Socket, "socket", "", "API socket (default EXEC-ROOT/drover.sock)")
	f.StringVar(&cfg.DefaultRuntime, "default-runtime", "", "OCI runtime for containers that do not choose one (default: embedded)")
	f.StringVar(&cfg.CgroupParent, "cgroup-parent", "drover", "parent cgroup of all containers")
	f.StringVar(&cfg.InitPath, "init-path", "", "static init binary for --init (default: tini-static or docker-init from PATH)")
	f.StringArrayVar(&cfg.Registries.Mirrors, "registry-mirror", nil, "registry host[:port] tried before Docker Hub, or REGISTRY=HOST[:PORT] tried before REGISTRY (repeatable)")
	f.StringArrayVar(&cfg.Registries.Insecure, "insecure-registry", nil, "registry host[:port] or CIDR reachable over plain HTTP or unverified TLS (repeatable; loopback always is)")
	f.StringVar(&cfg.Registries.CertsDir, "certs-dir", "/etc/drover/certs.d", "per-registry TLS files: DIR/HOST[:PORT]/ca.crt, client.cert, client.key")
	f.IntVar(&cfg.Registries.Concurrency, "max-concurrent-downloads", 4, "layers pulled at once per image")
	f.StringVar(&cfg.NetworkPrefix, "network-prefix", "drover", "name prefix of drover's bridges, veths and nftables table (4-12 lowercase letters or digits; daemons side by side need different ones)")
	f.IntVar(&cfg.ContainersPerShim, "containers-per-shim", daemon.DefaultContainersPerShim, "containers one shim process supervises (1: a shim per container, the most isolation; more: less memory per container)")
	f.StringVar(&cfg.ResolvConf, "resolv-conf", "/etc/resolv.conf", "resolver configuration containers inherit and the embedded DNS forwards to (e.g. /run/systemd/resolve/resolv.conf behind a local stub resolver)")
	f.StringVar(&cfg.Firewall, "firewall", "", "where network rules go: nftables or iptables (default: nftables if the kernel has it, else iptables)")
	f.StringVar(&cfg.RegistryAddr, "registry-addr", "", "also serve the daemon's images over the OCI distribution API on this host:port, e.g. 127.0.0.1:5000")
	f.StringVar(&reg.auth, "registry-auth", "", "credentials for --registry-addr: htpasswd=FILE or token=FILE (see drover registry serve --auth)")
	f.StringVar(&reg.access, "registry-access", "", "access rules file for --registry-addr (see drover registry serve --access)")
	f.BoolVar(&reg.anonymousPull, "registry-anonymous-pull", false, "let requests without credentials pull from --registry-addr (with --registry-auth)")
	f.StringVar(&reg.tlsCert, "registry-tls-cert", "", "serve --registry-addr over HTTPS with this PEM certificate")
	f.StringVar(&reg.tlsKey, "registry-tls-key", "", "PEM private key of --registry-tls-cert")
	f.StringVar(&policyFile, "signature-policy", "", "trust policy every pull must satisfy, in containers-policy.json format (default: "+defaultPolicy+" when it exists; without one every image is accepted)")
	f.StringVar(&cfg.DefaultSubnet, "bip", "", "subnet of the default bridge network, e.g. 172.17.0.0/16 (default: the first free of 172.17-31.0.0/16)")
	f.StringVar(&cfg.DockerSocket, "docker-socket", defaultExecRoot+"/docker.sock", "serve the Docker Engine API on this unix socket for the docker CLI, Compose and Docker SDKs (default EXEC-ROOT/docker.sock; \"\" disables it)")
	f.StringVar(&cfg.DockerSocketGroup, "docker-socket-group", "", "group (name or GID) that may use the Docker API socket besides root")
	f.StringVar(&cfg.CRISocket, "cri-socket", defaultExecRoot+"/cri.sock", "serve the Kubernetes CRI (v1, gRPC) on this unix socket for a kubelet or crictl (default EXEC-ROOT/cri.sock; \"\" disables it; docs/cri.md lists what it serves)")
	f.StringVar(&cfg.CRIStreamAddr, "cri-stream-addr", "127.0.0.1:0", "host:port of the CRI streaming server that exec, attach and port-forward URLs point to (port 0: a free port; \"\" disables them)")
	f.StringVar(&cfg.CNIConfDir, "cni-conf-dir", "/etc/cni/net.d", "CNI network configurations for CRI sandboxes: the first valid *.conflist, *.conf or *.json by name is used, read again for each sandbox; with none, sandboxes get drover's own bridge network (\"\" turns CNI off)")
	f.StringVar(&cniBinDir, "cni-bin-dir", strings.Join(daemon.DefaultCNIBinDirs, ":"), "directories searched for CNI plugins, separated by ':'")
	return cmd
}

const defaultExecRoot = "/run/drover"
