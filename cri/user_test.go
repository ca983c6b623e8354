package cri

import (
	"os"
	"testing"
)

// TestProcessUser reads this test's own identity as the kernel reports it.
func TestProcessUser(t *testing.T) {
	u := processUser(os.Getpid())
	if u == nil || u.Linux.Uid != int64(os.Getuid()) || u.Linux.Gid != int64(os.Getgid()) {
		t.Fatalf("processUser = %+v, want uid %d gid %d", u, os.Getuid(), os.Getgid())
	}
	groups, _ := os.Getgroups()
	if len(u.Linux.SupplementalGroups) != len(groups) {
		t.Fatalf("groups %v, want %v", u.Linux.SupplementalGroups, groups)
	}
	if processUser(0) != nil || processUser(1<<30) != nil {
		t.Fatal("an unknown process has no user")
	}
}
