package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sourcesOf(t *testing.T, root string, patterns ...string) []source {
	t.Helper()
	var out []source
	for _, p := range patterns {
		s, err := resolveSources(root, p, true)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s...)
	}
	return out
}

// TestHashSources checks what the cache key of a COPY depends on: names, contents,
// modes and link targets, not times.
func TestHashSources(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dir/a.txt", "a")
	write("dir/sub/b.txt", "b")
	write("c.txt", "c")
	os.Symlink("a.txt", filepath.Join(root, "dir/link"))
	key := func() string {
		h, err := hashSources(sourcesOf(t, root, "dir", "*.txt"), root, nil)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := key()
	if key() != base {
		t.Fatal("the key is not stable")
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(root, "dir/a.txt"), later, later)
	if key() != base {
		t.Fatal("a new mtime changed the key")
	}
	for name, change := range map[string]func(){
		"content": func() { write("dir/sub/b.txt", "B") },
		"mode":    func() { os.Chmod(filepath.Join(root, "dir/a.txt"), 0o600) },
		"link":    func() { os.Remove(filepath.Join(root, "dir/link")); os.Symlink("sub", filepath.Join(root, "dir/link")) },
		"new":     func() { write("dir/new", "") },
		"glob":    func() { write("d.txt", "d") },
		"rename":  func() { os.Rename(filepath.Join(root, "dir/sub"), filepath.Join(root, "dir/sub2")) },
	} {
		change()
		k := key()
		if k == base {
			t.Errorf("%s: the key did not change", name)
		}
		base = k
	}
}

// TestHashSourcesWithSums checks that known content digests give the same key as reading
// the files.
func TestHashSourcesWithSums(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d/a"), []byte("hello"), 0o644)
	srcs := sourcesOf(t, root, "d")
	read, err := hashSources(srcs, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	known, err := hashSources(srcs, root, map[string]string{"d/a": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"})
	if err != nil || known != read {
		t.Fatalf("with sums %s, read %s (%v)", known, read, err)
	}
}

func TestResolveSources(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a/b"), 0o755)
	os.WriteFile(filepath.Join(root, "a/b/f.go"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "a/g.go"), nil, 0o644)
	os.Symlink("/etc", filepath.Join(root, "escape"))
	for _, tc := range []struct {
		pattern string
		want    []string
		fail    bool
	}{
		{pattern: "a/*.go", want: []string{"a/g.go"}},
		{pattern: "a/*/*.go", want: []string{"a/b/f.go"}},
		{pattern: "/a/g.go", want: []string{"a/g.go"}},
		{pattern: "./a/../a/g.go", want: []string{"a/g.go"}},
		{pattern: "../x", fail: true},
		{pattern: "a/../../x", fail: true},
		{pattern: "missing", fail: true},
		{pattern: "*.none", fail: true},
		{pattern: "escape/passwd", fail: true}, // the symlink resolves inside the context
	} {
		got, err := resolveSources(root, tc.pattern, true)
		if tc.fail {
			if err == nil {
				t.Errorf("%s: resolved to %v", tc.pattern, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.pattern, err)
			continue
		}
		var rels []string
		for _, s := range got {
			rels = append(rels, s.rel)
		}
		if len(rels) != len(tc.want) || rels[0] != tc.want[0] {
			t.Errorf("%s: %v, want %v", tc.pattern, rels, tc.want)
		}
	}
}

// TestStepKey checks that a step's key depends on its parent, its text and its extras.
func TestStepKey(t *testing.T) {
	j := &job{}
	a := &stageBuild{j: j, st: &state{key: "sha256:aa"}}
	b := &stageBuild{j: j, st: &state{key: "sha256:bb"}}
	keys := map[string]bool{}
	for _, k := range []string{
		a.stepKey("RUN x").String(),
		b.stepKey("RUN x").String(),
		a.stepKey("RUN y").String(),
		a.stepKey("RUN x", "A=1").String(),
		a.stepKey("RUN x", "A=2").String(),
	} {
		if keys[k] {
			t.Fatalf("two different steps share the key %s", k)
		}
		keys[k] = true
	}
	if a.stepKey("RUN x", "A=1") != a.stepKey("RUN x", "A=1") {
		t.Fatal("the key is not stable")
	}
}

func TestRunErrorTail(t *testing.T) {
	tb := &tailBuffer{max: 64}
	for i := 0; i < 100; i++ {
		tb.Write([]byte("line\n"))
	}
	tb.Write([]byte("last words\n"))
	lines := tb.lines(3)
	if len(lines) != 3 || lines[2] != "last words" {
		t.Fatalf("tail: %q", lines)
	}
	e := &RunError{Command: "/bin/sh -c exit 3", ExitCode: 3, Tail: lines}
	if got := e.Error(); got != "RUN /bin/sh -c exit 3: exit code 3; last output:\n  line\n  line\n  last words" {
		t.Fatalf("%q", got)
	}
}
