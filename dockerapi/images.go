package dockerapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

func (s *Server) imageRoutes() {
	s.handle("GET /images/json", s.handleImageList)
	s.handle("POST /images/create", s.handleImageCreate)
	s.handle("POST /images/load", s.handleImageLoad)
	s.handle("GET /images/get", func(w http.ResponseWriter, r *http.Request) error {
		return s.saveImages(w, r, r.URL.Query()["names"])
	})
	s.handle("POST /images/prune", s.handleImagePrune)
	s.handle("GET /images/search", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("image search is not supported by drover: %w", errNotImplemented)
	})
	// Image names hold slashes, so the operation is the last path element.
	s.handle("GET /images/{rest...}", func(w http.ResponseWriter, r *http.Request) error {
		name, op := splitImageOp(r.PathValue("rest"))
		switch op {
		case "json":
			img, err := s.engine.InspectImage(r.Context(), name)
			if err != nil {
				return notFound(err, "image", name)
			}
			writeJSON(w, http.StatusOK, toImageInspect(img))
			return nil
		case "history":
			return s.handleImageHistory(w, r, name)
		case "get":
			return s.saveImages(w, r, []string{name})
		}
		return fmt.Errorf("page not found: %w", errdefs.ErrNotFound)
	})
	s.handle("POST /images/{rest...}", func(w http.ResponseWriter, r *http.Request) error {
		name, op := splitImageOp(r.PathValue("rest"))
		switch op {
		case "tag":
			return s.handleImageTag(w, r, name)
		case "push":
			return s.handleImagePush(w, r, name)
		}
		return fmt.Errorf("page not found: %w", errdefs.ErrNotFound)
	})
	s.handle("DELETE /images/{name...}", func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		items, err := s.engine.RemoveImage(r.Context(), name, boolQuery(r, "force"))
		if err != nil {
			return notFound(err, "image", name)
		}
		out := []image.DeleteResponse{}
		for _, it := range items {
			out = append(out, image.DeleteResponse{Untagged: it.Untagged, Deleted: it.Deleted})
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func splitImageOp(rest string) (name, op string) {
	i := strings.LastIndex(rest, "/")
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

func toImageSummary(img api.Image) image.Summary {
	out := image.Summary{
		ID: img.ID, RepoTags: img.RepoTags, RepoDigests: img.RepoDigests, Created: img.Created.Unix(),
		Size: img.Size, SharedSize: -1, Containers: -1, Labels: img.Labels,
	}
	if out.RepoTags == nil {
		out.RepoTags = []string{}
	}
	if out.RepoDigests == nil {
		out.RepoDigests = []string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	return out
}

func toImageInspect(img api.Image) image.InspectResponse {
	c := img.Config
	cfg := &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{
		User: c.User, ExposedPorts: c.ExposedPorts, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
		WorkingDir: c.WorkingDir, Labels: c.Labels, StopSignal: c.StopSignal,
	}}
	if h := c.Healthcheck; h != nil {
		cfg.Healthcheck = &dockerspec.HealthcheckConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	out := image.InspectResponse{
		ID: img.ID, RepoTags: img.RepoTags, RepoDigests: img.RepoDigests, Created: dockerTime(img.Created),
		Config: cfg, Architecture: img.Arch, Os: img.Os, Size: img.Size, Author: img.Author, Comment: img.Comment,
		RootFS: image.RootFS{Type: "layers", Layers: img.Layers},
	}
	if out.RepoTags == nil {
		out.RepoTags = []string{}
	}
	if out.RepoDigests == nil {
		out.RepoDigests = []string{}
	}
	return out
}

func (s *Server) handleImageList(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	if err := f.validate("reference", "dangling", "label", "before", "since"); err != nil {
		return err
	}
	imgs, err := s.engine.ListImages(r.Context())
	if err != nil {
		return err
	}
	// A docker CLI before API 1.25 sends the reference as filter=NAME.
	if ref := r.URL.Query().Get("filter"); ref != "" {
		f["reference"] = append(f["reference"], ref)
	}
	out := []image.Summary{}
	for _, img := range imgs {
		dangling := len(img.RepoTags) == 0
		ok := f.match("dangling", func(v string) bool { return (v == "true" || v == "1") == dangling }) &&
			f.matchLabels(img.Labels) &&
			f.match("reference", func(v string) bool {
				for _, t := range img.RepoTags {
					if referenceMatch(v, t) {
						return true
					}
				}
				return false
			})
		if ok {
			out = append(out, toImageSummary(img))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// referenceMatch matches a reference filter (NAME or NAME:TAG, NAME may end in a glob *)
// against a tag as stored (docker.io/library/busybox:latest).
func referenceMatch(filter, tag string) bool {
	short := shortName(tag)
	name, _, _ := strings.Cut(short, ":")
	for _, cand := range []string{tag, short, name} {
		if cand == filter {
			return true
		}
		if strings.HasSuffix(filter, "*") && strings.HasPrefix(cand, strings.TrimSuffix(filter, "*")) {
			return true
		}
	}
	return false
}

// shortName drops Docker Hub's implicit parts: docker.io/library/busybox -> busybox.
func shortName(ref string) string {
	ref = strings.TrimPrefix(ref, "docker.io/")
	return strings.TrimPrefix(ref, "library/")
}

func (s *Server) handleImageHistory(w http.ResponseWriter, r *http.Request, name string) error {
	items, err := s.engine.ImageHistory(r.Context(), name)
	if err != nil {
		return notFound(err, "image", name)
	}
	out := []image.HistoryResponseItem{}
	for _, h := range items {
		var created int64
		if t, err := time.Parse(time.RFC3339Nano, h.Created); err == nil {
			created = t.Unix()
		}
		out = append(out, image.HistoryResponseItem{ID: h.ID, Created: created, CreatedBy: h.CreatedBy, Size: h.Size, Comment: h.Comment, Tags: []string{}})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleImageTag(w http.ResponseWriter, r *http.Request, name string) error {
	repo, tag := r.URL.Query().Get("repo"), r.URL.Query().Get("tag")
	if repo == "" {
		return fmt.Errorf("repository name must have at least one component: %w", errdefs.ErrInvalidArgument)
	}
	ref := repo
	if tag != "" {
		ref += ":" + tag
	}
	if _, err := s.engine.InspectImage(r.Context(), name); err != nil {
		return notFound(err, "image", name)
	}
	if err := s.engine.TagImage(r.Context(), name, ref); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// progressMessage is one line of Docker's JSON progress stream; "error" is the field older
// clients read.
type progressMessage struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

// progressWriter answers with JSON lines, sending the status line only with the first
// one, so a failure before any progress is still a plain HTTP error.
type progressWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
}

func newProgressWriter(w http.ResponseWriter) *progressWriter {
	return &progressWriter{w: w, enc: json.NewEncoder(w)}
}

func (p *progressWriter) send(m progressMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.started = true
		p.w.Header().Set("Content-Type", "application/json")
		p.w.WriteHeader(http.StatusOK)
	}
	_ = p.enc.Encode(m)
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (p *progressWriter) progress(pr api.Progress) {
	m := progressMessage{Message: jsonstream.Message{ID: pr.ID, Status: pr.Status}}
	if pr.Total > 0 || pr.Current > 0 {
		m.Progress = &jsonstream.Progress{Current: pr.Current, Total: pr.Total}
	}
	if pr.Error != "" {
		m.Error = &jsonstream.Error{Message: pr.Error}
		m.ErrorMessage = pr.Error
	}
	p.send(m)
}

// finish reports err: as an HTTP error when nothing was sent yet, else as a last line.
func (p *progressWriter) finish(err error) error {
	if err == nil {
		if !p.started {
			p.mu.Lock()
			p.started = true
			p.w.Header().Set("Content-Type", "application/json")
			p.w.WriteHeader(http.StatusOK)
			p.mu.Unlock()
		}
		return nil
	}
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if !started {
		return err
	}
	msg := cleanMessage(err)
	p.send(progressMessage{Message: jsonstream.Message{Error: &jsonstream.Error{Message: msg}}, ErrorMessage: msg})
	return nil
}

// requestAuth reads X-Registry-Auth (none: anonymous).
func requestAuth(r *http.Request) (api.AuthConfig, error) {
	h := r.Header.Get("X-Registry-Auth")
	if h == "" {
		return api.AuthConfig{}, nil
	}
	a, err := authconfig.Decode(h)
	if err != nil {
		return api.AuthConfig{}, fmt.Errorf("invalid X-Registry-Auth header: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return api.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken,
		RegistryToken: a.RegistryToken, ServerAddress: a.ServerAddress}, nil
}

// joinRef puts a repository and a tag or digest together as Docker's pull does.
func joinRef(repo, tag string) string {
	if tag == "" {
		return repo
	}
	if strings.HasPrefix(tag, "sha256:") {
		return repo + "@" + tag
	}
	return repo + ":" + tag
}

func (s *Server) handleImageCreate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if src := q.Get("fromSrc"); src != "" {
		if src != "-" {
			return fmt.Errorf("import from a URL is not supported: send the tarball in the request body (fromSrc=-): %w", errdefs.ErrInvalidArgument)
		}
		ref := ""
		if repo := q.Get("repo"); repo != "" {
			ref = joinRef(repo, q.Get("tag"))
		}
		img, err := s.engine.ImportImage(r.Context(), r.Body, ref, q["changes"], q.Get("message"))
		if err != nil {
			return err
		}
		pw := newProgressWriter(w)
		pw.send(progressMessage{Message: jsonstream.Message{Status: img.ID}})
		return pw.finish(nil)
	}
	from := q.Get("fromImage")
	if from == "" {
		return fmt.Errorf("fromImage is required: name the image to pull: %w", errdefs.ErrInvalidArgument)
	}
	a, err := requestAuth(r)
	if err != nil {
		return err
	}
	ref := joinRef(from, q.Get("tag"))
	pw := newProgressWriter(w)
	err = s.engine.PullImage(r.Context(), ref, q.Get("platform"), a, pw.progress)
	return pw.finish(err)
}

func (s *Server) handleImagePush(w http.ResponseWriter, r *http.Request, name string) error {
	a, err := requestAuth(r)
	if err != nil {
		return err
	}
	ref := joinRef(name, r.URL.Query().Get("tag"))
	if _, err := s.engine.InspectImage(r.Context(), ref); err != nil {
		return notFound(err, "image", ref)
	}
	pw := newProgressWriter(w)
	err = s.engine.PushImage(r.Context(), ref, a, pw.progress)
	return pw.finish(err)
}

func (s *Server) saveImages(w http.ResponseWriter, r *http.Request, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no image named: give names=IMAGE: %w", errdefs.ErrInvalidArgument)
	}
	for _, n := range names {
		if _, err := s.engine.InspectImage(r.Context(), n); err != nil {
			return notFound(err, "image", n)
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	started := false
	err := s.engine.SaveImages(r.Context(), names, &lazyWriter{w: w, started: &started})
	if err != nil && started {
		return nil
	}
	return err
}

func (s *Server) handleImageLoad(w http.ResponseWriter, r *http.Request) error {
	imgs, err := s.engine.LoadImages(r.Context(), r.Body)
	if err != nil {
		return err
	}
	pw := newProgressWriter(w)
	for _, img := range imgs {
		line := "Loaded image ID: " + img.ID + "\n"
		if len(img.RepoTags) > 0 {
			line = ""
			for _, t := range img.RepoTags {
				line += "Loaded image: " + shortName(t) + "\n"
			}
		}
		pw.send(progressMessage{Message: jsonstream.Message{Stream: line}})
	}
	return pw.finish(nil)
}

func (s *Server) handleImagePrune(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	all := false
	for _, v := range f["dangling"] {
		if v == "false" || v == "0" {
			all = true
		}
	}
	delete(f, "dangling")
	pf, err := f.prune()
	if err != nil {
		return err
	}
	res, err := s.engine.PruneImages(r.Context(), all, pf)
	if err != nil {
		return err
	}
	out := image.PruneReport{ImagesDeleted: []image.DeleteResponse{}, SpaceReclaimed: uint64(res.SpaceReclaimed)}
	for _, it := range res.ImagesDeleted {
		out.ImagesDeleted = append(out.ImagesDeleted, image.DeleteResponse{Untagged: it.Untagged, Deleted: it.Deleted})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
