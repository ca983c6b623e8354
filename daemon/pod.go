package daemon

import (
	"context"
	"debug/elf"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// podRecord is what the daemon keeps of a pod; its members name it in HostConfig.Pod.
type podRecord struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Created time.Time         `json:"created"`
	InfraID string            `json:"infraId"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// podTable indexes the pods by ID.
type podTable struct {
	mu   sync.Mutex
	byID map[string]*podRecord
}

// get finds a pod by ID, name or unique ID prefix.
func (t *podTable) get(ref string) (*podRecord, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.byID[ref]; p != nil {
		return p, nil
	}
	var found *podRecord
	for id, p := range t.byID {
		if p.Name == ref {
			return p, nil
		}
		if ref != "" && strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, fmt.Errorf("pod ID prefix %q is ambiguous: use more characters: %w", ref, errdefs.ErrInvalidArgument)
			}
			found = p
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no such pod: %s: create it with drover pod create: %w", ref, errdefs.ErrNotFound)
	}
	return found, nil
}

func (t *podTable) all() []*podRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*podRecord, 0, len(t.byID))
	for _, p := range t.byID {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// pauseDest is where the drover binary is mounted in an infra container; drover started
// under that name is the pause process (cmd/drover).
const pauseDest = "/pause"

// createPod records a pod and starts its infra container, which holds the pod's network
// (with the published ports), IPC and UTS namespaces. Nothing is left when it fails.
func (d *Daemon) createPod(ctx context.Context, req api.PodCreate) (_ *podRecord, retErr error) {
	if req.SharePID {
		if err := d.checkStaticSelf(); err != nil {
			return nil, err
		}
	}
	id := newID()
	name := req.Name
	if name == "" {
		name = randomName()
	}
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("invalid pod name %q: use letters, digits, '_', '.' and '-': %w", name, errdefs.ErrInvalidArgument)
	}
	d.podTab.mu.Lock()
	for _, p := range d.podTab.byID {
		if p.Name == name {
			d.podTab.mu.Unlock()
			return nil, fmt.Errorf("a pod named %s already exists: pick another name or remove it with drover pod rm %s: %w", name, name, errdefs.ErrAlreadyExists)
		}
	}
	pod := &podRecord{ID: id, Name: name, Created: time.Now().UTC(), Labels: req.Labels}
	d.podTab.byID[id] = pod // reserves the name; dropped again on failure
	d.podTab.mu.Unlock()
	var infra *container
	defer func() {
		if retErr == nil {
			return
		}
		d.podTab.mu.Lock()
		delete(d.podTab.byID, id)
		d.podTab.mu.Unlock()
		if infra != nil {
			_ = d.remove(context.Background(), infra, true, true)
		}
	}()
	hostname := req.Hostname
	if hostname == "" {
		hostname = name
	}
	cfg := api.ContainerConfig{
		Name:     id[:12] + "-infra",
		Hostname: hostname,
		Labels:   map[string]string{"io.drover.pod": id},
		Host: api.HostConfig{
			NetworkMode:  req.Network,
			PortBindings: req.PortBindings,
			DNS:          req.DNS,
			DNSSearch:    req.DNSSearch,
			DNSOptions:   req.DNSOptions,
			Sysctls:      req.Sysctls,
			CgroupParent: req.CgroupParent,
			PidMode:      req.PidMode,
			IpcMode:      req.IpcMode,
			CNIArgs:      req.CNIArgs,
		},
	}
	if req.PidMode != "" && req.PidMode != "host" || req.IpcMode != "" && req.IpcMode != "host" {
		return nil, fmt.Errorf("a pod's pid and ipc modes are its own or host: %w", errdefs.ErrInvalidArgument)
	}
	if err := d.validateNetwork(&cfg); err != nil {
		return nil, err
	}
	c, err := d.createInfra(cfg, !req.SharePID)
	if err != nil {
		return nil, err
	}
	infra, pod.InfraID = c, c.rec.ID
	c.busy.Lock()
	err = d.start(ctx, c, nil)
	c.busy.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start the infra container of pod %s: %w", name, err)
	}
	if err := d.store.putPod(pod); err != nil {
		return nil, err
	}
	return pod, nil
}

// createInfra records the infra container of a pod: with a pause process, an empty root
// filesystem with the drover binary mounted read-only as /pause; pinned, no process at all.
func (d *Daemon) createInfra(cfg api.ContainerConfig, pinned bool) (*container, error) {
	return d.register(cfg, func(rec *record) {
		rec.ImageName, rec.Path, rec.Runtime, rec.Infra, rec.Pinned = "drover/pause", pauseDest, runtimeName(""), true, pinned
	}, "", true)
}

// checkStaticSelf makes sure the drover binary can run in an empty root filesystem.
func (d *Daemon) checkStaticSelf() error {
	f, err := elf.Open(d.cfg.Self)
	if err != nil {
		return fmt.Errorf("pods: read %s: %w", d.cfg.Self, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("pods need a statically linked drover binary to run as the pod's infra process, and %s is dynamically linked: build it with make: %w", d.cfg.Self, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// infraOf names the pod whose infra container c is, if that pod still exists.
func (d *Daemon) infraOf(c *container) (*podRecord, bool) {
	if !c.rec.Infra {
		return nil, false
	}
	p, err := d.podTab.get(c.rec.Config.Labels["io.drover.pod"])
	return p, err == nil
}

// ensurePodRunning starts the pod's infra container if it is not running.
func (d *Daemon) ensurePodRunning(pod *podRecord) error {
	infra, err := d.lookup(pod.InfraID)
	if err != nil {
		return fmt.Errorf("pod %s lost its infra container: remove the pod and create it again: %w", pod.Name, err)
	}
	if infra.running() {
		return nil
	}
	infra.busy.Lock()
	defer infra.busy.Unlock()
	if infra.running() {
		return nil
	}
	if err := d.start(context.Background(), infra, nil); err != nil {
		return fmt.Errorf("start pod %s: %w", pod.Name, err)
	}
	return nil
}

// podMembers returns the pod's containers other than the infra one.
func (d *Daemon) podMembers(pod *podRecord) []*container {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*container
	for _, c := range d.containers {
		if c.rec.Config.Host.Pod == pod.ID && !c.rec.Infra {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rec.Created.Before(out[j].rec.Created) })
	return out
}

// podView is what pod ls and inspect show.
func (d *Daemon) podView(pod *podRecord) api.Pod {
	out := api.Pod{ID: pod.ID, Name: pod.Name, Created: pod.Created, InfraID: pod.InfraID, Labels: pod.Labels, Containers: []api.PodContainer{}}
	infraRunning := false
	if infra, err := d.lookup(pod.InfraID); err == nil {
		infraRunning = infra.running()
		out.SharedNamespaces = sharedNamespaces(infra.rec)
	}
	running, started := 0, false
	members := d.podMembers(pod)
	for _, c := range members {
		s := c.snapshot()
		out.Containers = append(out.Containers, api.PodContainer{ID: s.ID, Name: s.Name, Status: s.State.Status})
		if s.State.Running {
			running++
		}
		started = started || !s.State.StartedAt.IsZero()
	}
	switch {
	case infraRunning && running == len(members):
		out.Status = "Running"
	case infraRunning:
		out.Status = "Degraded"
	case started:
		out.Status = "Exited"
	default:
		out.Status = "Created"
	}
	return out
}

// sharedNamespaces names what a pod's infra container shares with the members.
func sharedNamespaces(infra *record) []string {
	out := []string{"net"}
	if infra.Config.Host.IpcMode != "host" {
		out = append(out, "ipc")
	}
	out = append(out, "uts")
	if !infra.Pinned {
		out = append(out, "pid")
	}
	return out
}

// startPod starts the infra container, then every member.
func (d *Daemon) startPod(ctx context.Context, pod *podRecord) error {
	if err := d.ensurePodRunning(pod); err != nil {
		return err
	}
	for _, c := range d.podMembers(pod) {
		c.busy.Lock()
		var err error
		if !c.running() {
			err = d.start(ctx, c, nil)
		}
		c.busy.Unlock()
		if err != nil {
			return fmt.Errorf("start %s of pod %s: %w", c.rec.Name, pod.Name, err)
		}
	}
	return nil
}

// stopPod stops the members, then the infra container.
func (d *Daemon) stopPod(ctx context.Context, pod *podRecord, timeout *time.Duration) error {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, c := range d.podMembers(pod) {
		if !c.running() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.stop(ctx, c, timeout, ""); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	if infra, err := d.lookup(pod.InfraID); err == nil && infra.running() {
		return d.stop(ctx, infra, timeout, "")
	}
	return nil
}

// removePod removes the pod, its infra container and, with force, its members (running
// ones included).
func (d *Daemon) removePod(ctx context.Context, pod *podRecord, force bool) error {
	members := d.podMembers(pod)
	if !force {
		for _, c := range members {
			if c.running() {
				return fmt.Errorf("pod %s has running containers (%s): stop the pod first, or use pod rm -f: %w", pod.Name, c.rec.Name, errdefs.ErrConflict)
			}
		}
	}
	for _, c := range members {
		if err := d.remove(ctx, c, true, true); err != nil && err != errRemoved {
			return err
		}
	}
	// Forget the pod first: its infra container may only be removed once the pod is gone.
	if err := d.store.deletePod(pod.ID); err != nil {
		return err
	}
	d.podTab.mu.Lock()
	delete(d.podTab.byID, pod.ID)
	d.podTab.mu.Unlock()
	if infra, err := d.lookup(pod.InfraID); err == nil {
		if err := d.remove(ctx, infra, true, true); err != nil && err != errRemoved {
			return err
		}
	}
	return nil
}

func (d *Daemon) podRoutes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	withPod := func(h func(http.ResponseWriter, *http.Request, *podRecord) error) func(http.ResponseWriter, *http.Request) error {
		return func(w http.ResponseWriter, r *http.Request) error {
			p, err := d.podTab.get(r.PathValue("id"))
			if err != nil {
				return err
			}
			return h(w, r, p)
		}
	}
	handle("POST /pods", func(w http.ResponseWriter, r *http.Request) error {
		var req api.PodCreate
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		p, err := d.CreatePod(r.Context(), req)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, p)
		return nil
	})
	handle("GET /pods", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, d.ListPods(r.Context()))
		return nil
	})
	handle("GET /pods/{id}", withPod(func(w http.ResponseWriter, r *http.Request, p *podRecord) error {
		writeJSON(w, http.StatusOK, d.podView(p))
		return nil
	}))
	handle("POST /pods/{id}/start", withPod(func(w http.ResponseWriter, r *http.Request, p *podRecord) error {
		return noContent(w, d.startPod(context.WithoutCancel(r.Context()), p))
	}))
	handle("POST /pods/{id}/stop", withPod(func(w http.ResponseWriter, r *http.Request, p *podRecord) error {
		t, err := timeoutQuery(r)
		if err != nil {
			return err
		}
		return noContent(w, d.stopPod(r.Context(), p, t))
	}))
	handle("DELETE /pods/{id}", withPod(func(w http.ResponseWriter, r *http.Request, p *podRecord) error {
		return noContent(w, d.removePod(r.Context(), p, boolQuery(r, "force")))
	}))
}
