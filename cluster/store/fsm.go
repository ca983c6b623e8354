package store

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	iradix "github.com/hashicorp/go-immutable-radix"
	"github.com/hashicorp/raft"
)

// applyResult is what the state machine hands back through raft's
// ApplyFuture.Response for one command.
type applyResult struct {
	kv  KV
	err error
}

// version is the state right after one write: the write's event and the
// whole tree as it stood then. Trees share structure, so keeping many costs
// only the nodes each write copied.
type version struct {
	rev  uint64
	tree *iradix.Tree
	ev   Event
}

// fsm is the replicated state machine: a persistent radix tree of *KV plus a
// window of recent versions that serves List at a past revision and Watch
// replays. Apply must be deterministic: it depends only on the log entry.
type fsm struct {
	mu   sync.RWMutex
	tree *iradix.Tree // current state
	rev  uint64       // index of the last command applied (writes and no-ops)

	// ring holds the last len(ring) versions, oldest at head; base is the
	// state as of the newest version that fell out of the window (or the
	// restored snapshot), so every revision >= base.rev can be answered.
	ring []version
	head int
	n    int
	base version

	watchers    map[*watcher]struct{}
	watchBuffer int
	closed      bool // the server is closed: no new watches
}

func newFSM(window, watchBuffer int) *fsm {
	return &fsm{
		tree:        iradix.New(),
		ring:        make([]version, window),
		base:        version{tree: iradix.New()},
		watchers:    map[*watcher]struct{}{},
		watchBuffer: watchBuffer,
	}
}

var _ raft.FSM = (*fsm)(nil)

// Apply runs one committed command; the revision of a write is its log index.
func (f *fsm) Apply(l *raft.Log) interface{} {
	c, err := decodeCommand(l.Data)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev = l.Index
	if err != nil {
		return applyResult{err: fmt.Errorf("apply entry %d: %w", l.Index, err)}
	}
	return f.applyLocked(c, l.Index)
}

func (f *fsm) applyLocked(c command, idx uint64) applyResult {
	key := []byte(c.key)
	var old *KV
	if v, ok := f.tree.Get(key); ok {
		old = v.(*KV)
	}
	var ev Event
	var tree *iradix.Tree
	switch c.op {
	case opNoop:
		return applyResult{}
	case opCreate:
		if old != nil {
			return applyResult{kv: *old, err: ErrExists}
		}
		kv := &KV{Key: c.key, Value: c.value, Revision: idx, CreateRevision: idx}
		tree, _, _ = f.tree.Insert(key, kv)
		ev = Event{Type: Put, KV: *kv}
	case opUpdate, opDelete:
		if old == nil {
			return applyResult{err: ErrNotFound}
		}
		if c.expect != 0 && c.expect != old.Revision {
			return applyResult{kv: *old, err: ErrConflict}
		}
		prev := *old
		if c.op == opUpdate {
			kv := &KV{Key: c.key, Value: c.value, Revision: idx, CreateRevision: old.CreateRevision}
			tree, _, _ = f.tree.Insert(key, kv)
			ev = Event{Type: Put, KV: *kv, Prev: &prev}
		} else {
			tree, _, _ = f.tree.Delete(key)
			ev = Event{Type: Delete, KV: KV{Key: c.key, Value: old.Value, Revision: idx, CreateRevision: old.CreateRevision}, Prev: &prev}
		}
	default:
		return applyResult{err: fmt.Errorf("%w: op %d", errBadCommand, c.op)}
	}
	f.record(version{rev: idx, tree: tree, ev: ev})
	return applyResult{kv: ev.KV}
}

// record makes v the current state, keeps it in the window and tells the
// watchers whose prefix covers its key.
func (f *fsm) record(v version) {
	f.tree = v.tree
	if len(f.ring) > 0 {
		if f.n == len(f.ring) {
			f.base = f.ring[f.head]
			f.base.ev = Event{} // only its tree and revision are needed
			f.ring[f.head] = v
			f.head = (f.head + 1) % len(f.ring)
		} else {
			f.ring[(f.head+f.n)%len(f.ring)] = v
			f.n++
		}
	} else {
		f.base = v
	}
	for w := range f.watchers {
		if strings.HasPrefix(v.ev.KV.Key, w.prefix) && !w.push(v.ev) {
			delete(f.watchers, w) // fell behind; its goroutine closes the channel
		}
	}
}

func (f *fsm) at(i int) *version { return &f.ring[(f.head+i)%len(f.ring)] }

// revision is the index of the last command applied here.
func (f *fsm) revision() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.rev
}

func (f *fsm) get(key string) (KV, error) {
	f.mu.RLock()
	tree := f.tree
	f.mu.RUnlock()
	if v, ok := tree.Get([]byte(key)); ok {
		return *v.(*KV), nil
	}
	return KV{}, fmt.Errorf("get %q: %w", key, ErrNotFound)
}

// treeAt returns the state as of rev (0: now) and the revision it answers for.
func (f *fsm) treeAt(rev uint64) (*iradix.Tree, uint64, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	switch {
	case rev == 0 || rev == f.rev:
		return f.tree, f.rev, nil
	case rev > f.rev:
		return nil, 0, fmt.Errorf("revision %d, applied here %d: %w", rev, f.rev, ErrFutureRevision)
	case rev < f.base.rev:
		return nil, 0, fmt.Errorf("revision %d, window starts at %d: %w", rev, f.base.rev, ErrCompacted)
	}
	// The newest version at or before rev.
	i := sort.Search(f.n, func(i int) bool { return f.at(i).rev > rev })
	if i == 0 {
		return f.base.tree, rev, nil
	}
	return f.at(i - 1).tree, rev, nil
}

func (f *fsm) list(prefix string, opts ListOptions) (ListResult, error) {
	tree, rev, err := f.treeAt(opts.Revision)
	if err != nil {
		return ListResult{}, fmt.Errorf("list %q: %w", prefix, err)
	}
	res := ListResult{Revision: rev, KVs: []KV{}}
	// iradix v1.0.0 has no lower-bound seek, so a continuation walks past
	// the keys of earlier pages; cheap next to encoding what it returns.
	tree.Root().WalkPrefix([]byte(prefix), func(k []byte, v interface{}) bool {
		if opts.After != "" && string(k) <= opts.After {
			return false
		}
		if opts.Limit > 0 && len(res.KVs) == opts.Limit {
			res.More = true
			return true
		}
		res.KVs = append(res.KVs, *v.(*KV))
		return false
	})
	return res, nil
}

// watch registers a watcher for prefix that first replays the window's
// events after from (0: now).
func (f *fsm) watch(prefix string, from uint64) (*watcher, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrClosed
	}
	if from == 0 {
		from = f.rev
	}
	if from < f.base.rev {
		return nil, fmt.Errorf("watch %q from %d, window starts at %d: %w", prefix, from, f.base.rev, ErrCompacted)
	}
	var replay []Event
	for i := sort.Search(f.n, func(i int) bool { return f.at(i).rev > from }); i < f.n; i++ {
		if ev := f.at(i).ev; strings.HasPrefix(ev.KV.Key, prefix) {
			replay = append(replay, ev)
		}
	}
	w := newWatcher(prefix, replay, f.watchBuffer)
	f.watchers[w] = struct{}{}
	return w, nil
}

func (f *fsm) unwatch(w *watcher) {
	f.mu.Lock()
	delete(f.watchers, w)
	f.mu.Unlock()
}

// Snapshot captures the current tree; it is immutable, so Persist can write
// it out while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &fsmSnapshot{tree: f.tree, rev: f.rev}, nil
}

// Restore replaces the state with a snapshot's. The window restarts at the
// snapshot's revision, and watchers are ended: they missed the writes the
// snapshot folds in and must re-list.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tree, rev, err := readSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tree, f.rev = tree, rev
	f.base = version{rev: rev, tree: tree}
	clear(f.ring)
	f.head, f.n = 0, 0
	for w := range f.watchers {
		w.end()
		delete(f.watchers, w)
	}
	return nil
}

// closeWatchers ends every watch and refuses new ones, at shutdown.
func (f *fsm) closeWatchers() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for w := range f.watchers {
		w.end()
		delete(f.watchers, w)
	}
}
