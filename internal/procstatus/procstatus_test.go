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
	if f["Pid"] != strconv.Itoa(os.Getpid()) || f["PPid"] != strconv.Itoa(os.Getppid()) || strings.Fields(f["Uid"])[0] != strconv.Itoa(os.Getuid()) || f["SigCgt"] == "" {
		t.Fatalf("status fields: Pid %q PPid %q Uid %q SigCgt %q", f["Pid"], f["PPid"], f["Uid"], f["SigCgt"])
	}
	if !strings.HasPrefix(f["State"], "R") && !strings.HasPrefix(f["State"], "S") {
		t.Fatalf("State %q: this process runs", f["State"])
	}
	if _, err := Read(1 << 30); err == nil {
		t.Fatal("a process that does not exist has no status")
	}
}
