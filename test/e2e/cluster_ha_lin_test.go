package e2e

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability model of TestClusterHA: each Lease is a register whose value is
// spec.holderIdentity at a revision (metadata.resourceVersion). Clients read it (GET)
// and compare-and-set it (PUT carrying the resourceVersion they read; 409 = the CAS
// failed). Every write writes a value no other write uses.

type linInput struct {
	key    string
	cas    bool   // false: a read
	expect uint64 // the CAS's resourceVersion
	value  string // the CAS's new value
}

type linOutput struct {
	value    string // read
	rev      uint64 // read, or a successful CAS's new revision
	conflict bool   // the CAS got 409
	unknown  bool   // the CAS's outcome is unknown (timeout, cut connection, 5xx)
}

// linState is a register; rev 0 means its revision is not known (at the start, and
// after a write of unknown outcome took effect).
type linState struct {
	value string
	rev   uint64
}

var leaseRegisterModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(linInput).key
			if by[k] == nil {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() interface{} { return linState{value: "init"} },
	Step: func(st, in, out interface{}) (bool, interface{}) {
		s, i, o := st.(linState), in.(linInput), out.(linOutput)
		matches := func(rev uint64) bool { return s.rev == 0 || s.rev == rev }
		switch {
		case !i.cas:
			if s.value == o.value && matches(o.rev) {
				return true, linState{value: o.value, rev: o.rev}
			}
			return false, s
		case o.unknown:
			// Taking effect is one possibility; not taking effect is covered by the
			// checker placing the operation last (its return is at infinity).
			if matches(i.expect) {
				return true, linState{value: i.value}
			}
			return true, s
		case o.conflict:
			return s.rev == 0 || s.rev != i.expect, s
		default:
			if matches(i.expect) && o.rev > s.rev {
				return true, linState{value: i.value, rev: o.rev}
			}
			return false, s
		}
	},
	DescribeOperation: func(in, out interface{}) string {
		i, o := in.(linInput), out.(linOutput)
		switch {
		case !i.cas:
			return fmt.Sprintf("get(%s) -> %s@%d", i.key, o.value, o.rev)
		case o.unknown:
			return fmt.Sprintf("cas(%s, @%d -> %s) -> ?", i.key, i.expect, i.value)
		case o.conflict:
			return fmt.Sprintf("cas(%s, @%d -> %s) -> 409", i.key, i.expect, i.value)
		}
		return fmt.Sprintf("cas(%s, @%d -> %s) -> @%d", i.key, i.expect, i.value, o.rev)
	},
	DescribeState: func(st interface{}) string {
		s := st.(linState)
		return fmt.Sprintf("%s@%d", s.value, s.rev)
	},
}

// history records operations from concurrent clients, timed on one monotonic clock.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	ids   int
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// clientID numbers a client "process"; a client whose write ended unknown goes on as a
// new one, as Jepsen does, since the unknown operation never returns.
func (h *history) clientID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids++
	return h.ids - 1
}

func (h *history) add(client int, in linInput, call int64, out linOutput, ret int64) {
	if out.unknown {
		ret = math.MaxInt64
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

func (h *history) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

func (h *history) snapshot() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

// TestLeaseRegisterModel shows the checker TestClusterHA relies on telling good
// histories from bad ones.
func TestLeaseRegisterModel(t *testing.T) {
	read := func(c int, call, ret int64, v string, rev uint64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: linInput{key: "k"}, Call: call, Output: linOutput{value: v, rev: rev}, Return: ret}
	}
	cas := func(c int, call, ret int64, expect uint64, v string, out linOutput) porcupine.Operation {
		if out.unknown {
			ret = math.MaxInt64
		}
		return porcupine.Operation{ClientId: c, Input: linInput{key: "k", cas: true, expect: expect, value: v}, Call: call, Output: out, Return: ret}
	}
	tests := []struct {
		name string
		ops  []porcupine.Operation
		ok   bool
	}{
		{"read, cas, read", []porcupine.Operation{
			read(0, 0, 1, "init", 5), cas(0, 2, 3, 5, "a", linOutput{rev: 7}), read(1, 4, 5, "a", 7)}, true},
		{"a read after an acknowledged cas sees the old value (stale read)", []porcupine.Operation{
			read(0, 0, 1, "init", 5), cas(0, 2, 3, 5, "a", linOutput{rev: 7}), read(1, 4, 5, "init", 5)}, false},
		{"a read concurrent with the cas may see either", []porcupine.Operation{
			read(0, 0, 1, "init", 5), cas(0, 2, 6, 5, "a", linOutput{rev: 7}), read(1, 3, 4, "init", 5)}, true},
		{"two cas from the same revision both succeed (lost update)", []porcupine.Operation{
			read(0, 0, 1, "init", 5), read(1, 0, 1, "init", 5),
			cas(0, 2, 3, 5, "a", linOutput{rev: 7}), cas(1, 2, 4, 5, "b", linOutput{rev: 8})}, false},
		{"the second cas from the same revision gets 409", []porcupine.Operation{
			read(0, 0, 1, "init", 5), read(1, 0, 1, "init", 5),
			cas(0, 2, 3, 5, "a", linOutput{rev: 7}), cas(1, 2, 4, 5, "b", linOutput{conflict: true})}, true},
		{"a cas of unknown outcome that took effect", []porcupine.Operation{
			read(0, 0, 1, "init", 5), cas(0, 2, 3, 5, "a", linOutput{unknown: true}), read(1, 10, 11, "a", 9)}, true},
		{"a cas of unknown outcome that did not take effect", []porcupine.Operation{
			read(0, 0, 1, "init", 5), cas(0, 2, 3, 5, "a", linOutput{unknown: true}), read(1, 10, 11, "init", 5)}, true},
		{"a 409 although the revision matched", []porcupine.Operation{
			read(0, 0, 1, "init", 5), cas(0, 2, 3, 5, "a", linOutput{conflict: true}), read(0, 4, 5, "init", 5)}, false},
		{"an acknowledged cas lost", []porcupine.Operation{
			read(0, 0, 1, "init", 5), cas(0, 2, 3, 5, "a", linOutput{rev: 7}), read(0, 4, 5, "init", 5)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := porcupine.CheckOperationsTimeout(leaseRegisterModel, tt.ops, 10*time.Second)
			if got := res == porcupine.Ok; got != tt.ok {
				t.Errorf("linearizable = %v (%s), want %v", got, res, tt.ok)
			}
		})
	}
}
