package volume

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/testutil"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCreate(t *testing.T, s *Store, name string, labels, opts map[string]string) Volume {
	t.Helper()
	v, err := s.Create(name, labels, opts)
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	return v
}

func names(vols []Volume) []string {
	var out []string
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateGetListRemove(t *testing.T) {
	s := openStore(t)
	v := mustCreate(t, s, "data", map[string]string{"app": "db"}, nil)
	if v.Name != "data" || v.Driver != "local" || v.Anonymous || v.CreatedAt.IsZero() {
		t.Fatalf("created %+v", v)
	}
	if want := filepath.Join(s.Root(), "data", "_data"); v.Mountpoint != want {
		t.Fatalf("mountpoint %s, want %s", v.Mountpoint, want)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Fatalf("data dir: %v %v", fi, err)
	}
	mustCreate(t, s, "b-vol", nil, nil)

	got, err := s.Get("data")
	if err != nil || got.Labels["app"] != "db" || !got.CreatedAt.Equal(v.CreatedAt) || got.Mountpoint != v.Mountpoint {
		t.Fatalf("get: %+v %v", got, err)
	}
	list, err := s.List()
	if err != nil || !slices.Equal(names(list), []string{"b-vol", "data"}) {
		t.Fatalf("list: %v %v", names(list), err)
	}

	// It survives a restart.
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get("data"); err != nil || got.Labels["app"] != "db" {
		t.Fatalf("get after reopen: %+v %v", got, err)
	}

	if err := s.Remove("data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "no such volume: data") {
		t.Fatalf("get removed: %v", err)
	}
	if err := s.Remove("data", false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	if entries, _ := os.ReadDir(s.Root()); len(entries) != 1 {
		t.Fatalf("root holds %d entries after remove, want 1 (b-vol)", len(entries))
	}
}

func TestGetNotFound(t *testing.T) {
	s := openStore(t)
	for _, name := range []string{"nope", "", "../etc", "a/b", "."} {
		if _, err := s.Get(name); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", name, err)
		}
	}
}

func TestNameValidation(t *testing.T) {
	long := strings.Repeat("a", 255)
	tests := []struct {
		name string
		ok   bool
	}{
		{"ab", true},
		{"my_vol.1-x", true},
		{"0data", true},
		{"A.", true},
		{long, true},
		{long + "a", false},
		{"a", false}, // Docker's rule needs two characters
		{"_data", false},
		{".hidden", false},
		{"-v", false},
		{"..", false},
		{"a/b", false},
		{"../x", false},
		{"a b", false},
		{"a\x00b", false},
		{"vol:ro", false},
		{"été", false},
	}
	s := openStore(t)
	for _, tt := range tests {
		t.Run(tt.name[:min(len(tt.name), 20)], func(t *testing.T) {
			_, err := s.Create(tt.name, nil, nil)
			if tt.ok && err != nil {
				t.Fatalf("Create(%q): %v", tt.name, err)
			}
			if !tt.ok && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Create(%q) = %v, want ErrInvalidArgument", tt.name, err)
			}
		})
	}
}

func TestCreateIdempotent(t *testing.T) {
	s := openStore(t)
	labels := map[string]string{"k": "v"}
	v1 := mustCreate(t, s, "vol", labels, nil)
	if err := os.WriteFile(filepath.Join(v1.Mountpoint, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	v2 := mustCreate(t, s, "vol", map[string]string{"k": "v"}, map[string]string{})
	if !v2.CreatedAt.Equal(v1.CreatedAt) {
		t.Fatalf("second create made a new volume: %+v vs %+v", v2, v1)
	}
	if _, err := os.Stat(filepath.Join(v1.Mountpoint, "keep")); err != nil {
		t.Fatalf("second create lost data: %v", err)
	}
	for _, tt := range []struct {
		labels, opts map[string]string
	}{
		{map[string]string{"k": "other"}, nil},
		{nil, nil},
		{labels, map[string]string{"type": "tmpfs"}},
	} {
		if _, err := s.Create("vol", tt.labels, tt.opts); !errors.Is(err, errdefs.ErrConflict) {
			t.Errorf("Create(vol, %v, %v) = %v, want ErrConflict", tt.labels, tt.opts, err)
		}
	}
}

func TestCreateConcurrent(t *testing.T) {
	s := openStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := s.Create("shared", nil, nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Fatalf("%d volumes, want 1", len(list))
	}
}

func TestAnonymous(t *testing.T) {
	s := openStore(t)
	a := mustCreate(t, s, "", nil, nil)
	b := mustCreate(t, s, "", nil, nil)
	if !a.Anonymous || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(a.Name) || a.Name == b.Name {
		t.Fatalf("anonymous volumes %+v %+v", a, b)
	}
	if got, err := s.Get(a.Name); err != nil || !got.Anonymous {
		t.Fatalf("get anonymous: %+v %v", got, err)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		opts map[string]string
		ok   bool
	}{
		{nil, true},
		{map[string]string{"type": "tmpfs"}, true},
		{map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=64m,uid=1000,mode=1777"}, true},
		{map[string]string{"type": "tmpfs", "o": "size=50%"}, true},
		{map[string]string{"color": "blue"}, false},
		{map[string]string{"type": "nfs", "device": ":/export"}, false},
		{map[string]string{"o": "bind", "device": "/etc"}, false},
		{map[string]string{"type": "tmpfs", "device": "/dev/sda"}, false},
		{map[string]string{"type": "tmpfs", "o": "size=1m,exec"}, false},
		{map[string]string{"type": "tmpfs", "o": "size=1m,context=x"}, false},
		{map[string]string{"type": "tmpfs", "o": "size="}, false},
		{map[string]string{"type": "tmpfs", "o": "size=1m,,"}, false},
	}
	s := openStore(t)
	for i, tt := range tests {
		_, err := s.Create("vol"+string(rune('a'+i)), nil, tt.opts)
		if tt.ok && err != nil {
			t.Errorf("%v: %v", tt.opts, err)
		}
		if !tt.ok && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%v: got %v, want ErrInvalidArgument", tt.opts, err)
		}
	}
}

func TestRemoveInUse(t *testing.T) {
	s := openStore(t)
	mustCreate(t, s, "busy", nil, nil)
	err := s.Remove("busy", true)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "volume is in use") {
		t.Fatalf("remove in use: %v", err)
	}
	if _, err := s.Mount("busy"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("busy", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove mounted: %v", err)
	}
	if err := s.Unmount("busy"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("busy", false); err != nil {
		t.Fatal(err)
	}
}

func TestPrune(t *testing.T) {
	s := openStore(t)
	anonFree := mustCreate(t, s, "", nil, nil)
	anonUsed := mustCreate(t, s, "", nil, nil)
	mustCreate(t, s, "named-free", nil, nil)
	mustCreate(t, s, "named-used", nil, nil)
	if err := os.WriteFile(filepath.Join(anonFree.Mountpoint, "f"), make([]byte, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	inUse := func(name string) bool { return name == anonUsed.Name || name == "named-used" }

	removed, reclaimed, err := s.Prune(inUse, false)
	if err != nil || !slices.Equal(removed, []string{anonFree.Name}) || reclaimed < 100000 {
		t.Fatalf("prune: %v %d %v", removed, reclaimed, err)
	}
	removed, _, err = s.Prune(inUse, true)
	if err != nil || !slices.Equal(removed, []string{"named-free"}) {
		t.Fatalf("prune all: %v %v", removed, err)
	}
	list, _ := s.List()
	if got := names(list); !slices.Contains(got, anonUsed.Name) || !slices.Contains(got, "named-used") || len(got) != 2 {
		t.Fatalf("left %v", got)
	}
	removed, _, err = s.Prune(nil, true)
	if err != nil || len(removed) != 2 {
		t.Fatalf("prune with nil inUse: %v %v", removed, err)
	}
}

func TestSize(t *testing.T) {
	s := openStore(t)
	v := mustCreate(t, s, "sized", nil, nil)
	empty, err := s.Size("sized")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// A hardlink is not counted twice.
	if err := os.Link(filepath.Join(v.Mountpoint, "f"), filepath.Join(v.Mountpoint, "g")); err != nil {
		t.Fatal(err)
	}
	n, err := s.Size("sized")
	if err != nil || n < empty+1<<20 || n > empty+2<<20-1 {
		t.Fatalf("size %d (empty %d): %v", n, empty, err)
	}
	if _, err := s.Size("missing"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("size of missing: %v", err)
	}
}

func TestOpenCleansCrashLeftovers(t *testing.T) {
	s := openStore(t)
	good := mustCreate(t, s, "good", nil, nil)
	root := s.Root()
	mk := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(root, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, p), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mk("nometa/_data") // create crashed before meta.json
	write("nometa/_data/f", "x")
	mk("badmeta/_data") // meta.json torn
	write("badmeta/meta.json", `{"name":"badm`)
	mk("wrongname/_data") // meta.json of another volume
	write("wrongname/meta.json", `{"name":"good","driver":"local"}`)
	mk(".trash-0123/_data")                   // remove crashed after the rename
	write("good/meta.json.tmp123", "partial") // meta write crashed
	mk("good/_data.seed-abcd/sub")            // seed crashed
	write("stray-file", "not a volume dir: left alone")
	mk(".other") // not a volume name: left alone

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"nometa", "badmeta", "wrongname", ".trash-0123", "good/meta.json.tmp123", "good/_data.seed-abcd"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived Open: %v", p, err)
		}
	}
	for _, p := range []string{"stray-file", ".other", "good/meta.json", "good/_data"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	list, err := s2.List()
	if err != nil || !slices.Equal(names(list), []string{good.Name}) {
		t.Fatalf("list after recovery: %v %v", names(list), err)
	}
	// The name of a crashed create is usable again.
	mustCreate(t, s2, "nometa", nil, nil)
}

func TestTmpfsVolume(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	v := mustCreate(t, s, "scratch", nil, map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
	if isMountpoint(v.Mountpoint) {
		t.Fatal("tmpfs mounted before first use")
	}
	for range 2 {
		if mp, err := s.Mount("scratch"); err != nil || mp != v.Mountpoint {
			t.Fatalf("mount: %s %v", mp, err)
		}
	}
	t.Cleanup(func() {
		unmountForTest(v.Mountpoint) // only if the test failed half way

	})
	if !isMountpoint(v.Mountpoint) {
		t.Fatal("tmpfs not mounted")
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("scratch", false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove mounted tmpfs volume: %v", err)
	}
	if err := s.Unmount("scratch"); err != nil || !isMountpoint(v.Mountpoint) {
		t.Fatalf("first unmount: %v, mounted %v", err, isMountpoint(v.Mountpoint))
	}
	if err := s.Unmount("scratch"); err != nil || isMountpoint(v.Mountpoint) {
		t.Fatalf("last unmount: %v, mounted %v", err, isMountpoint(v.Mountpoint))
	}
	if _, err := os.Stat(filepath.Join(v.Mountpoint, "f")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tmpfs content outlived the unmount: %v", err)
	}
	if err := s.Remove("scratch", false); err != nil {
		t.Fatal(err)
	}
}

func TestOpenUnmountsStaleTmpfsOfCrashedCreate(t *testing.T) {
	testutil.RequiresRoot(t)
	root := filepath.Join(t.TempDir(), "volumes")
	data := filepath.Join(root, "half", "_data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := mountTmpfsForTest(data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountForTest(data) })
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "half")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover survived: %v", err)
	}
}
