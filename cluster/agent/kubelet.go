package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/internal/stream"
)

var errServerClosed = http.ErrServerClosed

// listenKubelet binds the kubelet API (HTTPS, client certificates of ClientGroup).
func (a *Agent) listenKubelet() (*http.Server, net.Listener, error) {
	tc := a.cfg.TLS.Clone()
	if tc.ClientAuth == tls.NoClientCert {
		// /healthz answers without a certificate; everything else needs one.
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	tc.NextProtos = []string{"http/1.1"} // streams upgrade the connection: no HTTP/2
	addr := net.JoinHostPort(a.cfg.KubeletAddress, strconv.Itoa(a.cfg.KubeletPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet api: listen on %s: %w (is another kubelet or agent running?)", addr, err)
	}
	a.kubeletAddr <- ln.Addr()
	srv := &http.Server{Handler: a.kubeletHandler(), ReadHeaderTimeout: 30 * time.Second}
	return srv, tls.NewListener(ln, tc), nil
}

// kubeletHandler routes the kubelet API.
func (a *Agent) kubeletHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.Handle("GET /containerLogs/{ns}/{pod}/{container}", a.authorized(http.HandlerFunc(a.serveLogs)))
	for _, m := range []string{"GET", "POST"} {
		mux.Handle(m+" /exec/{ns}/{pod}/{container}", a.authorized(http.HandlerFunc(a.serveExec)))
		mux.Handle(m+" /attach/{ns}/{pod}/{container}", a.authorized(http.HandlerFunc(a.serveAttach)))
	}
	return mux
}

// authorized lets through requests whose client certificate carries ClientGroup.
func (a *Agent) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "a client certificate is required", http.StatusUnauthorized)
			return
		}
		if !slices.Contains(r.TLS.VerifiedChains[0][0].Subject.Organization, a.cfg.ClientGroup) {
			http.Error(w, "forbidden: the client certificate is not in group "+a.cfg.ClientGroup, http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// findContainer finds the engine container of a pod's container: the latest attempt, or
// the one before with previous.
func (a *Agent) findContainer(ctx context.Context, ns, pod, container string, previous bool) (api.Container, string, error) {
	var uid string
	a.mu.Lock()
	for id, w := range a.workers {
		w.mu.Lock()
		if w.pod != nil && w.pod.Namespace == ns && w.pod.Name == pod {
			uid = id
		}
		w.mu.Unlock()
	}
	a.mu.Unlock()
	if uid == "" {
		return api.Container{}, "", fmt.Errorf("pod %s/%s does not run on node %s", ns, pod, a.cfg.NodeName)
	}
	ctrs, err := a.cfg.Engine.ContainerList(ctx, client.ListOptions{All: true, Filters: []string{"label=" + labelUID + "=" + uid}})
	if err != nil {
		return api.Container{}, "", fmt.Errorf("list containers of pod %s/%s: %w", ns, pod, err)
	}
	var latest, prev *api.Container
	for i := range ctrs {
		c := &ctrs[i]
		if c.Config.Labels[labelContainer] != container {
			continue
		}
		switch {
		case latest == nil || attemptOf(c) > attemptOf(latest):
			latest, prev = c, latest
		case prev == nil || attemptOf(c) > attemptOf(prev):
			prev = c
		}
	}
	if previous {
		latest = prev
	}
	if latest == nil {
		what := "container"
		if previous {
			what = "previous terminated container"
		}
		return api.Container{}, "", fmt.Errorf("%s %q in pod %s/%s not found", what, container, ns, pod)
	}
	return *latest, uid, nil
}

// serveLogs streams a container's log.
func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	previous, _ := strconv.ParseBool(q.Get("previous"))
	c, _, err := a.findContainer(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	opts := client.LogsOptions{Tail: "all"}
	opts.Follow, _ = strconv.ParseBool(q.Get("follow"))
	opts.Timestamps, _ = strconv.ParseBool(q.Get("timestamps"))
	if n := q.Get("tailLines"); n != "" {
		if v, err := strconv.Atoi(n); err != nil || v < 0 {
			http.Error(w, "tailLines must be a number of lines", http.StatusBadRequest)
			return
		}
		opts.Tail = n
	}
	if s := q.Get("sinceSeconds"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			http.Error(w, "sinceSeconds must be a positive number", http.StatusBadRequest)
			return
		}
		opts.Since = strconv.FormatInt(time.Now().Add(-time.Duration(v)*time.Second).Unix(), 10)
	}
	if s := q.Get("sinceTime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			http.Error(w, "sinceTime must be an RFC 3339 time", http.StatusBadRequest)
			return
		}
		opts.Since = strconv.FormatInt(t.Unix(), 10)
	}
	limit := int64(-1)
	if s := q.Get("limitBytes"); s != "" {
		if limit, err = strconv.ParseInt(s, 10, 64); err != nil || limit <= 0 {
			http.Error(w, "limitBytes must be a positive number", http.StatusBadRequest)
			return
		}
	}
	body, err := a.cfg.Engine.ContainerLogs(r.Context(), c.ID, opts)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer body.Close()
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	fr := stream.NewReader(body)
	for {
		kind, p, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch kind {
		case stream.Stdout, stream.Stderr:
			if limit >= 0 {
				if int64(len(p)) > limit {
					p = p[:limit]
				}
				limit -= int64(len(p))
			}
			if _, err := w.Write(p); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			if limit == 0 {
				return
			}
		case stream.Error:
			return
		}
	}
}
