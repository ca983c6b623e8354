package dockerapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/jsonlog"
)

func (s *Server) containerRoutes() {
	s.handle("POST /containers/create", s.handleCreate)
	s.handle("GET /containers/json", s.handleList)
	s.handle("POST /containers/prune", s.handlePrune)
	s.handle("GET /containers/{id}/json", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		in := toInspect(c, s.execs.live(c.ID))
		if boolQuery(r, "size") { // docker inspect -s: the writable layer and the whole root filesystem
			du, err := s.engine.DiskUsage(r.Context())
			if err != nil {
				return err
			}
			var rw, img int64
			for _, dc := range du.Containers {
				if dc.ID == c.ID {
					rw = dc.SizeRw
				}
			}
			for _, di := range du.Images {
				if di.ID == c.Image {
					img = di.Size
				}
			}
			root := rw + img
			in.SizeRw, in.SizeRootFs = &rw, &root
		}
		if versionLess(requestVersion(r), "1.52") {
			writeJSON(w, http.StatusOK, toLegacyInspect(c, in))
			return nil
		}
		writeJSON(w, http.StatusOK, in)
		return nil
	}))
	s.handle("POST /containers/{id}/start", s.withContainer(s.handleStart))
	s.handle("POST /containers/{id}/stop", s.withContainer(s.handleStop))
	s.handle("POST /containers/{id}/restart", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		t, err := timeoutQuery(r)
		if err != nil {
			return err
		}
		return noContent(w, s.engine.RestartContainer(context.WithoutCancel(r.Context()), c.ID, t))
	}))
	s.handle("POST /containers/{id}/kill", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		sig := r.URL.Query().Get("signal")
		if sig == "" {
			sig = "SIGKILL"
		}
		if !c.State.Running {
			return fmt.Errorf("cannot kill container: %s: container %s is not running: %w", c.Name, c.ID, errdefs.ErrConflict)
		}
		// As Docker, a SIGKILL answers once the container is gone, so the next command
		// sees it stopped.
		var stopped func(context.Context) (api.WaitResponse, error)
		if n := strings.TrimPrefix(strings.ToUpper(sig), "SIG"); n == "KILL" || n == "9" {
			stopped, _ = s.engine.WatchContainer(r.Context(), c.ID, "not-running")
		}
		if err := s.engine.KillContainer(r.Context(), c.ID, sig); err != nil {
			return err
		}
		if stopped != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			_, _ = stopped(ctx)
			cancel()
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	s.handle("POST /containers/{id}/pause", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		return noContent(w, s.engine.PauseContainer(r.Context(), c.ID))
	}))
	s.handle("POST /containers/{id}/unpause", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		return noContent(w, s.engine.UnpauseContainer(r.Context(), c.ID))
	}))
	s.handle("POST /containers/{id}/wait", s.withContainer(s.handleWait))
	s.handle("DELETE /containers/{id}", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		if boolQuery(r, "link") {
			return fmt.Errorf("links are not supported: %w", errdefs.ErrInvalidArgument)
		}
		if c.State.Running && !boolQuery(r, "force") {
			return fmt.Errorf("cannot remove container %q: container is running: stop the container before removing or force remove: %w", "/"+c.Name, errdefs.ErrConflict)
		}
		err := s.engine.RemoveContainer(context.WithoutCancel(r.Context()), c.ID, boolQuery(r, "force"), boolQuery(r, "v"))
		return noContent(w, notFound(err, "container", r.PathValue("id")))
	}))
	s.handle("POST /containers/{id}/rename", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		return noContent(w, s.engine.RenameContainer(r.Context(), c.ID, r.URL.Query().Get("name")))
	}))
	s.handle("POST /containers/{id}/resize", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		width, height, err := sizeQuery(r)
		if err != nil {
			return err
		}
		if !c.State.Running {
			return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
		}
		return noContent(w, s.engine.ResizeContainer(r.Context(), c.ID, width, height))
	}))
	s.handle("GET /containers/{id}/logs", s.withContainer(s.handleLogs))
	s.handle("GET /containers/{id}/top", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		if !c.State.Running {
			return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
		}
		res, err := s.engine.Top(r.Context(), c.ID, strings.Fields(r.URL.Query().Get("ps_args")))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, container.TopResponse{Titles: res.Titles, Processes: res.Processes})
		return nil
	}))
	s.handle("GET /containers/{id}/stats", s.withContainer(s.handleStats))
	s.handle("GET /containers/{id}/archive", s.withContainer(s.handleArchiveGet))
	s.handle("HEAD /containers/{id}/archive", s.withContainer(s.handleArchiveHead))
	s.handle("PUT /containers/{id}/archive", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		p := r.URL.Query().Get("path")
		if p == "" {
			return fmt.Errorf("path is required: %w", errdefs.ErrInvalidArgument)
		}
		if err := s.engine.ArchivePut(r.Context(), c.ID, p, r.Body); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK) // Docker answers 200 here, and its CLI wants exactly that
		return nil
	}))
	s.handle("POST /containers/{id}/attach", s.withContainer(s.handleAttach))
	s.handle("GET /containers/{id}/attach/ws", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("attach over websocket is not supported: use POST /containers/{id}/attach: %w", errNotImplemented)
	})
	s.handle("POST /containers/{id}/update", s.withContainer(s.handleUpdate))
	s.handle("GET /containers/{id}/export", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		// The root filesystem as a tar (binds and volumes are not in it, as in Docker).
		w.Header().Set("Content-Type", "application/x-tar")
		started := false
		if err := s.engine.ArchiveGet(r.Context(), c.ID, "/", &lazyWriter{w: w, started: &started}); err != nil && !started {
			return err
		}
		return nil
	}))
	s.handle("GET /containers/{id}/changes", s.withContainer(func(w http.ResponseWriter, r *http.Request, c api.Container) error {
		changes, err := s.engine.ContainerChanges(r.Context(), c.ID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, changes)
		return nil
	}))
	s.handle("POST /commit", s.handleCommit)
}

// withContainer resolves the {id} of the path first, so an unknown container is a 404
// in Docker's words whatever the operation.
func (s *Server) withContainer(h func(http.ResponseWriter, *http.Request, api.Container) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ref := r.PathValue("id")
		c, err := s.engine.InspectContainer(r.Context(), ref)
		if err != nil {
			return notFound(err, "container", ref)
		}
		return h(w, r, c)
	}
}

func timeoutQuery(r *http.Request) (*time.Duration, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		v = r.URL.Query().Get("timeout")
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, fmt.Errorf("invalid timeout %q: give whole seconds: %w", v, errdefs.ErrInvalidArgument)
	}
	t := time.Duration(n) * time.Second
	return &t, nil
}

func sizeQuery(r *http.Request) (uint16, uint16, error) {
	q := r.URL.Query()
	h, err1 := strconv.ParseUint(q.Get("h"), 10, 16)
	w, err2 := strconv.ParseUint(q.Get("w"), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("invalid terminal size h=%q w=%q: give whole numbers: %w", q.Get("h"), q.Get("w"), errdefs.ErrInvalidArgument)
	}
	return uint16(w), uint16(h), nil
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return err
	}
	var req container.CreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return fmt.Errorf("invalid JSON in request body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	// Before API 1.44 a --mac-address came in Config.MacAddress, a field the current
	// types no longer have.
	var legacy struct{ MacAddress string }
	_ = json.Unmarshal(body, &legacy)
	if p := r.URL.Query().Get("platform"); p != "" && !strings.HasPrefix(p, "linux") {
		return fmt.Errorf("platform %q is not supported: drover runs linux containers: %w", p, errdefs.ErrInvalidArgument)
	}
	cfg, err := toCreateConfig(r.URL.Query().Get("name"), req)
	if err != nil {
		return err
	}
	if legacy.MacAddress != "" {
		if cfg.Networks == nil {
			cfg.Networks = map[string]api.EndpointConfig{}
		}
		ep := cfg.Networks[cfg.Host.NetworkMode]
		if ep.MacAddress == "" {
			ep.MacAddress = legacy.MacAddress
		}
		cfg.Networks[cfg.Host.NetworkMode] = ep
	}
	// A missing image is a 404 "No such image", on which the docker CLI pulls and retries.
	if _, err := s.engine.InspectImage(r.Context(), cfg.Image); err != nil {
		return notFound(err, "image", cfg.Image)
	}
	id, err := s.engine.CreateContainer(r.Context(), cfg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, container.CreateResponse{ID: id, Warnings: []string{}})
	return nil
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	if err := f.validate("id", "name", "label", "status", "exited", "ancestor", "network", "health", "volume", "before", "since", "is-task"); err != nil {
		return err
	}
	all, err := s.engine.ListContainers(r.Context())
	if err != nil {
		return err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	showAll := boolQuery(r, "all") || len(f["status"]) > 0 || len(f["exited"]) > 0
	var before, since time.Time
	for _, ref := range f["before"] {
		if c, err := s.engine.InspectContainer(r.Context(), ref); err == nil {
			before = c.Created
		}
	}
	for _, ref := range f["since"] {
		if c, err := s.engine.InspectContainer(r.Context(), ref); err == nil {
			since = c.Created
		}
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	// size=1: the writable layer's size and, with the image's, the whole root filesystem's.
	var sizeRw, imageSize map[string]int64
	if boolQuery(r, "size") {
		du, err := s.engine.DiskUsage(r.Context())
		if err != nil {
			return err
		}
		sizeRw, imageSize = map[string]int64{}, map[string]int64{}
		for _, c := range du.Containers {
			sizeRw[c.ID] = c.SizeRw
		}
		for _, i := range du.Images {
			imageSize[i.ID] = i.Size
		}
	}
	out := []container.Summary{}
	for _, c := range all {
		if !showAll && !c.State.Running && c.State.Status != api.StatusRestarting {
			continue
		}
		if !before.IsZero() && !c.Created.Before(before) || !since.IsZero() && !c.Created.After(since) {
			continue
		}
		if !s.matchContainer(r.Context(), f, c) {
			continue
		}
		sum := toSummary(c)
		if sizeRw != nil {
			sum.SizeRw, sum.SizeRootFs = sizeRw[c.ID], sizeRw[c.ID]+imageSize[c.Image]
		}
		out = append(out, sum)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) matchContainer(ctx context.Context, f filters, c api.Container) bool {
	return f.match("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		f.match("name", func(v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) }) &&
		f.match("status", func(v string) bool { return c.State.Status == v }) &&
		f.match("exited", func(v string) bool {
			n, err := strconv.Atoi(v)
			return err == nil && c.State.Status == api.StatusExited && c.State.ExitCode == n
		}) &&
		f.matchLabels(c.Config.Labels) &&
		f.match("network", func(v string) bool {
			for _, n := range networkNames(c.Config) {
				if n == v {
					return true
				}
			}
			for n, ep := range c.NetworkSettings.Networks {
				if n == v || strings.HasPrefix(ep.NetworkID, v) {
					return true
				}
			}
			return false
		}) &&
		f.match("health", func(v string) bool {
			if c.State.Health == nil {
				return v == "none"
			}
			return c.State.Health.Status == v
		}) &&
		f.match("volume", func(v string) bool {
			for _, m := range c.Mounts {
				if m.Name == v || m.Destination == v {
					return true
				}
			}
			return false
		}) &&
		f.match("is-task", func(v string) bool { return v == "false" }) &&
		f.match("ancestor", func(v string) bool {
			if c.ImageName == v || strings.HasPrefix(strings.TrimPrefix(c.Image, "sha256:"), strings.TrimPrefix(v, "sha256:")) {
				return true
			}
			img, err := s.engine.InspectImage(ctx, v)
			return err == nil && img.ID == c.Image
		})
}

func (s *Server) handleStart(w http.ResponseWriter, r *http.Request, c api.Container) error {
	if cp := r.URL.Query().Get("checkpoint"); cp != "" {
		return fmt.Errorf("checkpoints are not supported: %w", errdefs.ErrInvalidArgument)
	}
	if c.State.Running {
		return errNotModified
	}
	ctx := context.WithoutCancel(r.Context())
	// A container that would remove itself on exit goes when it cannot start, as Docker
	// does: the CLI's run --rm waits for that removal.
	failed := func(err error) error {
		if c.Config.Host.AutoRemove {
			if rerr := s.engine.RemoveContainer(ctx, c.ID, true, true); rerr != nil && !errors.Is(rerr, errdefs.ErrNotFound) {
				s.opts.Logger.Warn("docker api: remove container after a failed start", "container", c.ID, "err", rerr)
			}
		}
		return err
	}
	if p := s.takePending(c.ID); p != nil {
		st, err := s.engine.StartAttached(ctx, c.ID, p.stdin)
		if err != nil {
			p.give(nil, err)
			return failed(err)
		}
		p.give(st, nil)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	started, err := s.engine.StartContainer(ctx, c.ID)
	if err != nil {
		return failed(err)
	}
	if !started {
		return errNotModified
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleStop(w http.ResponseWriter, r *http.Request, c api.Container) error {
	t, err := timeoutQuery(r)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return errNotModified
	}
	return noContent(w, s.engine.StopContainer(r.Context(), c.ID, t, r.URL.Query().Get("signal")))
}

// handleWait answers the headers at once, then the result when the condition holds: the
// docker CLI sends wait before start and waits for those headers first.
func (s *Server) handleWait(w http.ResponseWriter, r *http.Request, c api.Container) error {
	cond := r.URL.Query().Get("condition")
	switch cond {
	case "", "not-running", "next-exit", "removed":
	default:
		return fmt.Errorf("invalid condition %q: use not-running, next-exit or removed: %w", cond, errdefs.ErrInvalidArgument)
	}
	wait, err := s.engine.WatchContainer(r.Context(), c.ID, cond)
	if err != nil {
		return notFound(err, "container", r.PathValue("id"))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	res, err := wait(r.Context())
	out := container.WaitResponse{StatusCode: int64(res.StatusCode)}
	if err != nil {
		out.Error = &container.WaitExitError{Message: err.Error()}
	} else if res.Error != "" {
		out.Error = &container.WaitExitError{Message: res.Error}
	}
	return json.NewEncoder(w).Encode(out)
}

func (s *Server) handlePrune(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	pf, err := f.prune()
	if err != nil {
		return err
	}
	res, err := s.engine.PruneContainers(r.Context(), pf)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, container.PruneReport{ContainersDeleted: append([]string{}, res.Deleted...), SpaceReclaimed: uint64(res.SpaceReclaimed)})
	return nil
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request, c api.Container) error {
	q := r.URL.Query()
	stdout, stderr := boolQuery(r, "stdout"), boolQuery(r, "stderr")
	if !stdout && !stderr {
		return fmt.Errorf("Bad parameters: you must choose at least one stream: %w", errdefs.ErrInvalidArgument)
	}
	opts := jsonlog.ReadOptions{Tail: -1, Follow: boolQuery(r, "follow")}
	if t := q.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return fmt.Errorf("invalid tail %q: give a number of lines or all: %w", t, errdefs.ErrInvalidArgument)
		}
		if n >= 0 {
			opts.Tail = n
		}
	}
	now := time.Now()
	var err error
	if v := q.Get("since"); v != "" && v != "0" {
		if opts.Since, err = api.ParseTime(v, now); err != nil {
			return err
		}
	}
	if v := q.Get("until"); v != "" && v != "0" {
		if opts.Until, err = api.ParseTime(v, now); err != nil {
			return err
		}
	}
	timestamps := boolQuery(r, "timestamps")
	tty := c.Config.Tty
	if tty {
		w.Header().Set("Content-Type", "application/vnd.docker.raw-stream")
	} else {
		w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
	}
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	out := newMuxWriter(w, tty)
	err = s.engine.ContainerLogs(r.Context(), c.ID, opts, func(m jsonlog.Message) error {
		isErr := m.Stream == "stderr"
		if isErr && !stderr || !isErr && !stdout {
			return nil
		}
		line := m.Line
		if timestamps {
			line = append([]byte(m.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")+" "), line...)
		}
		if err := out.write(isErr, line); err != nil {
			return err
		}
		if fl != nil && opts.Follow {
			fl.Flush()
		}
		return nil
	})
	if err != nil && r.Context().Err() == nil {
		s.opts.Logger.Warn("docker api: read logs", "container", c.ID, "err", err)
	}
	return nil
}

// muxWriter writes Docker's multiplexed stream (an 8-byte header per frame: stream 1 or 2,
// three zero bytes, big-endian length) or, for a TTY, the raw bytes.
type muxWriter struct {
	w   io.Writer
	raw bool
}

func newMuxWriter(w io.Writer, raw bool) *muxWriter { return &muxWriter{w: w, raw: raw} }

func (m *muxWriter) write(isErr bool, p []byte) error {
	if m.raw {
		_, err := m.w.Write(p)
		return err
	}
	for len(p) > 0 {
		n := len(p)
		if n > 1<<20 {
			n = 1 << 20
		}
		var hdr [8]byte
		hdr[0] = 1
		if isErr {
			hdr[0] = 2
		}
		hdr[4], hdr[5], hdr[6], hdr[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		if _, err := m.w.Write(append(hdr[:], p[:n]...)); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request, c api.Container) error {
	stream := r.URL.Query().Get("stream") != "0" && r.URL.Query().Get("stream") != "false"
	oneShot := boolQuery(r, "one-shot")
	w.Header().Set("Content-Type", "application/json")
	sample := func() container.StatsResponse {
		st, err := s.engine.Stats(r.Context(), c.ID)
		if err != nil {
			// A stopped container has empty stats, as Docker answers.
			return container.StatsResponse{ID: c.ID, Name: "/" + c.Name, OSType: "linux", Read: time.Now()}
		}
		if total := hostMemory(); st.MemoryLimit == 0 || st.MemoryLimit > total {
			st.MemoryLimit = total // no limit: the host's memory, as Docker reports
		}
		nets := map[string]container.NetworkStats{}
		for name, n := range st.Networks {
			nets[name] = container.NetworkStats{RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
				TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped}
		}
		return container.StatsResponse{
			ID: c.ID, Name: "/" + c.Name, OSType: "linux", Read: st.Read,
			CPUStats:    container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: st.CPUUsageNs}, SystemUsage: st.SystemNs, OnlineCPUs: uint32(st.OnlineCPUs)},
			MemoryStats: container.MemoryStats{Usage: st.MemoryUsage, Limit: st.MemoryLimit, Stats: map[string]uint64{}},
			PidsStats:   container.PidsStats{Current: st.Pids},
			BlkioStats: container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{
				{Op: "read", Value: st.BlockRead}, {Op: "write", Value: st.BlockWrite},
			}},
			Networks: nets,
		}
	}
	prev := sample()
	enc := json.NewEncoder(w)
	if oneShot {
		return enc.Encode(prev)
	}
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
		}
		cur := sample()
		cur.PreCPUStats, cur.PreRead = prev.CPUStats, prev.Read
		if err := enc.Encode(cur); err != nil || !stream {
			return nil
		}
		if fl != nil {
			fl.Flush()
		}
		prev = cur
	}
}

func (s *Server) handleArchiveGet(w http.ResponseWriter, r *http.Request, c api.Container) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		return fmt.Errorf("path is required: %w", errdefs.ErrInvalidArgument)
	}
	if err := s.setPathStat(w, r, c, p); err != nil {
		return err
	}
	started := false
	err := s.engine.ArchiveGet(r.Context(), c.ID, p, &lazyWriter{w: w, started: &started})
	if err != nil && started {
		return nil // the headers are out: the client sees a truncated tar
	}
	return err
}

func (s *Server) handleArchiveHead(w http.ResponseWriter, r *http.Request, c api.Container) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		return fmt.Errorf("path is required: %w", errdefs.ErrInvalidArgument)
	}
	if err := s.setPathStat(w, r, c, p); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// setPathStat answers the X-Docker-Container-Path-Stat header docker cp reads: the stat
// of the path, from the first entry of its tar.
func (s *Server) setPathStat(w http.ResponseWriter, r *http.Request, c api.Container, p string) error {
	fi, link, err := s.engine.PathStat(r.Context(), c.ID, p)
	if err != nil {
		return err
	}
	st := container.PathStat{Name: path.Base(p), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime(), LinkTarget: link}
	data, _ := json.Marshal(st)
	w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(data))
	w.Header().Set("Content-Type", "application/x-tar")
	return nil
}

type lazyWriter struct {
	w       http.ResponseWriter
	started *bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !*l.started {
		*l.started = true
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}

// handleUpdate changes what drover can change on an existing container: its restart
// policy. Resource limits are refused by name (recreate the container to change them).
func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request, c api.Container) error {
	var req container.UpdateConfig
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	probe := container.CreateRequest{Config: &container.Config{}, HostConfig: &container.HostConfig{Resources: req.Resources}}
	if opt := unsupported(probe); opt != "" {
		return fmt.Errorf("updating %s is not supported by drover: recreate the container: %w", opt, errdefs.ErrInvalidArgument)
	}
	res := req.Resources
	switch {
	case res.Memory != 0, res.MemorySwap != 0, res.NanoCPUs != 0, res.CPUShares != 0, res.PidsLimit != nil, len(res.Ulimits) > 0:
		return fmt.Errorf("updating resource limits is not supported by drover: recreate the container with the new limits: %w", errdefs.ErrInvalidArgument)
	}
	if req.RestartPolicy.Name != "" {
		if c.Config.Host.AutoRemove && req.RestartPolicy.Name != "no" {
			return fmt.Errorf("restart policy cannot be updated because AutoRemove is enabled for the container: %w", errdefs.ErrInvalidArgument)
		}
		p := api.RestartPolicy{Name: string(req.RestartPolicy.Name), MaximumRetryCount: req.RestartPolicy.MaximumRetryCount}
		if err := s.engine.SetRestartPolicy(r.Context(), c.ID, p); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, container.UpdateResponse{Warnings: []string{}})
	return nil
}

// handleCommit is docker commit: the query names the container, the image and the
// changes; a config in the body (which the docker CLI leaves empty) is refused.
func (s *Server) handleCommit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ref := q.Get("container")
	if ref == "" {
		return fmt.Errorf("container is required: name the container to commit: %w", errdefs.ErrInvalidArgument)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var cfg container.Config
		if err := json.Unmarshal(body, &cfg); err != nil {
			return fmt.Errorf("commit: the body is not a container config: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		if !reflect.ValueOf(cfg).IsZero() {
			return fmt.Errorf("commit with a container config in the body is not supported: give Dockerfile instructions as changes (docker commit --change): %w", errdefs.ErrInvalidArgument)
		}
	}
	if _, err := s.engine.InspectContainer(r.Context(), ref); err != nil {
		return notFound(err, "container", ref)
	}
	name := ""
	if repo := q.Get("repo"); repo != "" {
		name = joinRef(repo, q.Get("tag"))
	}
	pause := q.Get("pause")
	img, err := s.engine.CommitContainer(r.Context(), ref, api.CommitRequest{
		Ref: name, Author: q.Get("author"), Comment: q.Get("comment"), Changes: q["changes"],
		NoPause: pause == "0" || pause == "false",
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"Id": img.ID})
	return nil
}
