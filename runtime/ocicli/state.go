package ocicli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime"
)

// containerState is what `state` and `list --format json` print: the runtime spec's state
// with runc's additions (rootfs, created, owner).
type containerState struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func describe(root string, st runtime.State) containerState {
	return containerState{Version: specs.Version, ID: st.ID, Pid: st.Pid, Status: string(st.Status),
		Bundle: st.Bundle, Rootfs: st.Rootfs, Created: st.Created.UTC(), Annotations: st.Annotations,
		Owner: owner(filepath.Join(root, st.ID))}
}

// owner names the user who owns a container's state directory.
func owner(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "#" + uid
}

func stateCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	return &cobra.Command{Use: "state ID", Short: "Print a container's state as JSON", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, a []string) error {
			st, err := rt().State(ctx, a[0])
			if err != nil {
				return err
			}
			root, _ := c.Flags().GetString("root")
			return printJSON(describe(root, st))
		}}
}

func listCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "List containers", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: use table or json: %w", format, errdefs.ErrInvalidArgument)
			}
			ids, err := rt().List(ctx)
			if err != nil {
				return err
			}
			root, _ := c.Flags().GetString("root")
			states := []containerState{}
			for _, id := range ids {
				st, err := rt().State(ctx, id)
				if err != nil {
					continue // removed meanwhile
				}
				states = append(states, describe(root, st))
			}
			switch {
			case quiet:
				for _, s := range states {
					fmt.Println(s.ID)
				}
				return nil
			case format == "json":
				return printJSON(states)
			}
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		}}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the ids")
	return cmd
}

// psCommand lists the container's processes: pids as JSON, or the lines of ps(1) (given
// the options after the id, -ef by default) that belong to the container.
func psCommand(ctx context.Context, rt func() Runtime) *cobra.Command {
	var format string
	cmd := &cobra.Command{Use: "ps ID [ps OPTIONS]", Short: "List a container's processes", Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, a []string) error {
			pids, err := rt().Pids(ctx, a[0])
			if err != nil {
				return err
			}
			switch format {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				return printJSON(pids)
			case "table":
			default:
				return fmt.Errorf("--format %q: use table or json: %w", format, errdefs.ErrInvalidArgument)
			}
			psArgs := a[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
			}
			return filterPs(out, pids)
		}}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// filterPs prints ps's header and the lines whose PID column holds one of pids.
func filterPs(out []byte, pids []int) error {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps output has no PID column: give ps options that print it: %w", errdefs.ErrInvalidArgument)
	}
	want := map[string]bool{}
	for _, p := range pids {
		want[strconv.Itoa(p)] = true
	}
	var buf bytes.Buffer
	buf.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col && want[f[col]] {
			buf.WriteString(l + "\n")
		}
	}
	_, err := os.Stdout.Write(buf.Bytes())
	return err
}
