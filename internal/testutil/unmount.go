package testutil

import (
	"sort"
	"syscall"

	"github.com/moby/sys/mountinfo"
)

// UnmountAll detaches every mount at or below dir, deepest first, and returns their
// mount points (nil when there were none).
func UnmountAll(dir string) []string {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil || len(mounts) == 0 {
		return nil
	}
	points := make([]string, 0, len(mounts))
	for _, m := range mounts {
		points = append(points, m.Mountpoint)
	}
	// Longer paths first: children before their parents (stacked mounts repeat a path).
	sort.SliceStable(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
	return points
}
