package daemon

import (
	"net/http"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
)

func (d *Daemon) imageRoutes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("GET /images", d.handleImageList)
	handle("POST /images/import", d.handleImageImport)
	handle("POST /images/load", d.handleImageLoad)
	handle("GET /images/save", d.handleImageSave)
	handle("GET /images/{name...}", d.handleImageInspect)
	handle("DELETE /images/{name...}", d.handleImageRemove)
	handle("POST /images/{name}/tag", d.handleImageTag)
}

func toAPIImage(img *image.Image) api.Image {
	c := img.Config.Config
	out := api.Image{
		ID:          img.ID.String(),
		RepoTags:    img.RepoTags,
		RepoDigests: img.RepoDigests,
		Created:     img.Created,
		Size:        img.Size,
		Os:          img.Config.OS,
		Arch:        img.Config.Architecture,
		Labels:      c.Labels,
		Author:      img.Config.Author,
		Config: api.ImageConfig{
			Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User,
			ExposedPorts: c.ExposedPorts, StopSignal: c.StopSignal, Labels: c.Labels,
		},
	}
	if h := img.Config.History; len(h) > 0 {
		out.Comment = h[len(h)-1].Comment
	}
	if out.RepoTags == nil {
		out.RepoTags = []string{}
	}
	if out.RepoDigests == nil {
		out.RepoDigests = []string{}
	}
	if h := img.Healthcheck; h != nil {
		out.Config.Healthcheck = &api.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	for _, l := range img.DiffIDs {
		out.Layers = append(out.Layers, l.String())
	}
	return out
}

func (d *Daemon) handleImageList(w http.ResponseWriter, r *http.Request) error {
	imgs, err := d.images.List()
	if err != nil {
		return err
	}
	writeImages(w, imgs)
	return nil
}

func writeImages(w http.ResponseWriter, imgs []*image.Image) {
	out := []api.Image{}
	for _, img := range imgs {
		out = append(out, toAPIImage(img))
	}
	writeJSON(w, http.StatusOK, out)
}

func (d *Daemon) handleImageInspect(w http.ResponseWriter, r *http.Request) error {
	img, err := d.images.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIImage(img))
	return nil
}

func (d *Daemon) handleImageImport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	img, err := d.ImportImage(r.Context(), r.Body, q.Get("ref"), q["change"], q.Get("message"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, img)
	return nil
}

func (d *Daemon) handleImageLoad(w http.ResponseWriter, r *http.Request) error {
	imgs, err := d.LoadImages(r.Context(), r.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, imgs)
	return nil
}

func (d *Daemon) handleImageSave(w http.ResponseWriter, r *http.Request) error {
	names := r.URL.Query()["name"]
	for _, n := range names {
		if _, err := d.images.Get(n); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	return d.images.Save(r.Context(), w, names)
}

func (d *Daemon) handleImageTag(w http.ResponseWriter, r *http.Request) error {
	return noContent(w, d.TagImage(r.Context(), r.PathValue("name"), r.URL.Query().Get("ref")))
}

func (d *Daemon) handleImageRemove(w http.ResponseWriter, r *http.Request) error {
	out, err := d.RemoveImage(r.Context(), r.PathValue("name"), boolQuery(r, "force"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// imageInUse reports whether any container uses the image ID, as its root filesystem or
// as an image volume.
func (d *Daemon) imageInUse(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.containers {
		if strings.EqualFold(c.rec.Image, id) {
			return true
		}
		for _, m := range c.rec.Config.Host.Mounts {
			if m.Type == "image" && strings.EqualFold(m.Source, id) {
				return true
			}
		}
	}
	return false
}
