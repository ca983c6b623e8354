// Package testutil holds helpers shared by drover's tests: root checks, locally built test
// images and leak checks.
package testutil

import (
	"os"
	"testing"
)

// RequiresRoot skips the test unless it runs as root (CI runs as root, so there it runs).
func RequiresRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("requires root")
	}
}
