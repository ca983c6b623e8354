package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
)

type statsRow struct {
	ID, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

const statsTable = `{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}`

var statsHeader = []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}

// statsRowOf computes percentages from two samples of one container.
func statsRowOf(prev, cur api.Stats) statsRow {
	cpu := 0.0
	if dSys := float64(cur.SystemNs - prev.SystemNs); dSys > 0 && cur.CPUUsageNs >= prev.CPUUsageNs {
		cpu = float64(cur.CPUUsageNs-prev.CPUUsageNs) / dSys * float64(cur.OnlineCPUs) * 100
	}
	limit := cur.MemoryLimit
	if limit == 0 || limit > 1<<60 {
		limit = hostMemory()
	}
	memPerc := 0.0
	if limit > 0 {
		memPerc = float64(cur.MemoryUsage) / float64(limit) * 100
	}
	var rx, tx uint64
	for _, n := range cur.Networks {
		rx, tx = rx+n.RxBytes, tx+n.TxBytes
	}
	return statsRow{
		ID: shortID(cur.ID), Name: cur.Name, CPUPerc: fmt.Sprintf("%.2f%%", cpu),
		MemUsage: units.BytesSize(float64(cur.MemoryUsage)) + " / " + units.BytesSize(float64(limit)),
		MemPerc:  fmt.Sprintf("%.2f%%", memPerc),
		NetIO:    ioPair(rx, tx), BlockIO: ioPair(cur.BlockRead, cur.BlockWrite), PIDs: fmt.Sprint(cur.Pids),
	}
}

// ioPair is "IN / OUT" in decimal units, as docker stats prints them.
func ioPair(in, out uint64) string {
	return units.HumanSizeWithPrecision(float64(in), 3) + " / " + units.HumanSizeWithPrecision(float64(out), 3)
}

func hostMemory() uint64 {
	var total uint64
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		fmt.Sscanf(string(data), "MemTotal: %d kB", &total)
	}
	return total * 1024
}

func statsCommand() *cobra.Command {
	var noStream bool
	var format string
	cmd := &cobra.Command{
		Use:               "stats [OPTIONS] [CONTAINER...]",
		Short:             "Display a live stream of container resource usage",
		ValidArgsFunction: completeContainers,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c := clientFor()
			names := args
			if len(names) == 0 {
				list, err := c.ContainerList(ctx, client.ListOptions{})
				if err != nil {
					return exitCode(1, err.Error())
				}
				for _, ct := range list {
					names = append(names, ct.ID)
				}
			}
			prev := sample(ctx, c, names)
			for {
				time.Sleep(500 * time.Millisecond)
				cur := sample(ctx, c, names)
				var rows []any
				for _, n := range names {
					if s, ok := cur[n]; ok {
						rows = append(rows, statsRowOf(prev[n], s))
					}
				}
				if !noStream {
					fmt.Print("\033[2J\033[H")
				}
				if err := render(os.Stdout, format, statsHeader, statsTable, rows); err != nil {
					return err
				}
				if noStream {
					return nil
				}
				prev = cur
			}
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	cmd.Flags().StringVar(&format, "format", "", "table, json, or a Go template")
	return cmd
}

func sample(ctx context.Context, c *client.Client, names []string) map[string]api.Stats {
	out := map[string]api.Stats{}
	for _, n := range names {
		if s, err := c.ContainerStats(ctx, n); err == nil {
			out[n] = s
		}
	}
	return out
}
