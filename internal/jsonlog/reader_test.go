package jsonlog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rotatedLog writes records 0..29 of the standard sequence into a log rotated every four
// records and keeping every file: path.7 (0-3) ... path.1 (24-27), path (28, 29).
func rotatedLog(t *testing.T) string {
	t.Helper()
	path, w := newLog(t, Options{MaxSize: int64(4 * recordSize(10)), MaxFiles: 10})
	writeLines(t, w, 10, 40) // same-sized records: 10..39
	return path
}

func TestReadTail(t *testing.T) {
	path := rotatedLog(t)
	if idx, _ := rotatedIndexes(path); len(idx) != 7 {
		t.Fatalf("rotated files %v, want 7", idx)
	}
	tests := []struct {
		tail     int
		from, to int
	}{
		{tail: -1, from: 10, to: 40},
		{tail: 0, from: 40, to: 40},
		{tail: 1, from: 39, to: 40},
		{tail: 2, from: 38, to: 40}, // all of the active file
		{tail: 3, from: 37, to: 40}, // into path.1
		{tail: 11, from: 29, to: 40},
		{tail: 30, from: 10, to: 40},
		{tail: 1000, from: 10, to: 40},
	}
	for _, tt := range tests {
		t.Run("tail="+strconv.Itoa(tt.tail), func(t *testing.T) {
			equalLines(t, readLines(t, path, ReadOptions{Tail: tt.tail}), seq(tt.from, tt.to))
		})
	}
}

func TestReadSinceUntil(t *testing.T) {
	path := rotatedLog(t)
	at := func(i int) time.Time { _, ts := lineAt(i); return ts }
	tests := []struct {
		name         string
		tail         int
		since, until time.Time
		from, to     int
	}{
		{name: "since", tail: -1, since: at(25), from: 25, to: 40},
		{name: "since between records", tail: -1, since: at(25).Add(time.Millisecond), from: 26, to: 40},
		{name: "until", tail: -1, until: at(17), from: 10, to: 18},
		{name: "since and until", tail: -1, since: at(12), until: at(33), from: 12, to: 34},
		{name: "tail within range", tail: 3, since: at(12), until: at(33), from: 31, to: 34},
		{name: "tail larger than range", tail: 100, since: at(35), from: 35, to: 40},
		{name: "tail with until only", tail: 5, until: at(20), from: 16, to: 21},
		{name: "since after everything", tail: -1, since: at(100), from: 0, to: 0},
		{name: "until before everything", tail: 3, until: at(0), from: 0, to: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readLines(t, path, ReadOptions{Tail: tt.tail, Since: tt.since, Until: tt.until})
			equalLines(t, got, seq(tt.from, tt.to))
		})
	}
}

func TestReadSkipsMalformedLines(t *testing.T) {
	path, w := newLog(t, Options{})
	writeLines(t, w, 0, 2)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := []string{
		"not json at all\n",
		"\n",
		`{"log":"no time"}` + "\n",
		`{"log":"torn`, // a torn write, glued to the next line
		`{"log":"x","time":"2026-11-22T10:00:00Z"}` + "\n", // (glued: malformed)
		strings.Repeat("z", 2*maxRecord) + "\n",            // absurdly long
	}
	for _, j := range junk {
		f.WriteString(j)
	}
	f.Close()
	writeLines(t, w, 2, 4)
	want := seq(0, 4)
	equalLines(t, readLines(t, path, ReadOptions{Tail: -1}), want)
	for n := 1; n <= 5; n++ {
		equalLines(t, readLines(t, path, ReadOptions{Tail: n}), want[max(0, 4-n):])
	}
}

func TestReadUnterminatedEnd(t *testing.T) {
	// A record whose newline never made it is still read at the end of the log.
	path := filepath.Join(t.TempDir(), "log")
	rec := appendRecord(nil, "stdout", []byte("last\n"), t0)
	if err := os.WriteFile(path, rec[:len(rec)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	equalLines(t, readLines(t, path, ReadOptions{Tail: -1}), []string{"last\n"})
	equalLines(t, readLines(t, path, ReadOptions{Tail: 1}), []string{"last\n"})
}

func TestReadMissingLog(t *testing.T) {
	for _, path := range []string{filepath.Join(t.TempDir(), "none.log"), "/nonexistent-dir/x.log"} {
		if got := readLines(t, path, ReadOptions{Tail: -1}); len(got) != 0 {
			t.Fatalf("%s: %q", path, got)
		}
		if got := readLines(t, path, ReadOptions{Tail: 5}); len(got) != 0 {
			t.Fatalf("%s: %q", path, got)
		}
	}
}

func TestReadCallbackError(t *testing.T) {
	path := rotatedLog(t)
	stop := errors.New("client went away")
	n := 0
	err := Read(context.Background(), path, ReadOptions{Tail: -1}, func(Message) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("err = %v after %d records", err, n)
	}
}

func TestReadCancelled(t *testing.T) {
	path, w := newLog(t, Options{})
	writeLines(t, w, 0, 3000)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Read(ctx, path, ReadOptions{Tail: -1}, func(Message) error {
		if n++; n == 1 {
			cancel()
		}
		return nil
	})
	if err != nil || n >= 3000 {
		t.Fatalf("err = %v, %d records read after cancel", err, n)
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestTailReadsOnlyTheEnd(t *testing.T) {
	path, w := newLog(t, Options{})
	writeLines(t, w, 0, 100000) // about 8 MB
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	cr := &countingReaderAt{r: f}
	s := newBackScanner(cr, fi.Size())
	for i := 0; i < 10; i++ {
		if _, _, err := s.prev(); err != nil {
			t.Fatal(err)
		}
	}
	if cr.n > tailBlock {
		t.Fatalf("tail of 10 lines read %d bytes of a %d byte log", cr.n, fi.Size())
	}
	equalLines(t, readLines(t, path, ReadOptions{Tail: 10}), seq(99990, 100000))
}

func TestBackScanner(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var lines []string
	var data bytes.Buffer
	for i := 0; i < 300; i++ {
		var n int
		switch rng.IntN(10) {
		case 0:
			n = 0
		case 1:
			n = tailBlock + rng.IntN(3*tailBlock) // longer than a block
		default:
			n = rng.IntN(200)
		}
		l := strings.Repeat(string(rune('a'+i%26)), n)
		lines = append(lines, l)
		data.WriteString(l + "\n")
	}
	// A line longer than maxRecord is skipped whole.
	data.WriteString(strings.Repeat("h", maxRecord+5) + "\n")
	data.WriteString("end\n")
	lines = append(lines, "end")
	b := data.Bytes()
	s := newBackScanner(bytes.NewReader(b), int64(len(b)))
	for i := len(lines) - 1; i >= 0; i-- {
		line, off, err := s.prev()
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if string(line) != lines[i] {
			t.Fatalf("line %d: got %d bytes, want %d", i, len(line), len(lines[i]))
		}
		if !bytes.HasPrefix(b[off:], append(line, '\n')) {
			t.Fatalf("line %d: wrong offset %d", i, off)
		}
	}
	if _, _, err := s.prev(); err != io.EOF {
		t.Fatalf("after the first line: %v", err)
	}
}
