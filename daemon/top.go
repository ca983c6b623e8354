package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// handleTop runs the host's ps and keeps the rows of the container's processes, as Docker
// does, so ps options work as users know them.
func (d *Daemon) handleTop(w http.ResponseWriter, r *http.Request, c *container) error {
	if !c.running() {
		return fmt.Errorf("container %s is not running: %w", c.rec.Name, errdefs.ErrConflict)
	}
	if err := noProcess(c); err != nil {
		return err
	}
	rt, err := d.runtimeFor(c.rec.RuntimePath)
	if err != nil {
		return err
	}
	pids, err := rt.Pids(r.Context(), c.rec.ID)
	if err != nil {
		return err
	}
	args := strings.Fields(r.URL.Query().Get("ps_args"))
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	res, err := psTable(r.Context(), args, pids)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func psTable(ctx context.Context, args []string, pids []int) (api.TopResponse, error) {
	var res api.TopResponse
	out, err := exec.CommandContext(ctx, "ps", args...).Output()
	if err != nil {
		return res, fmt.Errorf("ps %s: %v: check the ps options: %w", strings.Join(args, " "), err, errdefs.ErrInvalidArgument)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 {
		return res, nil
	}
	res.Titles = strings.Fields(lines[0])
	pidCol := -1
	for i, t := range res.Titles {
		if t == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return res, fmt.Errorf("ps output has no PID column: add -o pid or use -ef: %w", errdefs.ErrInvalidArgument)
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= pidCol {
			continue
		}
		p, err := strconv.Atoi(fields[pidCol])
		if err != nil || !want[p] {
			continue
		}
		// The last column (the command) may contain spaces.
		n := len(res.Titles)
		if len(fields) > n {
			fields = append(fields[:n-1], strings.Join(fields[n-1:], " "))
		}
		res.Processes = append(res.Processes, fields)
	}
	return res, nil
}
