package jsonlog

import (
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of values in fields drover does not know, as encoding/json does.
const maxDepth = 10000

// decodeRecord parses one json-file line (without its newline) into m, reusing m.Line's
// storage. It reports false for anything that is not a JSON object with a string "log" and
// an RFC 3339 "time" (and, if present, a string "stream"); such lines are skipped by the
// reader, never fatal. Unknown fields (Docker's "attrs", say) are validated and ignored.
// When a key repeats, the last one wins, as with encoding/json.
//
// A hand-written decoder, because log reads go through every record of possibly large
// files and encoding/json allocates per record; FuzzDecodeRecord checks it against
// encoding/json.
func decodeRecord(b []byte, m *Message) bool {
	p := scanner{b: b}
	var logV, streamV, timeV []byte // raw quoted values of the last occurrence of each key
	p.skipSpace()
	if !p.consume('{') {
		return false
	}
	p.skipSpace()
	if !p.consume('}') {
		var kbuf [8]byte
		for {
			p.skipSpace()
			start := p.i
			if !p.skipString() {
				return false
			}
			key, ok := unquote(kbuf[:0], b[start:p.i])
			if !ok {
				return false
			}
			p.skipSpace()
			if !p.consume(':') {
				return false
			}
			p.skipSpace()
			vstart := p.i
			if !p.skipValue(1) { // the record itself is depth 1, as encoding/json counts
				return false
			}
			switch string(key) {
			case "log":
				logV = b[vstart:p.i]
			case "stream":
				streamV = b[vstart:p.i]
			case "time":
				timeV = b[vstart:p.i]
			}
			p.skipSpace()
			if p.consume(',') {
				continue
			}
			if p.consume('}') {
				break
			}
			return false
		}
	}
	p.skipSpace()
	if p.i != len(b) {
		return false
	}
	if !isString(logV) || !isString(timeV) || (streamV != nil && !isString(streamV)) {
		return false
	}

	var tbuf [64]byte
	ts, ok := unquote(tbuf[:0], timeV)
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return false
	}
	line, ok := unquote(m.Line[:0], logV)
	if !ok {
		return false
	}
	stream := ""
	if streamV != nil {
		var sbuf [16]byte
		s, ok := unquote(sbuf[:0], streamV)
		if !ok {
			return false
		}
		stream = internStream(s)
	}
	*m = Message{Stream: stream, Line: line, Time: t, Partial: len(line) == 0 || line[len(line)-1] != '\n'}
	return true
}

// internStream avoids an allocation per record for the two streams every record names.
func internStream(s []byte) string {
	switch string(s) {
	case "stdout":
		return "stdout"
	case "stderr":
		return "stderr"
	}
	return string(s)
}

func isString(v []byte) bool { return len(v) >= 2 && v[0] == '"' }

// scanner validates JSON text following RFC 8259, without building values.
type scanner struct {
	b []byte
	i int
}

func (p *scanner) consume(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// skipString moves past a quoted string, checking its escapes; other bytes of 0x20 and
// above, including invalid UTF-8, are allowed as in encoding/json (unquote replaces them).
func (p *scanner) skipString() bool {
	if !p.consume('"') {
		return false
	}
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return false
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if hex4(p.b[p.i+2:]) < 0 {
					return false
				}
				p.i += 6
			default:
				return false
			}
		default:
			p.i++
		}
	}
	return false
}

// skipValue moves past any JSON value.
func (p *scanner) skipValue(depth int) bool {
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.skipString()
	case c == '{' || c == '[':
		return p.skipComposite(depth + 1)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.skipNumber()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
				p.i += len(lit)
				return true
			}
		}
		return false
	}
}

// skipComposite moves past an object or array.
func (p *scanner) skipComposite(depth int) bool {
	if depth > maxDepth {
		return false
	}
	object := p.b[p.i] == '{'
	end := byte(']')
	if object {
		end = '}'
	}
	p.i++
	p.skipSpace()
	if p.consume(end) {
		return true
	}
	for {
		p.skipSpace()
		if object {
			if !p.skipString() {
				return false
			}
			p.skipSpace()
			if !p.consume(':') {
				return false
			}
			p.skipSpace()
		}
		if !p.skipValue(depth) {
			return false
		}
		p.skipSpace()
		if p.consume(',') {
			continue
		}
		return p.consume(end)
	}
}

// skipNumber moves past -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *scanner) skipNumber() bool {
	p.consume('-')
	switch {
	case p.consume('0'):
	case p.digits() == 0:
		return false
	}
	if p.consume('.') && p.digits() == 0 {
		return false
	}
	if p.consume('e') || p.consume('E') {
		if !p.consume('+') {
			p.consume('-')
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

func (p *scanner) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// hex4 reads four hex digits, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquote appends the contents of the quoted JSON string q (already validated by
// skipString) to dst. Like encoding/json it turns invalid UTF-8 and unpaired surrogates
// into U+FFFD.
func unquote(dst, q []byte) ([]byte, bool) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return dst, false
	}
	s := q[1 : len(q)-1]
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return dst, false
			}
			switch s[i+1] {
			case '"', '\\', '/':
				dst = append(dst, s[i+1])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+2:])
				if r < 0 {
					return dst, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if r2 := hex4(s[i+2:]); r2 >= 0 {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								dst = utf8.AppendRune(dst, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, false
			}
			i += 2
		case c < utf8.RuneSelf:
			// Copy a run of plain ASCII at once.
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst, true
}
