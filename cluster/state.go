package cluster

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/drover/drover/cluster/join"
	"github.com/drover/drover/cluster/pki"
	"github.com/drover/drover/cluster/store"
)

// The cluster's own records live in the replicated store beside the API's objects, under
// a prefix the API never serves.
const (
	keyCAKey      = "/drover/ca-key"  // the CA's private key, for every server to sign joins
	keyRevoked    = "/drover/revoked" // pki.RevocationList
	prefixTokens  = "/drover/tokens/" // pki.TokenRecord by token id
	prefixServers = "/drover/servers/"
	prefixMembers = "/drover/members/"
)

// serverRecord says where a server serves Raft and the API.
type serverRecord struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	APIAddr  string `json:"apiAddr"`
}

// memberRecord is a machine admitted to the cluster, with the serial of the certificate
// it was given: removing the member revokes it.
type memberRecord struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	Serial string `json:"serial"` // hex
}

// records reads and writes the cluster's own records: it is the join handler's view of
// the cluster (join.Cluster, pki.TokenStore) and keeps the revocation list and the set
// of members in memory for the TLS handshakes.
type records struct {
	st *store.Raft

	mu      sync.RWMutex
	members map[string]memberRecord
	revoked *pki.RevocationList
}

var (
	_ join.Cluster   = (*records)(nil)
	_ pki.TokenStore = (*records)(nil)
)

func newRecords(st *store.Raft) *records {
	return &records{st: st, members: map[string]memberRecord{}, revoked: pki.NewRevocationList()}
}

// follow keeps the in-memory members and revocations in step with the store until ctx
// ends; it returns once the current state is loaded.
func (r *records) follow(ctx context.Context) error {
	load := func() (uint64, error) {
		res, err := r.st.ListLocal("/drover/", store.ListOptions{})
		if err != nil {
			return 0, err
		}
		members := map[string]memberRecord{}
		revoked := pki.NewRevocationList()
		for _, kv := range res.KVs {
			switch {
			case strings.HasPrefix(kv.Key, prefixMembers):
				var m memberRecord
				if json.Unmarshal(kv.Value, &m) == nil {
					members[m.Name] = m
				}
			case kv.Key == keyRevoked:
				_ = json.Unmarshal(kv.Value, revoked)
			}
		}
		r.mu.Lock()
		r.members, r.revoked = members, revoked
		r.mu.Unlock()
		return res.Revision, nil
	}
	rev, err := load()
	if err != nil {
		return err
	}
	go func() {
		for ctx.Err() == nil {
			ch, err := r.st.Watch(ctx, "/drover/", rev)
			if err == nil {
				for range ch {
					// Few and small: reload the whole set on any change.
					if rev, err = load(); err != nil {
						break
					}
				}
			}
			if ctx.Err() != nil {
				return
			}
			if rev, err = load(); err != nil {
				rev = 0
			}
		}
	}()
	return nil
}

// isMember is pki.RequireMember's question: may this node name's certificates connect?
func (r *records) isMember(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.members[name]
	return ok
}

// waitMember waits until the in-memory members (fed by the store's watch) know name.
func (r *records) waitMember(ctx context.Context, name string) error {
	for !r.isMember(name) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("member %s not recorded: %w", name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// checkRevoked is the handshake's revocation check.
func (r *records) checkRevoked(cert *x509.Certificate) error {
	r.mu.RLock()
	l := r.revoked
	r.mu.RUnlock()
	return l.Check(cert)
}

func (r *records) memberList() []memberRecord {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]memberRecord, 0, len(r.members))
	for _, m := range r.members {
		out = append(out, m)
	}
	return out
}

// put writes key whatever it held (leader only).
func (r *records) put(ctx context.Context, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return putRaw(ctx, r.st, key, data)
}

func putRaw(ctx context.Context, st store.Store, key string, data []byte) error {
	_, err := st.Create(ctx, key, data)
	if errors.Is(err, store.ErrExists) {
		_, err = st.Update(ctx, key, data, 0)
	}
	return err
}

// Lookup implements pki.TokenStore from the local replica: tokens are written long
// before they are used.
func (r *records) Lookup(ctx context.Context, id string) (pki.TokenRecord, error) {
	kv, err := r.st.GetLocal(prefixTokens + id)
	if errors.Is(err, store.ErrNotFound) {
		return pki.TokenRecord{}, fmt.Errorf("token %s: %w", id, pki.ErrTokenNotFound)
	}
	if err != nil {
		return pki.TokenRecord{}, err
	}
	var rec pki.TokenRecord
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		return pki.TokenRecord{}, fmt.Errorf("token %s: %w", id, err)
	}
	return rec, nil
}

// LiveMember implements join.Cluster.
func (r *records) LiveMember(_ context.Context, name string) (bool, error) {
	return r.isMember(name), nil
}

// Servers implements join.Cluster: the servers' API addresses.
func (r *records) Servers(ctx context.Context) ([]string, error) {
	recs, err := r.servers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(recs))
	for _, s := range recs {
		out = append(out, s.APIAddr)
	}
	return out, nil
}

func (r *records) servers(ctx context.Context) ([]serverRecord, error) {
	res, err := r.st.ListLocal(prefixServers, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []serverRecord
	for _, kv := range res.KVs {
		var s serverRecord
		if json.Unmarshal(kv.Value, &s) == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

func (r *records) server(ctx context.Context, id string) (serverRecord, error) {
	kv, err := r.st.GetLocal(prefixServers + id)
	if err != nil {
		return serverRecord{}, err
	}
	var s serverRecord
	return s, json.Unmarshal(kv.Value, &s)
}

// Leader implements join.Cluster.
func (r *records) Leader(ctx context.Context) (join.Leader, error) {
	id, addr := r.st.Leader()
	if id == "" {
		return join.Leader{}, errors.New("the cluster has no leader right now")
	}
	l := join.Leader{ID: id, RaftAddress: addr}
	if s, err := r.server(ctx, id); err == nil {
		l.APIAddress = s.APIAddr
	}
	return l, nil
}

// AddServer implements join.Cluster on the leader: the new server becomes a voter and its
// addresses are recorded.
func (r *records) AddServer(ctx context.Context, id, raftAddr, apiAddr string) error {
	if !r.st.IsLeader() {
		l, _ := r.Leader(ctx)
		return fmt.Errorf("this server is not the leader: add the voter through %s", l.APIAddress)
	}
	if err := r.st.AddVoter(ctx, id, raftAddr); err != nil {
		return err
	}
	return r.put(ctx, prefixServers+id, serverRecord{ID: id, RaftAddr: raftAddr, APIAddr: apiAddr})
}

// Admit implements join.Cluster: a re-joining machine's previous certificate is revoked
// as the new one is recorded.
func (r *records) Admit(ctx context.Context, name string, role join.Role, cert *x509.Certificate) error {
	if !r.st.IsLeader() {
		return fmt.Errorf("%w: joins go through the leader", store.ErrNotLeader)
	}
	r.mu.RLock()
	prev, had := r.members[name]
	r.mu.RUnlock()
	if had && prev.Serial != "" {
		if err := r.revoke(ctx, prev.Serial); err != nil {
			return err
		}
	}
	return r.put(ctx, prefixMembers+name, memberRecord{Name: name, Role: string(role), Serial: cert.SerialNumber.Text(16)})
}

// remove takes a member out: its certificate is revoked and its record deleted.
func (r *records) remove(ctx context.Context, name string) error {
	r.mu.RLock()
	m, ok := r.members[name]
	r.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%q is not a member of the cluster", name)
	}
	if m.Serial != "" {
		if err := r.revoke(ctx, m.Serial); err != nil {
			return err
		}
	}
	if _, err := r.st.Delete(ctx, prefixMembers+name, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if m.Role == string(join.RoleServer) {
		if err := r.st.RemoveServer(ctx, name); err != nil {
			return err
		}
		if _, err := r.st.Delete(ctx, prefixServers+name, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// revoke adds a serial to the stored revocation list (compare-and-swap, so concurrent
// revocations on the leader do not lose one another).
func (r *records) revoke(ctx context.Context, serialHex string) error {
	for {
		l := pki.NewRevocationList()
		var rev uint64
		kv, err := r.st.Get(ctx, keyRevoked)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(kv.Value, l); err != nil {
				return err
			}
			rev = kv.Revision
		}
		serial, ok := new(big.Int).SetString(serialHex, 16)
		if !ok {
			return fmt.Errorf("bad certificate serial %q", serialHex)
		}
		l.RevokeSerial(serial, time.Time{}) // kept: a member's certificate lives a year
		data, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = r.st.Create(ctx, keyRevoked, data)
		} else {
			_, err = r.st.Update(ctx, keyRevoked, data, rev)
		}
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			continue
		}
		return err
	}
}
