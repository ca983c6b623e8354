package store

import (
	"context"

	"github.com/hashicorp/raft"
)

// followLeadership relays raft's leadership changes to LeaderChanges
// subscribers, and on gaining leadership makes the state ready for
// linearizable reads right away rather than on the first read.
func (r *Raft) followLeadership(notify <-chan bool) {
	for {
		select {
		case <-r.done:
			return
		case leader := <-notify:
			r.publish(leader)
			if leader {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
					defer cancel()
					if err := r.ensureReady(ctx); err != nil {
						r.logger.Debug("leader not ready for reads yet", "error", err)
					}
				}()
			}
		}
	}
}

// publish hands the new state to every subscriber, replacing a value a slow
// subscriber has not taken yet: subscribers want the current state, and
// never block the relay.
func (r *Raft) publish(leader bool) {
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	for _, ch := range r.subs {
		select {
		case <-ch:
		default:
		}
		ch <- leader
	}
}

// LeaderChanges returns a channel that first carries whether this server is
// the leader now, then each change. A receiver that lags sees only the
// latest state (true after true means leadership was lost and regained in
// between). The channel is closed by Close. The server starts leader-only
// work (scheduler, controllers) on true and stops it on false.
func (r *Raft) LeaderChanges() <-chan bool {
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	ch := make(chan bool, 1)
	if r.closed {
		close(ch)
		return ch
	}
	// Raft's own state, not the last relayed one, which may lag behind it.
	ch <- r.IsLeader()
	r.subs = append(r.subs, ch)
	return ch
}

// IsLeader says whether this server is the leader now.
func (r *Raft) IsLeader() bool { return r.raft.State() == raft.Leader }

// Leader names the current leader: its ID and Raft address ("" when none is
// known).
func (r *Raft) Leader() (id, addr string) {
	a, i := r.raft.LeaderWithID()
	return string(i), string(a)
}

// ensureReady makes sure that, in the current term, a no-op appended by this
// leader has been applied: then the local state holds every write committed
// by earlier leaders, which a new leader may not have applied yet.
func (r *Raft) ensureReady(ctx context.Context) error {
	term := r.raft.CurrentTerm()
	if r.readyTerm.Load() == term {
		return nil
	}
	if _, err := r.apply(ctx, command{op: opNoop}); err != nil {
		return err
	}
	// Concurrent callers may each append a no-op; harmless. If the term moved
	// on meanwhile, the next read in the new term checks again.
	r.readyTerm.Store(term)
	return nil
}
