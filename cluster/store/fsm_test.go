package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// applyAt feeds one command to the state machine as raft would at index idx.
func applyAt(f *fsm, idx uint64, c command) applyResult {
	return f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: c.encode()}).(applyResult)
}

func TestFSMWrites(t *testing.T) {
	type step struct {
		c       command
		wantErr error
		want    KV // checked when wantErr is nil
	}
	create := func(k, v string) command { return command{op: opCreate, key: k, value: []byte(v)} }
	update := func(k, v string, exp uint64) command {
		return command{op: opUpdate, key: k, value: []byte(v), expect: exp}
	}
	del := func(k string, exp uint64) command { return command{op: opDelete, key: k, expect: exp} }
	tests := []struct {
		name  string
		steps []step // step i is applied at index i+1
		final map[string]KV
	}{
		{
			name: "create then create again",
			steps: []step{
				{c: create("a", "1"), want: KV{Key: "a", Value: []byte("1"), Revision: 1, CreateRevision: 1}},
				{c: create("a", "2"), wantErr: ErrExists},
			},
			final: map[string]KV{"a": {Key: "a", Value: []byte("1"), Revision: 1, CreateRevision: 1}},
		},
		{
			name: "update with the right, a stale and no revision",
			steps: []step{
				{c: create("a", "1"), want: KV{Key: "a", Value: []byte("1"), Revision: 1, CreateRevision: 1}},
				{c: update("a", "2", 1), want: KV{Key: "a", Value: []byte("2"), Revision: 2, CreateRevision: 1}},
				{c: update("a", "3", 1), wantErr: ErrConflict},
				{c: update("a", "4", 0), want: KV{Key: "a", Value: []byte("4"), Revision: 4, CreateRevision: 1}},
			},
			final: map[string]KV{"a": {Key: "a", Value: []byte("4"), Revision: 4, CreateRevision: 1}},
		},
		{
			name: "update and delete of a missing key",
			steps: []step{
				{c: update("a", "1", 0), wantErr: ErrNotFound},
				{c: del("a", 0), wantErr: ErrNotFound},
			},
			final: map[string]KV{},
		},
		{
			name: "delete with a stale then the right revision, then re-create",
			steps: []step{
				{c: create("a", "1"), want: KV{Key: "a", Value: []byte("1"), Revision: 1, CreateRevision: 1}},
				{c: del("a", 7), wantErr: ErrConflict},
				{c: del("a", 1), want: KV{Key: "a", Value: []byte("1"), Revision: 3, CreateRevision: 1}},
				{c: create("a", "2"), want: KV{Key: "a", Value: []byte("2"), Revision: 4, CreateRevision: 4}},
			},
			final: map[string]KV{"a": {Key: "a", Value: []byte("2"), Revision: 4, CreateRevision: 4}},
		},
		{
			name: "no-op changes nothing but the revision",
			steps: []step{
				{c: create("a", "1"), want: KV{Key: "a", Value: []byte("1"), Revision: 1, CreateRevision: 1}},
				{c: command{op: opNoop}},
			},
			final: map[string]KV{"a": {Key: "a", Value: []byte("1"), Revision: 1, CreateRevision: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFSM(100, 100)
			for i, s := range tt.steps {
				res := applyAt(f, uint64(i+1), s.c)
				if !errors.Is(res.err, s.wantErr) {
					t.Fatalf("step %d: err %v, want %v", i+1, res.err, s.wantErr)
				}
				if s.wantErr == nil && s.c.op != opNoop && !reflect.DeepEqual(res.kv, s.want) {
					t.Fatalf("step %d: got %+v, want %+v", i+1, res.kv, s.want)
				}
			}
			if got := f.revision(); got != uint64(len(tt.steps)) {
				t.Errorf("revision %d, want %d", got, len(tt.steps))
			}
			l, err := f.list("", ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]KV{}
			for _, kv := range l.KVs {
				got[kv.Key] = kv
			}
			if !reflect.DeepEqual(got, tt.final) {
				t.Errorf("final state %+v, want %+v", got, tt.final)
			}
		})
	}
}

func TestFSMMalformedEntryIsAnErrorNotAPanic(t *testing.T) {
	f := newFSM(10, 10)
	for i, data := range [][]byte{nil, {9, 9}, {commandVersion, byte(opCreate), 0, 200}} {
		res := f.Apply(&raft.Log{Index: uint64(i + 1), Data: data}).(applyResult)
		if !errors.Is(res.err, errBadCommand) {
			t.Errorf("entry %v: err %v, want errBadCommand", data, res.err)
		}
	}
}

func keys(kvs []KV) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, kv.Key)
	}
	return out
}

func TestFSMListAtRevision(t *testing.T) {
	f := newFSM(4, 10)
	// rev 1..3 create /a/1 /a/2 /b/1; 4 updates /a/1; 5 deletes /a/2; 6 creates /a/3
	applyAt(f, 1, command{op: opCreate, key: "/a/1", value: []byte("x")})
	applyAt(f, 2, command{op: opCreate, key: "/a/2"})
	applyAt(f, 3, command{op: opCreate, key: "/b/1"})
	applyAt(f, 4, command{op: opUpdate, key: "/a/1", value: []byte("y")})
	applyAt(f, 5, command{op: opDelete, key: "/a/2"})
	applyAt(f, 6, command{op: opCreate, key: "/a/3"})
	applyAt(f, 7, command{op: opNoop})
	// The window of 4 holds revisions 3..6; the state at 2 is the base.

	tests := []struct {
		opts     ListOptions
		want     []string
		wantRev  uint64
		wantMore bool
		wantErr  error
	}{
		{opts: ListOptions{}, want: []string{"/a/1", "/a/3"}, wantRev: 7},
		{opts: ListOptions{Revision: 4}, want: []string{"/a/1", "/a/2"}, wantRev: 4},
		{opts: ListOptions{Revision: 2}, want: []string{"/a/1", "/a/2"}, wantRev: 2},
		{opts: ListOptions{Revision: 5, Limit: 1}, want: []string{"/a/1"}, wantRev: 5, wantMore: false},
		{opts: ListOptions{Revision: 4, Limit: 1}, want: []string{"/a/1"}, wantRev: 4, wantMore: true},
		{opts: ListOptions{Revision: 4, Limit: 1, After: "/a/1"}, want: []string{"/a/2"}, wantRev: 4},
		{opts: ListOptions{Revision: 6, After: "/a/1"}, want: []string{"/a/3"}, wantRev: 6},
		{opts: ListOptions{Revision: 1}, wantErr: ErrCompacted},
		{opts: ListOptions{Revision: 8}, wantErr: ErrFutureRevision},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.opts), func(t *testing.T) {
			res, err := f.list("/a/", tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(keys(res.KVs), tt.want) || res.Revision != tt.wantRev || res.More != tt.wantMore {
				t.Errorf("got %v rev %d more %v, want %v rev %d more %v", keys(res.KVs), res.Revision, res.More, tt.want, tt.wantRev, tt.wantMore)
			}
		})
	}
	// Values are those of the revision read, not the latest.
	res, _ := f.list("/a/1", ListOptions{Revision: 3})
	if len(res.KVs) != 1 || string(res.KVs[0].Value) != "x" {
		t.Errorf("/a/1 at 3: %+v, want value x", res.KVs)
	}
}

// collect reads n events or fails when the channel closes early.
func collect(t *testing.T, ch <-chan Event, n int) []Event {
	t.Helper()
	var out []Event
	for len(out) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed after %d of %d events", len(out), n)
			}
			out = append(out, ev)
		case <-time.After(30 * time.Second):
			t.Fatalf("got %d of %d events", len(out), n)
		}
	}
	return out
}

// closed waits for ch to close, draining it.
func closed(t *testing.T, ch <-chan Event) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("watch channel not closed")
		}
	}
}

func watchFSM(t *testing.T, f *fsm, ctx context.Context, prefix string, from uint64) (<-chan Event, error) {
	w, err := f.watch(prefix, from)
	if err != nil {
		return nil, err
	}
	go w.run(ctx, f.unwatch)
	return w.ch, nil
}

func TestFSMWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFSM(5, 3)
	applyAt(f, 1, command{op: opCreate, key: "/a/1"})
	applyAt(f, 2, command{op: opCreate, key: "/b/1"})
	applyAt(f, 3, command{op: opUpdate, key: "/a/1", value: []byte("v")})

	t.Run("replay from a revision then live, in order, by prefix", func(t *testing.T) {
		ch, err := watchFSM(t, f, ctx, "/a/", 1)
		if err != nil {
			t.Fatal(err)
		}
		applyAt(f, 4, command{op: opCreate, key: "/b/2"})
		applyAt(f, 5, command{op: opDelete, key: "/a/1"})
		evs := collect(t, ch, 2)
		if evs[0].Type != Put || evs[0].KV.Revision != 3 || evs[0].Prev == nil || evs[0].Prev.Revision != 1 {
			t.Errorf("first event %+v, want the update at 3 with prev at 1", evs[0])
		}
		if evs[1].Type != Delete || evs[1].KV.Revision != 5 || string(evs[1].KV.Value) != "v" || evs[1].KV.CreateRevision != 1 {
			t.Errorf("second event %+v, want the delete at 5 carrying value v", evs[1])
		}
	})
	t.Run("from now", func(t *testing.T) {
		ch, err := watchFSM(t, f, ctx, "/b/", 0)
		if err != nil {
			t.Fatal(err)
		}
		applyAt(f, 6, command{op: opCreate, key: "/b/3"})
		if ev := collect(t, ch, 1)[0]; ev.KV.Key != "/b/3" || ev.KV.Revision != 6 {
			t.Errorf("got %+v, want /b/3 at 6", ev)
		}
	})
	t.Run("compacted", func(t *testing.T) {
		// Window 5 holds revisions 2..6: 1 is the base, so from 1 is fine and 0 means now.
		applyAt(f, 7, command{op: opCreate, key: "/c/1"})
		if _, err := f.watch("/", 1); !errors.Is(err, ErrCompacted) {
			t.Errorf("watch from 1: %v, want ErrCompacted", err)
		}
		if _, err := f.watch("/", 2); err != nil {
			t.Errorf("watch from 2: %v", err)
		}
	})
	t.Run("slow watcher is closed", func(t *testing.T) {
		ch, err := watchFSM(t, f, ctx, "/slow/", 0)
		if err != nil {
			t.Fatal(err)
		}
		// Nobody reads: the channel's buffer and then the queue (3) fill up.
		for i := 0; i < 200; i++ {
			applyAt(f, uint64(100+i), command{op: opCreate, key: fmt.Sprintf("/slow/%03d", i)})
		}
		closed(t, ch)
	})
	t.Run("ending ctx closes the channel and unregisters", func(t *testing.T) {
		nwatchers := func() int {
			f.mu.RLock()
			defer f.mu.RUnlock()
			return len(f.watchers)
		}
		before := nwatchers()
		wctx, wcancel := context.WithCancel(ctx)
		ch, err := watchFSM(t, f, wctx, "/x/", 0)
		if err != nil {
			t.Fatal(err)
		}
		wcancel()
		closed(t, ch)
		if n := nwatchers(); n != before {
			t.Errorf("%d watchers registered after the watch ended, want %d", n, before)
		}
	})
}

type bufSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufSink) Close() error  { return nil }

func TestFSMSnapshotRestore(t *testing.T) {
	f := newFSM(10, 10)
	applyAt(f, 1, command{op: opCreate, key: "/a", value: []byte("1")})
	applyAt(f, 2, command{op: opCreate, key: "/b", value: nil})
	applyAt(f, 3, command{op: opUpdate, key: "/a", value: bytes.Repeat([]byte{0, 255}, 5000)})
	applyAt(f, 4, command{op: opCreate, key: "/c"})
	applyAt(f, 5, command{op: opDelete, key: "/c"})
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	applyAt(f, 6, command{op: opCreate, key: "/after-snapshot"})
	var sink bufSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	data := sink.Bytes()

	g := newFSM(10, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wch, err := watchFSM(t, g, ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	closed(t, wch) // a watcher cannot follow across a restore

	want, _ := f.list("/", ListOptions{Revision: 5})
	got, err := g.list("/", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || got.Revision != 5 {
		t.Errorf("restored %+v, want %+v at 5", got, want)
	}
	if _, err := g.watch("/", 4); !errors.Is(err, ErrCompacted) {
		t.Errorf("watch before the snapshot: %v, want ErrCompacted", err)
	}
	if _, err := g.watch("/", 5); err != nil {
		t.Errorf("watch from the snapshot: %v", err)
	}

	for _, cut := range []int{0, 10, len(data) - 1} {
		if err := newFSM(1, 1).Restore(io.NopCloser(bytes.NewReader(data[:cut]))); err == nil {
			t.Errorf("restore of %d of %d bytes succeeded", cut, len(data))
		}
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(command{op: opUpdate, key: "/k", value: []byte("v"), expect: 300}.encode())
	f.Add([]byte{1, 2, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil {
			return
		}
		d, err := decodeCommand(c.encode())
		if err != nil || !reflect.DeepEqual(c, d) {
			t.Fatalf("re-decode of %+v: %+v, %v", c, d, err)
		}
	})
}

func FuzzReadSnapshot(f *testing.F) {
	g := newFSM(1, 1)
	applyAt(g, 1, command{op: opCreate, key: "/a", value: []byte("1")})
	snap, _ := g.Snapshot()
	var sink bufSink
	snap.Persist(&sink)
	f.Add(sink.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		readSnapshot(bytes.NewReader(b)) // must not panic
	})
}
