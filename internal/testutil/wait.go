package testutil

import (
	"fmt"
	"testing"
	"time"
)

// Eventually polls fn until it reports true, and fails the test if it has not within
// timeout. It is for waiting on something asynchronous (a container to start, a port to
// open), never for asserting how long something takes: give it a generous timeout.
// format and args describe what is awaited, for the failure message.
func Eventually(t testing.TB, timeout time.Duration, fn func() bool, format string, args ...any) {
	t.Helper()
	if !Poll(timeout, fn) {
		t.Fatalf("timed out after %v waiting for %s", timeout, fmt.Sprintf(format, args...))
	}
}

// Poll calls fn, backing off from 5ms to 100ms between calls, until it reports true or
// timeout has passed, and says whether it did; for callers that report the failure
// themselves.
func Poll(timeout time.Duration, fn func() bool) bool {
	deadline := time.Now().Add(timeout)
	delay := 5 * time.Millisecond
	for {
		if fn() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(delay, left))
		delay = min(2*delay, 100*time.Millisecond)
	}
}
