package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/drover/drover/client"
	"github.com/drover/drover/internal/signals"
	"github.com/drover/drover/internal/stream"
)

// streamOptions say how a hijacked stream meets the local terminal.
type streamOptions struct {
	stdin bool
	tty   bool
	// proxySignals forwards signals drover receives to the container (id).
	proxySignals bool
	id           string
}

// pump connects a hijacked stream with the local stdio until the Exit frame and returns
// the exit code it carries.
func pump(ctx context.Context, c *client.Client, conn *client.Hijacked, o streamOptions) (int, error) {
	defer conn.Close()
	w := stream.NewWriter(conn)
	if o.tty && term.IsTerminal(int(os.Stdin.Fd())) {
		if state, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			defer term.Restore(int(os.Stdin.Fd()), state)
		}
		sendSize := func() {
			if cols, rows, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				_ = w.WriteResize(uint16(cols), uint16(rows))
			}
		}
		sendSize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				sendSize()
			}
		}()
	}
	if o.proxySignals && !o.tty {
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				_ = c.ContainerKill(context.Background(), o.id, strconv.Itoa(int(s.(syscall.Signal))))
			}
		}()
	}
	if o.stdin {
		go func() {
			_, _ = io.Copy(w.StreamWriter(stream.Stdin), os.Stdin)
			_ = w.WriteFrame(stream.CloseStdin, nil)
		}()
	}
	r := stream.NewReader(conn)
	for {
		kind, p, err := r.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, errors.New("connection to the daemon closed before the container's exit code arrived")
			}
			return 0, err
		}
		switch kind {
		case stream.Stdout:
			_, _ = os.Stdout.Write(p)
		case stream.Stderr:
			_, _ = os.Stderr.Write(p)
		case stream.Exit:
			return stream.ParseExit(p)
		case stream.Error:
			return 0, errors.New(string(p))
		}
	}
}

// startExitCode maps a failure to start a command to Docker's exit codes: 127 when the
// command was not found, 126 when it could not be run, 125 for anything else.
func startExitCode(err error) error {
	msg := err.Error()
	switch {
	case !strings.Contains(msg, "exec: "):
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return exitCode(127, msg)
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"), strings.Contains(msg, "not executable"):
		return exitCode(126, msg)
	}
	return exitCode(125, msg)
}

// parseSignal validates a signal name or number for the daemon.
func parseSignal(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if _, err := signals.Parse(s); err != nil {
		return "", exitCode(125, err.Error())
	}
	return s, nil
}
