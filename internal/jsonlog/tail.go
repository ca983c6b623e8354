package jsonlog

import (
	"bytes"
	"io"
)

// tailBlock is how much a backScanner reads at a time.
const tailBlock = 32 << 10

// backScanner returns the lines of r[0:size) last first, reading blocks backwards from the
// end, so that --tail 10 of a large log reads a block or two instead of the whole file.
type backScanner struct {
	r    io.ReaderAt
	arr  []byte
	lo   int   // arr[lo:hi] holds the bytes not yet returned ...
	hi   int   //
	off  int64 // ... which start at this offset of r
	skip bool  // looking for the start of a line longer than maxRecord
}

func newBackScanner(r io.ReaderAt, size int64) *backScanner {
	return &backScanner{r: r, off: size}
}

// prev returns the line before the ones already returned, without its newline, and its
// offset in r; io.EOF once the start is reached. The line is valid until the next call.
func (s *backScanner) prev() ([]byte, int64, error) {
	for {
		data := s.arr[s.lo:s.hi]
		body := data
		if len(body) > 0 && body[len(body)-1] == '\n' {
			body = body[:len(body)-1]
		}
		i := bytes.LastIndexByte(body, '\n')
		if i >= 0 || (s.off == 0 && len(data) > 0) {
			line := body[i+1:]
			start := s.off + int64(i+1)
			s.hi = s.lo + i + 1
			if s.skip || len(line) > maxRecord {
				s.skip = false
				continue // an over-long line, as the forward reader skips it
			}
			return line, start, nil
		}
		if s.off == 0 {
			return nil, 0, io.EOF
		}
		if len(data) > maxRecord {
			// Drop what we have of this line, keep only its end marker, and look for its start.
			s.skip = true
			s.lo = s.hi - 1
		}
		if err := s.readBlock(); err != nil {
			return nil, 0, err
		}
	}
}

// readBlock prepends the block before s.off to the buffered bytes.
func (s *backScanner) readBlock() error {
	n := int(min(int64(tailBlock), s.off))
	if s.lo < n {
		have := s.hi - s.lo
		if len(s.arr) < have+n {
			grown := make([]byte, max(2*len(s.arr), have+n, 2*tailBlock))
			copy(grown[len(grown)-have:], s.arr[s.lo:s.hi])
			s.arr = grown
		} else {
			copy(s.arr[len(s.arr)-have:], s.arr[s.lo:s.hi])
		}
		s.lo, s.hi = len(s.arr)-have, len(s.arr)
	}
	if _, err := s.r.ReadAt(s.arr[s.lo-n:s.lo], s.off-int64(n)); err != nil {
		return err
	}
	s.lo -= n
	s.off -= int64(n)
	return nil
}

// position is a place in a log: a file of the list openAll returned and an offset in it.
type position struct {
	file int
	off  int64
}

// tailStart finds where reading must start so that the last opts.Tail records that pass
// opts.Since and opts.Until are read: it scans the files backwards, newest first, decoding
// only the records it passes. Records are in time order (give or take the interleaving of
// stdout and stderr), so it stops at the first record older than Since.
func tailStart(files []*logFile, sizes []int64, opts ReadOptions) (position, error) {
	last := len(files) - 1
	if last < 0 {
		return position{}, nil
	}
	if opts.Tail == 0 {
		return position{last, sizes[last]}, nil
	}
	need := opts.Tail
	decode := decoder(opts.Format)
	var m Message
	for i := last; i >= 0; i-- {
		s := newBackScanner(files[i].f, sizes[i])
		for {
			line, start, err := s.prev()
			if err == io.EOF {
				break
			}
			if err != nil {
				return position{}, err
			}
			if !decode(line, &m) || (!opts.Until.IsZero() && m.Time.After(opts.Until)) {
				continue
			}
			if !opts.Since.IsZero() && m.Time.Before(opts.Since) {
				return position{i, start + int64(len(line)) + 1}, nil
			}
			if need--; need == 0 {
				return position{i, start}, nil
			}
		}
	}
	return position{0, 0}, nil
}
