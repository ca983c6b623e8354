package shim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover/drover/internal/jsonlog"
	"github.com/drover/drover/runtime/libcontainer"
)

// TestReopenLog: a container writing a CRI log keeps writing after the file is renamed,
// and after reopen-log writes to a new file at the path; the renamed one stops growing.
func TestReopenLog(t *testing.T) {
	var logPath string
	c, done := startShim(t, []string{"sh", "-c", `i=0; while true; do echo "n $i"; i=$((i+1)); sleep 0.05; done`}, false, false,
		func(cfg *Config) {
			cfg.LogFormat = jsonlog.FormatCRI
			cfg.LogPath = filepath.Join(cfg.Bundle, "0.log")
			logPath = cfg.LogPath
		})
	ctx := context.Background()
	if _, err := c.Call(ctx, Request{Op: OpStart}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, fn func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !fn() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	lines := func(path string) []string {
		data, _ := os.ReadFile(path)
		return strings.Split(string(bytes.TrimSuffix(data, []byte("\n"))), "\n")
	}
	waitFor("records in the log", func() bool { return len(lines(logPath)) >= 3 })
	rotated := logPath + ".20261122-100000"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, Request{Op: OpReopenLog}); err != nil {
		t.Fatalf("reopen-log: %v", err)
	}
	waitFor("records in the new file", func() bool { return len(lines(logPath)) >= 3 })
	before, _ := os.ReadFile(rotated)
	time.Sleep(300 * time.Millisecond)
	after, _ := os.ReadFile(rotated)
	if !bytes.Equal(before, after) {
		t.Fatalf("the renamed file still grows: %d -> %d bytes", len(before), len(after))
	}
	for _, l := range append(lines(rotated), lines(logPath)...) {
		f := strings.SplitN(l, " ", 4)
		if len(f) != 4 || f[1] != "stdout" || f[2] != "F" || !strings.HasPrefix(f[3], "n ") {
			t.Fatalf("not a CRI record: %q", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
	}

	rt := libcontainer.New(filepath.Join(c.Bundle, "rt"))
	if err := rt.Kill(ctx, filepath.Base(c.Bundle), 9, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shim did not return after the exit")
	}
}
