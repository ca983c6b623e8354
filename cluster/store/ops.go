package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Get reads key linearizably: on the leader, after confirming leadership.
func (r *Raft) Get(ctx context.Context, key string) (KV, error) {
	if err := r.linearizable(ctx); err != nil {
		return KV{}, fmt.Errorf("get %q: %w", key, err)
	}
	return r.fsm.get(key)
}

// List reads a page of prefix linearizably (at opts.Revision when given).
func (r *Raft) List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error) {
	if err := r.linearizable(ctx); err != nil {
		return ListResult{}, fmt.Errorf("list %q: %w", prefix, err)
	}
	return r.fsm.list(prefix, opts)
}

// GetLocal reads key from this server's replica, on any server, without
// contacting the others: it may lag the leader. Caches and watches use it.
func (r *Raft) GetLocal(key string) (KV, error) { return r.fsm.get(key) }

// ListLocal reads a page of prefix from this server's replica (see
// GetLocal). A revision this replica has not reached yet fails with
// ErrFutureRevision.
func (r *Raft) ListLocal(prefix string, opts ListOptions) (ListResult, error) {
	return r.fsm.list(prefix, opts)
}

// Revision is the revision (Raft index) of the last entry applied locally.
func (r *Raft) Revision() uint64 { return r.fsm.revision() }

func (r *Raft) Create(ctx context.Context, key string, value []byte) (KV, error) {
	kv, err := r.apply(ctx, command{op: opCreate, key: key, value: value})
	if err != nil {
		return kv, fmt.Errorf("create %q: %w", key, err)
	}
	return kv, nil
}

func (r *Raft) Update(ctx context.Context, key string, value []byte, expectRevision uint64) (KV, error) {
	kv, err := r.apply(ctx, command{op: opUpdate, key: key, value: value, expect: expectRevision})
	if err != nil {
		return kv, fmt.Errorf("update %q: %w", key, err)
	}
	return kv, nil
}

func (r *Raft) Delete(ctx context.Context, key string, expectRevision uint64) (KV, error) {
	kv, err := r.apply(ctx, command{op: opDelete, key: key, expect: expectRevision})
	if err != nil {
		return kv, fmt.Errorf("delete %q: %w", key, err)
	}
	return kv, nil
}

// Watch streams the writes under prefix after fromRevision from this
// server's replica (see Store.Watch).
func (r *Raft) Watch(ctx context.Context, prefix string, fromRevision uint64) (<-chan Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, err := r.fsm.watch(prefix, fromRevision)
	if err != nil {
		return nil, err
	}
	go w.run(ctx, r.fsm.unwatch)
	return w.ch, nil
}

// apply replicates one command and returns the state machine's answer. On
// a conflict the KV is the current one, so a caller can report it.
func (r *Raft) apply(ctx context.Context, c command) (KV, error) {
	if err := ctx.Err(); err != nil {
		return KV{}, err
	}
	if r.raft.State() != raft.Leader {
		return KV{}, r.notLeader()
	}
	timeout := applyTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	f := r.raft.Apply(c.encode(), timeout)
	if err := wait(ctx, f); err != nil {
		if errors.Is(err, raft.ErrLeadershipLost) {
			// Committed or not is unknown: the new leader may still commit
			// it, so this is not ErrNotLeader (which invites a blind retry).
			return KV{}, fmt.Errorf("leadership lost before the write was acknowledged; it may still take effect, re-read before retrying: %w", err)
		}
		return KV{}, r.raftError(err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return KV{}, fmt.Errorf("state machine answered %T", f.Response())
	}
	return res.kv, res.err
}

// linearizable readies this server to answer a read that reflects every
// write acknowledged before it began: it must be the leader, have applied
// earlier terms' entries, and still hold a quorum.
func (r *Raft) linearizable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.raft.State() != raft.Leader {
		return r.notLeader()
	}
	if err := r.ensureReady(ctx); err != nil {
		return err
	}
	if err := wait(ctx, r.raft.VerifyLeader()); err != nil {
		return r.raftError(err)
	}
	return nil
}

func (r *Raft) notLeader() error {
	id, addr := r.Leader()
	if id == "" {
		return fmt.Errorf("%w (no leader elected yet; retry shortly)", ErrNotLeader)
	}
	return fmt.Errorf("%w (the leader is %s at %s)", ErrNotLeader, id, addr)
}

func (r *Raft) raftError(err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
		return r.notLeader()
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	}
	return fmt.Errorf("replicate: %w", err)
}

// wait waits for a raft future, or returns as soon as ctx ends (the
// operation itself may still complete).
func wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
