package jsonlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// withPolling makes follows in this test poll instead of using inotify.
func withPolling(t *testing.T) {
	old := openWatch
	openWatch = func(string) (*os.File, error) { return nil, errors.New("disabled by test") }
	t.Cleanup(func() { openWatch = old })
}

// waitResult runs w.wait(d) in the background.
func waitResult(w *waiter, d time.Duration) chan bool {
	ch := make(chan bool, 1)
	go func() { ch <- w.wait(d) }()
	return ch
}

func TestWaiterWakesOnChange(t *testing.T) {
	dir := t.TempDir()
	w := newWaiter(context.Background(), dir)
	defer w.close()
	if w.f == nil {
		t.Skip("inotify not available here")
	}
	ch := waitResult(w, time.Hour)
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case ok := <-ch:
		if !ok {
			t.Fatal("wait reported a cancelled context")
		}
	case <-time.After(hangGuard):
		t.Fatal("a write in the directory did not wake the waiter")
	}
}

func TestWaiterCancel(t *testing.T) {
	for _, mode := range []string{"inotify", "polling"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "polling" {
				withPolling(t)
			}
			ctx, cancel := context.WithCancel(context.Background())
			w := newWaiter(ctx, t.TempDir())
			defer w.close()
			ch := waitResult(w, time.Hour)
			cancel()
			select {
			case ok := <-ch:
				if ok {
					t.Fatal("wait did not report the cancelled context")
				}
			case <-time.After(hangGuard):
				t.Fatal("cancel did not wake the waiter")
			}
			if w.wait(time.Hour) {
				t.Fatal("wait after cancel did not return false")
			}
		})
	}
}

func TestFollowPolling(t *testing.T) {
	withPolling(t)
	path, w := newLog(t, Options{MaxSize: int64(3 * recordSize(10)), MaxFiles: 2})
	f := startFollow(t, path, ReadOptions{Tail: -1})
	for i := 10; i < 30; i += 2 {
		writeLines(t, w, i, i+2)
		f.expect(t, seq(i, i+2))
	}
	f.stop.Store(true)
	f.finish(t)
}
