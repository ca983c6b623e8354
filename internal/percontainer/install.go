package percontainer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/drover/drover/internal/atomicfile"
)

// Install writes bin, the drover-runtime binary that a drover binary carries, to
// dir/VERSION/drover-runtime, where the daemon runs its containers' processes from, and
// returns that path. VERSION is the binary's SHA-256 (digest, computed at build time, or
// here when empty), so each build is written once and every path holds exactly one build;
// a temporary file renamed into place means a crash never leaves half a binary there.
// Earlier builds' copies go once no process runs them (a shim or a pod's pause from before
// an upgrade keeps its own).
func Install(dir string, bin []byte, digest string) (string, error) {
	if len(digest) < 16 {
		sum := sha256.Sum256(bin)
		digest = hex.EncodeToString(sum[:])
	}
	version := digest[:16]
	path := filepath.Join(dir, version, RuntimeName)
	if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(bin)) {
		err := os.MkdirAll(filepath.Dir(path), 0o700)
		if err == nil {
			err = atomicfile.WriteDurable(path, bin, 0o755)
		}
		if err != nil {
			return "", fmt.Errorf("write the per-container binary %s: %w", path, err)
		}
	}
	removeUnused(dir, version)
	return path, nil
}

// removeUnused removes the other builds under dir, and the temporary files a crash left,
// unless a process runs them: stat through /proc/PID/exe finds the file a process was
// started from even when it sees it at another path (a pod's /pause is a bind mount).
func removeUnused(dir, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	inUse := runningExecutables()
	for _, e := range entries {
		if e.Name() == keep {
			tmps, _ := filepath.Glob(filepath.Join(dir, keep, RuntimeName+".tmp*"))
			for _, t := range tmps {
				os.Remove(t)
			}
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, e.Name(), RuntimeName), &st); err == nil && inUse[fileID{st.Dev, st.Ino}] {
			continue
		}
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

type fileID struct{ dev, ino uint64 }

func runningExecutables() map[fileID]bool {
	ids := map[fileID]bool{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", p.Name(), "exe"), &st) == nil {
			ids[fileID{st.Dev, st.Ino}] = true
		}
	}
	return ids
}
