package dockerapi

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/drover/drover/internal/stream"
)

// unixPair returns both ends of a unix stream connection (pump half-closes its side).
func unixPair(t *testing.T) (server, client *net.UnixConn) {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return (<-done).(*net.UnixConn), c.(*net.UnixConn)
}

func TestPump(t *testing.T) {
	for _, tty := range []bool{false, true} {
		srv, cli := unixPair(t)
		engineSide, shimSide := net.Pipe()
		// The shim: takes stdin until CloseStdin, echoes it on stdout, writes to stderr, exits 3.
		gotStdin := make(chan string, 1)
		go func() {
			fr, fw := stream.NewReader(shimSide), stream.NewWriter(shimSide)
			var in bytes.Buffer
			for {
				kind, p, err := fr.ReadFrame()
				if err != nil || kind == stream.CloseStdin {
					break
				}
				in.Write(p)
			}
			gotStdin <- in.String()
			_ = fw.WriteFrame(stream.Stdout, []byte("out:"+in.String()))
			_ = fw.WriteFrame(stream.Stderr, []byte("err"))
			_ = fw.WriteExit(3)
			_, _ = io.Copy(io.Discard, shimSide)
		}()
		code := -2
		done := make(chan struct{})
		go func() {
			pump(srv, srv, engineSide, tty, true, true, true, nil, func(c int) { code = c })
			srv.Close()
			engineSide.Close()
			close(done)
		}()
		if _, err := cli.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		_ = cli.CloseWrite()
		out, err := io.ReadAll(cli)
		if err != nil {
			t.Fatalf("client read (tty %v): %v", tty, err)
		}
		<-done
		if s := <-gotStdin; s != "hello" {
			t.Fatalf("stdin reached the shim as %q", s)
		}
		want := "\x01\x00\x00\x00\x00\x00\x00\x09out:hello\x02\x00\x00\x00\x00\x00\x00\x03err"
		if tty {
			want = "out:helloerr"
		}
		if string(out) != want || code != 3 {
			t.Fatalf("tty %v: output %q code %d, want %q and 3", tty, out, code, want)
		}
		cli.Close()
	}
}

func TestEscapeMatcher(t *testing.T) {
	keys, err := parseDetachKeys("ctrl-p,ctrl-q")
	if err != nil || string(keys) != "\x10\x11" {
		t.Fatalf("parse: %q %v", keys, err)
	}
	for _, bad := range []string{"ctrl-", "ctrl-pq", "ab", "ctrl-1"} {
		if _, err := parseDetachKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	m := &escapeMatcher{keys: keys}
	var got []byte
	for _, chunk := range []string{"ab\x10", "c\x10\x10", "\x11rest"} {
		out, detached := m.feed([]byte(chunk))
		got = append(got, out...)
		if detached {
			if string(got) != "ab\x10c\x10" {
				t.Fatalf("passed on before the detach: %q", got)
			}
			return
		}
	}
	t.Fatal("ctrl-p ctrl-q did not detach")
}
