package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
)

// psRow is a ps line with Docker's field names, for tables, JSON and templates.
type psRow struct {
	ID         string
	Names      string
	Image      string
	Command    string
	CreatedAt  string
	RunningFor string
	Status     string
	State      string
	Ports      string
	Labels     string
}

const psTable = `{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}`

var psHeader = []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}

// statusText is Docker's STATUS column.
func statusText(c api.Container) string {
	s := c.State
	switch s.Status {
	case api.StatusRunning, api.StatusPaused:
		out := "Up " + since(s.StartedAt)
		if s.Health != nil {
			out += " (" + s.Health.Status + ")"
		}
		if s.Status == api.StatusPaused {
			out += " (Paused)"
		}
		return out
	case api.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s", s.ExitCode, ago(s.FinishedAt))
	case api.StatusExited:
		return fmt.Sprintf("Exited (%d) %s", s.ExitCode, ago(s.FinishedAt))
	case api.StatusCreated:
		return "Created"
	case api.StatusRemoving:
		return "Removal In Progress"
	case api.StatusDead:
		return "Dead"
	}
	return s.Status
}

func commandText(c api.Container, full bool) string {
	cmd := strings.Join(append([]string{c.Path}, c.Args...), " ")
	if !full {
		cmd = truncate(cmd, 20)
	}
	return `"` + cmd + `"`
}

func toPsRow(c api.Container, full bool) psRow {
	id := c.ID
	if !full {
		id = shortID(id)
	}
	var labels []string
	for k, v := range c.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	return psRow{
		ID: id, Names: strings.TrimPrefix(c.Name, "/"), Image: c.ImageName, Command: commandText(c, full),
		CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: ago(c.Created),
		Status: statusText(c), State: c.State.Status, Labels: strings.Join(labels, ","), Ports: portText(c.NetworkSettings.Ports),
	}
}

func psCommand() *cobra.Command {
	var all, quiet, noTrunc, latest bool
	var last int
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if latest {
				last = 1
			}
			list, err := clientFor().ContainerList(cmd.Context(), client.ListOptions{All: all || last > 0, Filters: filters})
			if err != nil {
				return exitCode(1, err.Error())
			}
			if last > 0 && len(list) > last {
				list = list[:last]
			}
			if quiet {
				for _, c := range list {
					if noTrunc {
						fmt.Println(c.ID)
					} else {
						fmt.Println(shortID(c.ID))
					}
				}
				return nil
			}
			rows := make([]any, len(list))
			for i, c := range list {
				rows[i] = toPsRow(c, noTrunc)
			}
			return render(os.Stdout, format, psHeader, psTable, rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest created container")
	f.IntVarP(&last, "last", "n", 0, "show the n last created containers")
	stringsVar(f, &filters, "filter", "f", "filter output: id, name, label, status, exited, ancestor")
	f.StringVar(&format, "format", "", "table, json, or a Go template")
	return cmd
}
