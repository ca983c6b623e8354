package jsonlog

import (
	"bytes"
	"time"
)

// The CRI log format (FormatCRI) has one record per line:
//
//	2026-11-22T10:00:00.123456789Z stdout F hello
//
// a time, the stream, a tag and the text. The tag is F for the end of a line (its newline
// not written) or P for a piece of a line (longer than MaxLine, or cut off by the end of
// the stream); a reader joins P records to the F that follows. The tag may carry more
// tags after a ":", which readers ignore. The bytes of the text are written as they are.

// criTimeFormat is RFC 3339 with nanoseconds always nine digits, so that the records of a
// file stay the same width up to the text and sort as text; RFC3339Nano parses it.
const criTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// appendCRIRecord appends line as CRI records, each ending with a newline, to dst. line
// holds one line or a piece of one, so this is one record; newlines inside it (which the
// LineWriter never passes) end records of their own, so that the file stays well formed
// whatever a caller writes. Like appendRecord it allocates nothing.
func appendCRIRecord(dst []byte, stream string, line []byte, t time.Time) []byte {
	for {
		i := bytes.IndexByte(line, '\n')
		tag := byte('F')
		text := line
		if i < 0 {
			tag = 'P'
		} else {
			text = line[:i]
		}
		dst = t.UTC().AppendFormat(dst, criTimeFormat)
		dst = append(dst, ' ')
		dst = append(dst, stream...)
		dst = append(dst, ' ', tag, ' ')
		dst = append(dst, text...)
		dst = append(dst, '\n')
		if i < 0 || i == len(line)-1 {
			return dst
		}
		line = line[i+1:]
	}
}

// decodeCRIRecord parses one CRI line (without its newline) into m, reusing m.Line's
// storage: an F record's Line gets back its newline, a P record is Partial. It reports
// false for anything else: a bad time, a stream other than stdout or stderr, a first tag
// other than F or P, a missing separator. Such lines are skipped by the reader.
func decodeCRIRecord(b []byte, m *Message) bool {
	ts, rest, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return false
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != "stdout" && string(stream) != "stderr") {
		return false
	}
	tags, text, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return false
	}
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	if len(tag) != 1 || (tag[0] != 'F' && tag[0] != 'P') {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return false
	}
	partial := tag[0] == 'P'
	line := append(m.Line[:0], text...)
	if !partial {
		line = append(line, '\n')
	}
	*m = Message{Stream: internStream(stream), Line: line, Time: t, Partial: partial}
	return true
}
