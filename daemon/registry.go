package daemon

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image/remote"
	"github.com/drover/drover/image/remote/auth"
)

func (d *Daemon) registryRoutes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /images/pull", d.handleImagePull)
	handle("POST /images/push", d.handleImagePush)
	handle("POST /auth", d.handleLogin)
}

// requestAuth reads the user's credentials from X-Registry-Auth (none: anonymous).
func requestAuth(r *http.Request) (api.AuthConfig, error) {
	h := r.Header.Get("X-Registry-Auth")
	if h == "" {
		return api.AuthConfig{}, nil
	}
	return auth.DecodeHeader(h)
}

// progressStream answers with JSON lines of api.Progress, flushed as they come; an error
// after the stream started goes in a last line.
type progressStream struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	enc *json.Encoder
}

func newProgressStream(w http.ResponseWriter) *progressStream {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &progressStream{w: w, enc: json.NewEncoder(w)}
}

func (p *progressStream) send(pr api.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.enc.Encode(pr)
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *progressStream) finish(err error) error {
	if err != nil {
		p.send(api.Progress{Error: cleanMessage(err)})
	}
	return nil
}

func (d *Daemon) handleImagePull(w http.ResponseWriter, r *http.Request) error {
	a, err := requestAuth(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	ps := newProgressStream(w)
	_, err = d.registry.Pull(r.Context(), q.Get("ref"), remote.PullOptions{Platform: q.Get("platform"), Auth: a, Progress: ps.send})
	return ps.finish(err)
}

func (d *Daemon) handleImagePush(w http.ResponseWriter, r *http.Request) error {
	a, err := requestAuth(r)
	if err != nil {
		return err
	}
	ref := r.URL.Query().Get("ref")
	if _, err := d.images.Get(ref); err != nil {
		return err
	}
	ps := newProgressStream(w)
	_, err = d.registry.Push(r.Context(), ref, remote.PushOptions{Auth: a, Progress: ps.send})
	return ps.finish(err)
}

func (d *Daemon) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var a api.AuthConfig
	if err := decodeBody(r, &a); err != nil {
		return err
	}
	if err := d.registry.Login(r.Context(), a.ServerAddress, a); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.LoginResult{Status: "Login Succeeded"})
	return nil
}
