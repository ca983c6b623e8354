// Package jsonlog writes and reads container logs, one record per line, in one of two
// formats (Options.Format, ReadOptions.Format):
//
//   - json-file, Docker's: {"log":"hello\n","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z"}
//   - k8s-file, the CRI's, which the kubelet and crictl read straight from the file:
//     2026-11-22T10:00:00.123456789Z stdout F hello (F ends a line, P is a piece of one)
//
// with size-based rotation to path.1 ... path.N (path.1 the newest). A log that someone
// else rotates (the kubelet renames CRI logs) is continued in a new file by Writer.Reopen.
//
// The writer runs inside the per-container shim, so it keeps memory and allocations low:
// records are encoded by hand into one reused buffer and lines are split in a fixed 16 KiB
// buffer per stream. The reader runs in the daemon: it tails from the end of the files and
// follows the active file across rotations.
package jsonlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"
)

// fileMode is the mode of log files: the container's output may hold secrets.
const fileMode = 0o640

// maxKeptBuffer is the encode buffer capacity kept between records; a rare huge record
// does not pin its buffer for the life of the container.
const maxKeptBuffer = 256 << 10

// Writer appends records to a log and rotates it by size. It is safe for
// concurrent use (the stdout and stderr copiers share one).
type Writer struct {
	mu   sync.Mutex
	path string
	opts Options
	f    *os.File // nil once closed
	size int64    // bytes in the active file
	buf  []byte   // encode buffer, reused
}

// NewWriter opens the log at path for appending (a restarted container keeps its log),
// creating it if needed. The directory must exist.
func NewWriter(path string, opts Options) (*Writer, error) {
	f, size, err := openActive(path)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &Writer{path: path, opts: opts, f: f, size: size}, nil
}

// openActive opens the file at path for appending, creating it if needed, and returns its
// size.
func openActive(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, fileMode)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// Reopen closes the active file and opens the file at path, creating it if it is gone:
// after someone else moved the log away (the kubelet rotates CRI logs itself and then
// asks for this), new records go to a new file at path. If path cannot be opened, records
// keep going to the old file and the error is returned.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("reopen log %s: %w", w.path, os.ErrClosed)
	}
	f, size, err := openActive(w.path)
	if err != nil {
		return fmt.Errorf("reopen log: %w", err)
	}
	w.f.Close()
	w.f, w.size = f, size
	return nil
}

// Write appends one record of stream ("stdout" or "stderr") holding line, which ends with
// "\n" unless it is a partial record of a longer line. If the log needs rotating and that
// fails, the record is still appended to the active file (which then grows past MaxSize)
// and the rotation error is returned; rotation is tried again after another MaxSize bytes.
func (w *Writer) Write(stream string, line []byte, t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("write log %s: %w", w.path, os.ErrClosed)
	}
	if w.opts.Format == FormatCRI {
		w.buf = appendCRIRecord(w.buf[:0], stream, line, t)
	} else {
		w.buf = appendRecord(w.buf[:0], stream, line, t)
	}
	var rotErr error
	if w.opts.MaxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.opts.MaxSize {
		if rotErr = w.rotate(); rotErr != nil {
			w.size = 0 // retry after another MaxSize bytes, not on every record
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if err != nil && n > 0 && n < len(w.buf) {
		// End the torn record so that only it, not the next one too, is unreadable.
		if m, _ := w.f.Write([]byte{'\n'}); m == 1 {
			w.size++
		}
	}
	if cap(w.buf) > maxKeptBuffer {
		w.buf = nil
	}
	if err != nil {
		return fmt.Errorf("write log %s: %w", w.path, err)
	}
	return rotErr
}

// rotated names the i-th rotated file.
func (w *Writer) rotated(i int) string { return w.path + "." + strconv.Itoa(i) }

// rotate shifts path.(N-2) -> path.(N-1) ... path -> path.1 and starts an empty active
// file. The new file is created first and renamed over path, and path.1 is a hard link of
// the old file, so that path always exists for a reader following the log; a follower sees
// the inode of path change and drains its old file first.
func (w *Writer) rotate() error {
	tmp := w.path + ".new"
	nf, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, fileMode)
	if err != nil {
		return fmt.Errorf("rotate log %s: %w", w.path, err)
	}
	abort := func(err error) error {
		nf.Close()
		os.Remove(tmp)
		return fmt.Errorf("rotate log %s: %w", w.path, err)
	}
	if w.opts.MaxFiles > 1 {
		for i := w.opts.MaxFiles - 1; i > 1; i-- {
			if err := os.Rename(w.rotated(i-1), w.rotated(i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return abort(err)
			}
		}
		if err := os.Remove(w.rotated(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return abort(err)
		}
		if err := os.Link(w.path, w.rotated(1)); err != nil {
			// A file system without hard links: a reader may briefly miss path.
			if err := os.Rename(w.path, w.rotated(1)); err != nil {
				return abort(err)
			}
		}
	}
	if err := os.Rename(tmp, w.path); err != nil {
		return abort(err)
	}
	w.f.Close()
	w.f, w.size = nf, 0
	return nil
}

// Close closes the log; later writes fail.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f, w.buf = nil, nil
	if err != nil {
		return fmt.Errorf("close log %s: %w", w.path, err)
	}
	return nil
}
