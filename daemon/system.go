package daemon

import (
	"net/http"

	"github.com/drover/drover/api"
)

func (d *Daemon) systemRoutes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("GET /system/df", d.handleDiskUsage)
	handle("POST /system/check", d.handleCheck)
	handle("POST /images/prune", d.handleImagePrune)
	handle("GET /images/history", d.handleImageHistory)
}

func (d *Daemon) handleDiskUsage(w http.ResponseWriter, r *http.Request) error {
	u, err := d.images.DiskUsage()
	if err != nil {
		return err
	}
	out := api.DiskUsage{LayersSize: u.LayersSize, Images: []api.ImageUsage{}, Containers: []api.ContainerUsage{}, Volumes: []api.VolumeUsage{}}
	users := map[string]int{}
	d.mu.Lock()
	for _, c := range d.containers {
		c.mu.Lock()
		users[c.rec.Image]++
		out.Containers = append(out.Containers, api.ContainerUsage{
			ID: c.rec.ID, Name: c.rec.Name, Image: c.rec.ImageName, State: c.rec.State.Status,
			SizeRw: d.images.Snapshots().Usage(c.rec.ID),
		})
		c.mu.Unlock()
	}
	d.mu.Unlock()
	for _, iu := range u.Images {
		tags := iu.Image.RepoTags
		if tags == nil {
			tags = []string{}
		}
		out.Images = append(out.Images, api.ImageUsage{
			ID: iu.Image.ID.String(), RepoTags: tags, Created: iu.Image.Created.Unix(),
			Size: iu.Size, SharedSize: iu.Shared, UniqueSize: iu.Unique, Containers: users[iu.Image.ID.String()],
		})
	}
	if vs, err := d.vols.List(); err == nil {
		for _, v := range vs {
			size, _ := d.vols.Size(v.Name)
			out.Volumes = append(out.Volumes, api.VolumeUsage{Name: v.Name, Size: size, RefCount: d.volumeUsers(v.Name)})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (d *Daemon) handleCheck(w http.ResponseWriter, r *http.Request) error {
	problems, err := d.images.Check(r.Context(), boolQuery(r, "repair"))
	if err != nil {
		return err
	}
	out := []api.CheckProblem{}
	for _, p := range problems {
		out = append(out, api.CheckProblem{Object: p.Object, Message: p.Message, Repaired: p.Repaired})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (d *Daemon) handleImagePrune(w http.ResponseWriter, r *http.Request) error {
	untagged, deleted, freed, err := d.images.Prune(boolQuery(r, "all"), d.imageInUse)
	if err != nil {
		return err
	}
	out := api.ImagePruneReport{ImagesDeleted: []api.ImageDeleteItem{}, SpaceReclaimed: freed}
	for _, u := range untagged {
		out.ImagesDeleted = append(out.ImagesDeleted, api.ImageDeleteItem{Untagged: u})
	}
	for _, del := range deleted {
		out.ImagesDeleted = append(out.ImagesDeleted, api.ImageDeleteItem{Deleted: del})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (d *Daemon) handleImageHistory(w http.ResponseWriter, r *http.Request) error {
	img, err := d.images.Get(r.URL.Query().Get("name"))
	if err != nil {
		return err
	}
	out := []api.HistoryItem{}
	for i, h := range d.images.History(img) {
		id := "<missing>"
		if i == 0 {
			id = img.ID.String()
		}
		out = append(out, api.HistoryItem{ID: id, Created: h.Created, CreatedBy: h.CreatedBy, Size: h.Size, Comment: h.Comment})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
