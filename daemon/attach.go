package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/stream"
	"github.com/drover/drover/shim"
)

// handleAttach streams a container's stdio. With start=1 it also starts the container,
// wiring the stream to the shim before the process runs so no output is lost; start errors
// are plain HTTP errors, so the client can tell "could not start" from the container's exit.
// The stream's Exit frame is sent once the exit is recorded (and, with --rm, the container
// removed), so a client that sees it sees the final state.
func (d *Daemon) handleAttach(w http.ResponseWriter, r *http.Request, c *container) error {
	if err := wantsStream(r); err != nil {
		return err
	}
	if err := noProcess(c); err != nil {
		return err
	}
	stdin := boolQuery(r, "stdin")
	ctx := context.WithoutCancel(r.Context())
	var sc *shim.Conn
	var exited chan struct{}
	dial := func(c *container, start bool) error {
		var err error
		c.mu.Lock()
		exited = c.exited
		c.mu.Unlock()
		sc, err = c.shim().Dial(ctx, shim.Request{Op: shim.OpAttach, Stdin: stdin, Start: start})
		return err
	}
	if boolQuery(r, "start") {
		c.busy.Lock()
		err := d.start(ctx, c, func(c *container) error { return dial(c, true) })
		c.busy.Unlock()
		if err != nil {
			if sc != nil {
				sc.Close()
			}
			return err
		}
	} else {
		if !c.running() {
			return fmt.Errorf("container %s is not running: start it with start -a: %w", c.rec.Name, errdefs.ErrConflict)
		}
		if err := dial(c, false); err != nil {
			return err
		}
	}
	conn, rw, err := hijack(w, r, c.rec.ID)
	if err != nil {
		sc.Close()
		return err
	}
	d.proxyAttach(conn, rw, sc, c, exited)
	return nil
}

// handleRun is create, then attach with start, in one request (POST /containers?start=1):
// one round trip less, and the record is committed once, while the process starts. The
// 101 answer names the container (api.ContainerIDHeader). When the start fails, the
// container stays created, as after create and a failed start -a; with --rm it is removed.
func (d *Daemon) handleRun(w http.ResponseWriter, r *http.Request, cfg api.ContainerConfig) error {
	if err := wantsStream(r); err != nil {
		return err
	}
	c, err := d.create(r.Context(), cfg, false)
	if err != nil {
		return err
	}
	// A failed start has saved the record (recordStartError), a started one commits it.
	err = d.handleAttach(w, r, c)
	if err != nil && cfg.Host.AutoRemove {
		if rerr := d.remove(context.WithoutCancel(r.Context()), c, true, true); rerr != nil && !errors.Is(rerr, errRemoved) {
			d.log.Warn("remove container after a failed start", "container", c.rec.ID, "err", rerr)
		}
	}
	return err
}

func (d *Daemon) proxyAttach(client net.Conn, clientR io.Reader, sc *shim.Conn, c *container, exited chan struct{}) {
	defer client.Close()
	defer sc.Close()
	clientGone := make(chan struct{})
	go func() {
		_, _ = io.Copy(sc, clientR)
		close(clientGone)
		sc.Close()
	}()
	fr := stream.NewReader(sc)
	fw := stream.NewWriter(client)
	for {
		kind, p, err := fr.ReadFrame()
		if err != nil || kind == stream.Exit {
			break
		}
		if err := fw.WriteFrame(kind, p); err != nil {
			return
		}
	}
	select {
	case <-clientGone:
		return
	default:
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
	}
	c.mu.Lock()
	autoRemove := c.rec.Config.Host.AutoRemove
	code := c.rec.State.ExitCode
	c.mu.Unlock()
	if autoRemove {
		select {
		case <-c.removed:
		case <-time.After(time.Minute):
		}
	}
	_ = fw.WriteExit(code)
}

func (d *Daemon) handleExec(w http.ResponseWriter, r *http.Request, c *container) error {
	var cfg api.ExecConfig
	if err := decodeBody(r, &cfg); err != nil {
		return err
	}
	sc, err := d.execStart(context.WithoutCancel(r.Context()), c, cfg, false)
	if err != nil {
		return err
	}
	conn, rw, err := hijack(w, r, c.rec.ID)
	if err != nil {
		sc.Close()
		return err
	}
	defer conn.Close()
	defer sc.Close()
	go func() {
		_, _ = io.Copy(sc, rw)
		sc.Close()
	}()
	_, _ = io.Copy(conn, sc)
	return nil
}

func (d *Daemon) resize(ctx context.Context, c *container, width, height uint16) error {
	if err := noProcess(c); err != nil {
		return err
	}
	if !c.running() {
		return fmt.Errorf("container %s is not running: %w", c.rec.Name, errdefs.ErrConflict)
	}
	_, err := c.shim().Call(ctx, shim.Request{Op: shim.OpResize, Width: width, Height: height})
	return err
}
