package cri

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/stream"
)

// Exec, Attach and PortForward answer with the URL of a streaming server that the
// kubelet (or crictl) then connects to; that server speaks the kubelet's own SPDY and
// WebSocket protocols (k8s.io/cri-streaming) and calls streamRuntime below.

// ServeStreaming starts the streaming server on addr (host:port; port 0 picks one) and
// returns the function that stops it.
func (s *Server) ServeStreaming(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cri streaming server: listen on %s: %w", addr, err)
	}
	cfg := streaming.DefaultConfig
	cfg.Addr = ln.Addr().String()
	cfg.BaseURL = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	ss, err := streaming.NewServer(cfg, streamRuntime{s.engine})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("cri streaming server: %w", err)
	}
	srv := &http.Server{Handler: ss, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.stream = ss
	return func() { srv.Close() }, nil
}

// streamServer is the streaming server, or why there is none.
func (s *Server) streamServer() (streaming.Server, error) {
	if s.stream == nil {
		return nil, status.Error(codes.Unimplemented, "this daemon serves no CRI streaming: start it with --cri-stream-addr")
	}
	return s.stream, nil
}

// Exec prepares a streamed command in a running container.
func (s *Server) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	ss, err := s.streamServer()
	if err != nil {
		return nil, err
	}
	c, err := s.execContainer(ctx, req.GetContainerId(), req.GetCmd())
	if err != nil {
		return nil, err
	}
	req.ContainerId = c.ID // a full ID: the session finds it even if a prefix grows ambiguous
	return ss.GetExec(req)
}

// Attach prepares a stream to a running container's stdio.
func (s *Server) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	ss, err := s.streamServer()
	if err != nil {
		return nil, err
	}
	c, err := s.runningContainer(ctx, req.GetContainerId(), "attach to")
	if err != nil {
		return nil, err
	}
	req.ContainerId = c.ID // a full ID: the session finds it even if a prefix grows ambiguous
	return ss.GetAttach(req)
}

// PortForward prepares forwarding to ports of a ready sandbox.
func (s *Server) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	ss, err := s.streamServer()
	if err != nil {
		return nil, err
	}
	pod, err := s.criPod(ctx, req.GetPodSandboxId())
	if err != nil {
		return nil, toStatus(err, "port forward to sandbox %s", req.GetPodSandboxId())
	}
	if sandboxState(pod) != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, status.Errorf(codes.FailedPrecondition, "port forward to sandbox %s: it is not ready", pod.ID)
	}
	for _, p := range req.GetPort() {
		if p < 1 || p > 65535 {
			return nil, status.Errorf(codes.InvalidArgument, "port forward to sandbox %s: port %d is out of range 1-65535", pod.ID, p)
		}
	}
	req.PodSandboxId = pod.ID // a full ID: the session finds it even if a prefix grows ambiguous
	return ss.GetPortForward(req)
}

// streamRuntime runs the streaming server's sessions on the engine.
type streamRuntime struct{ engine Engine }

var _ streaming.Runtime = streamRuntime{}

// Exec runs cmd in the container for one session; a non-zero exit is reported as the
// ExitError the remotecommand protocol turns into the client's exit code.
func (r streamRuntime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	st, err := r.engine.Exec(context.WithoutCancel(ctx), id, api.ExecConfig{Cmd: cmd, Tty: tty, Stdin: in != nil})
	if err != nil {
		if code, ok := execStartCode(err); ok {
			if errw != nil {
				fmt.Fprintln(errw, err)
			}
			return utilexec.CodeExitError{Err: err, Code: code}
		}
		return err
	}
	defer st.Close()
	fw := stream.NewWriter(st)
	code, err := relay(ctx, st, fw, in, out, errw, true, resize, func(size remotecommand.TerminalSize) error {
		return fw.WriteResize(size.Width, size.Height)
	})
	if err == nil && code != 0 {
		err = utilexec.CodeExitError{Err: fmt.Errorf("command exited with code %d", code), Code: code}
	}
	return err
}

// Attach joins the container's stdio until it exits or the client goes away. The end of
// the client's input closes the container's stdin when it was created with stdin_once;
// input to a container created without stdin is dropped, as containerd does.
func (r streamRuntime) Attach(ctx context.Context, id string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	c, err := r.engine.InspectContainer(ctx, id)
	if err != nil {
		return err
	}
	if !c.Config.OpenStdin {
		in = nil
	}
	st, err := r.engine.AttachContainer(context.WithoutCancel(ctx), c.ID, in != nil)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = relay(ctx, st, stream.NewWriter(st), in, out, errw, c.Config.StdinOnce, resize, func(size remotecommand.TerminalSize) error {
		return r.engine.ResizeContainer(context.WithoutCancel(ctx), c.ID, size.Width, size.Height)
	})
	return err
}

// PortForward copies between the client's stream and a connection to port on the
// sandbox's loopback, until the sandbox side is done.
func (r streamRuntime) PortForward(ctx context.Context, podID string, port int32, client io.ReadWriteCloser) error {
	conn, err := r.engine.DialPod(ctx, podID, int(port))
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, client)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, err = io.Copy(client, conn)
	client.Close()
	return err
}

// relay joins a remotecommand session to an engine stream (drover's framed format) until
// the stream's Exit frame, and returns the exit code. Input goes in as Stdin frames
// through fw, the stream's one writer; at its end a CloseStdin frame follows when
// closeStdin is set. Terminal sizes go to resize.
func relay(ctx context.Context, st io.ReadWriteCloser, fw *stream.Writer, in io.Reader, out, errw io.Writer, closeStdin bool,
	sizes <-chan remotecommand.TerminalSize, resize func(remotecommand.TerminalSize) error) (int, error) {
	done := make(chan struct{})
	defer close(done)
	if in != nil {
		go func() {
			_, err := io.Copy(fw.StreamWriter(stream.Stdin), in)
			if err == nil && closeStdin {
				_ = fw.WriteFrame(stream.CloseStdin, nil)
			}
		}()
	}
	if sizes != nil {
		go func() {
			for {
				select {
				case size, ok := <-sizes:
					if !ok {
						return
					}
					_ = resize(size)
				case <-done:
					return
				}
			}
		}()
	}
	// When the session's context ends, closing the stream ends readExec.
	stop := context.AfterFunc(ctx, func() { st.Close() })
	defer stop()
	code, err := readExec(st, out, errw)
	if err != nil && ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return code, err
}
