package store

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
)

// Server is one member of the Raft configuration.
type Server struct {
	ID    string
	Addr  string
	Voter bool
}

// AddVoter adds a server (or updates its address) as a voting member; run
// it on the leader. The new server catches up from the leader's log or
// snapshot.
func (r *Raft) AddVoter(ctx context.Context, id, addr string) error {
	if err := r.membership(ctx, r.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, applyTimeout)); err != nil {
		return fmt.Errorf("add voter %s at %s: %w", id, addr, err)
	}
	return nil
}

// RemoveServer removes a member; run it on the leader. A leader that removes
// itself steps down once the change commits.
func (r *Raft) RemoveServer(ctx context.Context, id string) error {
	if err := r.membership(ctx, r.raft.RemoveServer(raft.ServerID(id), 0, applyTimeout)); err != nil {
		return fmt.Errorf("remove server %s: %w", id, err)
	}
	return nil
}

func (r *Raft) membership(ctx context.Context, f raft.Future) error {
	if err := wait(ctx, f); err != nil {
		return r.raftError(err)
	}
	return nil
}

// Servers lists the members of the latest Raft configuration this server
// knows.
func (r *Raft) Servers() ([]Server, error) {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", r.raftError(err))
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}
