package agent

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b backoff
	steps := []struct {
		ran       time.Duration // how long the container ran before it exited
		after     time.Duration // how long after the exit the restart is asked for
		wantReady bool
		wantDelay time.Duration
	}{
		{time.Second, 0, true, 0},                                // first restart: at once
		{time.Second, 5 * time.Second, false, 10 * time.Second},  // then 10 s
		{time.Second, 10 * time.Second, true, 10 * time.Second},  //
		{time.Second, 19 * time.Second, false, 20 * time.Second}, // doubling
		{time.Second, 20 * time.Second, true, 20 * time.Second},  //
		{time.Second, 0, false, 40 * time.Second},                //
		{time.Second, 40 * time.Second, true, 40 * time.Second},  //
		{11 * time.Minute, 0, true, 0},                           // a long run resets it
		{time.Second, time.Second, false, 10 * time.Second},      //
	}
	for i, s := range steps {
		started := t0
		finished := started.Add(s.ran)
		delay, ok := b.ready(started, finished, finished.Add(s.after))
		if ok != s.wantReady || delay != s.wantDelay {
			t.Fatalf("step %d: ready = %v, delay %v; want %v, %v", i, ok, delay, s.wantReady, s.wantDelay)
		}
		if ok {
			b.next()
		}
	}
	for range 20 {
		b.next()
	}
	if b.delay != backoffMax {
		t.Fatalf("delay grew to %v, want the cap %v", b.delay, backoffMax)
	}
}
