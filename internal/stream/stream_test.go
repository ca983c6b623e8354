package stream

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	big := bytes.Repeat([]byte("x"), MaxFrame+10)
	frames := []struct {
		k Kind
		p []byte
	}{{Stdout, []byte("hello\n")}, {Stderr, nil}, {Stdout, big}}
	for _, f := range frames {
		if err := w.WriteFrame(f.k, f.p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteResize(80, 24); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteExit(137); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf)
	var got []Kind
	var out bytes.Buffer
	for {
		k, p, err := r.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, k)
		switch k {
		case Stdout:
			out.Write(p)
		case Resize:
			if w, h, err := ParseResize(p); err != nil || w != 80 || h != 24 {
				t.Fatalf("resize = %d %d %v", w, h, err)
			}
		case Exit:
			if c, err := ParseExit(p); err != nil || c != 137 {
				t.Fatalf("exit = %d %v", c, err)
			}
		}
	}
	want := []Kind{Stdout, Stderr, Stdout, Stdout, Resize, Exit}
	if len(got) != len(want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	if out.Len() != 6+len(big) {
		t.Fatalf("stdout bytes = %d", out.Len())
	}
}

func TestTooLarge(t *testing.T) {
	r := NewReader(bytes.NewReader([]byte{1, 0xff, 0xff, 0xff, 0xff}))
	if _, _, err := r.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
	r = NewReader(bytes.NewReader([]byte{1, 0, 0, 0, 9, 'a'}))
	if _, _, err := r.ReadFrame(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 2, 'h', 'i'})
	f.Add([]byte{4, 0, 0, 0, 5, '8', '0', ' ', '2', '4'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		for i := 0; i < 100; i++ {
			k, p, err := r.ReadFrame()
			if err != nil {
				return
			}
			if len(p) > MaxFrame {
				t.Fatalf("frame over limit")
			}
			switch k {
			case Exit:
				_, _ = ParseExit(p)
			case Resize:
				_, _, _ = ParseResize(p)
			}
		}
	})
}

func TestWaitExit(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.WriteFrame(Stdout, []byte("out"))
	w.WriteFrame(Stderr, []byte("err"))
	w.WriteExit(3)
	if code, err := WaitExit(&b); err != nil || code != 3 {
		t.Fatalf("WaitExit = %d, %v; want 3", code, err)
	}
	b.Reset()
	w.WriteFrame(Error, []byte("no such file"))
	if _, err := WaitExit(&b); err == nil || err.Error() != "no such file" {
		t.Fatalf("an Error frame gave %v", err)
	}
	b.Reset()
	w.WriteFrame(Stdout, []byte("out"))
	if _, err := WaitExit(&b); err == nil {
		t.Fatal("a stream that ends before its Exit frame gave no error")
	}
}
