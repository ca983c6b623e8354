package store

import (
	"context"
	"errors"
)

// Errors the API maps to Kubernetes status codes.
var (
	ErrNotFound  = errors.New("not found")          // 404
	ErrExists    = errors.New("already exists")     // 409 AlreadyExists
	ErrConflict  = errors.New("revision conflict")  // 409 Conflict: stale expected revision
	ErrCompacted = errors.New("revision compacted") // 410 Gone: older than the watch/list window
	ErrNotLeader = errors.New("not the leader")     // the caller forwards to Leader()

	// ErrFutureRevision: a List at a revision this replica has not applied
	// yet (a local read on a lagging follower, or a client's made-up
	// revision); retry later or read from the leader.
	ErrFutureRevision = errors.New("revision not reached yet")
	// ErrClosed: the store server was closed.
	ErrClosed = errors.New("store closed")
)

// KV is one stored value with the revision of the write that made it.
type KV struct {
	Key string
	// Value is the bytes given to Create or Update.
	Value []byte
	// Revision is the Raft index of the last write to this key.
	Revision uint64
	// CreateRevision is the Raft index of the write that created it.
	CreateRevision uint64
}

// EventType says what a write did to a key.
type EventType int

const (
	Put    EventType = iota // created or updated
	Delete                  // deleted
)

// Event is one committed write, as watches deliver it.
type Event struct {
	Type EventType
	// KV is the key after the write; for a Delete, the deleted value with
	// the delete's revision.
	KV KV
	// Prev is the value before the write (nil for a create).
	Prev *KV
}

// ListOptions select a page of a prefix.
type ListOptions struct {
	// Revision reads the state as of that revision (0: latest). A revision
	// older than the window fails with ErrCompacted.
	Revision uint64
	// After starts the page after this key (exclusive); "" starts at the prefix.
	After string
	// Limit caps the page (0: no limit).
	Limit int
}

// ListResult is a page of a prefix, in key order.
type ListResult struct {
	KVs []KV
	// Revision is the revision the page was read at; a continuation passes
	// it back so every page reads one consistent state.
	Revision uint64
	// More says keys remain after the last one returned.
	More bool
}

// Store is what the API server needs of the replicated state. Writes and
// consistent reads run on the leader; on a follower they fail with
// ErrNotLeader and the caller forwards the request to Leader().
type Store interface {
	Get(ctx context.Context, key string) (KV, error)
	List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error)
	// Create fails with ErrExists when the key exists.
	Create(ctx context.Context, key string, value []byte) (KV, error)
	// Update replaces the value when the key's revision is expectRevision
	// (0: whatever it is); ErrConflict otherwise, ErrNotFound when absent.
	Update(ctx context.Context, key string, value []byte, expectRevision uint64) (KV, error)
	// Delete removes the key under the same precondition as Update and
	// returns the value it had, with the delete's revision.
	Delete(ctx context.Context, key string, expectRevision uint64) (KV, error)
	// Watch streams every committed write under prefix with a revision
	// greater than fromRevision (0: from now), in revision order, until ctx
	// ends; the channel is closed then, or when the watcher falls too far
	// behind (the caller re-lists). ErrCompacted when fromRevision is older
	// than the window. Watches are served from the local state machine, on
	// followers too.
	Watch(ctx context.Context, prefix string, fromRevision uint64) (<-chan Event, error)
	// Revision is the revision of the last entry applied locally: the last
	// write's, or the no-op a new leader commits (so a fresh cluster is past
	// 0 once it has a leader); every later write has a greater revision.
	Revision() uint64
	// Leader names the current leader ("" when there is none).
	Leader() (id, addr string)
	IsLeader() bool
}

// LocalReader reads one server's replica without contacting the leader, on
// any server: it may lag the leader. Caches and watches use it.
type LocalReader interface {
	GetLocal(key string) (KV, error)
	// ListLocal fails with ErrFutureRevision for a revision the replica has
	// not applied yet.
	ListLocal(prefix string, opts ListOptions) (ListResult, error)
}
