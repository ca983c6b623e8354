package ocicli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/signals"
	"github.com/drover/drover/runtime"
)

func killCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	var all bool
	cmd := &cobra.Command{Use: "kill ID [SIGNAL]", Short: "Send a signal (default SIGTERM) to a container", Args: cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, a []string) error {
			sig := syscall.SIGTERM
			if len(a) == 2 {
				s, err := signals.Parse(a[1])
				if err != nil {
					return err
				}
				sig = s
			}
			return rt().Kill(ctx, a[0], sig, all)
		}}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every process of the container")
	return cmd
}

func deleteCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	var force bool
	cmd := &cobra.Command{Use: "delete ID", Aliases: []string{"rm"}, Short: "Remove a stopped (or, with --force, any) container", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			if _, err := rt().State(ctx, a[0]); err != nil {
				if errors.Is(err, errdefs.ErrNotFound) && force {
					return nil
				}
				return err
			}
			return rt().Delete(ctx, a[0], force)
		}}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it runs")
	return cmd
}

func pauseCommand(ctx context.Context, rt func() Runtime, resume bool) *cobra.Command {
	use, short := "pause ID", "Freeze every process of a container"
	if resume {
		use, short = "resume ID", "Thaw a paused container"
	}
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1), RunE: func(_ *cobra.Command, a []string) error {
		if resume {
			return rt().Resume(ctx, a[0])
		}
		return rt().Pause(ctx, a[0])
	}}
}

// updateFlags are runc update's resource options; each changes only when given.
type updateFlags struct {
	resources                             string
	memory, memoryReservation, memorySwap string
	cpuShares, cpuPeriod, cpuRtPeriod     uint64
	cpuQuota, cpuRtRuntime, pidsLimit     int64
	cpusetCpus, cpusetMems                string
	blkioWeight                           uint16
	kernelMemory, kernelMemoryTCP         string
}

func updateCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	var u updateFlags
	cmd := &cobra.Command{Use: "update ID", Short: "Change a container's resource limits", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, a []string) error {
			res, err := u.build(c)
			if err != nil {
				return err
			}
			st, err := rt().State(ctx, a[0])
			if err != nil {
				return err
			}
			if st.Status == runtime.StatusStopped {
				return fmt.Errorf("container %s is stopped: nothing to update: %w", a[0], errdefs.ErrConflict)
			}
			return rt().Update(ctx, a[0], res)
		}}
	f := cmd.Flags()
	f.StringVarP(&u.resources, "resources", "r", "", "JSON file of linux.resources to apply (- for stdin)")
	f.StringVarP(&u.memory, "memory", "m", "", "memory limit, e.g. 512m")
	f.StringVar(&u.memoryReservation, "memory-reservation", "", "memory soft limit")
	f.StringVar(&u.memorySwap, "memory-swap", "", "memory plus swap limit (-1: unlimited)")
	f.StringVar(&u.kernelMemory, "kernel-memory", "", "refused: kernel memory limits are gone from the kernel")
	f.StringVar(&u.kernelMemoryTCP, "kernel-memory-tcp", "", "refused: kernel memory limits are gone from the kernel")
	f.Uint64Var(&u.cpuShares, "cpu-share", 0, "CPU shares (relative weight)")
	f.Uint64Var(&u.cpuPeriod, "cpu-period", 0, "CFS period in microseconds")
	f.Int64Var(&u.cpuQuota, "cpu-quota", 0, "CFS quota in microseconds per period (-1: none)")
	f.Uint64Var(&u.cpuRtPeriod, "cpu-rt-period", 0, "realtime period in microseconds")
	f.Int64Var(&u.cpuRtRuntime, "cpu-rt-runtime", 0, "realtime runtime in microseconds")
	f.StringVar(&u.cpusetCpus, "cpuset-cpus", "", "CPUs to run on, e.g. 0-1")
	f.StringVar(&u.cpusetMems, "cpuset-mems", "", "memory nodes to use")
	f.Int64Var(&u.pidsLimit, "pids-limit", 0, "maximum number of processes (-1: unlimited)")
	f.Uint16Var(&u.blkioWeight, "blkio-weight", 0, "block IO weight, 10 to 1000")
	return cmd
}

// build turns the flags (over the --resources file, as runc orders them) into resources.
func (u *updateFlags) build(c *cobra.Command) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{}
	if u.resources != "" {
		var r io.Reader = os.Stdin
		if u.resources != "-" {
			f, err := os.Open(u.resources)
			if err != nil {
				return nil, fmt.Errorf("--resources: %w", err)
			}
			defer f.Close()
			r = f
		}
		if err := json.NewDecoder(r).Decode(res); err != nil {
			return nil, fmt.Errorf("--resources: not a linux.resources JSON object: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	changed := c.Flags().Changed
	if changed("kernel-memory") || changed("kernel-memory-tcp") {
		return nil, fmt.Errorf("--kernel-memory and --kernel-memory-tcp are not supported: the kernel no longer limits kernel memory: %w", errdefs.ErrInvalidArgument)
	}
	any := false
	c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) { any = any || f.Changed })
	if !any {
		return nil, fmt.Errorf("update needs a resource flag (see --help) or --resources FILE: %w", errdefs.ErrInvalidArgument)
	}
	mem := func(name, v string, dst **int64) error {
		if !changed(name) {
			return nil
		}
		n := int64(-1)
		if v != "-1" {
			b, err := units.RAMInBytes(v)
			if err != nil {
				return fmt.Errorf("--%s %q: give a size such as 512m: %w", name, v, errdefs.ErrInvalidArgument)
			}
			n = b
		}
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		*dst = &n
		return nil
	}
	if res.Memory == nil {
		res.Memory = &specs.LinuxMemory{}
	}
	for _, m := range []struct {
		name, v string
		dst     **int64
	}{{"memory", u.memory, &res.Memory.Limit}, {"memory-reservation", u.memoryReservation, &res.Memory.Reservation}, {"memory-swap", u.memorySwap, &res.Memory.Swap}} {
		if err := mem(m.name, m.v, m.dst); err != nil {
			return nil, err
		}
	}
	if res.CPU == nil {
		res.CPU = &specs.LinuxCPU{}
	}
	if changed("cpu-share") {
		res.CPU.Shares = &u.cpuShares
	}
	if changed("cpu-period") {
		res.CPU.Period = &u.cpuPeriod
	}
	if changed("cpu-quota") {
		res.CPU.Quota = &u.cpuQuota
	}
	if changed("cpu-rt-period") {
		res.CPU.RealtimePeriod = &u.cpuRtPeriod
	}
	if changed("cpu-rt-runtime") {
		res.CPU.RealtimeRuntime = &u.cpuRtRuntime
	}
	if changed("cpuset-cpus") {
		res.CPU.Cpus = u.cpusetCpus
	}
	if changed("cpuset-mems") {
		res.CPU.Mems = u.cpusetMems
	}
	if changed("pids-limit") {
		res.Pids = &specs.LinuxPids{Limit: &u.pidsLimit}
	}
	if changed("blkio-weight") {
		if u.blkioWeight < 10 || u.blkioWeight > 1000 {
			return nil, fmt.Errorf("--blkio-weight %d: use 10 to 1000: %w", u.blkioWeight, errdefs.ErrInvalidArgument)
		}
		res.BlockIO = &specs.LinuxBlockIO{Weight: &u.blkioWeight}
	}
	return res, nil
}
