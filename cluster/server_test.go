package cluster

import (
	"context"
	"sync/atomic"
	"testing"
)

// TestFollowLeader checks that the leader's work runs once per term: a repeated true
// leaves the running term alone, false ends it (and waits for it), true starts another,
// and closing the channel ends the last.
func TestFollowLeader(t *testing.T) {
	changes := make(chan bool)
	var starts, running atomic.Int32
	started := make(chan struct{}, 4)
	lead := func(ctx context.Context) {
		starts.Add(1)
		running.Add(1)
		started <- struct{}{}
		<-ctx.Done()
		running.Add(-1)
	}
	done := make(chan struct{})
	go func() {
		followLeader(context.Background(), changes, lead)
		close(done)
	}()
	steps := []struct {
		lead              bool
		starts, running   int32
		waitForNewStarter bool
	}{
		{lead: true, starts: 1, running: 1, waitForNewStarter: true},
		{lead: true, starts: 1, running: 1},
		{lead: false, starts: 1, running: 0},
		{lead: false, starts: 1, running: 0},
		{lead: true, starts: 2, running: 1, waitForNewStarter: true},
	}
	for i, st := range steps {
		changes <- st.lead
		if st.waitForNewStarter {
			<-started
		}
		// An unbuffered send returns once the loop took the value; send a value that
		// changes nothing so that the previous one has been fully handled.
		changes <- st.lead
		if got := starts.Load(); got != st.starts {
			t.Fatalf("step %d: lead started %d times, want %d", i, got, st.starts)
		}
		if got := running.Load(); got != st.running {
			t.Fatalf("step %d: %d terms running, want %d", i, got, st.running)
		}
	}
	close(changes)
	<-done
	if got := running.Load(); got != 0 {
		t.Fatalf("after close: %d terms running, want 0", got)
	}
}
