// Package stream is the framed byte stream drover uses wherever one connection carries
// several streams: between client and daemon, and between daemon and shim. A frame is a
// 5-byte header (kind, big-endian uint32 length) and its payload. Framing both directions
// lets stdin, terminal resizes and the exit code share one connection with the output.
package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// Kind says what a frame carries.
type Kind byte

const (
	Stdin      Kind = 0 // client -> container
	Stdout     Kind = 1 // container -> client
	Stderr     Kind = 2 // container -> client
	Exit       Kind = 3 // container -> client: decimal exit code; last frame
	Resize     Kind = 4 // client -> container: "width height"
	CloseStdin Kind = 5 // client -> container: stdin is at EOF
	Error      Kind = 6 // either way: an error message; last frame
)

// MaxFrame bounds a frame's payload so a hostile peer cannot make us allocate at will.
const MaxFrame = 1 << 20

// Writer writes frames; it is safe for concurrent use.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter frames writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteFrame writes one frame (payloads over MaxFrame are split).
func (w *Writer) WriteFrame(k Kind, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		n := len(p)
		if n > MaxFrame {
			n = MaxFrame
		}
		var hdr [5]byte
		hdr[0] = byte(k)
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, err := w.w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
	}
}

// StreamWriter returns an io.Writer that sends everything written as frames of kind k.
func (w *Writer) StreamWriter(k Kind) io.Writer { return kindWriter{w, k} }

type kindWriter struct {
	w *Writer
	k Kind
}

func (kw kindWriter) Write(p []byte) (int, error) {
	if err := kw.w.WriteFrame(kw.k, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteExit sends the exit code frame.
func (w *Writer) WriteExit(code int) error {
	return w.WriteFrame(Exit, []byte(strconv.Itoa(code)))
}

// WriteResize sends a terminal size.
func (w *Writer) WriteResize(width, height uint16) error {
	return w.WriteFrame(Resize, []byte(fmt.Sprintf("%d %d", width, height)))
}

// Reader reads frames.
type Reader struct {
	r   io.Reader
	buf []byte
}

// NewReader reads frames from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// ErrFrameTooLarge is returned for a header announcing more than MaxFrame bytes.
var ErrFrameTooLarge = errors.New("stream: frame too large")

// ReadFrame returns the next frame. The payload is valid until the next call.
func (r *Reader) ReadFrame() (Kind, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxFrame {
		return 0, nil, ErrFrameTooLarge
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	p := r.buf[:n]
	if _, err := io.ReadFull(r.r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return Kind(hdr[0]), p, nil
}

// ParseExit decodes an Exit frame's payload.
func ParseExit(p []byte) (int, error) {
	code, err := strconv.Atoi(string(p))
	if err != nil {
		return 0, fmt.Errorf("stream: bad exit frame %q", p)
	}
	return code, nil
}

// WaitExit reads frames from r, dropping output, until the Exit frame, and returns its
// code. An Error frame, or the stream's end before any Exit, is an error.
func WaitExit(r io.Reader) (int, error) {
	fr := NewReader(r)
	for {
		kind, p, err := fr.ReadFrame()
		if err != nil {
			return -1, err
		}
		switch kind {
		case Exit:
			return ParseExit(p)
		case Error:
			return -1, errors.New(string(p))
		}
	}
}

// ParseResize decodes a Resize frame's payload.
func ParseResize(p []byte) (width, height uint16, err error) {
	var w, h uint16
	if _, err := fmt.Sscanf(string(p), "%d %d", &w, &h); err != nil {
		return 0, 0, fmt.Errorf("stream: bad resize frame %q", p)
	}
	return w, h, nil
}
