package dockerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/api"
)

type apiVersionKey struct{}

// requestVersion is the API version the client asked for (the newest when unversioned).
func requestVersion(r *http.Request) string {
	if v, ok := r.Context().Value(apiVersionKey{}).(string); ok {
		return v
	}
	return MaxAPIVersion
}

func withVersion(r *http.Request, v string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), apiVersionKey{}, v))
}

func (s *Server) routes() {
	ping := func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		w.Header().Set("Pragma", "no-cache")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Builder-Version", "1")
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			return nil
		}
		_, err := w.Write([]byte("OK"))
		return err
	}
	s.handle("GET /_ping", ping)
	s.handle("HEAD /_ping", ping)
	s.handle("GET /version", s.handleVersion)
	s.handle("GET /info", s.handleInfo)
	s.handle("GET /system/df", s.handleDiskUsage)
	s.handle("GET /events", s.handleEvents)
	s.handle("POST /auth", s.handleAuth)
	s.handle("POST /build", s.handleBuild)
	s.handle("POST /build/prune", func(w http.ResponseWriter, r *http.Request) error {
		// No build cache to prune (docker system prune asks for it).
		writeJSON(w, http.StatusOK, map[string]any{"CachesDeleted": []string{}, "SpaceReclaimed": 0})
		return nil
	})
	s.handle("POST /session", func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("BuildKit sessions are not supported: use the classic builder (DOCKER_BUILDKIT=0): %w", errNotImplemented)
	})
	s.containerRoutes()
	s.execRoutes()
	s.imageRoutes()
	s.networkRoutes()
	s.volumeRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, Error{Message: "page not found"})
	})
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) error {
	v := system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "drover"},
		Version:       s.opts.Version,
		APIVersion:    MaxAPIVersion,
		MinAPIVersion: MinAPIVersion,
		Os:            "linux",
		Arch:          goruntime.GOARCH,
		GoVersion:     goruntime.Version(),
		KernelVersion: kernelVersion(),
		Components: []system.ComponentVersion{{Name: "Engine", Version: s.opts.Version, Details: map[string]string{
			"ApiVersion": MaxAPIVersion, "MinAPIVersion": MinAPIVersion, "Os": "linux", "Arch": goruntime.GOARCH,
			"GoVersion": goruntime.Version(), "KernelVersion": kernelVersion(),
		}}},
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) error {
	in := s.engine.Info(r.Context())
	hostname, _ := os.Hostname()
	var si unix.Sysinfo_t
	_ = unix.Sysinfo(&si)
	cgroupDriver := "cgroupfs"
	info := system.Info{
		ID:                 "drover",
		Containers:         in.Containers,
		ContainersRunning:  in.Running,
		ContainersStopped:  in.Containers - in.Running,
		Images:             in.Images,
		Driver:             "overlay2",
		DriverStatus:       [][2]string{{"Backing Filesystem", "overlayfs"}},
		MemoryLimit:        true,
		CPUShares:          true,
		CPUCfsQuota:        true,
		CPUCfsPeriod:       true,
		PidsLimit:          true,
		IPv4Forwarding:     true,
		LoggingDriver:      "json-file",
		CgroupDriver:       cgroupDriver,
		CgroupVersion:      strings.TrimPrefix(in.CgroupVersion, "v"),
		KernelVersion:      kernelVersion(),
		OperatingSystem:    "drover",
		OSType:             "linux",
		Architecture:       unameMachine(),
		IndexServerAddress: "https://index.docker.io/v1/",
		NCPU:               goruntime.NumCPU(),
		MemTotal:           int64(si.Totalram) * int64(si.Unit),
		DockerRootDir:      in.Root,
		Name:               hostname,
		ServerVersion:      s.opts.Version,
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		DefaultRuntime:     "runc",
		Runtimes:           map[string]system.RuntimeWithStatus{"runc": {Runtime: system.Runtime{Path: "runc"}}},
		SecurityOptions:    []string{"name=seccomp,profile=builtin"},
		NGoroutines:        goruntime.NumGoroutine(),
	}
	info.Plugins.Volume = []string{"local"}
	info.Plugins.Network = []string{"bridge", "host", "null"}
	info.Plugins.Log = []string{"json-file"}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

func unameMachine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return goruntime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

// legacyDiskUsage is the answer of GET /system/df before API 1.52.
type legacyDiskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []struct{}
}

func (s *Server) handleDiskUsage(w http.ResponseWriter, r *http.Request) error {
	du, err := s.engine.DiskUsage(r.Context())
	if err != nil {
		return err
	}
	imgs := make([]image.Summary, 0, len(du.Images))
	for _, i := range du.Images {
		imgs = append(imgs, image.Summary{ID: i.ID, RepoTags: i.RepoTags, RepoDigests: []string{}, Created: i.Created, Size: i.Size,
			SharedSize: i.SharedSize, Containers: int64(i.Containers), Labels: map[string]string{}})
	}
	ctrs := make([]container.Summary, 0, len(du.Containers))
	var ctrSize int64
	for _, c := range du.Containers {
		ctrs = append(ctrs, container.Summary{ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Image, State: container.ContainerState(c.State),
			SizeRw: c.SizeRw, Labels: map[string]string{}})
		ctrSize += c.SizeRw
	}
	vols := make([]volume.Volume, 0, len(du.Volumes))
	var volSize int64
	for _, v := range du.Volumes {
		vols = append(vols, volume.Volume{Name: v.Name, Driver: "local", Scope: "local", Labels: map[string]string{}, Options: map[string]string{},
			UsageData: &volume.UsageData{Size: v.Size, RefCount: int64(v.RefCount)}})
		volSize += v.Size
	}
	if versionLess(requestVersion(r), "1.52") {
		writeJSON(w, http.StatusOK, legacyDiskUsage{LayersSize: du.LayersSize, Images: imgs, Containers: ctrs, Volumes: vols, BuildCache: []struct{}{}})
		return nil
	}
	out := system.DiskUsage{
		ImageUsage:     &image.DiskUsage{Items: imgs, TotalCount: int64(len(imgs)), TotalSize: du.LayersSize},
		ContainerUsage: &container.DiskUsage{Items: ctrs, TotalCount: int64(len(ctrs)), TotalSize: ctrSize},
		VolumeUsage:    &volume.DiskUsage{Items: vols, TotalCount: int64(len(vols)), TotalSize: volSize},
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// eventMessage is one event on the wire: the current shape plus the status/id/from
// fields clients before API 1.52 read.
type eventMessage struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

func toEventMessage(ev Event) eventMessage {
	m := eventMessage{Message: events.Message{
		Type: events.Type(ev.Type), Action: events.Action(ev.Action),
		Actor: events.Actor{ID: ev.ID, Attributes: ev.Attributes}, Scope: "local",
		Time: ev.Time.Unix(), TimeNano: ev.Time.UnixNano(),
	}}
	if ev.Type == "container" || ev.Type == "image" {
		m.Status, m.ID, m.From = ev.Action, ev.ID, ev.Attributes["image"]
	}
	return m
}

// eventMatches is the "event" filter: the action itself, or, as Docker does for the
// actions that carry a detail ("health_status: healthy", "exec_create: sh -c ..."), its name.
func eventMatches(filter, action string) bool {
	switch filter {
	case "health_status", "exec_create", "exec_start":
		return action == filter || strings.HasPrefix(action, filter+": ")
	}
	return filter == action
}

func matchEvent(f filters, ev Event) bool {
	name := ev.Attributes["name"]
	return f.match("type", func(v string) bool { return v == ev.Type }) &&
		f.match("event", func(v string) bool { return eventMatches(v, ev.Action) }) &&
		f.match("scope", func(v string) bool { return v == "local" }) &&
		f.match("container", func(v string) bool {
			return ev.Type == "container" && (strings.HasPrefix(ev.ID, v) || name == strings.TrimPrefix(v, "/"))
		}) &&
		f.match("image", func(v string) bool {
			return ev.Attributes["image"] == v || (ev.Type == "image" && (ev.ID == v || name == v))
		}) &&
		f.match("network", func(v string) bool {
			return ev.Type == "network" && (strings.HasPrefix(ev.ID, v) || name == v)
		}) &&
		f.match("volume", func(v string) bool { return ev.Type == "volume" && ev.ID == v }) &&
		f.matchLabels(ev.Attributes)
}

// handleEvents streams the engine's events as JSON lines: first the remembered ones since
// the since time, then new ones until the until time or until the client goes.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	now := time.Now()
	var since, until time.Time
	var err error
	if since, err = api.ParseTime(q.Get("since"), now); err != nil {
		return err
	}
	if until, err = api.ParseTime(q.Get("until"), now); err != nil {
		return err
	}
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		return err
	}
	if err := f.validate("type", "event", "container", "image", "label", "network", "volume", "scope", "daemon", "plugin", "node", "service", "secret", "config"); err != nil {
		return err
	}
	past, live, cancel := s.engine.Events(r.Context())
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	enc := json.NewEncoder(w)
	send := func(ev Event) error {
		if !matchEvent(f, ev) {
			return nil
		}
		if err := enc.Encode(toEventMessage(ev)); err != nil {
			return err
		}
		if fl != nil {
			fl.Flush()
		}
		return nil
	}
	if !since.IsZero() {
		for _, ev := range past {
			if ev.Time.Before(since) || (!until.IsZero() && ev.Time.After(until)) {
				continue
			}
			if err := send(ev); err != nil {
				return nil
			}
		}
	}
	var stop <-chan time.Time
	if !until.IsZero() {
		if !until.After(time.Now()) {
			return nil
		}
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		stop = t.C
	}
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-stop:
			return nil
		case ev := <-live:
			if !since.IsZero() && ev.Time.Before(since) {
				continue
			}
			if err := send(ev); err != nil {
				return nil
			}
		}
	}
}

// handleAuth checks credentials against a registry (docker login). drover keeps no
// credentials of its own: the client stores them and sends them with each pull and push.
func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) error {
	var a registry.AuthConfig
	if err := decodeBody(r, &a); err != nil {
		return err
	}
	if err := s.engine.Login(r.Context(), api.AuthConfig{Username: a.Username, Password: a.Password,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken, ServerAddress: a.ServerAddress}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, registry.AuthResponse{Status: "Login Succeeded"})
	return nil
}
