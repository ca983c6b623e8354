// Package atomicfile replaces files so that a reader never sees a half-written one, and
// makes directory changes durable.
package atomicfile

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Replace writes data beside path and renames it over path without fsync: readers see the
// old or the new content even if the writer is killed, but a power loss may lose both.
// It suits runtime state (bundles, exit files) that a reboot makes meaningless anyway;
// durable state lives in bbolt and the content store, which sync.
func Replace(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// SyncDir fsyncs a directory, making the renames and creations in it durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// WriteDurable writes data to path so that after a crash, power loss included, path holds
// either its old or its new content, complete: a temp file beside it, fsync, rename, fsync
// of the directory.
func WriteDurable(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return SyncDir(dir)
}

// SyncFS flushes the whole filesystem holding dir: before a rename publishes many new
// files, one syncfs is cheaper than an fsync of each.
func SyncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
