package progress

import (
	"bytes"
	"strings"
	"testing"
)

const stream = `{"id":"latest","status":"Pulling from library/busybox"}
{"id":"aaaaaaaaaaaa","status":"Pulling fs layer"}
{"id":"bbbbbbbbbbbb","status":"Already exists"}
{"id":"aaaaaaaaaaaa","status":"Downloading","current":100,"total":1000}
{"id":"aaaaaaaaaaaa","status":"Downloading","current":900,"total":1000}
{"id":"aaaaaaaaaaaa","status":"Download complete"}
{"id":"aaaaaaaaaaaa","status":"Pull complete"}
{"status":"Digest: sha256:abc"}
{"status":"Status: Downloaded newer image for busybox:latest"}
`

func TestRenderPlain(t *testing.T) {
	var out bytes.Buffer
	if err := Render(&out, strings.NewReader(stream), false); err != nil {
		t.Fatal(err)
	}
	want := `latest: Pulling from library/busybox
aaaaaaaaaaaa: Pulling fs layer
bbbbbbbbbbbb: Already exists
aaaaaaaaaaaa: Downloading
aaaaaaaaaaaa: Download complete
aaaaaaaaaaaa: Pull complete
Digest: sha256:abc
Status: Downloaded newer image for busybox:latest
`
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestRenderTTY(t *testing.T) {
	var out bytes.Buffer
	if err := Render(&out, strings.NewReader(stream), true); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"[=============================================>    ]", "\x1b[", "aaaaaaaaaaaa: Pull complete", "Status: Downloaded newer image"} {
		if !strings.Contains(s, want) {
			t.Fatalf("tty output lacks %q:\n%q", want, s)
		}
	}
}

func TestErrorLineFails(t *testing.T) {
	in := strings.Join(strings.Split(stream, "\n")[:2], "\n") + "\n" + `{"error":"pull x: manifest unknown"}` + "\n"
	if err := Render(&bytes.Buffer{}, strings.NewReader(in), false); err == nil || err.Error() != "pull x: manifest unknown" {
		t.Fatalf("err = %v", err)
	}
	last, err := Quiet(strings.NewReader(stream))
	if err != nil || last != "Status: Downloaded newer image for busybox:latest" {
		t.Fatalf("quiet: %q %v", last, err)
	}
	if err := Render(&bytes.Buffer{}, strings.NewReader("not json\n"), false); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzRender(f *testing.F) {
	f.Add([]byte(stream), true)
	f.Add([]byte(`{"id":"x","status":"Downloading","current":5,"total":-1}`), true)
	f.Fuzz(func(t *testing.T, data []byte, tty bool) {
		_ = Render(&bytes.Buffer{}, bytes.NewReader(data), tty)
	})
}
