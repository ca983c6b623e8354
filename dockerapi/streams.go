package dockerapi

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/jsonlog"
	"github.com/drover/drover/internal/stream"
)

// hijack takes over the connection for a raw stream: "101 UPGRADED" when the client asked
// to upgrade (Upgrade: tcp), else "200 OK" with the stream as the body, as Docker answers.
func hijack(w http.ResponseWriter, r *http.Request, contentType string) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	head := "HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n\r\n"
	if strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") && r.Header.Get("Upgrade") != "" {
		head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + contentType + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
	}
	if _, err := rw.WriteString(head); err != nil {
		conn.Close()
		return nil, nil, err
	}
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rw, nil
}

func streamType(tty bool) string {
	if tty {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

// pump joins a Docker client's raw connection to a drover stream until the container side
// ends. onEnd gets the exit code of the Exit frame (-1 when there was none) before the
// client sees the end of the output, so its inspect that follows finds the code.
//
// detach, when not empty, is the key sequence (Docker's ctrl-p,ctrl-q) that ends the
// session without touching the container: its stdin stays open and it keeps running.
func pump(conn net.Conn, in io.Reader, st Stream, tty, stdin, stdout, stderr bool, detach []byte, onEnd func(code int)) {
	fw := stream.NewWriter(st)
	esc := &escapeMatcher{keys: detach}
	// One reader of the client side for the whole stream: it forwards stdin when asked
	// for and otherwise discards, so the connection never closes with unread bytes (the
	// kernel would answer the client with a reset instead of the end of the output).
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 32<<10)
		forward := stdin
		for {
			n, err := in.Read(buf)
			if n > 0 && forward {
				data, detached := esc.feed(buf[:n])
				if len(data) > 0 && fw.WriteFrame(stream.Stdin, data) != nil {
					forward = false
				}
				if detached {
					forward = false
					st.Close() // ends the output below; the container goes on
					continue
				}
			}
			if err != nil {
				if forward {
					_ = fw.WriteFrame(stream.CloseStdin, nil)
				}
				return
			}
		}
	}()
	out := newMuxWriter(conn, tty)
	fr := stream.NewReader(st)
	code := -1
	for {
		kind, p, err := fr.ReadFrame()
		if err != nil {
			break
		}
		switch kind {
		case stream.Stdout:
			if stdout {
				err = out.write(false, p)
			}
		case stream.Stderr:
			if stderr {
				err = out.write(true, p)
			}
		case stream.Exit:
			code, _ = stream.ParseExit(p)
		case stream.Error:
			_ = out.write(true, append(append([]byte{}, p...), '\n'))
			code = 126
		}
		if err != nil || kind == stream.Exit || kind == stream.Error {
			break
		}
	}
	if onEnd != nil {
		onEnd(code)
	}
	// End the output, then give the client a moment to close its side.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-readDone
}

// pendingAttach is an attach to a container that is not running yet: the docker CLI
// attaches, then starts. The start hands it the stream, wired before the process runs.
type pendingAttach struct {
	stdin bool
	ch    chan attachResult
}

type attachResult struct {
	st  Stream
	err error
}

func (p *pendingAttach) give(st Stream, err error) { p.ch <- attachResult{st, err} }

func (s *Server) addPending(id string, p *pendingAttach) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	s.pending[id] = append(s.pending[id], p)
}

func (s *Server) dropPending(id string, p *pendingAttach) {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	list := s.pending[id]
	for i, q := range list {
		if q == p {
			s.pending[id] = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(s.pending[id]) == 0 {
		delete(s.pending, id)
	}
}

// takePending returns the oldest attach waiting for id's start. Only one attach can be
// wired to a start; later ones are told to attach again.
func (s *Server) takePending(id string) *pendingAttach {
	s.pendingMu.Lock()
	defer s.pendingMu.Unlock()
	list := s.pending[id]
	if len(list) == 0 {
		return nil
	}
	delete(s.pending, id)
	for _, q := range list[1:] {
		q.give(nil, fmt.Errorf("another client attached first: %w", errdefs.ErrConflict))
	}
	return list[0]
}

func (s *Server) handleAttach(w http.ResponseWriter, r *http.Request, c api.Container) error {
	stdin, stdout, stderr := boolQuery(r, "stdin"), boolQuery(r, "stdout"), boolQuery(r, "stderr")
	logs, live := boolQuery(r, "logs"), boolQuery(r, "stream")
	// Detach keys apply to a terminal's typed input only: piped stdin may hold any byte.
	var detach []byte
	if c.Config.Tty && stdin {
		detach = defaultDetachKeys
		if k := r.URL.Query().Get("detachKeys"); k != "" {
			var err error
			if detach, err = parseDetachKeys(k); err != nil {
				return err
			}
		}
	}
	if !logs && !live {
		return fmt.Errorf("attach needs stream=1 or logs=1: %w", errdefs.ErrInvalidArgument)
	}
	if !live {
		// The log so far, then the end of the stream.
		conn, _, err := hijack(w, r, streamType(c.Config.Tty))
		if err != nil {
			return err
		}
		defer conn.Close()
		s.replayLogs(r.Context(), conn, c, stdout, stderr)
		return nil
	}
	ctx := context.WithoutCancel(r.Context())
	var st Stream
	var p *pendingAttach
	if c.State.Running {
		var err error
		if st, err = s.engine.AttachContainer(ctx, c.ID, stdin); err != nil {
			return err
		}
	} else {
		p = &pendingAttach{stdin: stdin, ch: make(chan attachResult, 1)}
		s.addPending(c.ID, p)
	}
	conn, rw, err := hijack(w, r, streamType(c.Config.Tty))
	if err != nil {
		if st != nil {
			st.Close()
		}
		if p != nil {
			s.dropPending(c.ID, p)
		}
		return err
	}
	defer conn.Close()
	if logs {
		// What the container wrote before, as Docker replays it (Compose's up attaches so).
		s.replayLogs(ctx, conn, c, stdout, stderr)
	}
	if p != nil {
		removed, werr := s.engine.WatchContainer(ctx, c.ID, "removed")
		gone := make(chan struct{})
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if werr == nil {
			go func() { _, _ = removed(wctx); close(gone) }()
		}
		select {
		case res := <-p.ch:
			if res.err != nil {
				return nil // the start's own answer tells the client why
			}
			st = res.st
		case <-gone:
			s.dropPending(c.ID, p)
			return nil
		}
	}
	defer st.Close()
	pump(conn, rw, st, c.Config.Tty, stdin, stdout, stderr, detach, nil)
	return nil
}

// execInstance is one exec between its create and a while after its end: the docker CLI
// creates, starts, resizes and finally inspects it for the exit code.
type execInstance struct {
	id          string
	containerID string
	cfg         api.ExecConfig
	req         container.ExecCreateRequest

	created time.Time

	mu       sync.Mutex
	running  bool
	started  bool
	pid      int
	exitCode *int
	fw       *stream.Writer
}

type execTable struct {
	mu   sync.Mutex
	byID map[string]*execInstance
}

func (t *execTable) get(id string) (*execInstance, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byID[id]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("No such exec instance: %s: %w", id, errdefs.ErrNotFound)
}

// live lists the exec instances of a container that are running or not yet started, as
// Docker's inspect names them in ExecIDs (nil for none).
func (t *execTable) live(containerID string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []string
	for id, e := range t.byID {
		e.mu.Lock()
		live := e.containerID == containerID && (e.running || !e.started)
		e.mu.Unlock()
		if live {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// maxExecs bounds the table so clients that create execs and never start them cannot
// grow it without end.
const maxExecs = 4096

func (t *execTable) add(e *execInstance) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byID) >= maxExecs/2 {
		// Execs created and never started are dropped after an hour.
		for id, old := range t.byID {
			old.mu.Lock()
			stale := !old.started && time.Since(old.created) > time.Hour
			old.mu.Unlock()
			if stale {
				delete(t.byID, id)
			}
		}
	}
	if len(t.byID) >= maxExecs {
		return fmt.Errorf("too many exec instances: start or let finish the ones created: %w", errdefs.ErrConflict)
	}
	t.byID[e.id] = e
	return nil
}

// forgetLater drops a finished exec after a while, long enough for the client's inspect.
func (t *execTable) forgetLater(id string) {
	time.AfterFunc(10*time.Minute, func() {
		t.mu.Lock()
		delete(t.byID, id)
		t.mu.Unlock()
	})
}

func (s *Server) execRoutes() {
	s.handle("POST /containers/{id}/exec", s.withContainer(s.handleExecCreate))
	s.handle("POST /exec/{id}/start", s.handleExecStart)
	s.handle("POST /exec/{id}/resize", func(w http.ResponseWriter, r *http.Request) error {
		e, err := s.execs.get(r.PathValue("id"))
		if err != nil {
			return err
		}
		width, height, err := sizeQuery(r)
		if err != nil {
			return err
		}
		e.mu.Lock()
		fw := e.fw
		e.mu.Unlock()
		if fw == nil {
			return fmt.Errorf("exec %s is not running: %w", e.id, errdefs.ErrConflict)
		}
		return noContent(w, fw.WriteResize(width, height))
	})
	s.handle("GET /exec/{id}/json", func(w http.ResponseWriter, r *http.Request) error {
		e, err := s.execs.get(r.PathValue("id"))
		if err != nil {
			return err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		priv := e.cfg.Privileged
		out := container.ExecInspectResponse{
			ID: e.id, Running: e.running, ExitCode: e.exitCode, ContainerID: e.containerID,
			OpenStdin: e.req.AttachStdin, OpenStdout: e.req.AttachStdout, OpenStderr: e.req.AttachStderr,
			ProcessConfig: &container.ExecProcessConfig{Tty: e.cfg.Tty, Entrypoint: e.cfg.Cmd[0], Arguments: e.cfg.Cmd[1:], Privileged: &priv, User: e.cfg.User},
			DetachKeys:    []byte{},
			Pid:           e.pid,
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func (s *Server) handleExecCreate(w http.ResponseWriter, r *http.Request, c api.Container) error {
	var req container.ExecCreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if len(req.Cmd) == 0 {
		return fmt.Errorf("No exec command specified: %w", errdefs.ErrInvalidArgument)
	}
	if !c.State.Running {
		return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
	}
	if c.State.Paused {
		return fmt.Errorf("container %s is paused, unpause the container before exec: %w", c.ID, errdefs.ErrConflict)
	}
	cfg := api.ExecConfig{Cmd: req.Cmd, Env: req.Env, User: req.User, WorkingDir: req.WorkingDir, Tty: req.Tty,
		Stdin: req.AttachStdin, Privileged: req.Privileged}
	if cs := req.ConsoleSize; cs != nil {
		cfg.Height, cfg.Width = uint16(cs[0]), uint16(cs[1])
	}
	e := &execInstance{id: newExecID(), containerID: c.ID, cfg: cfg, req: req, created: time.Now()}
	if err := s.execs.add(e); err != nil {
		return err
	}
	s.engine.ContainerEvent(c.ID, "exec_create: "+strings.Join(req.Cmd, " "), map[string]string{"execID": e.id})
	writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: e.id})
	return nil
}

func newExecID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) handleExecStart(w http.ResponseWriter, r *http.Request) error {
	e, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		return err
	}
	var req container.ExecStartRequest
	if r.ContentLength != 0 {
		if err := decodeBody(r, &req); err != nil {
			return err
		}
	}
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return fmt.Errorf("exec %s has already started: %w", e.id, errdefs.ErrConflict)
	}
	e.started = true
	cfg := e.cfg
	cfg.Detach = req.Detach
	if cs := req.ConsoleSize; cs != nil {
		cfg.Height, cfg.Width = uint16(cs[0]), uint16(cs[1])
	}
	e.mu.Unlock()
	finish := func(code int) {
		e.mu.Lock()
		e.running, e.exitCode, e.fw = false, &code, nil
		e.mu.Unlock()
		s.execs.forgetLater(e.id)
		s.engine.ContainerEvent(e.containerID, "exec_die", map[string]string{"execID": e.id, "exitCode": strconv.Itoa(code)})
	}
	ctx := context.WithoutCancel(r.Context())
	st, err := s.engine.Exec(ctx, e.containerID, cfg)
	if err != nil {
		code := 126
		if errors.Is(err, errdefs.ErrNotFound) {
			code = 127
		}
		finish(code)
		if errors.Is(err, errdefs.ErrNotFound) {
			// "executable file not found" is the client's mistake, not a missing object.
			err = fmt.Errorf("%s: %w", cleanMessage(err), errdefs.ErrInvalidArgument)
		}
		return err
	}
	e.mu.Lock()
	e.running, e.fw = true, stream.NewWriter(st)
	if p, ok := st.(interface{ Pid() int }); ok {
		e.pid = p.Pid()
	}
	e.mu.Unlock()
	s.engine.ContainerEvent(e.containerID, "exec_start: "+strings.Join(cfg.Cmd, " "), map[string]string{"execID": e.id})
	if cfg.Detach {
		go func() {
			defer st.Close()
			code, err := stream.WaitExit(st)
			if err != nil {
				code = 137 // the stream broke off before the exit, as an attached exec's does
			}
			finish(code)
		}()
		w.WriteHeader(http.StatusOK)
		return nil
	}
	conn, rw, err := hijack(w, r, streamType(cfg.Tty))
	if err != nil {
		st.Close()
		finish(126)
		return err
	}
	defer conn.Close()
	defer st.Close()
	pump(conn, rw, st, cfg.Tty, cfg.Stdin, e.req.AttachStdout, e.req.AttachStderr, nil, func(code int) {
		if code < 0 {
			code = 137
		}
		finish(code)
	})
	return nil
}

// replayLogs writes a container's log so far to an attached client, in the stream format.
func (s *Server) replayLogs(ctx context.Context, conn net.Conn, c api.Container, stdout, stderr bool) {
	out := newMuxWriter(conn, c.Config.Tty)
	err := s.engine.ContainerLogs(ctx, c.ID, jsonlog.ReadOptions{Tail: -1}, func(m jsonlog.Message) error {
		isErr := m.Stream == "stderr"
		if isErr && !stderr || !isErr && !stdout {
			return nil
		}
		return out.write(isErr, m.Line)
	})
	if err != nil {
		s.opts.Logger.Debug("docker api: replay logs on attach", "container", c.ID, "err", err)
	}
}

// escapeMatcher finds a detach key sequence in typed input. Bytes that start the sequence
// are held back until it is complete (then dropped) or broken (then passed on).
type escapeMatcher struct {
	keys    []byte
	matched int
}

func (m *escapeMatcher) feed(p []byte) (out []byte, detached bool) {
	if len(m.keys) == 0 {
		return p, false
	}
	out = make([]byte, 0, len(p)+m.matched)
	for _, b := range p {
		if b == m.keys[m.matched] {
			m.matched++
			if m.matched == len(m.keys) {
				m.matched = 0
				return out, true
			}
			continue
		}
		out = append(out, m.keys[:m.matched]...)
		m.matched = 0
		if b == m.keys[0] {
			m.matched = 1
			continue
		}
		out = append(out, b)
	}
	return out, false
}

// parseDetachKeys reads Docker's detach key notation: comma-separated single characters
// or ctrl-<letter> and ctrl-@, ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_.
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= '@' && c <= '_':
				out = append(out, c-'@')
			default:
				return nil, fmt.Errorf("invalid detach keys %q: unknown key %q: %w", s, k, errdefs.ErrInvalidArgument)
			}
		default:
			return nil, fmt.Errorf("invalid detach keys %q: use characters or ctrl-<value>, separated by commas: %w", s, errdefs.ErrInvalidArgument)
		}
	}
	return out, nil
}

// defaultDetachKeys is Docker's ctrl-p,ctrl-q.
var defaultDetachKeys = []byte{16, 17}
