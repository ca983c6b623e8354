package shim

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/drover/drover/internal/stream"
	"github.com/drover/drover/runtime"
)

// exec runs req.Process in the container and streams its stdio over conn, ending with
// an Exit frame carrying its exit code.
func (s *server) exec(conn *net.UnixConn, br *bufio.Reader, req Request) {
	if req.Process == nil {
		writeResponse(conn, Response{Error: "exec needs a process"})
		return
	}
	select {
	case <-s.exited:
		writeResponse(conn, Response{Error: "container is not running"})
		return
	default:
	}
	if req.Detach {
		s.execDetached(conn, req)
		return
	}
	rio := runtime.IO{Terminal: req.Terminal, ConsoleWidth: req.Width, ConsoleHeight: req.Height}
	var outR, errR, inW *os.File
	var childEnds []*os.File
	closeChildEnds := func() {
		for _, f := range childEnds {
			f.Close()
		}
	}
	if !req.Terminal {
		var err error
		if outR, rio.Stdout, err = os.Pipe(); err != nil {
			writeResponse(conn, errResponse(err))
			return
		}
		if errR, rio.Stderr, err = os.Pipe(); err != nil {
			outR.Close()
			rio.Stdout.Close()
			writeResponse(conn, errResponse(err))
			return
		}
		childEnds = append(childEnds, rio.Stdout, rio.Stderr)
		if req.Stdin {
			if rio.Stdin, inW, err = os.Pipe(); err != nil {
				outR.Close()
				errR.Close()
				closeChildEnds()
				writeResponse(conn, errResponse(err))
				return
			}
			childEnds = append(childEnds, rio.Stdin)
		}
	}
	p, err := s.rt.Exec(context.Background(), s.cfg.ID, req.Process, rio)
	closeChildEnds()
	if err != nil {
		kickReaper()
		for _, f := range []*os.File{outR, errR, inW} {
			if f != nil {
				f.Close()
			}
		}
		writeResponse(conn, errResponse(err))
		return
	}
	own(p.Pid)
	writeResponse(conn, Response{Pid: p.Pid})
	w := stream.NewWriter(conn)

	var wg sync.WaitGroup
	copyOut := func(r *os.File, kind stream.Kind) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			_, _ = io.Copy(w.StreamWriter(kind), r)
		}()
	}
	var in io.Writer
	if p.Console != nil {
		defer p.Console.Close()
		copyOut(p.Console, stream.Stdout)
		in = p.Console
	} else {
		copyOut(outR, stream.Stdout)
		copyOut(errR, stream.Stderr)
		if inW != nil {
			defer inW.Close()
			in = inW
		}
	}
	if in != nil {
		var once sync.Once
		go s.forwardInput(br, in, p.Console, func() {
			if inW != nil {
				once.Do(func() { inW.Close() })
			}
		})
	}
	ws, werr := waitPid(p.Pid)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	_ = w.WriteExit(exitCode(ws, werr))
}

// execDetached starts req.Process with /dev/null as stdio and reaps it in the background.
func (s *server) execDetached(conn *net.UnixConn, req Request) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		writeResponse(conn, errResponse(err))
		return
	}
	req.Process.Terminal = false
	p, err := s.rt.Exec(context.Background(), s.cfg.ID, req.Process, runtime.IO{Stdin: null, Stdout: null, Stderr: null})
	null.Close()
	if err != nil {
		kickReaper()
		writeResponse(conn, errResponse(err))
		return
	}
	own(p.Pid)
	writeResponse(conn, Response{Pid: p.Pid})
	w := stream.NewWriter(conn)
	if req.WaitExit {
		ws, werr := waitPid(p.Pid)
		_ = w.WriteExit(exitCode(ws, werr))
		return
	}
	_ = w.WriteExit(0)
	go func() { _, _ = waitPid(p.Pid) }()
}
