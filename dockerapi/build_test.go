package dockerapi

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeBuilder stands in for the Dockerfile builder the engine does not have yet: it
// records the request and the context's file names.
type fakeBuilder struct {
	Engine
	req   BuildRequest
	files []string
}

func (f *fakeBuilder) BuildImage(ctx context.Context, req BuildRequest, progress func(string)) (string, error) {
	f.req = req
	tr := tar.NewReader(req.Context)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		f.files = append(f.files, h.Name)
	}
	progress("Step 1/1 : FROM scratch\n")
	return "sha256:0123456789abcdef0123", nil
}

func contextTar(t *testing.T, gz bool) *bytes.Buffer {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	data := []byte("FROM scratch\n")
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(data)
	_ = tw.Close()
	if zw != nil {
		_ = zw.Close()
	}
	return &buf
}

func TestBuild(t *testing.T) {
	for _, gz := range []bool{false, true} {
		fb := &fakeBuilder{}
		s := New(fb, Options{Version: "test"})
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, `/v1.41/build?t=app:1&t=app:latest&buildargs={"A":"1"}&labels={"l":"v"}&target=final`, contextTar(t, gz)))
		if rec.Code != 200 {
			t.Fatalf("build: %d %s", rec.Code, rec.Body)
		}
		var lines []progressMessage
		dec := json.NewDecoder(rec.Body)
		for dec.More() {
			var m progressMessage
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, m)
		}
		if len(lines) != 5 || lines[0].Stream != "Step 1/1 : FROM scratch\n" || lines[1].Aux == nil || !strings.Contains(string(*lines[1].Aux), "sha256:0123") ||
			lines[2].Stream != "Successfully built 0123456789ab\n" || lines[4].Stream != "Successfully tagged app:latest\n" {
			t.Fatalf("stream: %+v", lines)
		}
		if r := fb.req; r.Dockerfile != "Dockerfile" || len(r.Tags) != 2 || *r.BuildArgs["A"] != "1" || r.Labels["l"] != "v" || r.Target != "final" {
			t.Fatalf("request: %+v", r)
		}
		if len(fb.files) != 1 || fb.files[0] != "Dockerfile" {
			t.Fatalf("context (gzip %v): %v", gz, fb.files)
		}
	}
	for target, code := range map[string]int{
		"/build?version=2":              501,
		"/build?remote=https://x/y.git": 400,
		"/build?squash=1":               400,
		"/build?buildargs=notjson":      400,
		"/build?networkmode=host":       400,
	} {
		rec := httptest.NewRecorder()
		New(&fakeBuilder{}, Options{}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, contextTar(t, false)))
		if rec.Code != code {
			t.Errorf("%s: %d, want %d (%s)", target, rec.Code, code, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	New(nil, Options{}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/build", contextTar(t, false)))
	if rec.Code != 501 || !strings.Contains(rec.Body.String(), "not supported") {
		t.Fatalf("build without a builder: %d %s", rec.Code, rec.Body)
	}
}
