// Package testutil holds helpers shared by drover's tests: root checks, test root file
// systems and tarballs built locally from busybox-static, the static test program
// (testutil/testprog), host leak checks (mounts, cgroups, processes, files), free ports and
// a polling wait.
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
