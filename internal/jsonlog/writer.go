// Package jsonlog writes and reads container logs in Docker's json-file format: one JSON
// object per line, {"log":"...","stream":"stdout","time":"..."}, with size-based rotation.
package jsonlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	units "github.com/docker/go-units"
)

// Options control rotation. MaxSize 0 means no rotation; MaxFiles counts the active file.
type Options struct {
	MaxSize  int64
	MaxFiles int
}

// ParseLogOpts reads --log-opt max-size and max-file.
func ParseLogOpts(opts map[string]string) (Options, error) {
	o := Options{MaxFiles: 1}
	for k, v := range opts {
		switch k {
		case "max-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("max-size %q: give a positive size such as 10m", v)
			}
			o.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, fmt.Errorf("max-file %q: give a number of at least 1", v)
			}
			o.MaxFiles = n
		default:
			return o, fmt.Errorf("unknown log option %q: json-file takes max-size and max-file", k)
		}
	}
	if o.MaxFiles > 1 && o.MaxSize == 0 {
		return o, fmt.Errorf("max-file needs max-size")
	}
	return o, nil
}

// Writer appends records to a log file, rotating it by size. Safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	path string
	opts Options
	f    *os.File
	size int64
	buf  bytes.Buffer
}

// NewWriter opens (appending) the log at path.
func NewWriter(path string, opts Options) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{path: path, opts: opts, f: f, size: fi.Size()}, nil
}

// Write appends one record; line includes its trailing newline unless partial.
func (w *Writer) Write(stream string, line []byte, t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return os.ErrClosed
	}
	w.buf.Reset()
	w.buf.WriteString(`{"log":`)
	enc, _ := json.Marshal(string(line))
	w.buf.Write(enc)
	w.buf.WriteString(`,"stream":"`)
	w.buf.WriteString(stream)
	w.buf.WriteString(`","time":"`)
	w.buf.WriteString(t.UTC().Format(time.RFC3339Nano))
	w.buf.WriteString("\"}\n")
	if w.opts.MaxSize > 0 && w.size > 0 && w.size+int64(w.buf.Len()) > w.opts.MaxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf.Bytes())
	w.size += int64(n)
	return err
}

// rotate shifts path.N-1 -> path.N ... path -> path.1 and starts an empty active file.
func (w *Writer) rotate() error {
	w.f.Close()
	if w.opts.MaxFiles <= 1 {
		if err := os.Truncate(w.path, 0); err != nil {
			return err
		}
	} else {
		for i := w.opts.MaxFiles - 1; i > 0; i-- {
			src := w.path
			if i > 1 {
				src = w.path + "." + strconv.Itoa(i-1)
			}
			_ = os.Rename(src, w.path+"."+strconv.Itoa(i))
		}
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		w.f = nil
		return err
	}
	w.f, w.size = f, 0
	return nil
}

// Close closes the log.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// maxLine is where a long line is cut into partial records, as Docker does.
const maxLine = 16 << 10

// LineWriter splits a byte stream into lines and logs each as a record of one stream.
type LineWriter struct {
	w      *Writer
	stream string
	buf    []byte
}

// NewLineWriter logs what is written to it as records of stream.
func NewLineWriter(w *Writer, stream string) *LineWriter {
	return &LineWriter{w: w, stream: stream}
}

// Write logs every complete line in p and keeps the rest for the next call.
func (l *LineWriter) Write(p []byte) (int, error) {
	now := time.Now()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if err := l.w.Write(l.stream, l.buf[:i+1], now); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+1:]
	}
	for len(l.buf) >= maxLine {
		if err := l.w.Write(l.stream, l.buf[:maxLine], now); err != nil {
			return len(p), err
		}
		l.buf = l.buf[maxLine:]
	}
	if len(l.buf) == 0 {
		l.buf = nil // let a large buffer go
	}
	return len(p), nil
}

// Flush logs what is left of an unterminated last line.
func (l *LineWriter) Flush() {
	if len(l.buf) > 0 {
		_ = l.w.Write(l.stream, l.buf, time.Now())
		l.buf = nil
	}
}
