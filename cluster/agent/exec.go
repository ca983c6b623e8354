package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/internal/stream"
)

// The SPDY protocols served, newest first (WebSocket ones are in websocket.go).
var spdyProtocols = []string{remotecommand.StreamProtocolV4Name, remotecommand.StreamProtocolV3Name,
	remotecommand.StreamProtocolV2Name, remotecommand.StreamProtocolV1Name}

const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

// serveExec runs a command in a container: WebSocket (v5 down to v1) or SPDY.
func (a *Agent) serveExec(w http.ResponseWriter, r *http.Request) {
	opts, err := streamOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "give the command to run: command=...", http.StatusBadRequest)
		return
	}
	ns, pod, ctr := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	if _, _, err := a.findContainer(r.Context(), ns, pod, ctr, false); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	ex := &engineStreams{a: a, ns: ns}
	if isWebSocket(r) {
		serveWebSocket(w, r, opts, func(ctx context.Context, s *wsStreams) error {
			return ex.ExecInContainer(ctx, pod, "", ctr, cmd, s.stdin, s.stdout, s.stderr, opts.TTY, s.resize, 0)
		})
		return
	}
	remotecommand.ServeExec(w, r, ex, pod, "", ctr, cmd, opts, streamIdleTimeout, streamCreationTimeout, spdyProtocols)
}

// serveAttach attaches to a container's main process.
func (a *Agent) serveAttach(w http.ResponseWriter, r *http.Request) {
	opts, err := streamOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ns, pod, ctr := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	if _, _, err := a.findContainer(r.Context(), ns, pod, ctr, false); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	at := &engineStreams{a: a, ns: ns}
	if isWebSocket(r) {
		serveWebSocket(w, r, opts, func(ctx context.Context, s *wsStreams) error {
			return at.AttachContainer(ctx, pod, "", ctr, s.stdin, s.stdout, s.stderr, opts.TTY, s.resize)
		})
		return
	}
	remotecommand.ServeAttach(w, r, at, pod, "", ctr, opts, streamIdleTimeout, streamCreationTimeout, spdyProtocols)
}

// streamOptions reads the streams a remote command asks for: the kubelet API's
// stdin/stdout/stderr/tty (true or 1), or the CRI's input/output/error.
func streamOptions(r *http.Request) (*remotecommand.Options, error) {
	q := r.URL.Query()
	flag := func(names ...string) bool {
		for _, n := range names {
			if v, err := strconv.ParseBool(q.Get(n)); err == nil && v {
				return true
			}
		}
		return false
	}
	o := &remotecommand.Options{
		Stdin:  flag("stdin", remotecommand.ExecStdinParam),
		Stdout: flag("stdout", remotecommand.ExecStdoutParam),
		Stderr: flag("stderr", remotecommand.ExecStderrParam),
		TTY:    flag("tty", remotecommand.ExecTTYParam),
	}
	if o.TTY {
		o.Stderr = false // a terminal has one output
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		return nil, errors.New("ask for at least one of stdin, stdout and stderr")
	}
	return o, nil
}

// engineStreams runs exec and attach on the engine for the kubelet API.
type engineStreams struct {
	a  *Agent
	ns string
}

var (
	_ remotecommand.Executor = (*engineStreams)(nil)
	_ remotecommand.Attacher = (*engineStreams)(nil)
)

// initialSizeWait bounds the wait for a terminal's first size before a TTY exec starts.
const initialSizeWait = time.Second

// ExecInContainer runs cmd in the container through the engine's exec, with resize.
func (e *engineStreams) ExecInContainer(ctx context.Context, pod, _, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	c, _, err := e.a.findContainer(ctx, e.ns, pod, container, false)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return fmt.Errorf("container %s of pod %s/%s is not running", container, e.ns, pod)
	}
	cfg := api.ExecConfig{Cmd: cmd, Tty: tty, Stdin: in != nil}
	if tty && resize != nil {
		// Clients send the terminal's size as the stream opens: start the process with
		// it, or a program that reads its size at once (stty size, a shell's prompt)
		// may see none yet.
		select {
		case sz, ok := <-resize:
			if ok {
				cfg.Width, cfg.Height = sz.Width, sz.Height
			}
		case <-time.After(initialSizeWait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h, err := e.a.cfg.Engine.ContainerExec(ctx, c.ID, cfg)
	if err != nil {
		return fmt.Errorf("exec in %s: %w", container, err)
	}
	defer h.Close()
	fw := stream.NewWriter(h)
	code, err := pump(ctx, h, fw, in, true, out, errw, tty, resize, func(sz remotecommand.TerminalSize) error {
		return fw.WriteResize(sz.Width, sz.Height)
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// AttachContainer attaches to the container's main process.
func (e *engineStreams) AttachContainer(ctx context.Context, pod, _, container string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	c, _, err := e.a.findContainer(ctx, e.ns, pod, container, false)
	if err != nil {
		return err
	}
	h, err := e.a.cfg.Engine.ContainerAttach(ctx, c.ID, client.AttachOptions{Stdin: in != nil})
	if err != nil {
		return fmt.Errorf("attach to %s: %w", container, err)
	}
	defer h.Close()
	fw := stream.NewWriter(h)
	// Detaching ends stdin for the container only if it asked for that (stdinOnce).
	_, err = pump(ctx, h, fw, in, c.Config.StdinOnce, out, errw, tty, resize, func(sz remotecommand.TerminalSize) error {
		return e.a.cfg.Engine.ContainerResize(ctx, c.ID, sz.Width, sz.Height)
	})
	return err
}

// pump copies stdin (then its end, with closeStdin) and resizes into an engine stream
// and its output frames out, until the exit frame (whose code it returns) or the end of
// the stream.
func pump(ctx context.Context, h *client.Hijacked, fw *stream.Writer, in io.Reader, closeStdin bool, out, errw io.Writer, tty bool, resize <-chan remotecommand.TerminalSize, doResize func(remotecommand.TerminalSize) error) (int, error) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	defer func() {
		close(done)
		h.Close()
		wg.Wait()
	}()
	if in != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := in.Read(buf)
				if n > 0 {
					if fw.WriteFrame(stream.Stdin, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					if closeStdin {
						_ = fw.WriteFrame(stream.CloseStdin, nil)
					}
					return
				}
			}
		}()
	}
	if resize != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					_ = doResize(sz)
				case <-done:
					return
				}
			}
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			h.Close()
		case <-done:
		}
	}()
	fr := stream.NewReader(h)
	for {
		kind, p, err := fr.ReadFrame()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return -1, fmt.Errorf("read stream: %w", err)
		}
		switch kind {
		case stream.Stdout:
			if out != nil {
				_, _ = out.Write(p)
			}
		case stream.Stderr:
			switch {
			case tty && out != nil:
				_, _ = out.Write(p)
			case errw != nil:
				_, _ = errw.Write(p)
			}
		case stream.Exit:
			return stream.ParseExit(p)
		case stream.Error:
			return -1, fmt.Errorf("%s", p)
		}
	}
}
