package jsonlog

import (
	"context"
	"errors"
	"os"
	"time"
)

// waiter lets a follow sleep until the log's directory changes (inotify, where available)
// or a poll interval passes, whichever comes first, and wakes it when the context ends.
type waiter struct {
	ctx   context.Context
	f     *os.File // inotify instance; nil when polling
	buf   []byte
	stop  func() bool
	timer *time.Timer
}

// openWatch opens a change notification for a directory; a variable so that tests can
// exercise the polling fallback.
var openWatch = openInotify

func newWaiter(ctx context.Context, dir string) *waiter {
	w := &waiter{ctx: ctx}
	f, err := openWatch(dir)
	if err != nil {
		return w // too many instances, say: plain polling still works
	}
	w.f, w.buf = f, make([]byte, 4096)
	w.stop = context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	return w
}

// wait blocks until something changed in the directory, d passed or the context ended; it
// reports false in the last case.
func (w *waiter) wait(d time.Duration) bool {
	if w.f != nil {
		// Set the deadline before looking at the context: a cancellation after the look
		// moves the deadline to the past, one before it is seen.
		err := w.f.SetReadDeadline(time.Now().Add(d))
		if w.ctx.Err() != nil {
			return false
		}
		if err == nil {
			_, err = w.f.Read(w.buf)
		}
		if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return w.ctx.Err() == nil
		}
		w.closeInotify() // broken: poll from now on
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-w.ctx.Done():
		return false
	case <-w.timer.C:
		return true
	}
}

func (w *waiter) closeInotify() {
	if w.f != nil {
		w.stop()
		w.f.Close()
		w.f = nil
	}
}

func (w *waiter) close() {
	w.closeInotify()
	if w.timer != nil {
		w.timer.Stop()
	}
}
