package shim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/jsonlog"
	"github.com/drover/drover/internal/stream"
	"github.com/drover/drover/runtime"
	"github.com/drover/drover/runtime/cgroupwarm"
)

// server is one running shim.
type server struct {
	cfg Config
	rt  runtime.Runtime
	log *jsonlog.Writer

	pid     int
	console *os.File
	stdin   *os.File // write end of the container's stdin pipe
	pumps   sync.WaitGroup

	mu        sync.Mutex
	subs      map[*stream.Writer]struct{}
	stdinOnce sync.Once

	exited   chan struct{} // closed once exit is set and recorded
	exit     ExitStatus
	cleaned  chan struct{} // closed once the runtime's cleanup is done
	handlers sync.WaitGroup
}

// Supervisor is one container served by a shim process.
type Supervisor struct {
	s  *server
	ln *net.UnixListener
}

// Start creates the container described by cfg with rt (its process waits for start) and
// opens its socket; Run then serves it. A shim process may supervise several containers.
func Start(cfg Config, rt runtime.Runtime) (*Supervisor, error) {
	// Orphans of the container's init come to us, not to the host's init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("set child subreaper: %w", err)
	}
	// The runtime moves the new init into its cgroups in a few milliseconds: start the
	// kernel's wait for that now (the daemon started one too, maybe too long ago).
	cgroupwarm.Warm()
	s := &server{cfg: cfg, rt: rt, subs: map[*stream.Writer]struct{}{}, exited: make(chan struct{}), cleaned: make(chan struct{})}
	ln, err := s.listen()
	if err != nil {
		return nil, err
	}
	tc := time.Now()
	if err := s.create(); err != nil {
		ln.Close()
		return nil, err
	}
	if os.Getenv("DROVER_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "shim: create of %s took %v\n", cfg.ID, time.Since(tc))
	}
	return &Supervisor{s: s, ln: ln}, nil
}

// Pid is the container init's pid.
func (sv *Supervisor) Pid() int { return sv.s.pid }

// Abort removes a created container the daemon did not take (it went away meanwhile).
func (sv *Supervisor) Abort() {
	sv.ln.Close()
	_ = sv.s.rt.Delete(context.Background(), sv.s.cfg.ID, true)
	// Its init never ran the container's process: the reaper takes what is left of it.
	waited.Delete(sv.s.pid)
	kickReaper()
}

// Run serves the daemon until the container has exited and its exit is recorded.
func (sv *Supervisor) Run() {
	s := sv.s
	defer sv.ln.Close()
	go s.monitor()
	go s.accept(sv.ln)
	<-s.exited
	<-s.cleaned
	// Give connected clients their exit frame before going away.
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// Serve supervises one container: Start, "ok PID" (or "error MSG") on sync, which it then
// closes, and Run.
func Serve(cfg Config, rt runtime.Runtime, sync *os.File) error {
	sv, err := Start(cfg, rt)
	if err != nil {
		return reportSync(sync, err)
	}
	if err := reportSync(sync, nil, sv.Pid()); err != nil {
		sv.Abort() // the daemon gave up on us; do not leave a container it does not know of
		return err
	}
	// Creating the container (spec parsing, seccomp, libcontainer state) left garbage that
	// this long-lived process should not keep.
	debug.FreeOSMemory()
	sv.Run()
	return nil
}

// SyncLine is the one-line answer to one bundle on the launcher's socket.
func SyncLine(err error, pid int) string {
	if err != nil {
		return "error " + strings.Join(strings.Fields(err.Error()), " ") + "\n"
	}
	return "ok " + strconv.Itoa(pid) + "\n"
}

func reportSync(f *os.File, err error, pid ...int) error {
	p := 0
	if len(pid) > 0 {
		p = pid[0]
	}
	_, werr := f.Write([]byte(SyncLine(err, p)))
	f.Close()
	if err != nil {
		return err
	}
	return werr
}

func (s *server) listen() (*net.UnixListener, error) {
	path := filepath.Join(s.cfg.Bundle, SocketName)
	_ = os.Remove(path)
	var ln *net.UnixListener
	err := withSocketPath(s.cfg.Bundle, SocketName, func(p string) error {
		var err error
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("shim socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// create sets up stdio, the log and the container (whose process waits for start).
func (s *server) create() (retErr error) {
	lw, err := jsonlog.NewWriter(s.cfg.LogPath, jsonlog.Options{Format: s.cfg.LogFormat, MaxSize: s.cfg.LogMaxSize, MaxFiles: s.cfg.LogMaxFiles})
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	s.log = lw
	io := runtime.IO{Terminal: s.cfg.Terminal, ConsoleWidth: s.cfg.Width, ConsoleHeight: s.cfg.Height}
	var closeAfter []*os.File
	defer func() {
		for _, f := range closeAfter {
			f.Close()
		}
	}()
	var outR, errR *os.File
	if !s.cfg.Terminal {
		if outR, io.Stdout, err = os.Pipe(); err != nil {
			return err
		}
		if errR, io.Stderr, err = os.Pipe(); err != nil {
			return err
		}
		closeAfter = append(closeAfter, io.Stdout, io.Stderr)
		if s.cfg.OpenStdin {
			if io.Stdin, s.stdin, err = os.Pipe(); err != nil {
				return err
			}
			closeAfter = append(closeAfter, io.Stdin)
		}
	}
	p, err := s.rt.Create(context.Background(), s.cfg.ID, s.cfg.Bundle, io)
	if err != nil {
		kickReaper()
		if outR != nil {
			outR.Close()
			errR.Close()
		}
		return err
	}
	s.pid = p.Pid
	own(p.Pid)
	_ = atomicfile.Replace(filepath.Join(s.cfg.Bundle, InitPid), []byte(strconv.Itoa(p.Pid)), 0o600)
	if s.cfg.Terminal {
		s.console = p.Console
		s.pump("stdout", p.Console, stream.Stdout)
	} else {
		s.pump("stdout", outR, stream.Stdout)
		s.pump("stderr", errR, stream.Stderr)
	}
	return nil
}

// pump copies one output stream of the container to the log and to attached clients.
func (s *server) pump(name string, r *os.File, kind stream.Kind) {
	s.pumps.Add(1)
	go func() {
		defer s.pumps.Done()
		defer r.Close()
		lines := jsonlog.NewLineWriter(s.log, name)
		buf := make([]byte, 16*1024) // one per stream and container: keep it small
		for {
			n, err := r.Read(buf)
			if n > 0 {
				_, _ = lines.Write(buf[:n])
				s.broadcast(kind, buf[:n])
			}
			if err != nil {
				lines.Flush()
				return
			}
		}
	}()
}

func (s *server) broadcast(kind stream.Kind, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.subs {
		if err := w.WriteFrame(kind, p); err != nil {
			delete(s.subs, w)
		}
	}
}

// monitor reaps the container's init, records how it ended and cleans up the runtime.
func (s *server) monitor() {
	ws, err := waitPid(s.pid)
	t0 := time.Now()
	debug := os.Getenv("DROVER_DEBUG") != ""
	code := exitCode(ws, err)
	oom := oomKills(s.cfg.OOMFile) > 0
	s.drainPumps()
	if s.log != nil {
		s.log.Close()
	}
	if debug {
		fmt.Fprintf(os.Stderr, "shim: drained %v\n", time.Since(t0))
	}
	exitedAt := time.Now().UTC()
	if !s.cfg.Ephemeral {
		// The container may start again: its cgroups must be gone before anyone hears
		// of the exit.
		s.cleanup()
	}
	s.exit = ExitStatus{Code: code, ExitedAt: exitedAt, OOMKilled: oom}
	if data, err := json.Marshal(s.exit); err == nil {
		_ = atomicfile.Replace(filepath.Join(s.cfg.Bundle, ExitName), data, 0o600)
	}
	close(s.exited)
	if s.cfg.Ephemeral {
		s.cleanup()
	}
	if debug {
		fmt.Fprintf(os.Stderr, "shim: exit handled %v\n", time.Since(t0))
	}
}

// cleanup has the runtime remove the container's cgroups and state.
func (s *server) cleanup() {
	_ = s.rt.Delete(context.Background(), s.cfg.ID, true)
	close(s.cleaned)
}

// drainPumps waits for the output to reach EOF; a process that escaped the container and
// still holds its stdio must not keep the exit from being reported.
func (s *server) drainPumps() {
	done := make(chan struct{})
	go func() { s.pumps.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// waitPid reaps a child the shim owns (see own).
func waitPid(pid int) (unix.WaitStatus, error) {
	defer waited.Delete(pid)
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		return ws, err
	}
}

// exitCode maps a wait status to the shell convention Docker uses: 128+signal when killed.
func exitCode(ws unix.WaitStatus, err error) int {
	switch {
	case err != nil:
		return 255
	case ws.Signaled():
		return 128 + int(ws.Signal())
	default:
		return ws.ExitStatus()
	}
}

// oomKills reads the "oom_kill N" counter of a memory cgroup file (v1 memory.oom_control,
// v2 memory.events).
func oomKills(path string) int {
	if path == "" {
		return 0
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("oom_kill ")); ok {
			n, _ := strconv.Atoi(string(v))
			return n
		}
	}
	return 0
}

func (s *server) accept(ln *net.UnixListener) {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		s.handlers.Add(1)
		go func() {
			defer s.handlers.Done()
			defer conn.Close()
			s.handle(conn)
		}()
	}
}

func (s *server) handle(conn *net.UnixConn) {
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		writeResponse(conn, Response{Error: "bad request: " + err.Error()})
		return
	}
	switch req.Op {
	case OpStart:
		err := s.rt.Start(context.Background(), s.cfg.ID)
		writeResponse(conn, errResponse(err))
	case OpWait:
		<-s.exited
		st := s.exit
		writeResponse(conn, Response{Pid: s.pid, Exit: &st})
	case OpState:
		resp := Response{Pid: s.pid}
		select {
		case <-s.exited:
			st := s.exit
			resp.Exit = &st
		default:
		}
		writeResponse(conn, resp)
	case OpResize:
		writeResponse(conn, errResponse(resize(s.console, req.Width, req.Height)))
	case OpReopenLog:
		writeResponse(conn, errResponse(s.log.Reopen()))
	case OpAttach:
		s.attach(conn, br, req)
	case OpExec:
		s.exec(conn, br, req)
	default:
		writeResponse(conn, Response{Error: fmt.Sprintf("unknown operation %q", req.Op)})
	}
}

func errResponse(err error) Response {
	if err != nil {
		return Response{Error: err.Error()}
	}
	return Response{}
}

func writeResponse(w io.Writer, r Response) {
	data, _ := json.Marshal(r)
	_, _ = w.Write(append(data, '\n'))
}

func resize(console *os.File, w, h uint16) error {
	if console == nil {
		return errors.New("container has no terminal")
	}
	return unix.IoctlSetWinsize(int(console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: w, Row: h})
}

// attach streams the container's output to conn, and conn's stdin frames to the
// container, until the container exits.
func (s *server) attach(conn *net.UnixConn, br *bufio.Reader, req Request) {
	select {
	case <-s.exited:
		writeResponse(conn, Response{Error: "container has exited"})
		return
	default:
	}
	w := stream.NewWriter(conn)
	// Output waits for s.mu to be broadcast: the response line goes out before any frame,
	// and nothing the started process writes is missed.
	s.mu.Lock()
	if req.Start {
		if err := s.rt.Start(context.Background(), s.cfg.ID); err != nil {
			s.mu.Unlock()
			writeResponse(conn, errResponse(err))
			return
		}
	}
	writeResponse(conn, Response{Pid: s.pid})
	s.subs[w] = struct{}{}
	s.mu.Unlock()
	var in io.Writer
	switch {
	case s.console != nil:
		in = s.console
	case s.stdin != nil:
		in = s.stdin
	}
	if req.Stdin && in != nil {
		go s.forwardInput(br, in, s.console, func() {
			if s.stdin != nil {
				s.stdinOnce.Do(func() { s.stdin.Close() })
			}
		})
	}
	<-s.exited
	s.mu.Lock()
	delete(s.subs, w)
	s.mu.Unlock()
	_ = w.WriteExit(s.exit.Code)
}

// forwardInput copies Stdin frames into in, applies Resize frames to console, and calls
// closeIn at CloseStdin or when the client goes away.
func (s *server) forwardInput(r io.Reader, in io.Writer, console *os.File, closeIn func()) {
	fr := stream.NewReader(r)
	for {
		kind, p, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch kind {
		case stream.Stdin:
			if _, err := in.Write(p); err != nil {
				return
			}
		case stream.CloseStdin:
			closeIn()
		case stream.Resize:
			if w, h, err := stream.ParseResize(p); err == nil {
				_ = resize(console, w, h)
			}
		}
	}
}
