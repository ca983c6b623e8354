package jsonlog

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"time"
)

// MaxLine is the longest line logged as one record: a longer line is cut into partial
// records of MaxLine bytes (without "\n"), as Docker does, so neither the shim nor a log
// reader ever holds an unbounded line.
const MaxLine = 16 << 10

// LineWriter splits a byte stream into lines and logs each as a record of one stream. Its
// only memory is a MaxLine buffer for an unfinished line. A LineWriter serves one stream
// and is not safe for concurrent use; the Writer it feeds is.
type LineWriter struct {
	w      *Writer
	stream string
	buf    []byte // the start of an unfinished line; cap MaxLine+1 once allocated
	err    error  // first error of the Writer, returned once
}

// NewLineWriter logs what is written to it as records of stream.
func NewLineWriter(w *Writer, stream string) *LineWriter {
	return &LineWriter{w: w, stream: stream}
}

// CopyStream logs r as records of stream until r ends, then logs an unfinished last line.
// EIO, which a terminal's master side returns once the container closed it, ends the
// stream like EOF.
func CopyStream(w *Writer, stream string, r io.Reader) error {
	l := NewLineWriter(w, stream)
	_, err := l.ReadFrom(r)
	if ferr := l.Flush(); err == nil {
		err = ferr
	}
	return err
}

// Write logs every complete line of p and keeps the rest for the next call. It always
// consumes all of p; the error is the first the Writer returned, if any.
func (l *LineWriter) Write(p []byte) (int, error) {
	n := len(p)
	now := time.Now()
	for len(p) > 0 {
		if len(l.buf) == 0 {
			// Log straight from p; only an unfinished tail is copied.
			rest := l.split(p, now)
			if len(rest) > 0 {
				l.alloc()
				l.buf = append(l.buf, rest...)
			}
			break
		}
		k := min(len(p), cap(l.buf)-len(l.buf))
		l.buf = append(l.buf, p[:k]...)
		p = p[k:]
		l.compact(l.split(l.buf, now))
	}
	return n, l.takeErr()
}

// ReadFrom reads r straight into the line buffer until EOF (or EIO), logging lines as they
// complete. io.Copy uses it, so copying a pipe needs no buffer of its own. It keeps reading
// when the log cannot be written (a full disk, say), dropping records rather than blocking
// the container on a full pipe, and returns the first such error at the end.
func (l *LineWriter) ReadFrom(r io.Reader) (int64, error) {
	l.alloc()
	var total int64
	for {
		n, err := r.Read(l.buf[len(l.buf):cap(l.buf)])
		if n > 0 {
			total += int64(n)
			l.buf = l.buf[:len(l.buf)+n]
			l.compact(l.split(l.buf, time.Now()))
		}
		if err != nil {
			if err == io.EOF || errors.Is(err, syscall.EIO) {
				err = nil
			}
			if werr := l.takeErr(); err == nil {
				err = werr
			}
			return total, err
		}
	}
}

// Flush logs an unfinished last line: in json-file with the "\n" Docker adds to a line
// cut short by the end of the stream, in the CRI format as it is, a partial record.
func (l *LineWriter) Flush() error {
	if len(l.buf) > 0 {
		if l.w.opts.Format != FormatCRI {
			l.buf = append(l.buf, '\n') // len <= MaxLine, cap MaxLine+1
		}
		l.emit(l.buf, time.Now())
		l.buf = l.buf[:0]
	}
	return l.takeErr()
}

// split logs the complete lines and full MaxLine chunks at the start of p and returns the
// rest: at most MaxLine bytes without a newline.
func (l *LineWriter) split(p []byte, now time.Time) []byte {
	for len(p) > 0 {
		if i := bytes.IndexByte(p[:min(len(p), MaxLine+1)], '\n'); i >= 0 {
			l.emit(p[:i+1], now)
			p = p[i+1:]
			continue
		}
		if len(p) <= MaxLine {
			break // wait for more: the next byte may end the line
		}
		l.emit(p[:MaxLine], now) // a partial record
		p = p[MaxLine:]
	}
	return p
}

// compact moves the rest of l.buf, a suffix of it, to its start.
func (l *LineWriter) compact(rest []byte) {
	l.buf = l.buf[:copy(l.buf[:cap(l.buf)], rest)]
}

func (l *LineWriter) alloc() {
	if l.buf == nil {
		l.buf = make([]byte, 0, MaxLine+1)
	}
}

func (l *LineWriter) emit(rec []byte, now time.Time) {
	if err := l.w.Write(l.stream, rec, now); err != nil && l.err == nil {
		l.err = err
	}
}

func (l *LineWriter) takeErr() error {
	err := l.err
	l.err = nil
	return err
}
