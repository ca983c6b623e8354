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
	"syscall"
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
// exists) last.
//
// The files are opened newest first. A rotation moves each file one name up (path.1 to
// path.2 ...), so a scan in that direction racing with one rotation can see a file twice
// (kept once) but never miss one or see two out of order. Two rotations during the scan
// could; every rotation replaces path, so if path still names the file we opened first
// when we are done, the scan was good, and otherwise it is done again.
func openAll(path string) ([]*logFile, error) {
	var files []*logFile
	for attempt := 0; ; attempt++ {
		var err error
		if files, err = scanFiles(path); err != nil {
			return nil, err
		}
		if attempt == 9 || scanHeld(path, files) {
			break // rotating faster than we can look: take the last scan as it is
		}
		closeAll(files)
	}
	slices.Reverse(files)
	return files, nil
}

// scanHeld reports whether path still names the file a scan found there (or still does not
// exist).
func scanHeld(path string, newestFirst []*logFile) bool {
	fi, err := os.Stat(path)
	if len(newestFirst) == 0 || newestFirst[0].name != path {
		return errors.Is(err, fs.ErrNotExist)
	}
	return err == nil && os.SameFile(fi, newestFirst[0].info)
}

// scanFiles opens path, path.1, path.2 ... in that order, each file once.
func scanFiles(path string) ([]*logFile, error) {
	var files []*logFile
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
		return nil, err
	}
	idx, err := rotatedIndexes(path)
	if err != nil {
		closeAll(files)
		return nil, err
	}
	for _, n := range idx {
		if err := add(rotatedName(path, n)); err != nil {
			closeAll(files)
			return nil, err
		}
	}
	return files, nil
}

func closeAll(files []*logFile) {
	for _, lf := range files {
		lf.close()
	}
}

// nextFile opens the file that follows cur in the log once path no longer names cur. It
// returns nil if cur is still the active file, or if the log rotates too fast to tell
// right now (the caller looks again after a wait).
func nextFile(path string, cur *logFile) (*logFile, error) {
	const attempts = 10
	elsewhere := 0
	for attempt := 0; attempt < attempts; attempt++ {
		lf, again, err := tryNextFile(path, cur)
		if errors.Is(err, errElsewhere) {
			elsewhere++
			continue
		}
		if err != nil || !again {
			return lf, err
		}
	}
	if elsewhere == attempts {
		// Renamed by someone else (the kubelet rotates CRI logs so, then has the Writer
		// reopen path): the file at path continues the log.
		return openFile(path)
	}
	return nil, nil
}

// errElsewhere says that the file followed still has a name, but neither path nor a
// path.N: it was moved while we looked, or renamed by someone else.
var errElsewhere = errors.New("log file moved to another name")

// tryNextFile finds cur's name, path.k, and opens the name just newer, path.(k-1) (or path);
// then it checks that cur is still path.k. If it is, the file opened was next to cur: a
// rotation moves cur to path.(k+1) before anything else to path.k. (cur is held open, so
// its inode cannot be reused by another file.) If cur has been deleted, every file left is
// newer, and the oldest of them is next. again reports a race with the writer: look again.
func tryNextFile(path string, cur *logFile) (lf *logFile, again bool, err error) {
	if nameIs(path, cur.info) {
		return nil, false, nil // still the active file
	}
	idx, err := rotatedIndexes(path)
	if err != nil {
		return nil, false, err
	}
	k := 0
	for _, n := range idx {
		if nameIs(rotatedName(path, n), cur.info) {
			k = n
			break
		}
	}
	var cand string
	var check func(*logFile) bool
	switch {
	case k > 0:
		cand = path
		if k > 1 {
			cand = rotatedName(path, k-1)
		}
		check = func(*logFile) bool { return nameIs(rotatedName(path, k), cur.info) }
	case linked(cur):
		return nil, true, errElsewhere
	default:
		cand = path
		older := rotatedName(path, 1)
		if len(idx) > 0 {
			cand = rotatedName(path, idx[len(idx)-1])
			older = rotatedName(path, idx[len(idx)-1]+1)
		}
		// Nothing older than the candidate may have appeared meanwhile.
		check = func(lf *logFile) bool {
			fi, err := os.Stat(older)
			return errors.Is(err, fs.ErrNotExist) || (err == nil && os.SameFile(fi, lf.info))
		}
	}
	lf, err = openFile(cand)
	if err != nil {
		return nil, false, err
	}
	if lf == nil {
		return nil, true, nil
	}
	if !check(lf) {
		lf.close()
		return nil, true, nil
	}
	return lf, false, nil
}

// nameIs reports whether name is the file fi describes.
func nameIs(name string, fi os.FileInfo) bool {
	st, err := os.Stat(name)
	return err == nil && os.SameFile(st, fi)
}

// linked reports whether the open file still has a name.
func linked(lf *logFile) bool {
	fi, err := lf.f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || st.Nlink > 0
}

// Remove deletes the files of the log at path: the active file and the rotated ones the
// Writer made. Other files beside them, the directory included, stay.
func Remove(path string) error {
	idx, err := rotatedIndexes(path)
	if err != nil {
		return err
	}
	for _, n := range idx {
		if err := os.Remove(rotatedName(path, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove log: %w", err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove log: %w", err)
	}
	return nil
}
