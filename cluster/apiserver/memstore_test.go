package apiserver

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/drover/drover/cluster/store"
)

// memStore is a test-only store.Store: a revisioned map with a full event
// history, so lists can read old revisions and watches replay from one.
type memStore struct {
	mu        sync.Mutex
	rev       uint64
	compacted uint64 // revisions at or below this are gone
	kvs       map[string]store.KV
	history   []store.Event
	watchers  map[*memWatcher]struct{}
	notLeader bool
}

type memWatcher struct {
	prefix string
	mu     sync.Mutex
	cond   *sync.Cond
	queue  []store.Event
	done   bool
}

func newMemStore() *memStore {
	return &memStore{kvs: map[string]store.KV{}, watchers: map[*memWatcher]struct{}{}}
}

var _ store.Store = (*memStore)(nil)

func (m *memStore) Get(_ context.Context, key string) (store.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notLeader {
		return store.KV{}, store.ErrNotLeader
	}
	return m.get(key)
}

// GetLocal reads the replica, on a follower too (store.LocalReader).
func (m *memStore) GetLocal(key string) (store.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(key)
}

func (m *memStore) get(key string) (store.KV, error) {
	kv, ok := m.kvs[key]
	if !ok {
		return store.KV{}, store.ErrNotFound
	}
	return kv, nil
}

func (m *memStore) List(_ context.Context, prefix string, opts store.ListOptions) (store.ListResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notLeader {
		return store.ListResult{}, store.ErrNotLeader
	}
	return m.list(prefix, opts)
}

// ListLocal reads the replica, on a follower too (store.LocalReader).
func (m *memStore) ListLocal(prefix string, opts store.ListOptions) (store.ListResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.list(prefix, opts)
}

func (m *memStore) list(prefix string, opts store.ListOptions) (store.ListResult, error) {
	at := opts.Revision
	if at == 0 {
		at = m.rev
	}
	if at < m.compacted {
		return store.ListResult{}, store.ErrCompacted
	}
	state := m.kvs
	if at != m.rev {
		state = map[string]store.KV{}
		for _, ev := range m.history {
			if ev.KV.Revision > at {
				break
			}
			if ev.Type == store.Delete {
				delete(state, ev.KV.Key)
			} else {
				state[ev.KV.Key] = ev.KV
			}
		}
	}
	var keys []string
	for k := range state {
		if strings.HasPrefix(k, prefix) && k > opts.After {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := store.ListResult{Revision: at}
	for i, k := range keys {
		if opts.Limit > 0 && i == opts.Limit {
			res.More = true
			break
		}
		res.KVs = append(res.KVs, state[k])
	}
	return res, nil
}

func (m *memStore) write(ev store.Event) store.KV {
	m.history = append(m.history, ev)
	if ev.Type == store.Delete {
		delete(m.kvs, ev.KV.Key)
	} else {
		m.kvs[ev.KV.Key] = ev.KV
	}
	for w := range m.watchers {
		if strings.HasPrefix(ev.KV.Key, w.prefix) {
			w.push(ev)
		}
	}
	return ev.KV
}

func (m *memStore) Create(_ context.Context, key string, value []byte) (store.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notLeader {
		return store.KV{}, store.ErrNotLeader
	}
	if _, ok := m.kvs[key]; ok {
		return store.KV{}, store.ErrExists
	}
	m.rev++
	return m.write(store.Event{Type: store.Put, KV: store.KV{Key: key, Value: value, Revision: m.rev, CreateRevision: m.rev}}), nil
}

func (m *memStore) Update(_ context.Context, key string, value []byte, expect uint64) (store.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notLeader {
		return store.KV{}, store.ErrNotLeader
	}
	old, ok := m.kvs[key]
	if !ok {
		return store.KV{}, store.ErrNotFound
	}
	if expect != 0 && old.Revision != expect {
		return store.KV{}, store.ErrConflict
	}
	m.rev++
	prev := old
	return m.write(store.Event{Type: store.Put, KV: store.KV{Key: key, Value: value, Revision: m.rev, CreateRevision: old.CreateRevision}, Prev: &prev}), nil
}

func (m *memStore) Delete(_ context.Context, key string, expect uint64) (store.KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notLeader {
		return store.KV{}, store.ErrNotLeader
	}
	old, ok := m.kvs[key]
	if !ok {
		return store.KV{}, store.ErrNotFound
	}
	if expect != 0 && old.Revision != expect {
		return store.KV{}, store.ErrConflict
	}
	m.rev++
	prev := old
	kv := old
	kv.Revision = m.rev
	return m.write(store.Event{Type: store.Delete, KV: kv, Prev: &prev}), nil
}

func (m *memStore) Watch(ctx context.Context, prefix string, from uint64) (<-chan store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from != 0 && from < m.compacted {
		return nil, store.ErrCompacted
	}
	w := &memWatcher{prefix: prefix}
	w.cond = sync.NewCond(&w.mu)
	if from != 0 {
		for _, ev := range m.history {
			if ev.KV.Revision > from && strings.HasPrefix(ev.KV.Key, prefix) {
				w.queue = append(w.queue, ev)
			}
		}
	}
	m.watchers[w] = struct{}{}
	ch := make(chan store.Event)
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		delete(m.watchers, w)
		m.mu.Unlock()
		w.mu.Lock()
		w.done = true
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	go func() {
		defer close(ch)
		for {
			w.mu.Lock()
			for len(w.queue) == 0 && !w.done {
				w.cond.Wait()
			}
			if w.done {
				w.mu.Unlock()
				return
			}
			ev := w.queue[0]
			w.queue = w.queue[1:]
			w.mu.Unlock()
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

func (w *memWatcher) push(ev store.Event) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.cond.Broadcast()
	w.mu.Unlock()
}

// setLeader makes the store a leader (writes allowed) or a follower.
func (m *memStore) setLeader(leader bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notLeader = !leader
}

// compact forgets revisions up to the current one.
func (m *memStore) compact() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.compacted = m.rev
}

func (m *memStore) Revision() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev
}

func (m *memStore) Leader() (string, string) { return "mem", "" }
func (m *memStore) IsLeader() bool           { return !m.notLeader }
