package store

import (
	"context"
	"sync"
)

// watcher is one Watch call. The state machine pushes events into its queue
// without blocking (Apply must never wait for a reader); a goroutine moves
// them to the caller's channel. A queue that reaches its limit means the
// reader fell behind: the watch ends and the caller re-lists.
type watcher struct {
	prefix string
	ch     chan Event

	mu      sync.Mutex
	queue   []Event
	limit   int
	ended   bool
	wake    chan struct{} // cap 1: something was queued
	endCh   chan struct{} // closed when the watch must end
	endOnce sync.Once
}

func newWatcher(prefix string, replay []Event, limit int) *watcher {
	return &watcher{
		prefix: prefix,
		ch:     make(chan Event, 64),
		// The replay may exceed limit; the limit is on what piles up after it.
		queue: replay,
		limit: limit,
		wake:  make(chan struct{}, 1),
		endCh: make(chan struct{}),
	}
}

// push queues ev; false when the watcher is over its limit and was ended.
func (w *watcher) push(ev Event) bool {
	w.mu.Lock()
	if w.ended || len(w.queue) >= w.limit {
		w.mu.Unlock()
		w.end()
		return false
	}
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

func (w *watcher) end() {
	w.endOnce.Do(func() {
		w.mu.Lock()
		w.ended, w.queue = true, nil
		w.mu.Unlock()
		close(w.endCh)
	})
}

// run delivers queued events in order until ctx ends or the watch is ended,
// then closes the channel; unregister removes the watcher from the state
// machine.
func (w *watcher) run(ctx context.Context, unregister func(*watcher)) {
	defer close(w.ch)
	defer unregister(w)
	for {
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, ev := range batch {
			select {
			case w.ch <- ev:
			case <-ctx.Done():
				return
			case <-w.endCh:
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return
		case <-w.endCh:
			return
		}
	}
}
