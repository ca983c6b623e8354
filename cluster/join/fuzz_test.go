package join

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/drover/drover/cluster/pki"
)

// FuzzJoinHandler: the join body is the first thing an unauthenticated
// party controls. Whatever it sends, the handler never panics, and it only
// issues a certificate whose subject is the role's identity for the node
// name asked, under a token that verifies.
func FuzzJoinHandler(f *testing.F) {
	ca, err := pki.NewCA(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	store := &tokens{m: map[string]pki.TokenRecord{}}
	var toks []string
	for _, u := range []pki.TokenUsage{pki.TokenAgent, pki.TokenServer} {
		text, rec, err := pki.NewToken(ca.Cert, time.Hour, u)
		if err != nil {
			f.Fatal(err)
		}
		store.m[rec.ID] = rec
		toks = append(toks, text)
	}
	cl := &cluster{live: map[string]bool{"taken": true}}
	h := Handler(Config{CA: ca, Tokens: store, Cluster: cl})
	key, err := pki.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	for i, role := range []Role{RoleAgent, RoleServer} {
		for _, id := range []pki.Identity{Identity(role, "n1"), pki.AdminIdentity()} {
			csr, err := pki.NewCSR(key, id, nil, []net.IP{net.ParseIP("10.0.0.1")})
			if err != nil {
				f.Fatal(err)
			}
			body, _ := json.Marshal(wireRequest{
				Token: toks[i], NodeName: "n1", Role: role, CSR: string(csr),
				Addresses: []string{"10.0.0.1", "n1.lan"}, RaftAddress: "10.0.0.1:6444",
			})
			f.Add(body)
		}
	}
	f.Add([]byte(`{"token":"drv1.","nodeName":"taken","role":"agent","csr":"x"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body)))
		if w.Code != http.StatusOK {
			return
		}
		var req wireRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("200 for a body that does not decode: %v", err)
		}
		var resp wireResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		leaf, err := pki.ParseCertPEM([]byte(resp.Cert))
		if err != nil {
			t.Fatal(err)
		}
		got := pki.Identity{CommonName: leaf.Subject.CommonName, Organizations: leaf.Subject.Organization}
		if !got.Equal(Identity(req.Role, req.NodeName)) {
			t.Fatalf("issued %+v for a %s join of %q", got, req.Role, req.NodeName)
		}
		if req.NodeName == "taken" {
			t.Fatal("issued a certificate for a taken name without proof")
		}
		if _, err := pki.VerifyToken(t.Context(), store, req.Token, time.Now()); err != nil {
			t.Fatalf("issued under a token that does not verify: %v", err)
		}
	})
}
