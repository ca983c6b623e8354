package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/shim"
)

// container is the daemon's live handle on one container. rec is guarded by mu; every
// change to it is persisted with d.save before the lock is released (start encodes it
// under the lock and commits it while the process starts: saveAsync).
type container struct {
	mu  sync.Mutex
	rec *record

	// exited is closed when the current run ends; start replaces it.
	exited chan struct{}
	// removed is closed once the container is gone.
	removed chan struct{}
	// busy serialises lifecycle operations (start, stop, restart, remove).
	busy sync.Mutex
	// stopHealth ends the health checker of the current run.
	stopHealth func()
	// restartCancel, when set, cancels a pending restart by policy.
	restartCancel chan struct{}
	// backoff is the delay before the next restart by policy.
	backoff time.Duration
}

func newContainer(rec *record) *container {
	c := &container{rec: rec, exited: make(chan struct{}), removed: make(chan struct{})}
	if rec.State.Status != api.StatusRunning && rec.State.Status != api.StatusPaused {
		close(c.exited)
	}
	return c
}

// snapshot returns a copy of the container's API view.
func (c *container) snapshot() api.Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.Container
}

func (c *container) shim() *shim.Client {
	return &shim.Client{Bundle: c.rec.Bundle}
}

// lookup finds a container by full ID, name, or unique ID prefix.
func (d *Daemon) lookup(ref string) (*container, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ref = strings.TrimPrefix(ref, "/")
	if c, ok := d.containers[ref]; ok {
		return c, nil
	}
	if id, ok := d.names[ref]; ok {
		return d.containers[id], nil
	}
	var found *container
	if ref != "" {
		for id, c := range d.containers {
			if strings.HasPrefix(id, ref) {
				if found != nil {
					return nil, fmt.Errorf("container ID prefix %q is ambiguous: use more characters: %w", ref, errdefs.ErrInvalidArgument)
				}
				found = c
			}
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no such container: %s: %w", ref, errdefs.ErrNotFound)
	}
	return found, nil
}

// save persists c's record; a removed container stays removed.
func (d *Daemon) save(c *container) error {
	if c.isRemoved() {
		return nil
	}
	return d.store.put(c.rec)
}

// saveAsync saves c's record as it is now and commits it in the background; the channel
// gives the result. The caller holds c.mu.
func (d *Daemon) saveAsync(c *container) <-chan error {
	done := make(chan error, 1)
	if c.isRemoved() {
		done <- nil
		return done
	}
	data, err := json.Marshal(c.rec)
	if err != nil {
		done <- err
		return done
	}
	id := c.rec.ID
	go func() { done <- d.store.putJSON(id, data) }()
	return done
}

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// reserveName claims name for id; an empty name gets a generated one.
func (d *Daemon) reserveName(name, id string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if name == "" {
		for {
			name = randomName()
			if _, taken := d.names[name]; !taken {
				break
			}
		}
	}
	name = strings.TrimPrefix(name, "/")
	if !validName.MatchString(name) {
		return "", fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", name, errdefs.ErrInvalidArgument)
	}
	if other, taken := d.names[name]; taken {
		return "", fmt.Errorf("the container name %q is already in use by container %s: remove or rename that container, or choose another name: %w", name, other[:12], errdefs.ErrConflict)
	}
	d.names[name] = id
	return name, nil
}

func (d *Daemon) releaseName(name string) {
	d.mu.Lock()
	delete(d.names, name)
	d.mu.Unlock()
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// isContainerID reports whether s has the form newID gives: 64 lowercase hex digits.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

var (
	adjectives = []string{"brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lively", "merry", "nimble", "proud", "quiet", "swift", "tender", "vivid", "witty", "zealous", "bold"}
	nouns      = []string{"ada", "babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper", "jobs", "kepler", "lovelace", "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "tesla", "turing", "wozniak"}
)

func randomName() string {
	pick := func(list []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
		return list[n.Int64()]
	}
	return pick(adjectives) + "_" + pick(nouns)
}
