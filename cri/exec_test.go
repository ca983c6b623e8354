package cri

import (
	"bytes"
	"strings"
	"testing"

	"github.com/drover/drover/internal/stream"
)

func TestReadExec(t *testing.T) {
	frames := func(write func(w *stream.Writer)) *bytes.Buffer {
		var b bytes.Buffer
		write(stream.NewWriter(&b))
		return &b
	}
	for _, tc := range []struct {
		name      string
		in        *bytes.Buffer
		out, errs string
		code      int
		err       string
	}{
		{"exit", frames(func(w *stream.Writer) {
			w.WriteFrame(stream.Stdout, []byte("a"))
			w.WriteFrame(stream.Stderr, []byte("b"))
			w.WriteFrame(stream.Stdout, []byte("c"))
			w.WriteExit(3)
		}), "ac", "b", 3, ""},
		{"no exit frame", frames(func(w *stream.Writer) { w.WriteFrame(stream.Stdout, []byte("a")) }), "a", "", 0, "without an exit code"},
		{"error frame", frames(func(w *stream.Writer) { w.WriteFrame(stream.Error, []byte("shim gone")) }), "", "", 0, "shim gone"},
	} {
		var out, errs bytes.Buffer
		code, err := readExec(tc.in, &out, &errs)
		if out.String() != tc.out || errs.String() != tc.errs || code != tc.code || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: out %q errs %q code %d err %v", tc.name, out.String(), errs.String(), code, err)
		}
	}
}

// The two streams share one budget; writes past it are dropped, never refused.
func TestCappedBuffer(t *testing.T) {
	room := 5
	a, b := &cappedBuffer{room: &room}, &cappedBuffer{room: &room}
	for _, w := range []struct {
		buf *cappedBuffer
		p   string
	}{{a, "abc"}, {b, "defg"}, {a, "h"}} {
		if n, err := w.buf.Write([]byte(w.p)); n != len(w.p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w.p, n, err)
		}
	}
	if string(a.Bytes()) != "abc" || string(b.Bytes()) != "de" || room != 0 {
		t.Fatalf("a %q b %q room %d", a.Bytes(), b.Bytes(), room)
	}
}
