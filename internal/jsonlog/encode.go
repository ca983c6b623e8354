package jsonlog

import (
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendRecord appends one json-file line, newline included, to dst. It is written by hand
// rather than with encoding/json so that logging a line allocates nothing: this runs in the
// per-container shim for every line a container prints.
func appendRecord(dst []byte, stream string, line []byte, t time.Time) []byte {
	dst = append(dst, `{"log":`...)
	dst = appendJSONString(dst, line)
	dst = append(dst, `,"stream":`...)
	dst = appendJSONString(dst, stream)
	dst = append(dst, `,"time":"`...)
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, "\"}\n"...)
}

// appendJSONString appends s as a quoted JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does, so every record is valid JSON whatever bytes the container printed.
// U+2028 and U+2029 are escaped so the log also stays valid JavaScript.
func appendJSONString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decodeRune decodes the rune at the start of s. The conversion of at most four bytes to a
// string does not escape, so the compiler keeps it on the stack.
func decodeRune[S ~string | ~[]byte](s S) (rune, int) {
	return utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
}
