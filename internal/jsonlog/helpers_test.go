package jsonlog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// rec is a Message with its line copied, for comparing.
type rec struct {
	Stream  string
	Line    string
	Partial bool
	Time    time.Time
}

func (r rec) String() string { return fmt.Sprintf("%s %q partial=%v", r.Stream, r.Line, r.Partial) }

// newLog returns the path of a log in a fresh directory and a writer for it.
func newLog(t *testing.T, opts Options) (string, *Writer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c-json.log")
	w, err := NewWriter(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, w
}

// lineAt is record i of the standard test sequence: "line i", one second apart.
func lineAt(i int) (string, time.Time) {
	return fmt.Sprintf("line %d\n", i), t0.Add(time.Duration(i) * time.Second)
}

// writeLines writes records from..to-1 of the standard sequence to stdout.
func writeLines(t *testing.T, w *Writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		line, ts := lineAt(i)
		if err := w.Write("stdout", []byte(line), ts); err != nil {
			t.Fatal(err)
		}
	}
}

// seq is the expected records from..to-1 of the standard sequence.
func seq(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		l, _ := lineAt(i)
		out = append(out, l)
	}
	return out
}

// readLines runs Read and returns the lines of the records.
func readLines(t *testing.T, path string, opts ReadOptions) []string {
	t.Helper()
	var out []string
	for _, r := range readRecs(t, path, opts) {
		out = append(out, r.Line)
	}
	return out
}

func readRecs(t *testing.T, path string, opts ReadOptions) []rec {
	t.Helper()
	var out []rec
	err := Read(context.Background(), path, opts, func(m Message) error {
		out = append(out, rec{m.Stream, string(m.Line), m.Partial, m.Time})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// parseFile reads a log file with encoding/json, failing on any malformed line.
func parseFile(t *testing.T, path string) []rec {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []rec
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			Log, Stream string
			Time        time.Time
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: malformed line %q: %v", path, sc.Text(), err)
		}
		out = append(out, rec{Stream: r.Stream, Line: r.Log, Time: r.Time})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d\ngot:  %q\nwant: %q", len(got), len(want), clip(got), clip(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func clip(s []string) []string {
	if len(s) > 20 {
		return append(append(s[:10:10], "..."), s[len(s)-10:]...)
	}
	return s
}
