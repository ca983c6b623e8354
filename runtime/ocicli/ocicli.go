// Package ocicli is "drover runtime": a runc-compatible command line over drover's embedded
// runtime, so engines that drive OCI runtimes (podman --runtime, containerd's runc shim,
// the OCI validation suites, drover's own runtime/oci) can use it. It keeps no state of its
// own: every command loads the container from the runtime's root.
package ocicli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/opencontainers/runc/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime"
)

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/drover-runtime"

// Runtime is what the command line needs of a runtime: runtime.Runtime and the extras of
// runc's command line.
type Runtime interface {
	runtime.Runtime
	CreateWith(ctx context.Context, id, bundle string, io runtime.IO, o runtime.CreateOptions) (runtime.Process, error)
	List(ctx context.Context) ([]string, error)
	Update(ctx context.Context, id string, res *specs.LinuxResources) error
	Stats(ctx context.Context, id string) (*types.Stats, error)
	NotifyOOM(ctx context.Context, id string) (<-chan struct{}, error)
}

// Config is what the global flags choose.
type Config struct {
	Root          string
	SystemdCgroup bool
}

// Hooks are the runtime facts that need no container.
type Hooks struct {
	New         func(Config) Runtime
	ExampleSpec func(rootless bool) *specs.Spec
	Features    func() *features.Features
}

// NewCommand returns the runtime command line named use.
func NewCommand(use string, h Hooks) *cobra.Command {
	var cfg Config
	var logFile, logFormat string
	var debug bool
	var rt Runtime
	cmd := &cobra.Command{
		Use:           use,
		Short:         "Run OCI containers with drover's embedded runtime (runc-compatible command line)",
		Version:       specs.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if err := setupLog(logFile, logFormat, debug); err != nil {
				return err
			}
			if cfg.SystemdCgroup {
				if _, err := os.Stat("/run/systemd/system"); err != nil {
					return fmt.Errorf("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system): leave the flag out to use cgroupfs: %w", errdefs.ErrInvalidArgument)
				}
			}
			rt = h.New(cfg)
			return nil
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&cfg.Root, "root", DefaultRoot, "directory for container state")
	pf.StringVar(&logFile, "log", "", "write warnings and errors (and debug output with --debug) to this file")
	pf.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVar(&cfg.SystemdCgroup, "systemd-cgroup", false, "place containers with systemd's cgroup manager (cgroupsPath is slice:prefix:name)")
	pf.BoolVar(&debug, "debug", false, "log debug output")
	pf.Bool("rootless", false, "accepted for compatibility (drover runs as root)")
	_ = pf.MarkHidden("rootless")
	ctx := context.Background()
	get := func() Runtime { return rt }

	cmd.AddCommand(
		createCommand(ctx, get, false),
		createCommand(ctx, get, true),
		startCommand(ctx, get),
		stateCommand(ctx, get),
		listCommand(ctx, get),
		killCommand(ctx, get),
		deleteCommand(ctx, get),
		pauseCommand(ctx, get, false),
		pauseCommand(ctx, get, true),
		psCommand(ctx, get),
		execCommand(ctx, get),
		eventsCommand(ctx, get),
		updateCommand(ctx, get),
		specCommand(h.ExampleSpec),
		featuresCommand(h.Features),
	)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w (see --help)", c.CommandPath(), err)
	})
	// Errors also go to --log, where callers such as conmon and drover's runtime/oci look.
	for _, c := range cmd.Commands() {
		run := c.RunE
		c.RunE = func(c *cobra.Command, a []string) error {
			err := run(c, a)
			if err != nil && logFile != "" && !IsExit(err) {
				logrus.Error(err)
			}
			return err
		}
	}
	return cmd
}

// setupLog sends logrus (libcontainer's warnings, and ours) where runc sends it: the --log
// file in its format, or stderr.
func setupLog(path, format string, debug bool) error {
	switch format {
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	case "text", "":
		logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true, TimestampFormat: time.RFC3339Nano})
	default:
		return fmt.Errorf("--log-format %q: use text or json: %w", format, errdefs.ErrInvalidArgument)
	}
	logrus.SetLevel(logrus.WarnLevel)
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
	if path == "" {
		logrus.SetOutput(os.Stderr)
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
	if err != nil {
		return fmt.Errorf("--log %s: %w", path, err)
	}
	logrus.SetOutput(f)
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// exitError carries a container process's exit code out of `run` and `exec`, which exit
// with it as runc does.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode is the code the process should exit with for err: the container's own for
// `run` and `exec`, 1 for any other error.
func ExitCode(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

// IsExit reports whether err only carries a container's exit code (nothing to print).
func IsExit(err error) bool {
	var ee exitError
	return errors.As(err, &ee)
}
