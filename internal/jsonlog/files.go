package jsonlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// logFile is one open file of a log, with what fstat said when it was opened.
type logFile struct {
	name string
	f    *os.File
	info os.FileInfo
}

func (lf *logFile) close() {
	if lf != nil && lf.f != nil {
		lf.f.Close()
	}
}

// openFile opens name; a missing file is (nil, nil).
func openFile(name string) (*logFile, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &logFile{name: name, f: f, info: fi}, nil
}

// rotatedIndexes lists the N of the path.N files present, ascending (newest first). A
// directory listing rather than probing path.1, path.2 ... so that a gap left by a
// rotation in progress does not hide older files.
func rotatedIndexes(path string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list log files: %w", err)
	}
	prefix := filepath.Base(path) + "."
	var idx []int
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(suffix); err == nil && n > 0 && strconv.Itoa(n) == suffix {
			idx = append(idx, n)
		}
	}
	slices.Sort(idx)
	return idx, nil
}

// rotatedName names the n-th rotated file of path.
func rotatedName(path string, n int) string { return path + "." + strconv.Itoa(n) }

// openAll opens every file of the log, returned oldest first with the active file (if it
// exists) last. Files are opened newest first so that a rotation racing with us can only
// make us miss records newer than the ones we have, never leave a hole in the middle; the
// same file seen under two names is kept once.
func openAll(path string) ([]*logFile, error) {
	var files []*logFile
	fail := func(err error) ([]*logFile, error) {
		for _, lf := range files {
			lf.close()
		}
		return nil, err
	}
	add := func(name string) error {
		lf, err := openFile(name)
		if err != nil || lf == nil {
			return err
		}
		for _, seen := range files {
			if os.SameFile(seen.info, lf.info) {
				lf.close()
				return nil
			}
		}
		files = append(files, lf)
		return nil
	}
	if err := add(path); err != nil {
		return fail(err)
	}
	idx, err := rotatedIndexes(path)
	if err != nil {
		return fail(err)
	}
	for _, n := range idx {
		if err := add(rotatedName(path, n)); err != nil {
			return fail(err)
		}
	}
	slices.Reverse(files)
	return files, nil
}

// nextFile finds the file that follows cur in the log after cur was rotated away: the one
// just newer than cur, or the oldest one left if cur has been deleted (every file left is
// newer then). It returns nil if cur is still the active file.
func nextFile(path string, cur os.FileInfo) (*logFile, error) {
	for attempt := 0; attempt < 5; attempt++ {
		idx, err := rotatedIndexes(path)
		if err != nil {
			return nil, err
		}
		names := []string{path}
		for _, n := range idx {
			names = append(names, rotatedName(path, n))
		}
		slices.Reverse(names) // oldest first
		var infos []os.FileInfo
		var kept []string
		for _, n := range names {
			if fi, err := os.Stat(n); err == nil {
				infos = append(infos, fi)
				kept = append(kept, n)
			}
		}
		if len(kept) == 0 {
			return nil, nil // between a removal and a re-creation: try again later
		}
		pick := 0
		for i, fi := range infos {
			if os.SameFile(fi, cur) {
				if i == len(infos)-1 {
					return nil, nil
				}
				pick = i + 1
				break
			}
		}
		lf, err := openFile(kept[pick])
		if err != nil {
			return nil, err
		}
		if lf != nil && os.SameFile(lf.info, infos[pick]) {
			return lf, nil
		}
		lf.close() // renamed under us: look again
	}
	return nil, nil
}
