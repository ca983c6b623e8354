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
	out, err := d.DiskUsage(r.Context())
	if err != nil {
		return err
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
	f, err := pruneFilter(r)
	if err != nil {
		return err
	}
	out, err := d.PruneImages(r.Context(), boolQuery(r, "all"), f)
	if err != nil {
		return err
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
