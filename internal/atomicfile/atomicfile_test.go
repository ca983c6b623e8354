package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteDurable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "meta.json")
	for _, content := range []string{"first", "second"} {
		if err := WriteDurable(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v; want %q", got, err, content)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temp files left beside the file: %v", entries)
	}
	if err := WriteDurable(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if err := SyncFS(dir); err != nil {
		t.Errorf("SyncFS: %v", err)
	}
}
