package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/testutil"
)

func digestOf(b []byte) digest.Digest { return digest.FromBytes(b) }

// TestHostileLayers feeds layers built to escape the snapshot. Each must be refused with
// a message naming the problem, and nothing may appear outside the snapshot: the victim
// directory stands for the host (the attacks aim at it rather than at the real /etc, so a
// regression cannot damage the machine running the test).
func TestHostileLayers(t *testing.T) {
	testutil.RequiresRoot(t)
	victim := t.TempDir()
	if err := os.WriteFile(filepath.Join(victim, "shadow"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	victimRel := strings.TrimPrefix(victim, "/")
	tests := []struct {
		name    string
		limits  Limits
		entries []ent
		want    string
	}{
		{"dotdot escape", Limits{}, []ent{file("../../../../../../"+victimRel+"/pwned", "x")}, "climbs out"},
		{"dotdot inside path", Limits{}, []ent{file("a/../../x", "x")}, "climbs out"},
		{"symlink to / then write through", Limits{}, []ent{symlink("a", "/"), file("a/"+victimRel+"/pwned", "x")}, "a is a symlink"},
		{"symlink to / then etc/passwd", Limits{}, []ent{symlink("a", "/"), dir("a/etc/")}, "a is a symlink"},
		{"relative symlink escape", Limits{}, []ent{symlink("a", "../../../../../../.."), file("a/"+victimRel+"/pwned", "x")}, "a is a symlink"},
		{"directory replaced by symlink", Limits{}, []ent{dir("d/"), file("d/ok", "1"), symlink("d", victim), file("d/pwned", "x")}, "d is a symlink"},
		{"nested symlink component", Limits{}, []ent{dir("d/"), symlink("d/e", victim), file("d/e/f/pwned", "x")}, "d/e is a symlink"},
		{"hardlink to host file", Limits{}, []ent{hardlink("h", filepath.Join(victim, "shadow"))}, "not in this layer"},
		{"hardlink to /etc/shadow", Limits{}, []ent{hardlink("h", "/etc/shadow")}, "not in this layer"},
		{"hardlink climbing out", Limits{}, []ent{hardlink("h", "../../../../../"+victimRel+"/shadow")}, "climbs out"},
		{"hardlink through symlink", Limits{}, []ent{symlink("s", victim), hardlink("h", "s/shadow")}, "not in this layer"},
		{"whiteout through symlink", Limits{}, []ent{symlink("s", victim), whiteout("s/.wh.shadow")}, "s is a symlink"},
		{"opaque through symlink", Limits{}, []ent{symlink("s", victim), whiteout("s/.wh..wh..opq")}, "s is a symlink"},
		{"file under a file", Limits{}, []ent{file("f", "1"), file("f/g", "2")}, "f is not a directory"},
		{"entry over the size limit", Limits{MaxBytes: 1 << 20}, []ent{file("big", strings.Repeat("z", 2<<20))}, "limit"},
		{"layer over the size limit", Limits{MaxBytes: 1 << 20}, manyFiles(40, 32<<10), "limit"},
		{"too many entries", Limits{MaxEntries: 10}, manyFiles(11, 1), "more than 10 entries"},
		{"name too long", Limits{}, []ent{file(strings.Repeat("a/", 2100)+"x", "x")}, "bytes long"},
		{"root replaced by a file", Limits{}, []ent{file(".", "x")}, "layer root"},
		{"empty whiteout", Limits{}, []ent{whiteout(".wh.")}, "whiteout names nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openSnapshotter(t, WithLimits(tt.limits))
			data := layerTar(t, tt.entries...)
			chain := ChainID("", digestOf(data))
			err := s.Unpack(context.Background(), chain, "", bytes.NewReader(data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("a refused layer should be ErrInvalidArgument: %v", err)
			}
			t.Logf("refused: %v", err)
			if s.Exists(chain) {
				t.Fatal("refused layer left a snapshot")
			}
			assertEmptyDir(t, filepath.Join(s.Root(), "tmp"))
			assertVictimIntact(t, victim)
		})
	}
}

func manyFiles(n, size int) []ent {
	var out []ent
	for i := 0; i < n; i++ {
		out = append(out, file(strings.Repeat("d", i%7+1)+"/"+string(rune('a'+i%26))+strings.Repeat("x", i), strings.Repeat("q", size)))
	}
	return out
}

func assertVictimIntact(t *testing.T, victim string) {
	t.Helper()
	entries, err := os.ReadDir(victim)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "shadow" {
		t.Fatalf("something was written to the victim directory: %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(victim, "shadow")); string(b) != "secret" {
		t.Fatal("victim file changed")
	}
	var st = lstat(t, filepath.Join(victim, "shadow"))
	if st.Nlink != 1 {
		t.Fatalf("victim file got %d links", st.Nlink)
	}
}

// TestReplaceNeverWritesThrough: entries that replace a symlink or hardlink of the same
// name replace it, they never write into its target.
func TestReplaceNeverWritesThrough(t *testing.T) {
	testutil.RequiresRoot(t)
	victim := t.TempDir()
	target := filepath.Join(victim, "shadow")
	if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openSnapshotter(t)
	chain := unpack(t, s, "", layerTar(t,
		symlink("l", target), file("l", "overwritten"), // file over a symlink
		file("orig", "o"), hardlink("h", "orig"), file("h", "new"), // file over a hardlink
		symlink("s", target), hardlink("hs", "s"), file("hs", "x"), // hardlink to a symlink, then replaced
	))
	assertVictimIntact(t, victim)
	root := fsDir(s, chain)
	if readFile(t, filepath.Join(root, "orig")) != "o" || readFile(t, filepath.Join(root, "h")) != "new" {
		t.Fatal("hardlink replacement wrote through")
	}
	if st := lstat(t, filepath.Join(root, "l")); st.Mode&0o170000 != 0o100000 {
		t.Fatal("l is not a regular file")
	}
}

func TestUnpackChecksChainID(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t)
	base := unpack(t, s, "", layerTar(t, file("a", "1")))
	data := layerTar(t, file("b", "2"))
	tests := []struct {
		name          string
		chain, parent digest.Digest
		want          error
		msg           string
	}{
		{"diff ID is not the chain", digest.FromString("other"), "", errdefs.ErrInvalidArgument, "does not give this chain ID"},
		{"chain without its parent", digestOf(data), base, errdefs.ErrInvalidArgument, "does not give this chain ID"},
		{"missing parent", ChainID(digest.FromString("p"), digestOf(data)), digest.FromString("p"), errdefs.ErrNotFound, "parent snapshot"},
		{"bad chain ID", "sha256:../../x", "", errdefs.ErrInvalidArgument, "not a sha256 digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Unpack(context.Background(), tt.chain, tt.parent, bytes.NewReader(data))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("want %v containing %q, got %v", tt.want, tt.msg, err)
			}
		})
	}
	assertEmptyDir(t, filepath.Join(s.Root(), "tmp"))
}
