package apiserver

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects a child process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds or ctx ends (a failure).
func waitFor(t *testing.T, ctx context.Context, cond func() bool, what string, out *lockedBuffer) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; output:\n%s", what, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
