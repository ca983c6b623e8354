package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/drover/drover/registry"
)

// registryCommand is "drover registry": an OCI distribution server over a store of its
// own, without the daemon.
func registryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Serve images over the OCI distribution API",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(registryServeCommand(), registryGCCommand())
	return cmd
}

type registryServeFlags struct {
	addr, root, tlsCert, tlsKey, auth, access string
	anonymousPull                             bool
	maxBlobSize                               string
	gcInterval, gcGrace                       time.Duration
}

func registryServeCommand() *cobra.Command {
	var f registryServeFlags
	cmd := &cobra.Command{
		Use:   "serve [OPTIONS]",
		Short: "Run an OCI registry (distribution spec v1.1) on a store under --root",
		Long: `Run an OCI registry (distribution spec v1.1): push and pull with any client (drover,
podman, skopeo, docker). Blobs are verified and committed atomically; uploads in progress
are never visible. Without --auth anyone who reaches the address may push and pull.`,
		Example: `  drover registry serve --addr 127.0.0.1:5000 --root /var/lib/drover-registry
  drover registry serve --addr :5443 --root /srv/reg --tls-cert reg.crt --tls-key reg.key \
      --auth htpasswd=/etc/drover/htpasswd --anonymous-pull`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serveRegistry(f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:5000", "address to listen on (host:port)")
	fl.StringVar(&f.root, "root", "/var/lib/drover-registry", "directory of the registry's blobs and metadata")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (needs --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&f.auth, "auth", "", "require credentials: htpasswd=FILE (basic auth; bcrypt entries, htpasswd -B) or token=FILE (the Docker token flow, drover being its own token server at /token, users from the htpasswd FILE)")
	fl.StringVar(&f.access, "access", "", "access rules file: lines of USER REPOSITORY-PATTERN pull|push (needs --auth)")
	fl.BoolVar(&f.anonymousPull, "anonymous-pull", false, "let requests without credentials pull (with --auth)")
	fl.StringVar(&f.maxBlobSize, "max-blob-size", "", "refuse blobs larger than this (e.g. 10GiB; default: no limit)")
	fl.DurationVar(&f.gcInterval, "gc-interval", 0, "collect unreferenced blobs this often (0: never; see drover registry gc)")
	fl.DurationVar(&f.gcGrace, "gc-grace", registry.DefaultGCGrace, "keep unreferenced blobs uploaded or mounted less than this long ago (pushes in progress)")
	return cmd
}

func registryOptions(f registryServeFlags) (registry.Options, error) {
	var opts registry.Options
	if f.auth != "" {
		kind, file, ok := strings.Cut(f.auth, "=")
		if !ok || file == "" || (kind != "htpasswd" && kind != "token") {
			return opts, fmt.Errorf("--auth %q: want htpasswd=FILE (basic auth) or token=FILE (the Docker token flow, users from the htpasswd FILE)", f.auth)
		}
		a, err := registry.LoadHtpasswd(file)
		if err != nil {
			return opts, err
		}
		if kind == "token" {
			a.EnableTokens()
		}
		a.AnonymousPull = f.anonymousPull
		if f.access != "" {
			if err := a.LoadRules(f.access); err != nil {
				return opts, err
			}
		}
		opts.Auth = a
	} else if f.access != "" || f.anonymousPull {
		return opts, errors.New("--access and --anonymous-pull need --auth htpasswd=FILE (without --auth everyone may push and pull)")
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return opts, errors.New("--tls-cert and --tls-key go together")
	}
	if f.maxBlobSize != "" {
		n, err := units.RAMInBytes(f.maxBlobSize)
		if err != nil || n <= 0 {
			return opts, fmt.Errorf("--max-blob-size %q: want a size such as 10GiB", f.maxBlobSize)
		}
		opts.MaxBlobSize = n
	}
	return opts, nil
}

func serveRegistry(f registryServeFlags) error {
	opts, err := registryOptions(f)
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "", log.LstdFlags)
	opts.Logf = logger.Printf
	reg, err := registry.Open(f.root, opts)
	if err != nil {
		return err
	}
	defer reg.Close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	srv := &http.Server{Handler: reg, ReadHeaderTimeout: 30 * time.Second, ErrorLog: logger}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if f.gcInterval > 0 {
		go func() {
			t := time.NewTicker(f.gcInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if res, err := reg.GC(f.gcGrace); err != nil {
					logger.Printf("registry gc: %v", err)
				} else if res.Blobs > 0 {
					logger.Printf("registry gc: removed %d blobs, %s", res.Blobs, units.HumanSize(float64(res.Bytes)))
				}
			}
		}()
	}
	errc := make(chan error, 1)
	scheme := "http"
	go func() {
		if f.tlsCert != "" {
			errc <- srv.ServeTLS(ln, f.tlsCert, f.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if f.tlsCert != "" {
		scheme = "https"
	}
	root, _ := filepath.Abs(f.root)
	logger.Printf("registry listening on %s://%s (root %s)", scheme, ln.Addr(), root)
	select {
	case err := <-errc:
		return fmt.Errorf("registry: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func registryGCCommand() *cobra.Command {
	var root string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc [OPTIONS]",
		Short: "Remove blobs no manifest of the registry references",
		Long: `Remove blobs no manifest of the registry references. Blobs uploaded or mounted less than
--grace ago are kept (their manifest may still come). The registry must not be serving
--root meanwhile (use drover registry serve --gc-interval for a running one).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := registry.Open(root, registry.Options{})
			if err != nil {
				return err
			}
			defer reg.Close()
			res, err := reg.GC(grace)
			if err != nil {
				return err
			}
			fmt.Printf("Removed %d blobs, %s\n", res.Blobs, units.HumanSize(float64(res.Bytes)))
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", "/var/lib/drover-registry", "directory of the registry's blobs and metadata")
	cmd.Flags().DurationVar(&grace, "grace", registry.DefaultGCGrace, "keep unreferenced blobs uploaded or mounted less than this long ago")
	return cmd
}
