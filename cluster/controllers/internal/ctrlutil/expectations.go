package ctrlutil

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a controller waits for its own writes to
// show up in the informer cache before it syncs anyway (a watch event can be
// lost when the watch restarts).
const expectationsTTL = 5 * time.Minute

// Expectations records, per controller key, how many creations and which
// deletions the controller made that its informer has not reported yet.
// While any are outstanding, a sync would see a stale cache and create or
// delete twice, so it waits.
type Expectations struct {
	mu sync.Mutex
	m  map[string]*expect
}

type expect struct {
	adds    int
	deletes map[string]bool // pod keys
	at      time.Time
}

func NewExpectations() *Expectations { return &Expectations{m: map[string]*expect{}} }

// Satisfied reports whether key has no outstanding writes (or they expired).
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if (x.adds <= 0 && len(x.deletes) == 0) || time.Since(x.at) > expectationsTTL {
		delete(e.m, key)
		return true
	}
	return false
}

// ExpectCreations records n creations about to be made.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds += n
}

// ExpectDeletions records the pod keys about to be deleted.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	for _, k := range podKeys {
		x.deletes[k] = true
	}
}

// CreationObserved lowers the outstanding creations of key by one (the
// informer saw a pod, or a create failed).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved drops podKey from key's outstanding deletions.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletes, podKey)
	}
}

// Forget drops everything for key (its controller object is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

func (e *Expectations) get(key string) *expect {
	x, ok := e.m[key]
	if !ok {
		x = &expect{deletes: map[string]bool{}}
		e.m[key] = x
	}
	x.at = time.Now()
	return x
}
