package procstatus

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestReadSelf reads this test's own status: its PID and real UID.
func TestReadSelf(t *testing.T) {
	f, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if f["Pid"] != strconv.Itoa(os.Getpid()) || strings.Fields(f["Uid"])[0] != strconv.Itoa(os.Getuid()) || f["SigCgt"] == "" {
		t.Fatalf("status fields: Pid %q Uid %q SigCgt %q", f["Pid"], f["Uid"], f["SigCgt"])
	}
	if _, err := Read(1 << 30); err == nil {
		t.Fatal("a process that does not exist has no status")
	}
}
