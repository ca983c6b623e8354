package snapshot

import (
	"io/fs"
	"path/filepath"
)

// WritableUsage is what container layer key has written: the bytes of its regular files
// and the inodes (files, directories, links) of its upper directory, or of its whole
// copy with the copy driver. dir is that directory. A missing layer uses nothing.
func (s *Snapshotter) WritableUsage(key string) (dir string, bytes, inodes uint64) {
	if validKey(key) != nil {
		return "", 0, 0
	}
	base := s.containerDir(key)
	dir = filepath.Join(base, "upper")
	if d, _ := readMeta(base, "driver"); Driver(d) == DriverCopy {
		dir = filepath.Join(base, "rootfs")
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		inodes++
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				bytes += uint64(info.Size())
			}
		}
		return nil
	})
	return dir, bytes, inodes
}
