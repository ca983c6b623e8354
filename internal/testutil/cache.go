package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/sys/mountinfo"
)

// cachePrefix names the per-process directories that hold the rootfs trees, tarballs and
// binaries built for tests.
const cachePrefix = "drover-testutil-"

var (
	cacheOnce sync.Once
	cacheDir  string
	cacheErr  error
)

// cache returns this test binary's cache directory, creating it on first use. A test
// binary cannot clean up after itself when it exits (no TestMain here), so instead each one
// first removes the directories of binaries that are no longer running.
func cache() (string, error) {
	cacheOnce.Do(func() {
		removeStaleCaches()
		dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", cachePrefix, os.Getpid()))
		if err != nil {
			cacheErr = fmt.Errorf("create test cache dir: %w", err)
			return
		}
		// Readable by all: containers under test may run as other users or in user
		// namespaces, and nothing here is secret.
		if err := os.Chmod(dir, 0o755); err != nil {
			cacheErr = fmt.Errorf("create test cache dir: %w", err)
			return
		}
		cacheDir = dir
	})
	return cacheDir, cacheErr
}

// removeStaleCaches removes the cache directories of test binaries that have exited. A
// directory with anything mounted under it (a container a crashed test left running) is
// left alone: removing it would reach into the mount.
func removeStaleCaches() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), cachePrefix+"*"))
	for _, dir := range dirs {
		rest := strings.TrimPrefix(filepath.Base(dir), cachePrefix)
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || processExists(pid) {
			continue
		}
		if mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir)); err != nil || len(mounts) > 0 {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// processExists reports whether pid is a live process (of any user).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
