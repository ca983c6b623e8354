package jsonlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// hangGuard bounds every wait in these tests; it guards against hangs and is never what a
// test measures.
const hangGuard = 20 * time.Second

// follower runs a following Read in the background.
type follower struct {
	ch     chan rec
	done   chan error
	stop   atomic.Bool
	cancel context.CancelFunc
}

func startFollow(t *testing.T, path string, opts ReadOptions) *follower {
	t.Helper()
	following := make(chan struct{})
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), followingKey{}, func() { close(following) }))
	f := &follower{ch: make(chan rec, 100000), done: make(chan error, 1), cancel: cancel}
	opts.Follow = true
	if opts.StopWhen == nil {
		opts.StopWhen = f.stop.Load
	}
	go func() {
		f.done <- Read(ctx, path, opts, func(m Message) error {
			f.ch <- rec{m.Stream, string(m.Line), m.Partial, m.Time}
			return nil
		})
		close(f.ch)
	}()
	t.Cleanup(cancel)
	if opts.Tail >= 0 {
		// Records written from now on are new ones, whatever the tail skipped.
		select {
		case <-following:
		case err := <-f.done:
			t.Fatalf("Read ended before following: %v", err)
		case <-time.After(hangGuard):
			t.Fatalf("Read did not start following after %v", hangGuard)
		}
	}
	return f
}

// expect receives the next records and checks their lines.
func (f *follower) expect(t *testing.T, want []string) {
	t.Helper()
	for i, w := range want {
		select {
		case r, ok := <-f.ch:
			if !ok {
				t.Fatalf("follow ended before record %d (%q)", i, w)
			}
			if r.Line != w {
				t.Fatalf("record %d = %q, want %q", i, r.Line, w)
			}
		case <-time.After(hangGuard):
			t.Fatalf("no record %d (%q) after %v", i, w, hangGuard)
		}
	}
}

// finish waits for Read to return and checks that no other record came.
func (f *follower) finish(t *testing.T) {
	t.Helper()
	select {
	case err := <-f.done:
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatalf("follow did not end after %v", hangGuard)
	}
	for r := range f.ch {
		t.Fatalf("unexpected record %v", r)
	}
}

func TestFollowSeesNewLines(t *testing.T) {
	path, w := newLog(t, Options{})
	writeLines(t, w, 0, 3)
	f := startFollow(t, path, ReadOptions{Tail: -1})
	f.expect(t, seq(0, 3))
	writeLines(t, w, 3, 6)
	f.expect(t, seq(3, 6))
	writeLines(t, w, 6, 7)
	f.stop.Store(true) // the container exited: what was written is still read
	f.expect(t, seq(6, 7))
	f.finish(t)
}

func TestFollowTail(t *testing.T) {
	for _, tail := range []int{0, 2, 10} {
		t.Run(fmt.Sprint(tail), func(t *testing.T) {
			path, w := newLog(t, Options{})
			writeLines(t, w, 0, 5)
			f := startFollow(t, path, ReadOptions{Tail: tail})
			f.expect(t, seq(max(0, 5-tail), 5))
			writeLines(t, w, 5, 7)
			f.expect(t, seq(5, 7))
			f.stop.Store(true)
			f.finish(t)
		})
	}
}

func TestFollowWaitsForTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	f := startFollow(t, path, ReadOptions{Tail: -1})
	w, err := NewWriter(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeLines(t, w, 0, 2)
	f.expect(t, seq(0, 2))
	f.stop.Store(true)
	f.finish(t)
}

func TestFollowStopsOnMissingLog(t *testing.T) {
	// The container exited without ever writing a log: nothing to wait for.
	f := startFollow(t, filepath.Join(t.TempDir(), "never.log"), ReadOptions{Tail: -1})
	f.stop.Store(true)
	f.finish(t)
}

func TestFollowCancel(t *testing.T) {
	path, w := newLog(t, Options{})
	writeLines(t, w, 0, 1)
	f := startFollow(t, path, ReadOptions{Tail: -1})
	f.expect(t, seq(0, 1))
	f.cancel()
	f.finish(t)
}

func TestFollowUntilPassed(t *testing.T) {
	path, w := newLog(t, Options{})
	now := time.Now()
	for i := 0; i < 3; i++ {
		if err := w.Write("stdout", fmt.Appendf(nil, "line %d\n", i), now.Add(time.Duration(i-10)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// Until is in the past: the follow ends without StopWhen once the log is read.
	f := startFollow(t, path, ReadOptions{Tail: -1, Until: now.Add(-9 * time.Second), StopWhen: func() bool { return false }})
	f.expect(t, seq(0, 2))
	f.finish(t)
}

// TestFollowAcrossRotation writes in batches and waits for the follower after each, so that
// no file it has not read yet is deleted; every record must arrive once, in order.
func TestFollowAcrossRotation(t *testing.T) {
	size := recordSize(100)
	tests := []struct {
		name     string
		opts     Options
		batch    int
		tail     int
		from, to int
	}{
		{name: "rotated files kept", opts: Options{MaxSize: int64(5 * size), MaxFiles: 3}, batch: 7, tail: -1, from: 100, to: 400},
		{name: "no rotated file kept", opts: Options{MaxSize: int64(5 * size), MaxFiles: 1}, batch: 3, tail: -1, from: 100, to: 400},
		{name: "rotation on every record", opts: Options{MaxSize: 1, MaxFiles: 4}, batch: 2, tail: 0, from: 100, to: 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, w := newLog(t, tt.opts)
			f := startFollow(t, path, ReadOptions{Tail: tt.tail})
			for i := tt.from; i < tt.to; i += tt.batch {
				end := min(i+tt.batch, tt.to)
				writeLines(t, w, i, end)
				f.expect(t, seq(i, end))
			}
			f.stop.Store(true)
			f.finish(t)
		})
	}
}

// TestFollowRotationStress races a writer rotating often against a follower; with enough
// files kept nothing may be lost or repeated.
func TestFollowRotationStress(t *testing.T) {
	path, w := newLog(t, Options{MaxSize: 2048, MaxFiles: 1000})
	f := startFollow(t, path, ReadOptions{Tail: -1})
	const n = 5000
	errs := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			line, ts := lineAt(i)
			if err := w.Write("stdout", []byte(line), ts); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	f.expect(t, seq(0, n))
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	f.stop.Store(true)
	f.finish(t)
	if idx, _ := rotatedIndexes(path); len(idx) < 10 {
		t.Fatalf("only %d rotations: the test did not test rotation", len(idx))
	}
}

func TestFollowTruncatedInPlace(t *testing.T) {
	path, w := newLog(t, Options{})
	writeLines(t, w, 0, 3)
	f := startFollow(t, path, ReadOptions{Tail: -1})
	f.expect(t, seq(0, 3))
	w.Close()
	if err := os.Truncate(path, 0); err != nil { // as logrotate's copytruncate does
		t.Fatal(err)
	}
	w2, err := NewWriter(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	// Written short enough that the file stays smaller than what the follower has read.
	writeLines(t, w2, 3, 4)
	f.expect(t, seq(3, 4))
	f.stop.Store(true)
	f.finish(t)
}
