package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The history of a test run, checked against a sequential model of one key
// with porcupine.

type opKind int

const (
	opGet opKind = iota
	opPut        // Create
	opCAS        // Update at an expected revision
	opDel        // Delete at an expected revision (0: any)
)

type linInput struct {
	kind   opKind
	key    string
	value  string
	expect uint64
}

// linOutput is what the store answered; unknown when the outcome of a write
// is not known (timeout, leadership lost), so it may or may not have happened.
type linOutput struct {
	unknown bool
	err     error // nil, ErrNotFound, ErrExists or ErrConflict
	value   string
	rev     uint64
}

// keyState is the model's state of one key. rev 0 with exists set means a
// write of unknown outcome took effect: its revision is not known.
type keyState struct {
	exists bool
	value  string
	rev    uint64
}

var keyModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(linInput).key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() interface{} { return keyState{} },
	Step: func(st, in, out interface{}) (bool, interface{}) {
		s, i, o := st.(keyState), in.(linInput), out.(linOutput)
		if o.unknown {
			// Only writes are recorded with an unknown outcome. Taking effect
			// is one possibility; the checker tries not taking effect too by
			// linearizing the operation last (its return is at infinity).
			switch i.kind {
			case opPut:
				if !s.exists {
					return true, keyState{exists: true, value: i.value}
				}
			case opCAS:
				if s.exists && (s.rev == 0 || s.rev == i.expect) {
					return true, keyState{exists: true, value: i.value}
				}
			case opDel:
				if s.exists && (i.expect == 0 || s.rev == 0 || s.rev == i.expect) {
					return true, keyState{}
				}
			}
			return true, s
		}
		revOK := func(rev uint64) bool { return s.rev == 0 || s.rev == rev }
		switch i.kind {
		case opGet:
			if errors.Is(o.err, ErrNotFound) {
				return !s.exists, s
			}
			if s.exists && s.value == o.value && revOK(o.rev) {
				return true, keyState{exists: true, value: s.value, rev: o.rev}
			}
		case opPut:
			if errors.Is(o.err, ErrExists) {
				return s.exists, s
			}
			if o.err == nil && !s.exists && o.rev > s.rev {
				return true, keyState{exists: true, value: i.value, rev: o.rev}
			}
		case opCAS, opDel:
			switch {
			case errors.Is(o.err, ErrNotFound):
				return !s.exists, s
			case errors.Is(o.err, ErrConflict):
				return s.exists && (s.rev == 0 || s.rev != i.expect), s
			case o.err == nil && s.exists && (i.kind == opDel && i.expect == 0 || revOK(i.expect)):
				if i.kind == opDel {
					return o.value == s.value, keyState{}
				}
				return true, keyState{exists: true, value: i.value, rev: o.rev}
			}
		}
		return false, s
	},
	Equal: func(a, b interface{}) bool { return a.(keyState) == b.(keyState) },
	DescribeOperation: func(in, out interface{}) string {
		return fmt.Sprintf("%+v -> %+v", in, out)
	},
}

// recorder collects a concurrent history.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

func (r *recorder) add(client int, in linInput, call int64, out linOutput) {
	ret := r.now()
	if out.unknown {
		ret = math.MaxInt64
	}
	r.mu.Lock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	r.mu.Unlock()
}

// Clients read and write a few keys on whichever server leads while the
// leader is repeatedly cut off from the others; the history of every
// answered operation must be linearizable.
func TestLinearizableUnderPartitions(t *testing.T) {
	servers := newCluster(t, 3, nil, nil)
	waitLeader(t, servers...)
	ctx := ctxT(t)
	rec := &recorder{start: time.Now()}
	keys := []string{"/lin/a", "/lin/b", "/lin/c"}

	leaderOf := func() *Raft {
		for _, s := range servers {
			if s.IsLeader() {
				return s
			}
		}
		return nil
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(client int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(client)))
			lastRev := map[string]uint64{}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				s := leaderOf()
				if s == nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				in := linInput{kind: opKind(rng.Intn(4)), key: keys[rng.Intn(len(keys))], value: fmt.Sprintf("c%d-%d", client, n)}
				if in.kind == opCAS || in.kind == opDel {
					in.expect = lastRev[in.key]
					if in.kind == opCAS && in.expect == 0 {
						in.expect = 1 // a revision no key has: a conflict or not found
					}
				}
				octx, cancel := context.WithTimeout(ctx, 2*time.Second)
				call := rec.now()
				var kv KV
				var err error
				switch in.kind {
				case opGet:
					kv, err = s.Get(octx, in.key)
				case opPut:
					kv, err = s.Create(octx, in.key, []byte(in.value))
				case opCAS:
					kv, err = s.Update(octx, in.key, []byte(in.value), in.expect)
				case opDel:
					kv, err = s.Delete(octx, in.key, in.expect)
				}
				cancel()
				out := linOutput{value: string(kv.Value), rev: kv.Revision}
				switch {
				case err == nil:
					if in.kind != opDel {
						lastRev[in.key] = kv.Revision
					}
				case errors.Is(err, ErrNotFound), errors.Is(err, ErrExists), errors.Is(err, ErrConflict):
					out = linOutput{err: errors.Unwrap(err)}
					for _, sentinel := range []error{ErrNotFound, ErrExists, ErrConflict} {
						if errors.Is(err, sentinel) {
							out.err = sentinel
						}
					}
				case errors.Is(err, ErrNotLeader) && !isIndeterminate(err):
					continue // refused before it was proposed: no effect, not recorded
				case in.kind == opGet:
					continue // a failed read has no effect
				default:
					out = linOutput{unknown: true}
				}
				rec.add(client, in, call, out)
			}
		}(c)
	}

	// Cut the leader off a few times; each time the majority elects another.
	for round := 0; round < 3; round++ {
		time.Sleep(500 * time.Millisecond)
		l := waitLeader(t, servers...)
		partition([]*Raft{l}, followers(l, servers))
		waitLeader(t, followers(l, servers)...)
		time.Sleep(300 * time.Millisecond)
		heal(servers)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	answered := 0
	for _, op := range rec.ops {
		if !op.Output.(linOutput).unknown {
			answered++
		}
	}
	if answered < 100 {
		t.Fatalf("only %d answered operations; too few to judge", answered)
	}
	res, info := porcupine.CheckOperationsVerbose(keyModel, rec.ops, 2*time.Minute)
	switch res {
	case porcupine.Ok:
		t.Logf("%d operations (%d answered) linearizable", len(rec.ops), answered)
	case porcupine.Illegal:
		for _, part := range info.PartialLinearizationsOperations() {
			if len(part) > 0 {
				t.Logf("longest linearizable prefix ends with: %+v", part[0][len(part[0])-1])
			}
		}
		t.Fatalf("history of %d operations is not linearizable", len(rec.ops))
	default:
		t.Fatalf("porcupine could not decide on %d operations in time", len(rec.ops))
	}
}

// isIndeterminate says a write may have been proposed before it failed.
func isIndeterminate(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
