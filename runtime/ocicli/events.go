package ocicli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/opencontainers/runc/types"
	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime"
)

// eventsCommand prints a container's events as JSON lines, as runc does: its stats every
// --interval, "oom" when it hits its memory limit; with --stats, one stats event.
func eventsCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	var stats bool
	var interval time.Duration
	cmd := &cobra.Command{Use: "events ID", Short: "Print a container's stats and OOM events as JSON", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			id := a[0]
			if interval <= 0 {
				return fmt.Errorf("--interval %s: give a positive duration: %w", interval, errdefs.ErrInvalidArgument)
			}
			st, err := rt().State(ctx, id)
			if err != nil {
				return err
			}
			if st.Status == runtime.StatusStopped {
				return fmt.Errorf("container %s is stopped: it has no events: %w", id, errdefs.ErrConflict)
			}
			enc := json.NewEncoder(os.Stdout)
			emitStats := func() error {
				s, err := rt().Stats(ctx, id)
				if err != nil {
					return err
				}
				return enc.Encode(types.Event{Type: "stats", ID: id, Data: s})
			}
			if stats {
				return emitStats()
			}
			oom, err := rt().NotifyOOM(ctx, id)
			if err != nil {
				oom = nil // no memory cgroup to watch: stats only
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case _, ok := <-oom:
					if !ok {
						oom = nil
						continue
					}
					if err := enc.Encode(types.Event{Type: "oom", ID: id}); err != nil {
						return err
					}
				case <-tick.C:
					if st, err := rt().State(ctx, id); err != nil || st.Status == runtime.StatusStopped {
						return nil
					}
					if err := emitStats(); err != nil {
						return err
					}
				}
			}
		}}
	cmd.Flags().BoolVar(&stats, "stats", false, "print the container's stats once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "time between stats events")
	return cmd
}
