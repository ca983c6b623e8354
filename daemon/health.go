package daemon

import (
	"bytes"
	"context"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/stream"
)

// Health check defaults, as Docker's.
const (
	healthInterval = 30 * time.Second
	healthTimeout  = 30 * time.Second
	healthRetries  = 3
	healthLogKeep  = 5
	healthOutMax   = 4096
)

// startHealth runs the container's health check in the background for the current run.
func (d *Daemon) startHealth(c *container) {
	c.mu.Lock()
	h := c.rec.Config.Healthcheck
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		c.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stopHealth = cancel
	exited := c.exited
	c.mu.Unlock()
	interval, timeout, retries := h.Interval, h.Timeout, h.Retries
	if interval <= 0 {
		interval = healthInterval
	}
	if timeout <= 0 {
		timeout = healthTimeout
	}
	if retries <= 0 {
		retries = healthRetries
	}
	var cmd []string
	switch h.Test[0] {
	case "CMD":
		cmd = h.Test[1:]
	case "CMD-SHELL":
		cmd = append([]string{"/bin/sh", "-c"}, h.Test[1:]...)
	default:
		cmd = h.Test
	}
	started := time.Now()
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			case <-exited:
				return
			case <-d.shutdown:
				return
			}
			res := d.runProbe(ctx, c, cmd, timeout)
			d.recordProbe(c, res, retries, time.Since(started) < h.StartPeriod)
		}
	}()
}

func (d *Daemon) stopHealth(c *container) {
	c.mu.Lock()
	stop := c.stopHealth
	c.stopHealth = nil
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// runProbe execs the check in the container and captures its output.
func (d *Daemon) runProbe(ctx context.Context, c *container, cmd []string, timeout time.Duration) api.HealthResult {
	res := api.HealthResult{Start: time.Now().UTC(), ExitCode: -1}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out bytes.Buffer
	code, err := d.execCollect(ctx, c, api.ExecConfig{Cmd: cmd}, &out)
	res.End = time.Now().UTC()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.Output = "health check exceeded timeout (" + timeout.String() + ")"
	case err != nil:
		res.Output = err.Error()
	default:
		res.ExitCode = code
		o := out.Bytes()
		if len(o) > healthOutMax {
			o = o[:healthOutMax]
		}
		res.Output = string(o)
	}
	return res
}

func (d *Daemon) recordProbe(c *container, res api.HealthResult, retries int, starting bool) {
	var changed string
	defer func() { // after the unlock below: events of a status change, as Docker's
		if changed != "" {
			d.emitContainer(c, "health_status: "+changed, nil)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.rec.State.Health
	if h == nil || c.rec.State.Status != api.StatusRunning {
		return
	}
	before := h.Status
	defer func() {
		if h.Status != before {
			changed = h.Status
		}
	}()
	h.Log = append(h.Log, res)
	if len(h.Log) > healthLogKeep {
		h.Log = h.Log[len(h.Log)-healthLogKeep:]
	}
	if res.ExitCode == 0 {
		h.Status = api.HealthHealthy
		h.FailingStreak = 0
	} else if !starting {
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = api.HealthUnhealthy
		}
	}
	_ = d.save(c)
}

// execCollect runs cmd in c and writes its output (stdout and stderr) to out.
func (d *Daemon) execCollect(ctx context.Context, c *container, cfg api.ExecConfig, out *bytes.Buffer) (int, error) {
	conn, err := d.execStart(ctx, c, cfg, false)
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	r := stream.NewReader(conn)
	for {
		kind, p, err := r.ReadFrame()
		if err != nil {
			return -1, err
		}
		switch kind {
		case stream.Stdout, stream.Stderr:
			if out.Len() < healthOutMax {
				out.Write(p)
			}
		case stream.Exit:
			return stream.ParseExit(p)
		}
	}
}
