// Package atomicfile replaces files so that a reader never sees a half-written one, and
// makes directory changes durable.
package atomicfile

import "os"

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
