package daemon

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

func (d *Daemon) handleList(w http.ResponseWriter, r *http.Request) error {
	all := boolQuery(r, "all")
	filters, err := parseFilters(r.URL.Query()["filter"])
	if err != nil {
		return err
	}
	d.mu.Lock()
	list := make([]*container, 0, len(d.containers))
	for _, c := range d.containers {
		list = append(list, c)
	}
	d.mu.Unlock()
	out := []api.Container{}
	for _, c := range list {
		v := c.snapshot()
		if !all && v.State.Status != api.StatusRunning && v.State.Status != api.StatusPaused && v.State.Status != api.StatusRestarting && len(filters) == 0 {
			continue
		}
		if !all && len(filters) > 0 && !filters.has("status") && !filters.has("exited") && !v.State.Running {
			continue
		}
		if !filters.match(d, v) {
			continue
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// filters are docker ps --filter values: the same key ORs, different keys AND.
type filters map[string][]string

var filterKeys = map[string]bool{"id": true, "name": true, "label": true, "status": true, "exited": true, "ancestor": true}

func parseFilters(raw []string) (filters, error) {
	f := filters{}
	for _, kv := range raw {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !filterKeys[k] {
			return nil, fmt.Errorf("invalid filter %q: use key=value with key one of id, name, label, status, exited, ancestor: %w", kv, errdefs.ErrInvalidArgument)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

func (f filters) has(k string) bool { return len(f[k]) > 0 }

func (f filters) match(d *Daemon, c api.Container) bool {
	any := func(key string, ok func(string) bool) bool {
		vals := f[key]
		if len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if ok(v) {
				return true
			}
		}
		return false
	}
	return any("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		any("name", func(v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) }) &&
		any("status", func(v string) bool { return c.State.Status == v }) &&
		any("exited", func(v string) bool {
			n, err := strconv.Atoi(v)
			return err == nil && c.State.Status == api.StatusExited && c.State.ExitCode == n
		}) &&
		any("label", func(v string) bool {
			k, val, hasVal := strings.Cut(v, "=")
			got, ok := c.Config.Labels[k]
			return ok && (!hasVal || got == val)
		}) &&
		any("ancestor", func(v string) bool {
			if c.ImageName == v || strings.HasPrefix(strings.TrimPrefix(c.Image, "sha256:"), strings.TrimPrefix(v, "sha256:")) {
				return true
			}
			img, err := d.images.Get(v)
			return err == nil && img.ID.String() == c.Image
		})
}
