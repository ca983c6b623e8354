package jsonlog

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestLineWriterSplitting(t *testing.T) {
	long := strings.Repeat("x", MaxLine)
	tests := []struct {
		name  string
		input string
		want  []rec // Stream "stdout" implied
	}{
		{name: "lines", input: "a\nbb\n\nccc\n", want: []rec{{Line: "a\n"}, {Line: "bb\n"}, {Line: "\n"}, {Line: "ccc\n"}}},
		{name: "unfinished last line gets a newline", input: "a\nb", want: []rec{{Line: "a\n"}, {Line: "b\n"}}},
		{name: "exactly MaxLine", input: long + "\n", want: []rec{{Line: long + "\n"}}},
		{name: "MaxLine plus one", input: long + "y\n", want: []rec{{Line: long, Partial: true}, {Line: "y\n"}}},
		{name: "two and a half MaxLine", input: long + long + "zz\nnext\n", want: []rec{
			{Line: long, Partial: true}, {Line: long, Partial: true}, {Line: "zz\n"}, {Line: "next\n"}}},
		{name: "long unfinished", input: long + long, want: []rec{{Line: long, Partial: true}, {Line: long + "\n"}}},
		{name: "carriage returns kept", input: "progress 10%\rprogress 100%\r\n", want: []rec{{Line: "progress 10%\rprogress 100%\r\n"}}},
		{name: "empty", input: "", want: nil},
	}
	// Each input arrives in chunks of these sizes, through Write and through ReadFrom.
	chunkings := []int{1, 7, 4096, MaxLine - 1, MaxLine, MaxLine + 1, 1 << 20}
	for _, tt := range tests {
		for _, chunk := range chunkings {
			for _, via := range []string{"Write", "ReadFrom"} {
				t.Run(tt.name+"/"+via+"/"+strconv.Itoa(chunk), func(t *testing.T) {
					path, w := newLog(t, Options{})
					lw := NewLineWriter(w, "stdout")
					in := []byte(tt.input)
					switch via {
					case "Write":
						for len(in) > 0 {
							k := min(chunk, len(in))
							if n, err := lw.Write(in[:k]); n != k || err != nil {
								t.Fatalf("Write = %d, %v", n, err)
							}
							in = in[k:]
						}
					case "ReadFrom":
						if _, err := lw.ReadFrom(&chunkReader{data: in, chunk: chunk}); err != nil {
							t.Fatal(err)
						}
					}
					if err := lw.Flush(); err != nil {
						t.Fatal(err)
					}
					got := readRecs(t, path, ReadOptions{Tail: -1})
					if len(got) != len(tt.want) {
						t.Fatalf("got %d records, want %d: %v", len(got), len(tt.want), got)
					}
					for i := range got {
						if got[i].Line != tt.want[i].Line || got[i].Partial != tt.want[i].Partial || got[i].Stream != "stdout" {
							t.Fatalf("record %d = %v, want %v", i, got[i], tt.want[i])
						}
					}
				})
			}
		}
	}
}

// chunkReader returns data at most chunk bytes per Read.
type chunkReader struct {
	data  []byte
	chunk int
	err   error // returned at the end instead of io.EOF
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestCopyStream(t *testing.T) {
	path, w := newLog(t, Options{})
	// A terminal's master side ends with EIO: that is the end of the stream, not an error.
	if err := CopyStream(w, "stdout", &chunkReader{data: []byte("one\ntwo"), chunk: 3, err: syscall.EIO}); err != nil {
		t.Fatal(err)
	}
	if err := CopyStream(w, "stderr", &chunkReader{data: []byte("three\n"), chunk: 100}); err != nil {
		t.Fatal(err)
	}
	got := readRecs(t, path, ReadOptions{Tail: -1})
	want := []rec{{Stream: "stdout", Line: "one\n"}, {Stream: "stdout", Line: "two\n"}, {Stream: "stderr", Line: "three\n"}}
	if len(got) != len(want) {
		t.Fatalf("records %v", got)
	}
	for i := range want {
		if got[i].Stream != want[i].Stream || got[i].Line != want[i].Line {
			t.Fatalf("record %d = %v, want %v", i, got[i], want[i])
		}
	}
	// Other read errors are returned, after what was read is logged.
	boom := errors.New("boom")
	if err := CopyStream(w, "stdout", &chunkReader{data: []byte("four\n"), chunk: 100, err: boom}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := readLines(t, path, ReadOptions{Tail: 1}); len(got) != 1 || got[0] != "four\n" {
		t.Fatalf("last = %q", got)
	}
}

func TestCopyStreamKeepsReadingWhenLogFails(t *testing.T) {
	_, w := newLog(t, Options{})
	w.Close() // every record fails now
	r := &chunkReader{data: bytes.Repeat([]byte("line\n"), 10000), chunk: 512}
	err := CopyStream(w, "stdout", r)
	if err == nil || len(r.data) != 0 {
		t.Fatalf("err = %v, %d bytes left unread", err, len(r.data))
	}
}

// TestCopyStreamMemory checks the copier's allocations: one line buffer, none per line.
func TestCopyStreamMemory(t *testing.T) {
	_, w := newLog(t, Options{})
	data := bytes.Repeat([]byte("a line of output from the container\n"), 1000)
	data = append(data, bytes.Repeat([]byte("y"), 3*MaxLine)...)
	allocs := testing.AllocsPerRun(10, func() {
		if err := CopyStream(w, "stdout", &chunkReader{data: data, chunk: 4096}); err != nil {
			t.Fatal(err)
		}
	})
	// The LineWriter and its buffer, the chunkReader, the closure: a handful, not per line.
	if allocs > 8 {
		t.Fatalf("CopyStream of 1000 lines allocates %v times", allocs)
	}
}
