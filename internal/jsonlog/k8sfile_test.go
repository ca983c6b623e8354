package jsonlog

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCRIRecordFormat(t *testing.T) {
	whole := t0.Truncate(time.Second)
	tests := []struct {
		name, stream, line string
		t                  time.Time
		want               string
	}{
		{"full line", "stdout", "hello world\n", t0, "2026-11-22T10:00:00.123456789Z stdout F hello world\n"},
		{"piece", "stderr", "no newline", t0, "2026-11-22T10:00:00.123456789Z stderr P no newline\n"},
		{"empty line", "stdout", "\n", t0, "2026-11-22T10:00:00.123456789Z stdout F \n"},
		{"nanoseconds always nine digits", "stdout", "x\n", whole, "2026-11-22T10:00:00.000000000Z stdout F x\n"},
		{"other zone written in UTC", "stdout", "x\n", t0.In(time.FixedZone("x", 3600)), "2026-11-22T10:00:00.123456789Z stdout F x\n"},
		{"bytes as they are", "stdout", "\x00\t\r\xff \"q\"\n", t0, "2026-11-22T10:00:00.123456789Z stdout F \x00\t\r\xff \"q\"\n"},
		{"newlines inside end records", "stdout", "a\n\nb", t0,
			"2026-11-22T10:00:00.123456789Z stdout F a\n2026-11-22T10:00:00.123456789Z stdout F \n2026-11-22T10:00:00.123456789Z stdout P b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendCRIRecord(nil, tt.stream, []byte(tt.line), tt.t)); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDecodeCRIRecord(t *testing.T) {
	const ts = "2026-11-22T10:00:00.123456789Z"
	tests := []struct {
		name, in string
		ok       bool
		line     string
		stream   string
		partial  bool
	}{
		{name: "full", in: ts + " stdout F hello", ok: true, line: "hello\n", stream: "stdout"},
		{name: "partial", in: ts + " stderr P hel", ok: true, line: "hel", stream: "stderr", partial: true},
		{name: "empty full line", in: ts + " stdout F ", ok: true, line: "\n", stream: "stdout"},
		{name: "spaces in the text kept", in: ts + " stdout F  a  b ", ok: true, line: " a  b \n", stream: "stdout"},
		{name: "more tags ignored", in: ts + " stdout P:x:y z", ok: true, line: "z", stream: "stdout", partial: true},
		{name: "another runtime's zone", in: "2026-11-22T11:00:00.5+01:00 stdout F a", ok: true, line: "a\n", stream: "stdout"},
		{name: "no text separator", in: ts + " stdout F", ok: false},
		{name: "unknown tag", in: ts + " stdout X a", ok: false},
		{name: "empty tag", in: ts + " stdout  a", ok: false},
		{name: "long tag", in: ts + " stdout FF a", ok: false},
		{name: "unknown stream", in: ts + " stdin F a", ok: false},
		{name: "bad time", in: "yesterday stdout F a", ok: false},
		{name: "time without date", in: "10:00:00Z stdout F a", ok: false},
		{name: "json-file record", in: `{"log":"a\n","stream":"stdout","time":"` + ts + `"}`, ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			ok := decodeCRIRecord([]byte(tt.in), &m)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if string(m.Line) != tt.line || m.Stream != tt.stream || m.Partial != tt.partial {
				t.Fatalf("decoded %q %q partial=%v", m.Line, m.Stream, m.Partial)
			}
			if !m.Time.Equal(t0) && tt.name != "another runtime's zone" {
				t.Fatalf("time %v", m.Time)
			}
		})
	}
}

// refDecodeCRI is the reference for decodeCRIRecord, read as the kubelet describes the
// format: four fields separated by single spaces, the last one the rest of the line.
func refDecodeCRI(b []byte) (Message, bool) {
	f := strings.SplitN(string(b), " ", 4)
	if len(f) != 4 || (f[1] != "stdout" && f[1] != "stderr") {
		return Message{}, false
	}
	tag := strings.Split(f[2], ":")[0]
	if tag != "F" && tag != "P" {
		return Message{}, false
	}
	tm, err := time.Parse(time.RFC3339Nano, f[0])
	if err != nil {
		return Message{}, false
	}
	line := f[3]
	if tag == "F" {
		line += "\n"
	}
	return Message{Stream: f[1], Line: []byte(line), Time: tm, Partial: tag == "P"}, true
}

// FuzzDecodeCRIRecord checks decodeCRIRecord against the reference on arbitrary lines, and
// that what it accepts encodes back to a record that reads the same.
func FuzzDecodeCRIRecord(f *testing.F) {
	for _, s := range []string{
		"2026-11-22T10:00:00.123456789Z stdout F hello",
		"2026-11-22T10:00:00Z stderr P:x part",
		"2026-11-22T11:00:00.5+01:00 stdout F ",
		"2026-11-22T10:00:00Z stdout F",
		"2026-11-22T10:00:00Z stdin F a",
		"x y z w", "", "   ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		ok := decodeCRIRecord(b, &m)
		ref, refOK := refDecodeCRI(b)
		if ok != refOK {
			t.Fatalf("decodeCRIRecord = %v, reference = %v for %q", ok, refOK, b)
		}
		if !ok {
			return
		}
		if !bytes.Equal(m.Line, ref.Line) || m.Stream != ref.Stream || !m.Time.Equal(ref.Time) || m.Partial != ref.Partial {
			t.Fatalf("decoded %+v, reference %+v for %q", m, ref, b)
		}
		if bytes.IndexByte(m.Line[:len(m.Line)-boolInt(!m.Partial)], '\n') >= 0 {
			return // a newline inside the text is not the reader's to see: lines are split on it first
		}
		rec := appendCRIRecord(nil, m.Stream, m.Line, m.Time)
		var again Message
		if !decodeCRIRecord(rec[:len(rec)-1], &again) || !bytes.Equal(again.Line, m.Line) || again.Partial != m.Partial ||
			!again.Time.Equal(m.Time) {
			t.Fatalf("%q re-encoded as %q reads %+v", b, rec, again)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzCRIRecordRoundTrip checks that any bytes a container prints make well-formed records
// whose texts join back to exactly those bytes.
func FuzzCRIRecordRoundTrip(f *testing.F) {
	for _, s := range []string{"hello\n", "", "\n", "a\nb", "\x00 \xff\r\n\n"} {
		f.Add("stdout", []byte(s))
	}
	f.Fuzz(func(t *testing.T, stream string, line []byte) {
		if stream != "stdout" {
			stream = "stderr"
		}
		rec := appendCRIRecord(nil, stream, line, t0)
		if len(rec) == 0 || rec[len(rec)-1] != '\n' {
			t.Fatalf("record %q does not end with a newline", rec)
		}
		var joined []byte
		for _, l := range bytes.SplitAfter(rec[:len(rec)-1], []byte("\n")) {
			l = bytes.TrimSuffix(l, []byte("\n"))
			var m Message
			if !decodeCRIRecord(l, &m) || m.Stream != stream || !m.Time.Equal(t0) {
				t.Fatalf("cannot decode %q of %q", l, rec)
			}
			joined = append(joined, m.Line...)
		}
		if !bytes.Equal(joined, line) {
			t.Fatalf("%q came back as %q", line, joined)
		}
	})
}

func TestCRIAllocations(t *testing.T) {
	line := []byte("a typical line of container output\n")
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = appendCRIRecord(buf[:0], "stdout", line, t0) }); n != 0 {
		t.Errorf("appendCRIRecord allocates %v times per record", n)
	}
	rec := appendCRIRecord(nil, "stdout", line, t0)
	m := Message{Line: make([]byte, 0, 256)}
	// time.Parse keeps its input string, which costs one allocation.
	if n := testing.AllocsPerRun(100, func() { decodeCRIRecord(rec[:len(rec)-1], &m) }); n > 1 {
		t.Errorf("decodeCRIRecord allocates %v times per record", n)
	}
	_, w := newLog(t, Options{Format: FormatCRI, MaxSize: 1 << 30, MaxFiles: 2})
	if n := testing.AllocsPerRun(200, func() { _ = w.Write("stdout", line, t0) }); n != 0 {
		t.Fatalf("Writer.Write allocates %v times per CRI record", n)
	}
}

// TestCRILineWriter runs container output through the LineWriter into a CRI log: long lines
// become P records ending in an F, and an unfinished last line stays a P record (no
// newline is made up). The file is checked byte for byte as a kubelet reads it, and read
// back with tail.
func TestCRILineWriter(t *testing.T) {
	path, w := newLog(t, Options{Format: FormatCRI})
	long := strings.Repeat("x", MaxLine)
	if err := CopyStream(w, "stdout", strings.NewReader("one\n\n"+long+"yy\nlast")); err != nil {
		t.Fatal(err)
	}
	if err := CopyStream(w, "stderr", strings.NewReader("err\n")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"stdout F one", "stdout F ", "stdout P " + long, "stdout F yy", "stdout P last", "stderr F err"}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %q", len(lines), len(want), lines)
	}
	for i, l := range lines {
		ts, rest, _ := strings.Cut(l, " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || len(ts) != len("2026-11-22T10:00:00.123456789Z") {
			t.Fatalf("line %d: time %q: %v", i, ts, err)
		}
		if rest != want[i] {
			t.Fatalf("line %d = %.40q, want %.40q", i, rest, want[i])
		}
	}
	got := readRecs(t, path, ReadOptions{Format: FormatCRI, Tail: 3})
	if len(got) != 3 || got[0].Line != "yy\n" || got[1].Line != "last" || !got[1].Partial || got[2].Stream != "stderr" || got[2].Line != "err\n" {
		t.Fatalf("tail 3: %v", got)
	}
	// Read as json-file, a CRI log has no records: the format must be given.
	if got := readRecs(t, path, ReadOptions{Tail: -1}); len(got) != 0 {
		t.Fatalf("read as json-file: %v", got)
	}
}

func TestCRIReadSince(t *testing.T) {
	path, w := newLog(t, Options{Format: FormatCRI, MaxSize: int64(len(appendCRIRecord(nil, "stdout", []byte("line 10\n"), t0)) * 4), MaxFiles: 5})
	writeLines(t, w, 0, 12)
	if _, err := os.Stat(rotatedName(path, 2)); err != nil {
		t.Fatalf("no rotation: %v", err)
	}
	_, since := lineAt(7)
	equalLines(t, readLines(t, path, ReadOptions{Format: FormatCRI, Tail: -1, Since: since}), seq(7, 12))
	equalLines(t, readLines(t, path, ReadOptions{Format: FormatCRI, Tail: 2, Since: since}), seq(10, 12))
}

// TestWriterReopen renames the log away, as the kubelet rotates CRI logs, and reopens: new
// records go to a new file at the path, none to the renamed one.
func TestWriterReopen(t *testing.T) {
	path, w := newLog(t, Options{Format: FormatCRI})
	writeLines(t, w, 0, 2)
	moved := path + ".20261122-100000"
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, 2, 3) // before the reopen: still the old file
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, 3, 5)
	opts := ReadOptions{Format: FormatCRI, Tail: -1}
	equalLines(t, readLines(t, moved, opts), seq(0, 3))
	equalLines(t, readLines(t, path, opts), seq(3, 5))

	// The directory gone: the reopen fails, the records keep going to the open file.
	dir := filepath.Dir(path)
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err == nil {
		t.Fatal("Reopen succeeded without a directory")
	}
	writeLines(t, w, 5, 6)
	equalLines(t, readLines(t, filepath.Join(dir+".moved", filepath.Base(path)), opts), seq(3, 6))
	os.Rename(dir+".moved", dir)

	w.Close()
	if err := w.Reopen(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Reopen of a closed writer: %v", err)
	}
}

// TestFollowAcrossExternalRename follows a CRI log while it is renamed away and reopened,
// as the kubelet rotates it: the follower reads the old file to its end and goes on with
// the new one.
func TestFollowAcrossExternalRename(t *testing.T) {
	path, w := newLog(t, Options{Format: FormatCRI})
	writeLines(t, w, 0, 3)
	f := startFollow(t, path, ReadOptions{Format: FormatCRI, Tail: -1})
	f.expect(t, seq(0, 3))
	for round := 1; round <= 3; round++ {
		if err := os.Rename(path, path+"."+strconv.Itoa(round)+"-rotated"); err != nil {
			t.Fatal(err)
		}
		writeLines(t, w, round*10, round*10+2) // to the renamed file
		if err := w.Reopen(); err != nil {
			t.Fatal(err)
		}
		writeLines(t, w, round*10+2, round*10+4)
		f.expect(t, seq(round*10, round*10+4))
	}
	f.stop.Store(true)
	f.finish(t)
}
