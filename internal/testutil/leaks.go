package testutil

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
)

// LeakScope says where to look for host state a test must not leave behind.
type LeakScope struct {
	// MountPrefixes: mounts at or under these paths (a daemon's root, a test's temp dir).
	MountPrefixes []string
	// CgroupParent: cgroups at or under this path (relative to each hierarchy's root, e.g.
	// "drover-test-xyz") in every cgroup v1 controller and in the v2 tree.
	CgroupParent string
	// ProcessMarker: processes whose command line contains this string (a daemon's root
	// directory appears in every shim's arguments, for instance).
	ProcessMarker string
	// Dirs: files and directories under these directories (a state or bundle directory).
	// Mounted directories are listed but not entered.
	Dirs []string
	// Settle is how long Check waits for cleanup that happens in the background (a shim
	// exiting after its container) before it reports leaks; 10s if zero.
	Settle time.Duration
}

// HostState is what SnapshotHost found within a LeakScope. Every entry is a readable line.
type HostState struct {
	Mounts    []string // "mountpoint (fstype)"
	Cgroups   []string // cgroup directory paths
	Processes []string // "pid N: command line"
	Files     []string // paths; directories end with "/"
}

// maxFilesPerDir bounds a file listing: a leak check needs to show a leak, not every file.
const maxFilesPerDir = 10000

// SnapshotHost records the host state within scope.
func SnapshotHost(t testing.TB, scope LeakScope) HostState {
	t.Helper()
	s, err := snapshot(scope)
	if err != nil {
		t.Fatalf("snapshot host state: %v", err)
	}
	return s
}

func snapshot(scope LeakScope) (HostState, error) {
	var s HostState
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		return s, err
	}
	mountpoints := map[string]bool{}
	for _, m := range mounts {
		mountpoints[m.Mountpoint] = true
		for _, p := range scope.MountPrefixes {
			if under(m.Mountpoint, p) {
				s.Mounts = append(s.Mounts, fmt.Sprintf("%s (%s)", m.Mountpoint, m.FSType))
				break
			}
		}
	}
	if scope.CgroupParent != "" {
		s.Cgroups = cgroupDirs(mounts, scope.CgroupParent)
	}
	if scope.ProcessMarker != "" {
		if s.Processes, err = processesWith(scope.ProcessMarker); err != nil {
			return s, err
		}
	}
	for _, d := range scope.Dirs {
		s.Files = append(s.Files, listFiles(d, mountpoints)...)
	}
	return s, nil
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	dir = filepath.Clean(dir)
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// cgroupDirs lists parent and the cgroups below it in every mounted cgroup hierarchy.
func cgroupDirs(mounts []*mountinfo.Info, parent string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range mounts {
		if (m.FSType != "cgroup" && m.FSType != "cgroup2") || seen[m.Mountpoint] {
			continue
		}
		seen[m.Mountpoint] = true
		root := filepath.Join(m.Mountpoint, filepath.Clean("/"+parent))
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				out = append(out, p)
			}
			return nil // a cgroup removed while we walk is not an error
		})
	}
	slices.Sort(out)
	return out
}

// processesWith lists the processes, other than this one, whose command line contains
// marker.
func processesWith(marker string) ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // exited meanwhile
		}
		cmd := strings.TrimSpace(string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		if strings.Contains(cmd, marker) {
			out = append(out, fmt.Sprintf("pid %d: %s", pid, cmd))
		}
	}
	return out, nil
}

// listFiles lists what is under dir (not dir itself), without entering mount points.
func listFiles(dir string, mountpoints map[string]bool) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		if len(out) >= maxFilesPerDir {
			out = append(out, filepath.Join(dir, "... (listing cut short)"))
			return filepath.SkipAll
		}
		if d.IsDir() {
			out = append(out, p+"/")
			if mountpoints[p] {
				return filepath.SkipDir
			}
			return nil
		}
		out = append(out, p)
		return nil
	})
	return out
}

// Leaks returns the entries of s that are not in before: what appeared since.
func (s HostState) Leaks(before HostState) HostState {
	return HostState{
		Mounts:    newEntries(before.Mounts, s.Mounts),
		Cgroups:   newEntries(before.Cgroups, s.Cgroups),
		Processes: newEntries(before.Processes, s.Processes),
		Files:     newEntries(before.Files, s.Files),
	}
}

// newEntries returns the entries of after beyond those in before, counting repeats (the
// same path mounted twice).
func newEntries(before, after []string) []string {
	count := map[string]int{}
	for _, e := range before {
		count[e]++
	}
	var out []string
	for _, e := range after {
		if count[e] > 0 {
			count[e]--
			continue
		}
		out = append(out, e)
	}
	return out
}

// Empty reports whether s has no entries.
func (s HostState) Empty() bool {
	return len(s.Mounts)+len(s.Cgroups)+len(s.Processes)+len(s.Files) == 0
}

// String lists the entries by kind.
func (s HostState) String() string {
	var b strings.Builder
	for _, part := range []struct {
		kind    string
		entries []string
	}{{"mounts", s.Mounts}, {"cgroups", s.Cgroups}, {"processes", s.Processes}, {"files", s.Files}} {
		if len(part.entries) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", part.kind)
		for _, e := range part.entries {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	return b.String()
}

// AssertNoLeaks fails the test if after has entries that before has not.
func AssertNoLeaks(t testing.TB, before, after HostState) {
	t.Helper()
	if leaks := after.Leaks(before); !leaks.Empty() {
		t.Errorf("the test left host state behind:\n%s", leaks)
	}
}

// LeakWatch remembers the host state at the start of a test. Use it as
//
//	leak := testutil.WatchLeaks(t, testutil.LeakScope{MountPrefixes: []string{root}, ...})
//	... the test ...
//	leak.Check(t)
//
// Create it before the test creates anything: WatchLeaks also registers a check that runs
// after every cleanup registered later (t.Cleanup runs last-in first-out), in case the test
// ends early or forgets Check.
type LeakWatch struct {
	scope   LeakScope
	before  HostState
	checked bool
}

// WatchLeaks snapshots the host state within scope.
func WatchLeaks(t testing.TB, scope LeakScope) *LeakWatch {
	t.Helper()
	w := &LeakWatch{scope: scope, before: SnapshotHost(t, scope)}
	t.Cleanup(func() {
		if !w.checked {
			w.Check(t)
		}
	})
	return w
}

// Check waits up to scope.Settle for the host state to return to the snapshot and reports
// (as a test error, not fatal) whatever is left.
func (w *LeakWatch) Check(t testing.TB) {
	t.Helper()
	w.checked = true
	settle := w.scope.Settle
	if settle == 0 {
		settle = 10 * time.Second
	}
	var leaks HostState
	var err error
	Poll(settle, func() bool {
		var now HostState
		if now, err = snapshot(w.scope); err != nil {
			return true
		}
		leaks = now.Leaks(w.before)
		return leaks.Empty()
	})
	if err != nil {
		t.Errorf("leak check: snapshot host state: %v", err)
		return
	}
	if !leaks.Empty() {
		t.Errorf("the test left host state behind (still there after %v):\n%s", settle, leaks)
	}
}
