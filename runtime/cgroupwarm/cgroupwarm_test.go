package cgroupwarm

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover/drover/internal/testutil"
)

// Warm must find a cgroup.procs file of this process's own cgroup, and writing to it must
// leave the process where it was.
func TestWarmMovesNothing(t *testing.T) {
	testutil.RequiresRoot(t)
	p := procsFile()
	if p == "" {
		t.Skip("no cgroup hierarchy mounted under /sys/fs/cgroup")
	}
	before, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	Warm()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains("\n"+string(data), "\n"+strconv.Itoa(os.Getpid())+"\n") {
			break // the write is done: the process is listed in the cgroup it was in
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d not listed in %s", os.Getpid(), p)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	after, _ := os.ReadFile("/proc/self/cgroup")
	if string(before) != string(after) {
		t.Fatalf("the process moved:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
