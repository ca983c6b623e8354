package cri

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/stream"
)

// maxExecOutput bounds what ExecSync keeps of stdout and stderr together: a chatty
// probe cannot grow the daemon's memory, and the answer still fits the kubelet's 16 MiB
// gRPC message limit (the rest is the message's own framing).
const maxExecOutput = 16<<20 - 4<<10

// killer is what the engine's exec streams offer to end their process.
type killer interface{ Kill() error }

// ExecSync runs a command in a running container and returns its output and exit code.
// With a timeout, a command still running at the deadline is killed and the call fails
// with DeadlineExceeded, as the kubelet expects of a probe that hangs.
func (s *Server) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	c, err := s.execContainer(ctx, req.GetContainerId(), req.GetCmd())
	if err != nil {
		return nil, err
	}
	st, err := s.engine.Exec(context.WithoutCancel(ctx), c.ID, api.ExecConfig{Cmd: req.GetCmd()})
	if err != nil {
		if code, ok := execStartCode(err); ok {
			return &runtimeapi.ExecSyncResponse{ExitCode: int32(code), Stderr: []byte(err.Error() + "\n")}, nil
		}
		return nil, toStatus(err, "exec in container %s", c.ID)
	}
	defer st.Close()
	room := maxExecOutput
	stdout, stderr := &cappedBuffer{room: &room}, &cappedBuffer{room: &room}
	done := make(chan execResult, 1)
	go func() {
		code, err := readExec(st, stdout, stderr)
		done <- execResult{code, err}
	}()
	var deadline <-chan time.Time
	if t := req.GetTimeout(); t > 0 {
		timer := time.NewTimer(time.Duration(t) * time.Second)
		defer timer.Stop()
		deadline = timer.C
	}
	select {
	case r := <-done:
		if r.err != nil {
			return nil, toStatus(r.err, "exec %q in container %s", req.GetCmd(), c.ID)
		}
		return &runtimeapi.ExecSyncResponse{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: int32(r.code)}, nil
	case <-deadline:
		if err := killExec(st, done); err != nil {
			return nil, status.Errorf(codes.Unknown, "exec %q in container %s timed out after %ds and could not be killed: %v", req.GetCmd(), c.ID, req.GetTimeout(), err)
		}
		return nil, status.Errorf(codes.DeadlineExceeded, "exec %q in container %s timed out after %ds: the command was killed; give it a longer timeout", req.GetCmd(), c.ID, req.GetTimeout())
	case <-ctx.Done():
		_ = killExec(st, done)
		return nil, toStatus(ctx.Err(), "exec %q in container %s", req.GetCmd(), c.ID)
	}
}

type execResult struct {
	code int
	err  error
}

// killExec kills an exec'd process and waits for its stream to end (the shim has reaped
// it then), so the process is gone when the caller answers.
func killExec(st io.ReadWriteCloser, done <-chan execResult) error {
	k, ok := st.(killer)
	if !ok {
		return errors.New("the engine cannot kill an exec'd process")
	}
	if err := k.Kill(); err != nil {
		return err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return errors.New("the process did not end within 10s of SIGKILL")
	}
	return nil
}

// runningContainer finds a running CRI container; what names the operation for errors.
func (s *Server) runningContainer(ctx context.Context, id, what string) (api.Container, error) {
	c, err := s.criContainer(ctx, id)
	if err != nil {
		return c, toStatus(err, "%s container %s", what, id)
	}
	if !c.State.Running || c.State.Paused {
		return c, status.Errorf(codes.FailedPrecondition, "%s container %s: it is %s, not running: start it first", what, c.ID, c.State.Status)
	}
	return c, nil
}

// execContainer finds the running container a command is to run in; the command must
// not be empty.
func (s *Server) execContainer(ctx context.Context, id string, cmd []string) (api.Container, error) {
	c, err := s.runningContainer(ctx, id, "exec in")
	if err == nil && len(cmd) == 0 {
		err = status.Errorf(codes.InvalidArgument, "exec in container %s: no command given", c.ID)
	}
	return c, err
}

// execStartCode is the exit code a shell would give for a command that cannot start
// (127: not there, 126: not executable), for an engine error that says so.
func execStartCode(err error) (int, bool) {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return 127, true
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return 126, true
	}
	return 0, false
}

// readExec copies an exec stream's output until its Exit frame and returns the code.
func readExec(st io.Reader, stdout, stderr io.Writer) (int, error) {
	fr := stream.NewReader(st)
	for {
		kind, p, err := fr.ReadFrame()
		if err != nil {
			return 0, fmt.Errorf("the exec's stream ended without an exit code: %w", err)
		}
		switch kind {
		case stream.Stdout:
			if stdout != nil {
				_, err = stdout.Write(p)
			}
		case stream.Stderr:
			if stderr != nil {
				_, err = stderr.Write(p)
			}
		case stream.Exit:
			return stream.ParseExit(p)
		case stream.Error:
			return 0, errors.New(string(p))
		}
		if err != nil {
			return 0, err
		}
	}
}

// cappedBuffer keeps what is written while the room it shares with others lasts, and
// drops the rest, so the writer is never blocked and memory stays bounded.
type cappedBuffer struct {
	buf  []byte
	room *int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	n := min(*b.room, len(p))
	b.buf = append(b.buf, p[:n]...)
	*b.room -= n
	return len(p), nil
}

func (b *cappedBuffer) Bytes() []byte { return b.buf }
