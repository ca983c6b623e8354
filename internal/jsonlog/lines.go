package jsonlog

import (
	"bufio"
	"io"
)

// maxRecord is the longest log line the reader accepts; a longer one is not something the
// Writer produces (a MaxLine record escapes to at most about 100 KiB) and is skipped.
const maxRecord = 1 << 20

// readBufferSize is the read buffer of a lineReader.
const readBufferSize = 32 << 10

// lineReader reads newline-terminated lines from a file that may still be growing: at the
// end of the data it keeps an unterminated tail and carries on when more is written.
type lineReader struct {
	br       *bufio.Reader
	long     []byte // a line longer than the read buffer, or an unterminated tail
	skipping bool   // inside a line longer than maxRecord
	pos      int64  // offset in the source of the next byte not yet consumed
}

func newLineReader(r io.Reader, pos int64) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, readBufferSize), pos: pos}
}

// reset starts reading r afresh at offset pos.
func (lr *lineReader) reset(r io.Reader, pos int64) {
	lr.br.Reset(r)
	lr.long, lr.skipping, lr.pos = lr.long[:0], false, pos
}

// next returns the next complete line without its newline, valid until the next call. At
// the end of the data it returns io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	if cap(lr.long) > 4*readBufferSize && len(lr.long) == 0 {
		lr.long = nil // let a rare long line's buffer go
	}
	for {
		chunk, err := lr.br.ReadSlice('\n')
		lr.pos += int64(len(chunk))
		switch err {
		case nil:
			if lr.skipping {
				lr.skipping = false
				continue
			}
			if len(lr.long) > 0 {
				line := append(lr.long, chunk...)
				lr.long = line[:0]
				return line[:len(line)-1], nil
			}
			return chunk[:len(chunk)-1], nil
		case bufio.ErrBufferFull, io.EOF:
			if !lr.skipping {
				lr.long = append(lr.long, chunk...)
				if len(lr.long) > maxRecord {
					lr.long, lr.skipping = lr.long[:0], true
				}
			}
			if err == io.EOF {
				return nil, io.EOF
			}
		default:
			return nil, err
		}
	}
}

// tail returns and forgets an unterminated last line, for when no more data will come.
func (lr *lineReader) tail() []byte {
	t := lr.long
	lr.long = lr.long[:0]
	return t
}
