package jsonlog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)

func TestAppendRecordFormat(t *testing.T) {
	got := string(appendRecord(nil, "stdout", []byte("hello\n"), t0))
	want := `{"log":"hello\n","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z"}` + "\n"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// A time in another zone is written in UTC.
	local := t0.In(time.FixedZone("x", 3600))
	if got2 := string(appendRecord(nil, "stdout", []byte("hello\n"), local)); got2 != want {
		t.Fatalf("non-UTC time: %s", got2)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name, stream, line, want string
	}{
		{"plain", "stdout", "hello\n", "hello\n"},
		{"partial", "stderr", "no newline", "no newline"},
		{"empty", "stdout", "", ""},
		{"quotes and backslashes", "stdout", `a "quoted" \path\` + "\n", `a "quoted" \path\` + "\n"},
		{"control characters", "stdout", "\x00\x01\b\f\t\r\x1b[31m\x7f\n", "\x00\x01\b\f\t\r\x1b[31m\x7f\n"},
		{"unicode", "stdout", "héllo wörld 日本 🐳\n", "héllo wörld 日本 🐳\n"},
		{"line separators", "stdout", "a\u2028b\u2029c", "a\u2028b\u2029c"},
		{"html", "stdout", "<a href='x'>&</a>", "<a href='x'>&</a>"},
		{"invalid utf-8", "stdout", "bad \xff\xfe byte", "bad \ufffd\ufffd byte"},
		{"truncated rune", "stdout", "cut \xe6\x97", "cut \ufffd\ufffd"},
		{"odd stream name", "weird\"stream", "x\n", "x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := appendRecord(nil, tt.stream, []byte(tt.line), t0)
			if !json.Valid(rec) {
				t.Fatalf("not valid JSON: %s", rec)
			}
			var ref struct {
				Log, Stream string
				Time        time.Time
			}
			if err := json.Unmarshal(rec, &ref); err != nil || ref.Log != tt.want || ref.Stream != tt.stream {
				t.Fatalf("encoding/json reads %+v (%v)", ref, err)
			}
			var m Message
			if !decodeRecord(bytes.TrimSuffix(rec, []byte("\n")), &m) {
				t.Fatalf("decodeRecord refused %s", rec)
			}
			if string(m.Line) != tt.want || m.Stream != tt.stream || !m.Time.Equal(t0) {
				t.Fatalf("decoded %q %q %v", m.Line, m.Stream, m.Time)
			}
			if m.Partial != !strings.HasSuffix(tt.want, "\n") {
				t.Fatalf("Partial = %v", m.Partial)
			}
		})
	}
}

func TestDecodeRecord(t *testing.T) {
	const ts = `"time":"2026-11-22T10:00:00Z"`
	tests := []struct {
		name, in string
		ok       bool
		line     string
		stream   string
	}{
		{name: "docker order", in: `{"log":"a\n","stream":"stdout",` + ts + `}`, ok: true, line: "a\n", stream: "stdout"},
		{name: "other order and spaces", in: ` { ` + ts + ` , "stream" : "stderr" , "log" : "b" } `, ok: true, line: "b", stream: "stderr"},
		{name: "attrs ignored", in: `{"log":"a\n","stream":"stdout","attrs":{"k":["v",1,-2.5e3,true,false,null,{}]},` + ts + `}`, ok: true, line: "a\n", stream: "stdout"},
		{name: "no stream", in: `{"log":"a\n",` + ts + `}`, ok: true, line: "a\n"},
		{name: "escaped key", in: `{"\u006cog":"a\n",` + ts + `}`, ok: true, line: "a\n"},
		{name: "last duplicate wins", in: `{"log":"first","log":"second",` + ts + `}`, ok: true, line: "second"},
		{name: "unicode escapes", in: `{"log":"\u00e9\ud83d\udc33\u0041\/",` + ts + `}`, ok: true, line: "é🐳A/"},
		{name: "lone surrogate", in: `{"log":"\ud800x",` + ts + `}`, ok: true, line: "\ufffdx"},
		{name: "time with offset", in: `{"log":"a","time":"2026-11-22T11:00:00+01:00"}`, ok: true, line: "a"},
		{name: "empty line", in: ``},
		{name: "not json", in: `hello world`},
		{name: "truncated", in: `{"log":"a\n","stream":"std`},
		{name: "trailing garbage", in: `{"log":"a",` + ts + `}x`},
		{name: "two objects", in: `{"log":"a",` + ts + `}{}`},
		{name: "array", in: `["log","a"]`},
		{name: "no log", in: `{"stream":"stdout",` + ts + `}`},
		{name: "no time", in: `{"log":"a","stream":"stdout"}`},
		{name: "bad time", in: `{"log":"a","time":"yesterday"}`},
		{name: "numeric log", in: `{"log":5,` + ts + `}`},
		{name: "null log", in: `{"log":null,` + ts + `}`},
		{name: "numeric stream", in: `{"log":"a","stream":1,` + ts + `}`},
		{name: "raw newline in string", in: "{\"log\":\"a\nb\"," + ts + "}"},
		{name: "bad escape", in: `{"log":"\x",` + ts + `}`},
		{name: "short unicode escape", in: `{"log":"\u12",` + ts + `}`},
		{name: "bad number", in: `{"log":"a","n":01,` + ts + `}`},
		{name: "bad literal", in: `{"log":"a","n":tru,` + ts + `}`},
		{name: "trailing comma", in: `{"log":"a",` + ts + `,}`},
		{name: "unterminated nested", in: `{"log":"a","n":[1,2,` + ts + `}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			ok := decodeRecord([]byte(tt.in), &m)
			if ok != tt.ok {
				t.Fatalf("decodeRecord = %v, want %v", ok, tt.ok)
			}
			if ok && (string(m.Line) != tt.line || m.Stream != tt.stream) {
				t.Fatalf("got line %q stream %q", m.Line, m.Stream)
			}
			// Whatever it decides, encoding/json agrees.
			if _, refOK := refDecode([]byte(tt.in)); refOK != ok {
				t.Fatalf("encoding/json reference says %v", refOK)
			}
		})
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	deep := func(n int) []byte {
		return []byte(`{"log":"a","time":"2026-11-22T10:00:00Z","x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
	}
	for _, n := range []int{maxDepth - 2, maxDepth - 1, maxDepth, maxDepth + 1} {
		var m Message
		_, want := refDecode(deep(n))
		if got := decodeRecord(deep(n), &m); got != want {
			t.Errorf("nesting %d: decodeRecord = %v, encoding/json = %v", n, got, want)
		}
	}
}

// refDecode is the reference for decodeRecord, built on encoding/json: a JSON object
// whose last "log" is a string, last "time" an RFC 3339 string and last "stream", if any,
// a string.
func refDecode(b []byte) (Message, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return Message{}, false
	}
	str := func(key string) (string, bool) {
		var s string
		raw := obj[key]
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	log, ok1 := str("log")
	ts, ok2 := str("time")
	stream, ok3 := str("stream")
	if _, has := obj["stream"]; !has {
		ok3 = true
	}
	if !ok1 || !ok2 || !ok3 {
		return Message{}, false
	}
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Message{}, false
	}
	return Message{Stream: stream, Line: []byte(log), Time: tm, Partial: !strings.HasSuffix(log, "\n")}, true
}

// FuzzDecodeRecord checks the hand-written decoder against encoding/json on arbitrary
// lines: the same lines accepted, the same values read, and no panics.
func FuzzDecodeRecord(f *testing.F) {
	seeds := []string{
		`{"log":"hello\n","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z"}`,
		`{"log":"\ud83d\udc33 \u00e9\t","stream":"stderr","attrs":{"a":[1,2.5e-3,null]},"time":"2026-11-22T10:00:00Z"}`,
		`{"log":"x","log":"y","time":"2026-11-22T10:00:00+02:00"}`,
		`{"log":"\ud800\udbff\udc00","time":"2026-11-22T10:00:00Z"}`,
		"{\"log\":\"\xff\xfe\",\"time\":\"2026-11-22T10:00:00Z\"}",
		`{"log":null,"time":"2026-11-22T10:00:00Z"}`,
		`[1,2,3]`, `null`, `{}`, ``, `{"log":"a"`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		ok := decodeRecord(b, &m)
		ref, refOK := refDecode(b)
		if ok != refOK {
			t.Fatalf("decodeRecord = %v, encoding/json = %v for %q", ok, refOK, b)
		}
		if !ok {
			return
		}
		if !bytes.Equal(m.Line, ref.Line) || m.Stream != ref.Stream || !m.Time.Equal(ref.Time) || m.Partial != ref.Partial {
			t.Fatalf("decoded %+v, encoding/json %+v for %q", m, ref, b)
		}
	})
}

// FuzzRecordRoundTrip checks that any bytes a container prints make a valid record that
// reads back as the same text (invalid UTF-8 replaced as encoding/json does).
func FuzzRecordRoundTrip(f *testing.F) {
	for _, s := range []string{"hello\n", "", "\x00\"\\\u2028\xff", "日本\n"} {
		f.Add("stdout", []byte(s))
	}
	f.Fuzz(func(t *testing.T, stream string, line []byte) {
		rec := appendRecord(nil, stream, line, t0)
		if !json.Valid(rec) || bytes.Count(rec, []byte("\n")) != 1 {
			t.Fatalf("bad record %q", rec)
		}
		var m Message
		if !decodeRecord(rec[:len(rec)-1], &m) {
			t.Fatalf("cannot decode %q", rec)
		}
		wantLine, _ := json.Marshal(string(line))
		var want string
		_ = json.Unmarshal(wantLine, &want)
		wantStream, _ := json.Marshal(stream)
		var ws string
		_ = json.Unmarshal(wantStream, &ws)
		if string(m.Line) != want || m.Stream != ws || !m.Time.Equal(t0) {
			t.Fatalf("round trip of %q gave %q %q", line, m.Line, m.Stream)
		}
		if !utf8.Valid(m.Line) {
			t.Fatalf("invalid UTF-8 survived: %q", m.Line)
		}
	})
}

func TestAllocations(t *testing.T) {
	rec := appendRecord(nil, "stdout", []byte("a typical line of container output\n"), t0)
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		buf = appendRecord(buf[:0], "stdout", []byte("a typical line of container output\n"), t0)
	}); n != 0 {
		t.Errorf("appendRecord allocates %v times per record", n)
	}
	m := Message{Line: make([]byte, 0, 256)}
	// time.Parse keeps its input string, which costs one allocation.
	if n := testing.AllocsPerRun(100, func() { decodeRecord(rec[:len(rec)-1], &m) }); n > 1 {
		t.Errorf("decodeRecord allocates %v times per record", n)
	}
}

func BenchmarkAppendRecord(b *testing.B) {
	line := []byte("2026/11/22 10:00:00 GET /index.html 200 1532 bytes in 1.2ms\n")
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRecord(buf[:0], "stdout", line, t0)
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	rec := appendRecord(nil, "stdout", []byte("2026/11/22 10:00:00 GET /index.html 200 1532 bytes in 1.2ms\n"), t0)
	rec = rec[:len(rec)-1]
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		decodeRecord(rec, &m)
	}
}
