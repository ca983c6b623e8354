package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzHandler sends arbitrary requests through the whole handler: nothing
// a client sends may panic it or leave a response without a status.
func FuzzHandler(f *testing.F) {
	seeds := []struct {
		method, path, ct, body string
	}{
		{"POST", "/api/v1/namespaces/default/pods", "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"i"}]}}`},
		{"PATCH", "/api/v1/namespaces/default/pods/a", "application/strategic-merge-patch+json", `{"spec":{"containers":[{"name":"c","image":"j"}]}}`},
		{"PATCH", "/api/v1/namespaces/default/pods/a", "application/json-patch+json", `[{"op":"add","path":"/metadata/labels","value":{"x":"y"}}]`},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/d/scale", "application/merge-patch+json", `{"spec":{"replicas":2}}`},
		{"PUT", "/api/v1/namespaces/default/pods/a/status", "application/yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"},
		{"GET", "/api/v1/pods?watch=1&labelSelector=a%3Db&fieldSelector=spec.nodeName%3Dn", "", ""},
		{"GET", "/api/v1/namespaces/default/pods?limit=1&continue=eyJydiI6MSwic3RhcnQiOiIifQ", "", ""},
		{"DELETE", "/api/v1/namespaces/default/pods/a?gracePeriodSeconds=0", "application/json", `{"propagationPolicy":"Foreground"}`},
		{"POST", "/api/v1/namespaces/default/pods/a/binding", "application/json", `{"target":{"name":"n1"}}`},
		{"POST", "/api/v1/namespaces/default/pods/a/eviction", "application/json", `{"apiVersion":"policy/v1","kind":"Eviction"}`},
		{"GET", "/apis", "", ""},
		{"GET", "/openapi/v3/api/v1", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.ct, []byte(s.body))
	}
	h, err := New(Config{
		Store: newMemStore(), Kinds: testKinds(),
		Authenticate: func(*http.Request) (User, bool) { return User{Name: "admin", Groups: []string{GroupMasters}}, true },
	})
	if err != nil {
		f.Fatal(err)
	}
	seed := httptest.NewRequest("POST", "/api/v1/namespaces", strings.NewReader(`{"metadata":{"name":"default"}}`))
	seed.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), seed)

	f.Fuzz(func(t *testing.T, method, path, ct string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n#") {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, "http://x"+path, strings.NewReader(string(body)))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 100 || rec.Code > 599 {
			t.Fatalf("%s %s: status %d", method, path, rec.Code)
		}
	})
}
