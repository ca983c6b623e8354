package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/store"
)

// initialEventsEnd annotates the bookmark that ends sendInitialEvents.
const initialEventsEnd = "k8s.io/initial-events-end"

// watchStream writes a watch's events, one JSON WatchEvent a line, flushed
// per event so clients see each as it happens.
type watchStream struct {
	s     *server
	w     http.ResponseWriter
	r     *http.Request
	k     *kinds.Kind
	table bool
	meta  bool
}

func (ws *watchStream) send(typ watch.EventType, obj runtime.Object) error {
	var raw []byte
	var err error
	if ws.table && typ != watch.Bookmark && typ != watch.Error {
		t, terr := ws.s.table(ws.r, ws.k, []runtime.Object{obj}, true)
		if terr != nil {
			return terr
		}
		t.ResourceVersion = accessor(obj).GetResourceVersion()
		raw, err = json.Marshal(t)
	} else if ws.meta && typ != watch.Error {
		raw, err = json.Marshal(partialMetadata(obj))
	} else {
		raw, err = json.Marshal(obj)
	}
	if err != nil {
		return err
	}
	return ws.write(typ, raw)
}

// sendCached sends a change every watcher of the prefix receives: in plain JSON, the
// object's encoding is shared with them.
func (ws *watchStream) sendCached(typ watch.EventType, co *cachedObject) error {
	if ws.table || ws.meta {
		return ws.send(typ, co.obj.DeepCopyObject()) // a table may set the object's kind
	}
	raw, err := co.json()
	if err != nil {
		return err
	}
	return ws.write(typ, raw)
}

func (ws *watchStream) write(typ watch.EventType, raw []byte) error {
	if _, err := ws.w.Write(watchFrame(string(typ), raw)); err != nil {
		return err
	}
	if f, ok := ws.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// bookmark sends a BOOKMARK at rev, marking the end of the initial
// events when end is set.
func (ws *watchStream) bookmark(rev uint64, end bool) error {
	obj := ws.k.New()
	obj.GetObjectKind().SetGroupVersionKind(ws.k.GVK)
	m := accessor(obj)
	m.SetResourceVersion(strconv.FormatUint(rev, 10))
	if end {
		m.SetAnnotations(map[string]string{initialEventsEnd: "true"})
	}
	return ws.send(watch.Bookmark, obj)
}

// watch serves a watch: optional initial state, then every committed change
// the selectors see, until the client leaves or timeoutSeconds passes.
func (s *server) watch(w http.ResponseWriter, r *http.Request, req *request) error {
	sel, err := parseSelector(r, req.kind, req.name)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rv, err := parseRV(q.Get("resourceVersion"))
	if err != nil {
		return err
	}
	sendInitial := q.Get("sendInitialEvents") == "true"
	if q.Has("sendInitialEvents") && q.Get("resourceVersionMatch") != "NotOlderThan" {
		return badRequest("sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan")
	}
	// Without sendInitialEvents, "" and "0" mean the current state first.
	if !q.Has("sendInitialEvents") && rv == 0 {
		sendInitial = true
	}
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	table, err := wantsTable(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest("timeoutSeconds must be a non-negative integer, not %q", v)
		}
		if n > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
			defer cancel()
		}
	}

	prefix := listPrefix(req.kind, req.namespace)
	var initial []runtime.Object
	from := rv
	if sendInitial {
		res, err := s.collect(r, req, sel, true)
		if err != nil {
			return err
		}
		initial = res.objs
		// NotOlderThan a revision the store has not reached yet still
		// starts from the state read now.
		from = res.rev
	}
	ws := &watchStream{s: s, w: w, r: r, k: req.kind, table: table, meta: outputAs(r) == asMetadata}
	ch, err := s.cfg.Store.Watch(ctx, prefix, from)
	if errors.Is(err, store.ErrCompacted) {
		startStream(w, table)
		st := toStatus(apierrors.NewResourceExpired("too old resource version: " + strconv.FormatUint(rv, 10) + " (" + strconv.FormatUint(s.cfg.Store.Revision(), 10) + ")"))
		return quiet(ws.send(watch.Error, st))
	}
	if err != nil {
		return storeErr(err, req.gr, "")
	}
	startStream(w, table)
	for _, obj := range initial {
		if err := ws.send(watch.Added, obj); err != nil {
			return quiet(err)
		}
	}
	if sendInitial && q.Has("sendInitialEvents") {
		if err := ws.bookmark(from, true); err != nil {
			return quiet(err)
		}
	}
	last := from
	var tick <-chan time.Time
	if bookmarks {
		t := time.NewTicker(s.bookmark)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if err := ws.bookmark(last, false); err != nil {
				return quiet(err)
			}
		case ev, ok := <-ch:
			if !ok {
				return nil // fell behind or the store stopped: the client re-watches
			}
			last = ev.KV.Revision
			typ, co, err := s.classify(req.kind, sel, ev)
			if err != nil {
				return quiet(ws.send(watch.Error, toStatus(err)))
			}
			if typ == "" {
				continue
			}
			if err := ws.sendCached(typ, co); err != nil {
				return quiet(err)
			}
		}
	}
}

// classify turns a store event into the watch event the selectors see: an
// object that stops matching is DELETED for this watcher, one that starts
// matching is ADDED. "" means the watcher does not see it.
func (s *server) classify(k *kinds.Kind, sel selector, ev store.Event) (watch.EventType, *cachedObject, error) {
	co, err := s.events.object(k, ev.KV)
	if err != nil {
		return "", nil, err
	}
	now := sel.matches(k, co.obj)
	if ev.Type == store.Delete {
		if now {
			return watch.Deleted, co, nil
		}
		return "", nil, nil
	}
	if ev.Prev == nil {
		if now {
			return watch.Added, co, nil
		}
		return "", nil, nil
	}
	before := true
	if !sel.labels.Empty() || !sel.fields.Empty() {
		prev, err := s.events.object(k, *ev.Prev)
		if err != nil {
			return "", nil, err
		}
		before = sel.matches(k, prev.obj)
	}
	switch {
	case now && before:
		return watch.Modified, co, nil
	case now:
		return watch.Added, co, nil
	case before:
		return watch.Deleted, co, nil
	}
	return "", nil, nil
}

// startStream commits the watch's 200 response.
func startStream(w http.ResponseWriter, table bool) {
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// quiet drops a write error once the stream has begun: the client has gone,
// and nothing more can be told to it.
func quiet(error) error { return nil }
