package jsonlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWriterFormat(t *testing.T) {
	path, w := newLog(t, Options{})
	writeLines(t, w, 0, 3)
	if err := w.Write("stderr", []byte("oops\n"), t0); err != nil {
		t.Fatal(err)
	}
	got := parseFile(t, path)
	if len(got) != 4 || got[0].Line != "line 0\n" || got[0].Stream != "stdout" || !got[2].Time.Equal(t0.Add(2e9)) ||
		got[3].Stream != "stderr" || got[3].Line != "oops\n" {
		t.Fatalf("records: %v", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != fileMode {
		t.Fatalf("mode %v, want %v", fi.Mode().Perm(), os.FileMode(fileMode))
	}
}

func TestWriterAppendsOnReopen(t *testing.T) {
	path, w := newLog(t, Options{})
	writeLines(t, w, 0, 2)
	w.Close()
	w2, err := NewWriter(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	writeLines(t, w2, 2, 4)
	equalLines(t, readLines(t, path, ReadOptions{Tail: -1}), seq(0, 4))
}

func TestWriterClosed(t *testing.T) {
	_, w := newLog(t, Options{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := w.Write("stdout", []byte("x\n"), t0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

func TestWriterMissingDir(t *testing.T) {
	if _, err := NewWriter(filepath.Join(t.TempDir(), "nope", "log"), Options{}); err == nil {
		t.Fatal("NewWriter in a missing directory succeeded")
	}
}

// recordSize is the size of a record of the standard sequence (all have the same length
// for indexes 10..99).
func recordSize(i int) int {
	l, ts := lineAt(i)
	return len(appendRecord(nil, "stdout", []byte(l), ts))
}

func TestRotation(t *testing.T) {
	size := recordSize(10)
	tests := []struct {
		name     string
		maxFiles int
		perFile  int // records that fit in MaxSize
	}{
		{name: "three files", maxFiles: 3, perFile: 4},
		{name: "two files", maxFiles: 2, perFile: 5},
		{name: "no rotated file kept", maxFiles: 1, perFile: 3},
		{name: "max files zero means one", maxFiles: 0, perFile: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, w := newLog(t, Options{MaxSize: int64(tt.perFile * size), MaxFiles: tt.maxFiles})
			const from, to = 10, 40 // 30 records of the same size
			writeLines(t, w, from, to)

			keep := max(tt.maxFiles, 1)
			// The active file holds the last (30 mod perFile, or perFile) records, each older file
			// perFile more.
			inActive := (to - from) % tt.perFile
			if inActive == 0 {
				inActive = tt.perFile
			}
			next := to
			for i := 0; i < keep+1; i++ {
				name := path
				if i > 0 {
					name = rotatedName(path, i)
				}
				if i == keep {
					if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("%s exists: only %d files are kept", name, keep)
					}
					break
				}
				n := tt.perFile
				if i == 0 {
					n = inActive
				}
				var got []string
				for _, r := range parseFile(t, name) {
					got = append(got, r.Line)
				}
				equalLines(t, got, seq(next-n, next))
				next -= n
				fi, _ := os.Stat(name)
				if fi.Size() > int64(tt.perFile*size) {
					t.Fatalf("%s has %d bytes, over MaxSize", name, fi.Size())
				}
			}
			// Read sees them all in order.
			equalLines(t, readLines(t, path, ReadOptions{Tail: -1}), seq(next, to))
			if _, err := os.Stat(path + ".new"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temporary file left behind: %v", err)
			}
		})
	}
}

func TestRotationOversizedRecord(t *testing.T) {
	path, w := newLog(t, Options{MaxSize: 10, MaxFiles: 2})
	writeLines(t, w, 10, 13) // every record is larger than MaxSize: one per file
	equalLines(t, readLines(t, path, ReadOptions{Tail: -1}), seq(11, 13))
}

func TestConcurrentWriters(t *testing.T) {
	path, w := newLog(t, Options{MaxSize: 64 << 10, MaxFiles: 100})
	const writers, each = 4, 2000
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("s%d", g)
			for i := 0; i < each; i++ {
				if err := w.Write(stream, fmt.Appendf(nil, "%d\n", i), t0); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Every line is well formed and each writer's records are complete and in order.
	next := map[string]int{}
	for _, r := range readRecs(t, path, ReadOptions{Tail: -1}) {
		if want := fmt.Sprintf("%d\n", next[r.Stream]); r.Line != want {
			t.Fatalf("%s: got %q, want %q", r.Stream, r.Line, want)
		}
		next[r.Stream]++
	}
	for g := 0; g < writers; g++ {
		if n := next[fmt.Sprintf("s%d", g)]; n != each {
			t.Fatalf("writer %d: %d records, want %d", g, n, each)
		}
	}
	idx, err := rotatedIndexes(path)
	if err != nil || len(idx) == 0 {
		t.Fatalf("expected rotations: %v %v", idx, err)
	}
	for _, n := range append(idx, 0) {
		name := path
		if n > 0 {
			name = rotatedName(path, n)
		}
		parseFile(t, name) // fails on a malformed line
	}
}

func TestWriteAllocations(t *testing.T) {
	_, w := newLog(t, Options{MaxSize: 1 << 30, MaxFiles: 2})
	line := []byte("a typical line of container output\n")
	if n := testing.AllocsPerRun(200, func() { _ = w.Write("stdout", line, t0) }); n != 0 {
		t.Fatalf("Writer.Write allocates %v times per record", n)
	}
}

// TestRemove removes the files the Writer made, rotated ones included, and nothing else.
func TestRemove(t *testing.T) {
	path, w := newLog(t, Options{MaxSize: int64(recordSize(0) * 2), MaxFiles: 3})
	writeLines(t, w, 0, 10)
	w.Close()
	if _, err := os.Stat(rotatedName(path, 2)); err != nil {
		t.Fatalf("no rotated file: %v", err)
	}
	others := []string{path + ".20261122-100000", path + ".gz", filepath.Join(filepath.Dir(path), "other.log")}
	for _, o := range others {
		if err := os.WriteFile(o, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var left []string
	for _, e := range entries {
		left = append(left, filepath.Join(filepath.Dir(path), e.Name()))
	}
	if len(left) != len(others) {
		t.Fatalf("left %v, want %v", left, others)
	}
	for _, o := range others {
		if _, err := os.Stat(o); err != nil {
			t.Fatalf("%s removed: %v", o, err)
		}
	}
	if err := Remove(path); err != nil {
		t.Fatalf("Remove of a removed log: %v", err)
	}
}
