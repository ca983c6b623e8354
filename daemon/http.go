package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/signals"
)

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	v := "/" + api.Version
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+v+path, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				writeError(w, err)
			}
		})
	}
	handle("GET /info", d.handleInfo)
	handle("POST /containers", d.handleCreate)
	handle("GET /containers", d.handleList)
	handle("POST /containers/prune", d.handlePrune)
	handle("GET /containers/{id}", d.withContainer(d.handleInspect))
	handle("POST /containers/{id}/start", d.withContainer(d.handleStart))
	handle("POST /containers/{id}/attach", d.withContainer(d.handleAttach))
	handle("POST /containers/{id}/stop", d.withContainer(d.handleStop))
	handle("POST /containers/{id}/restart", d.withContainer(d.handleRestart))
	handle("POST /containers/{id}/kill", d.withContainer(d.handleKill))
	handle("DELETE /containers/{id}", d.withContainer(d.handleRemove))
	handle("POST /containers/{id}/wait", d.withContainer(d.handleWait))
	handle("GET /containers/{id}/logs", d.withContainer(d.handleLogs))
	handle("POST /containers/{id}/exec", d.withContainer(d.handleExec))
	handle("POST /containers/{id}/resize", d.withContainer(d.handleResize))
	handle("GET /containers/{id}/top", d.withContainer(d.handleTop))
	handle("GET /containers/{id}/stats", d.withContainer(d.handleStats))
	handle("POST /containers/{id}/rename", d.withContainer(d.handleRename))
	handle("POST /containers/{id}/pause", d.withContainer(func(w http.ResponseWriter, r *http.Request, c *container) error {
		return noContent(w, d.pause(r.Context(), c))
	}))
	handle("POST /containers/{id}/unpause", d.withContainer(func(w http.ResponseWriter, r *http.Request, c *container) error {
		return noContent(w, d.unpause(r.Context(), c))
	}))
	handle("POST /containers/{id}/commit", d.withContainer(d.handleCommit))
	handle("GET /containers/{id}/changes", d.withContainer(d.handleChanges))
	handle("GET /containers/{id}/archive", d.withContainer(d.handleArchiveGet))
	handle("PUT /containers/{id}/archive", d.withContainer(d.handleArchivePut))
	d.imageRoutes(handle)
	d.registryRoutes(handle)
	d.systemRoutes(handle)
	d.networkRoutes(handle)
	d.podRoutes(handle)
	d.volumeRoutes(handle)
	d.buildRoutes(handle)
	for _, ext := range d.cfg.Extensions {
		mux.Handle(v+"/"+ext.Name()+"/", ext.Handler())
	}
	if os.Getenv("DROVER_DEBUG") != "" {
		// Profiles for developers, on the root-only API socket:
		// curl --unix-socket SOCK http://d/debug/pprof/profile?seconds=10 > cpu.pprof
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	return mux
}

func (d *Daemon) withContainer(h func(http.ResponseWriter, *http.Request, *container) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := d.lookup(r.PathValue("id"))
		if err != nil {
			return err
		}
		return h(w, r, c)
	}
}

// writeError maps errdefs sentinels to HTTP status codes; this is the only place that does.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, errdefs.ErrAlreadyExists), errors.Is(err, errdefs.ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, errdefs.ErrInvalidArgument):
		code = http.StatusBadRequest
	case errors.Is(err, errdefs.ErrUnauthorized):
		code = http.StatusUnauthorized
	}
	writeJSON(w, code, api.Error{Message: cleanMessage(err)})
}

// cleanMessage drops the sentinel suffix (": not found") that only serves errors.Is.
func cleanMessage(err error) string {
	msg := err.Error()
	for _, s := range []error{errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrConflict, errdefs.ErrInvalidArgument, errdefs.ErrUnauthorized} {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	return msg
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad request body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return nil
}

func boolQuery(r *http.Request, name string) bool {
	v := r.URL.Query().Get(name)
	return v == "1" || v == "true"
}

// timeoutQuery reads a timeout in seconds (-1: wait forever).
func timeoutQuery(r *http.Request) (*time.Duration, error) {
	v := r.URL.Query().Get("t")
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

func (d *Daemon) handleInfo(w http.ResponseWriter, r *http.Request) error {
	info := d.Info(r.Context())
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (d *Daemon) handleCreate(w http.ResponseWriter, r *http.Request) error {
	var cfg api.ContainerConfig
	if err := decodeBody(r, &cfg); err != nil {
		return err
	}
	if boolQuery(r, "start") {
		return d.handleRun(w, r, cfg)
	}
	c, err := d.create(r.Context(), cfg, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, api.CreateResponse{ID: c.rec.ID})
	return nil
}

func (d *Daemon) handleInspect(w http.ResponseWriter, r *http.Request, c *container) error {
	writeJSON(w, http.StatusOK, c.snapshot())
	return nil
}

func (d *Daemon) handleStart(w http.ResponseWriter, r *http.Request, c *container) error {
	c.busy.Lock()
	defer c.busy.Unlock()
	if c.running() {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return noContent(w, d.start(context.WithoutCancel(r.Context()), c, nil))
}

func (d *Daemon) handleStop(w http.ResponseWriter, r *http.Request, c *container) error {
	t, err := timeoutQuery(r)
	if err != nil {
		return err
	}
	return noContent(w, d.stop(r.Context(), c, t, r.URL.Query().Get("signal")))
}

func (d *Daemon) handleRestart(w http.ResponseWriter, r *http.Request, c *container) error {
	t, err := timeoutQuery(r)
	if err != nil {
		return err
	}
	return noContent(w, d.restart(context.WithoutCancel(r.Context()), c, t))
}

func (d *Daemon) handleKill(w http.ResponseWriter, r *http.Request, c *container) error {
	name := r.URL.Query().Get("signal")
	if name == "" {
		name = "SIGKILL"
	}
	sig, err := signals.Parse(name)
	if err != nil {
		return err
	}
	return noContent(w, d.kill(r.Context(), c, sig))
}

func (d *Daemon) handleRemove(w http.ResponseWriter, r *http.Request, c *container) error {
	err := d.remove(context.WithoutCancel(r.Context()), c, boolQuery(r, "force"), boolQuery(r, "volumes"))
	if errors.Is(err, errRemoved) {
		err = fmt.Errorf("no such container: %s: %w", r.PathValue("id"), errdefs.ErrNotFound)
	}
	return noContent(w, err)
}

func (d *Daemon) handleWait(w http.ResponseWriter, r *http.Request, c *container) error {
	res, err := d.wait(r.Context(), c, r.URL.Query().Get("condition"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (d *Daemon) handleRename(w http.ResponseWriter, r *http.Request, c *container) error {
	return noContent(w, d.rename(c, r.URL.Query().Get("name")))
}

func (d *Daemon) handlePrune(w http.ResponseWriter, r *http.Request) error {
	f, err := pruneFilter(r)
	if err != nil {
		return err
	}
	res, err := d.prune(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// pruneFilter reads a prune's filter from the request body (none: everything unused).
func pruneFilter(r *http.Request) (api.PruneFilter, error) {
	var f api.PruneFilter
	if r.ContentLength == 0 {
		return f, nil
	}
	err := decodeBody(r, &f)
	return f, err
}

func (d *Daemon) handleResize(w http.ResponseWriter, r *http.Request, c *container) error {
	width, _ := strconv.Atoi(r.URL.Query().Get("w"))
	height, _ := strconv.Atoi(r.URL.Query().Get("h"))
	return noContent(w, d.resize(r.Context(), c, uint16(width), uint16(height)))
}

// wantsStream checks that the client asked for the framed stream, before anything that
// would need it (a start) is done.
func wantsStream(r *http.Request) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), api.UpgradeProto) {
		return fmt.Errorf("this endpoint streams: send Upgrade: %s: %w", api.UpgradeProto, errdefs.ErrInvalidArgument)
	}
	return nil
}

// hijack answers 101 and takes over the connection for a framed stream.
func hijack(w http.ResponseWriter, r *http.Request, containerID string) (net.Conn, *bufio.ReadWriter, error) {
	if err := wantsStream(r); err != nil {
		return nil, nil, err
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	head := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + api.UpgradeProto + "\r\n"
	if containerID != "" {
		head += api.ContainerIDHeader + ": " + containerID + "\r\n"
	}
	_, _ = rw.WriteString(head + "\r\n")
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rw, nil
}
