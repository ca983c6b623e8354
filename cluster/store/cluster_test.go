package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func followers(leader *Raft, servers []*Raft) []*Raft {
	var out []*Raft
	for _, s := range servers {
		if s != leader {
			out = append(out, s)
		}
	}
	return out
}

// Three servers over mutual TLS: writes replicate, followers refuse writes
// and linearizable reads, and their local reads and watches catch up.
func TestClusterReplicationOverTLS(t *testing.T) {
	servers := newCluster(t, 3, newTestCA(t), nil)
	leader := waitLeader(t, servers...)
	ctx := ctxT(t)

	members, err := leader.Servers()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 3 {
		t.Fatalf("members %+v, want 3", members)
	}
	for _, m := range members {
		if !m.Voter {
			t.Errorf("member %+v is not a voter", m)
		}
	}

	f := followers(leader, servers)[0]
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := f.Watch(wctx, "/c/", 0)
	if err != nil {
		t.Fatal(err)
	}

	kv, err := leader.Create(ctx, "/c/a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range followers(leader, servers) {
		if id, _ := s.Leader(); id != leader.ID() {
			t.Errorf("%s names leader %q, want %s", s.ID(), id, leader.ID())
		}
		if _, err := s.Create(ctx, "/c/b", nil); !errors.Is(err, ErrNotLeader) {
			t.Errorf("create on follower %s: %v, want ErrNotLeader", s.ID(), err)
		}
		if _, err := s.Get(ctx, "/c/a"); !errors.Is(err, ErrNotLeader) {
			t.Errorf("get on follower %s: %v, want ErrNotLeader", s.ID(), err)
		}
		if _, err := s.List(ctx, "/c/", ListOptions{}); !errors.Is(err, ErrNotLeader) {
			t.Errorf("list on follower %s: %v, want ErrNotLeader", s.ID(), err)
		}
		if err := s.AddVoter(ctx, "x", "127.0.0.1:1"); !errors.Is(err, ErrNotLeader) {
			t.Errorf("add voter on follower %s: %v, want ErrNotLeader", s.ID(), err)
		}
		eventually(t, "follower "+s.ID()+" catches up", func() error {
			got, err := s.GetLocal("/c/a")
			if err != nil {
				return err
			}
			if got.Revision != kv.Revision {
				return fmt.Errorf("revision %d, want %d", got.Revision, kv.Revision)
			}
			return nil
		})
		l, err := s.ListLocal("/c/", ListOptions{Revision: kv.Revision})
		if err != nil || len(l.KVs) != 1 {
			t.Errorf("local list on %s at %d: %+v, %v", s.ID(), kv.Revision, l, err)
		}
	}
	if ev := collect(t, watch, 1)[0]; ev.KV.Key != "/c/a" || ev.KV.Revision != kv.Revision {
		t.Errorf("follower watch got %+v, want /c/a at %d", ev, kv.Revision)
	}
	if got := <-leader.LeaderChanges(); !got {
		t.Error("leader's LeaderChanges starts with false")
	}
	if got := <-f.LeaderChanges(); got {
		t.Error("follower's LeaderChanges starts with true")
	}
}

// The stream layer accepts only peers with a certificate from the cluster's CA.
func TestStreamLayerMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	srvTLS, err := mutualTLS(ca.tlsConfig(t, "server"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newStreamLayer("127.0.0.1:0", "", srvTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1)
				if _, err := c.Read(buf); err == nil {
					c.Write(buf) // echo one byte to a peer that passed the handshake
				}
			}()
		}
	}()

	noCert := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS13}
	other := newTestCA(t).tlsConfig(t, "intruder")
	other.RootCAs = ca.pool // trusts the server, but the server does not trust it
	tests := []struct {
		name   string
		client *tls.Config
		mutual bool // complete the config as Open does
		ok     bool
	}{
		{"same CA", ca.tlsConfig(t, "peer"), true, true},
		{"other CA", other, true, false},
		{"no certificate", noCert, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.client
			if tt.mutual {
				if cfg, err = mutualTLS(cfg); err != nil {
					t.Fatal(err)
				}
			}
			cli := &streamLayer{tls: cfg, blocked: map[string]bool{}, conns: map[string]map[net.Conn]struct{}{}}
			err := echo(cli, srv.Addr().String())
			if tt.ok && err != nil {
				t.Errorf("trusted peer: %v", err)
			}
			if !tt.ok && err == nil {
				t.Error("untrusted peer got through")
			}
		})
	}
}

func echo(s *streamLayer, addr string) error {
	c, err := s.Dial(raft.ServerAddress(addr), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(patience))
	if _, err := c.Write([]byte{7}); err != nil {
		return err
	}
	buf := make([]byte, 1)
	if _, err := c.Read(buf); err != nil {
		return err
	}
	if buf[0] != 7 {
		return fmt.Errorf("echo %d", buf[0])
	}
	return nil
}

// The leader is killed (closed without leaving) in the middle of a stream
// of writes: a new leader is elected and holds every acknowledged write.
func TestLeaderKillKeepsAcknowledgedWrites(t *testing.T) {
	servers := newCluster(t, 3, newTestCA(t), nil)
	first := waitLeader(t, servers...)
	ctx := ctxT(t)

	var mu sync.Mutex
	acked := map[string]string{}
	var live = servers
	ackedN := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			cands := live
			mu.Unlock()
			for _, s := range cands {
				if !s.IsLeader() {
					continue
				}
				key, val := fmt.Sprintf("/k/%05d", i), fmt.Sprint("v", i)
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := s.Create(wctx, key, []byte(val))
				cancel()
				if err == nil {
					mu.Lock()
					acked[key] = val
					mu.Unlock()
				}
				break
			}
			if len(cands) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()

	eventually(t, "writes before the kill", func() error {
		if n := ackedN(); n < 50 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})
	mu.Lock()
	live = followers(first, servers)
	mu.Unlock()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	atKill := ackedN()
	next := waitLeader(t, live...)
	eventually(t, "writes on the new leader", func() error {
		if n := ackedN(); n < atKill+50 {
			return fmt.Errorf("%d acknowledged, %d at the kill", n, atKill)
		}
		return nil
	})
	close(stop)
	<-done

	if next == first {
		t.Fatal("the killed server is still the leader")
	}
	res, err := next.List(ctx, "/k/", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, kv := range res.KVs {
		have[kv.Key] = string(kv.Value)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, v := range acked {
		if have[k] != v {
			t.Errorf("acknowledged %s=%s, new leader has %q", k, v, have[k])
		}
	}
	t.Logf("%d acknowledged writes, %d at the kill, %d keys on the new leader", len(acked), atKill, len(have))
}

// partition cuts the network between groups a and b both ways.
func partition(a, b []*Raft) {
	for _, x := range a {
		for _, y := range b {
			x.stream.block(y.Addr())
			y.stream.block(x.Addr())
		}
	}
}

func heal(servers []*Raft) {
	for _, s := range servers {
		s.stream.unblockAll()
	}
}

// A leader cut off from the majority cannot commit; the majority elects a
// new leader and goes on; after healing, the old leader follows and its
// uncommitted write is gone.
func TestPartitionedMinorityCannotCommit(t *testing.T) {
	servers := newCluster(t, 3, nil, nil)
	old := waitLeader(t, servers...)
	majority := followers(old, servers)
	ctx := ctxT(t)
	if _, err := old.Create(ctx, "/m/before", []byte("1")); err != nil {
		t.Fatal(err)
	}

	partition([]*Raft{old}, majority)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := old.Create(wctx, "/m/minority", []byte("lost"))
	cancel()
	if err == nil {
		t.Fatal("the partitioned leader acknowledged a write")
	}
	if _, err := old.Get(ctx, "/m/before"); err == nil {
		t.Error("the partitioned leader served a linearizable read")
	}

	leader := waitLeader(t, majority...)
	if _, err := leader.Create(ctx, "/m/majority", []byte("2")); err != nil {
		t.Fatal(err)
	}

	heal(servers)
	eventually(t, "old leader catches up", func() error {
		_, err := old.GetLocal("/m/majority")
		return err
	})
	if _, err := old.GetLocal("/m/minority"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old leader still has the minority write: %v", err)
	}
	leader = waitLeader(t, servers...)
	if _, err := leader.Get(ctx, "/m/minority"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the minority write is in the cluster: %v", err)
	}
	for _, k := range []string{"/m/before", "/m/majority"} {
		if _, err := leader.Get(ctx, k); err != nil {
			t.Errorf("get %s: %v", k, err)
		}
	}
}

// A follower cut off while the leader compacts its log behind a snapshot
// catches up by installing the snapshot; its open watches end, since they
// cannot show the writes folded into it.
func TestFollowerCatchesUpFromSnapshot(t *testing.T) {
	servers := newCluster(t, 3, nil, func(c *Config) {
		c.SnapshotThreshold, c.TrailingLogs, c.SnapshotInterval = 16, 4, 50*time.Millisecond
	})
	leader := waitLeader(t, servers...)
	lag := followers(leader, servers)[0]
	ctx := ctxT(t)
	if _, err := leader.Create(ctx, "/f/first", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "follower has the first write", func() error {
		_, err := lag.GetLocal("/f/first")
		return err
	})
	watch, err := lag.Watch(ctx, "/f/", 0)
	if err != nil {
		t.Fatal(err)
	}

	partition([]*Raft{lag}, followers(lag, servers))
	for i := 0; i < 100; i++ {
		if _, err := leader.Create(ctx, fmt.Sprintf("/f/%03d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "leader compacts its log", func() error {
		if first, _ := leader.bolt.FirstIndex(); first <= lag.Revision() {
			return fmt.Errorf("leader's log starts at %d, follower is at %d", first, lag.Revision())
		}
		return nil
	})
	heal(servers)

	want, err := leader.List(ctx, "/f/", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "follower installs the snapshot", func() error {
		got, err := lag.ListLocal("/f/", ListOptions{Revision: want.Revision})
		if err != nil {
			return err
		}
		if len(got.KVs) != len(want.KVs) {
			return fmt.Errorf("%d keys, want %d", len(got.KVs), len(want.KVs))
		}
		return nil
	})
	closed(t, watch)
}

func TestStreamLayerAddresses(t *testing.T) {
	tests := []struct {
		bind, advertise string
		want            string // "" when Open must refuse
	}{
		{"127.0.0.1:0", "", "127.0.0.1:"},
		{"127.0.0.1:0", "127.0.0.1:7000", "127.0.0.1:7000"},
		{"0.0.0.0:0", "", ""},
		{"0.0.0.0:0", "0.0.0.0:7000", ""},
		{"0.0.0.0:0", "127.0.0.1:7000", "127.0.0.1:7000"},
	}
	for _, tt := range tests {
		t.Run(tt.bind+" "+tt.advertise, func(t *testing.T) {
			s, err := newStreamLayer(tt.bind, tt.advertise, nil)
			if tt.want == "" {
				if err == nil {
					s.Close()
					t.Fatalf("accepted; a wildcard cannot be advertised to peers")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Addr().String(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("address %s, want %s...", got, tt.want)
			}
		})
	}
}
