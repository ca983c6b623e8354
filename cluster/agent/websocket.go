package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
	utilexec "k8s.io/utils/exec"
)

// The WebSocket subprotocols of remote commands served. v5 adds the stream-close signal
// that lets a client end stdin (kubectl 1.30+ tries it first); v4 carries the exit
// status as a JSON Status.
const (
	wsProtocolV5       = "v5.channel.k8s.io"
	wsProtocolV4       = "v4.channel.k8s.io"
	wsProtocolV4Base64 = "v4.base64.channel.k8s.io"
)

// The channels of a remote command, numbered as the protocol numbers them.
const (
	chStdin = iota
	chStdout
	chStderr
	chError
	chResize
)

func isWebSocket(r *http.Request) bool { return wsstream.IsWebSocketRequest(r) }

// wsStreams are the streams of one remote command over WebSocket.
type wsStreams struct {
	stdin          io.Reader
	stdout, stderr io.WriteCloser
	resize         <-chan remotecommand.TerminalSize
}

// serveWebSocket upgrades r, runs run over the negotiated channels and writes its outcome
// on the error channel: success, a non-zero exit code, or the failure.
func serveWebSocket(w http.ResponseWriter, r *http.Request, opts *remotecommand.Options, run func(context.Context, *wsStreams) error) {
	channels := []wsstream.ChannelType{
		chStdin:  pick(opts.Stdin, wsstream.ReadChannel),
		chStdout: pick(opts.Stdout, wsstream.WriteChannel),
		chStderr: pick(opts.Stderr, wsstream.WriteChannel),
		chError:  wsstream.WriteChannel,
		chResize: pick(opts.TTY, wsstream.ReadChannel),
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		wsProtocolV5:       {Binary: true, Channels: channels},
		wsProtocolV4:       {Binary: true, Channels: channels},
		wsProtocolV4Base64: {Binary: false, Channels: channels},
	})
	conn.SetIdleTimeout(streamIdleTimeout)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		return // Open answered the client
	}
	defer conn.Close()
	// An empty message on the first writable channel tells the client the streams are up.
	switch {
	case opts.Stdout:
		_, _ = streams[chStdout].Write(nil)
	case opts.Stderr:
		_, _ = streams[chStderr].Write(nil)
	default:
		_, _ = streams[chError].Write(nil)
	}
	s := &wsStreams{}
	if opts.Stdin {
		s.stdin = streams[chStdin]
	}
	if opts.Stdout {
		s.stdout = streams[chStdout]
	}
	if opts.Stderr {
		s.stderr = streams[chStderr]
	}
	if opts.TTY {
		sizes := make(chan remotecommand.TerminalSize, 1)
		s.resize = sizes
		go func() {
			defer close(sizes)
			dec := json.NewDecoder(streams[chResize])
			for {
				var sz remotecommand.TerminalSize
				if err := dec.Decode(&sz); err != nil {
					return
				}
				select {
				case sizes <- sz:
				case <-r.Context().Done():
					return
				}
			}
		}()
	}
	status := outcome(run(r.Context(), s))
	data, _ := json.Marshal(status)
	_, _ = streams[chError].Write(data)
}

func pick(want bool, t wsstream.ChannelType) wsstream.ChannelType {
	if want {
		return t
	}
	return wsstream.IgnoreChannel
}

// outcome is the Status a remote command ends with.
func outcome(err error) metav1.Status {
	if err == nil {
		return metav1.Status{Status: metav1.StatusSuccess}
	}
	var exit utilexec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  remotecommand.NonZeroExitCodeReason,
			Message: "command terminated with non-zero exit code: " + err.Error(),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
				{Type: remotecommand.ExitCodeCauseType, Message: strconv.Itoa(exit.ExitStatus())},
			}},
		}
	}
	return metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError, Code: http.StatusInternalServerError,
		Message: "error executing command in container: " + err.Error()}
}
