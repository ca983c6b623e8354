package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

func TestServerCRUDAndCAS(t *testing.T) {
	s := openServer(t, Config{ID: "s0", Bootstrap: true})
	waitLeader(t, s)
	ctx := ctxT(t)

	a, err := s.Create(ctx, "/pods/a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Revision == 0 || a.CreateRevision != a.Revision || string(a.Value) != "1" {
		t.Fatalf("create: %+v", a)
	}
	tests := []struct {
		name    string
		do      func() (KV, error)
		wantErr error
		check   func(KV) bool
	}{
		{"create existing", func() (KV, error) { return s.Create(ctx, "/pods/a", []byte("x")) }, ErrExists, nil},
		{"update stale", func() (KV, error) { return s.Update(ctx, "/pods/a", []byte("x"), a.Revision+100) }, ErrConflict, nil},
		{"update missing", func() (KV, error) { return s.Update(ctx, "/pods/none", []byte("x"), 0) }, ErrNotFound, nil},
		{"delete missing", func() (KV, error) { return s.Delete(ctx, "/pods/none", 0) }, ErrNotFound, nil},
		{"get missing", func() (KV, error) { return s.Get(ctx, "/pods/none") }, ErrNotFound, nil},
		{"update at revision", func() (KV, error) { return s.Update(ctx, "/pods/a", []byte("2"), a.Revision) }, nil,
			func(kv KV) bool {
				return kv.Revision > a.Revision && kv.CreateRevision == a.Revision && string(kv.Value) == "2"
			}},
		{"get sees update", func() (KV, error) { return s.Get(ctx, "/pods/a") }, nil,
			func(kv KV) bool { return string(kv.Value) == "2" && kv.CreateRevision == a.Revision }},
		{"delete with old revision", func() (KV, error) { return s.Delete(ctx, "/pods/a", a.Revision) }, ErrConflict, nil},
		{"unconditional update", func() (KV, error) { return s.Update(ctx, "/pods/a", []byte("3"), 0) }, nil,
			func(kv KV) bool { return string(kv.Value) == "3" }},
		{"delete", func() (KV, error) { return s.Delete(ctx, "/pods/a", 0) }, nil,
			func(kv KV) bool { return string(kv.Value) == "3" && kv.Revision == s.Revision() }},
		{"get deleted", func() (KV, error) { return s.Get(ctx, "/pods/a") }, ErrNotFound, nil},
	}
	for _, tt := range tests {
		kv, err := tt.do()
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("%s: err %v, want %v", tt.name, err, tt.wantErr)
		}
		if tt.check != nil && !tt.check(kv) {
			t.Fatalf("%s: unexpected %+v", tt.name, kv)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Create(cancelled, "/pods/b", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("create with an ended context: %v, want context.Canceled", err)
	}
	if _, err := s.Get(cancelled, "/pods/a"); !errors.Is(err, context.Canceled) {
		t.Errorf("get with an ended context: %v, want context.Canceled", err)
	}
}

// A client pages through a prefix at the first page's revision while
// writers change it; the pages together must be exactly the state at that
// revision, which is rebuilt independently from the initial list and the
// watch feed.
func TestListPagesAtOneRevisionDuringWrites(t *testing.T) {
	s := openServer(t, Config{ID: "s0", Bootstrap: true})
	waitLeader(t, s)
	ctx := ctxT(t)
	for i := 0; i < 60; i++ {
		if _, err := s.Create(ctx, fmt.Sprintf("/p/%03d", i), []byte("v0")); err != nil {
			t.Fatal(err)
		}
	}
	base, err := s.List(ctx, "/p/", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(base.KVs) != 60 {
		t.Fatalf("listed %d keys, want 60", len(base.KVs))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("/p/%03d", rng.Intn(80))
				switch rng.Intn(3) {
				case 0:
					s.Create(ctx, k, []byte(fmt.Sprint("c", w, n)))
				case 1:
					s.Update(ctx, k, []byte(fmt.Sprint("u", w, n)), 0)
				case 2:
					s.Delete(ctx, k, 0)
				}
			}
		}(w)
	}

	// Let the writers get going so the pages straddle writes.
	first := s.Revision()
	eventually(t, "concurrent writes", func() error {
		if s.Revision() < first+10 {
			return errors.New("writers have not written yet")
		}
		return nil
	})
	var got []KV
	opts := ListOptions{Limit: 7}
	pages := 0
	for {
		page, err := s.List(ctx, "/p/", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.KVs...)
		if !page.More {
			break
		}
		opts.Revision = page.Revision
		opts.After = page.KVs[len(page.KVs)-1].Key
		// Make sure writes land between pages.
		rev := s.Revision()
		eventually(t, "writes between pages", func() error {
			if s.Revision() <= rev {
				return errors.New("no write yet")
			}
			return nil
		})
	}
	close(stop)
	wg.Wait()
	at := opts.Revision
	if pages < 3 || at == 0 {
		t.Fatalf("%d pages at revision %d; the test wants several", pages, at)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].Key < got[j].Key }) {
		t.Fatalf("pages not in key order: %v", keys(got))
	}

	// Rebuild the state at `at`: the base list plus the watch feed up to it.
	want := map[string]KV{}
	for _, kv := range base.KVs {
		want[kv.Key] = kv
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, "/p/", base.Revision)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range ch {
		if ev.KV.Revision > at {
			break
		}
		if ev.Type == Delete {
			delete(want, ev.KV.Key)
		} else {
			want[ev.KV.Key] = ev.KV
		}
	}
	gotMap := map[string]KV{}
	for _, kv := range got {
		gotMap[kv.Key] = kv
	}
	if !reflect.DeepEqual(gotMap, want) {
		t.Errorf("pages at %d:\n%v\nwant\n%v", at, gotMap, want)
	}
}

func TestServerWatch(t *testing.T) {
	s := openServer(t, Config{ID: "s0", Bootstrap: true, WatchWindow: 20, WatchBuffer: 2})
	waitLeader(t, s)
	ctx := ctxT(t)
	var revs []uint64
	for i := 0; i < 5; i++ {
		kv, err := s.Create(ctx, fmt.Sprintf("/w/%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, kv.Revision)
	}

	t.Run("from a revision, in order, then live", func(t *testing.T) {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch, err := s.Watch(wctx, "/w/", revs[1])
		if err != nil {
			t.Fatal(err)
		}
		u, err := s.Update(ctx, "/w/0", []byte("x"), 0)
		if err != nil {
			t.Fatal(err)
		}
		evs := collect(t, ch, 4)
		var got []uint64
		for _, ev := range evs {
			got = append(got, ev.KV.Revision)
		}
		if want := append(append([]uint64{}, revs[2:]...), u.Revision); !reflect.DeepEqual(got, want) {
			t.Errorf("revisions %v, want %v", got, want)
		}
		if evs[3].Prev == nil || evs[3].Prev.Revision != revs[0] {
			t.Errorf("update event %+v, want prev at %d", evs[3], revs[0])
		}
		cancel()
		closed(t, ch)
	})
	t.Run("compacted", func(t *testing.T) {
		for i := 0; i < 25; i++ {
			if _, err := s.Update(ctx, "/w/1", []byte{byte(i)}, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Watch(ctx, "/w/", revs[0]); !errors.Is(err, ErrCompacted) {
			t.Errorf("watch from %d: %v, want ErrCompacted", revs[0], err)
		}
		if _, err := s.List(ctx, "/w/", ListOptions{Revision: revs[0]}); !errors.Is(err, ErrCompacted) {
			t.Errorf("list at %d: %v, want ErrCompacted", revs[0], err)
		}
	})
	t.Run("slow watcher closed", func(t *testing.T) {
		ch, err := s.Watch(ctx, "/w/", 0)
		if err != nil {
			t.Fatal(err)
		}
		// The reader never reads: past its channel and a queue of 2, the watch ends.
		for i := 0; i < 100; i++ {
			if _, err := s.Update(ctx, "/w/2", []byte{byte(i)}, 0); err != nil {
				t.Fatal(err)
			}
		}
		closed(t, ch)
	})
}

// Restarting a server on its directory keeps its data and revisions, and
// Bootstrap on an existing directory is a no-op.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	s := openServer(t, Config{ID: "s0", Dir: dir, Bootstrap: true})
	waitLeader(t, s)
	ctx := ctxT(t)
	for i := 0; i < 20; i++ {
		if _, err := s.Create(ctx, fmt.Sprintf("/r/%02d", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Update(ctx, "/r/03", []byte("updated"), 0)
	s.Delete(ctx, "/r/04", 0)
	before, err := s.List(ctx, "/r/", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openServer(t, Config{ID: "s0", Dir: dir, BindAddr: addr, Bootstrap: true})
	waitLeader(t, s)
	after, err := s.List(ctx, "/r/", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after.KVs, before.KVs) || after.Revision < before.Revision {
		t.Errorf("after restart %v at %d, want %v at %d", after.KVs, after.Revision, before.KVs, before.Revision)
	}
	if _, err := s.Create(ctx, "/r/new", nil); err != nil {
		t.Errorf("write after restart: %v", err)
	}
}

// With a small snapshot threshold the log is compacted behind a snapshot;
// a restart restores the snapshot and replays the log after it.
func TestSnapshotRestoreOnRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{ID: "s0", Dir: dir, Bootstrap: true, SnapshotThreshold: 16, TrailingLogs: 4, SnapshotInterval: 50e6}
	s := openServer(t, cfg)
	waitLeader(t, s)
	ctx := ctxT(t)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := s.Create(ctx, fmt.Sprintf("/s/%03d", i), []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 100)
	eventually(t, "automatic snapshot", func() error {
		if st := s.raft.Stats(); st["last_snapshot_index"] == "0" {
			return fmt.Errorf("no snapshot yet: %v", st)
		}
		return nil
	})
	snapIndex := s.raft.Stats()["last_snapshot_index"]
	// Some writes after the snapshot, which come back from the log.
	write(100, 103)
	before, err := s.List(ctx, "/s/", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "snapshots")); len(entries) == 0 {
		t.Fatal("no snapshot on disk")
	}

	cfg.BindAddr = s.Addr()
	s = openServer(t, cfg)
	if first, _ := s.bolt.FirstIndex(); first <= 1 {
		t.Errorf("log starts at %d: it was not compacted behind the snapshot at %s", first, snapIndex)
	}
	waitLeader(t, s)
	after, err := s.List(ctx, "/s/", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.KVs) != 103 || !reflect.DeepEqual(after.KVs, before.KVs) {
		t.Errorf("after restore %d keys, want the %d from before", len(after.KVs), len(before.KVs))
	}
	// The window starts at the restored snapshot.
	if _, err := s.Watch(ctx, "/s/", 1); !errors.Is(err, ErrCompacted) {
		t.Errorf("watch from 1 after restore: %v, want ErrCompacted", err)
	}
}

// failingLogs fails every write to the log while fail is set.
type failingLogs struct {
	raft.LogStore
	mu   sync.Mutex
	fail bool
}

var errDisk = errors.New("input/output error")

func (l *failingLogs) setFail(v bool) { l.mu.Lock(); l.fail = v; l.mu.Unlock() }

func (l *failingLogs) StoreLogs(logs []*raft.Log) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return errDisk
	}
	return l.LogStore.StoreLogs(logs)
}

func (l *failingLogs) StoreLog(log *raft.Log) error { return l.StoreLogs([]*raft.Log{log}) }

func TestFailingDiskIsAnError(t *testing.T) {
	logs := &failingLogs{}
	s := openServer(t, Config{ID: "s0", Bootstrap: true, wrapLogStore: func(ls raft.LogStore) raft.LogStore {
		logs.LogStore = ls
		return logs
	}})
	waitLeader(t, s)
	ctx := ctxT(t)
	logs.setFail(true)
	_, err := s.Create(ctx, "/d/1", nil)
	// raft reports the log store's error as text, not wrapped.
	if err == nil || !strings.Contains(err.Error(), errDisk.Error()) {
		t.Fatalf("create on a failing disk: %v, want the disk's error", err)
	}
	logs.setFail(false)
	eventually(t, "write after the disk recovers", func() error {
		_, err := s.Create(ctx, "/d/2", nil)
		return err
	})
}
