package apiserver

import (
	"encoding/json"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/store"
)

// eventCache decodes each stored value a watch delivers once for all watchers: every
// watcher of a prefix receives the same change, and decoding it (and its previous value,
// for selectors) and encoding it again per watcher was most of a watch's work when a
// Deployment's pods change (the scheduler, controllers and each node's agent watch
// pods). The objects are shared: whoever gets one must not change it.
type eventCache struct {
	mu   sync.Mutex
	m    map[cacheKey]*cachedObject
	ring []cacheKey // insertion order, for eviction
	next int
}

// cacheKey names one value as one kind decodes it (a kind served in two versions would
// store under one key).
type cacheKey struct {
	kind *kinds.Kind
	key  string
	rev  uint64
}

// cachedObject is a decoded value and, made on first use, its JSON as a watch sends it.
type cachedObject struct {
	obj     runtime.Object
	rawOnce sync.Once
	raw     []byte
	rawErr  error
}

// eventCacheSize is enough for the changes in flight to every watcher at once.
const eventCacheSize = 1024

func newEventCache() *eventCache {
	return &eventCache{m: make(map[cacheKey]*cachedObject, eventCacheSize), ring: make([]cacheKey, eventCacheSize)}
}

// object is kv decoded as kind k, from the cache when another watcher decoded it.
func (c *eventCache) object(k *kinds.Kind, kv store.KV) (*cachedObject, error) {
	ck := cacheKey{k, kv.Key, kv.Revision}
	c.mu.Lock()
	co := c.m[ck]
	c.mu.Unlock()
	if co != nil {
		return co, nil
	}
	obj, err := decodeKV(k, kv)
	if err != nil {
		return nil, err
	}
	co = &cachedObject{obj: obj}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[ck]; prev != nil {
		return prev, nil // decoded meanwhile by another watcher
	}
	if old := c.ring[c.next]; old.kind != nil {
		delete(c.m, old)
	}
	c.ring[c.next], c.m[ck] = ck, co
	c.next = (c.next + 1) % len(c.ring)
	return co, nil
}

// json is the object's JSON, encoded once.
func (co *cachedObject) json() ([]byte, error) {
	co.rawOnce.Do(func() { co.raw, co.rawErr = json.Marshal(co.obj) })
	return co.raw, co.rawErr
}

// watchFrame is one line of a JSON watch stream: {"type":TYPE,"object":RAW}. typ is one
// of watch's event type names, which need no escaping.
func watchFrame(typ string, raw []byte) []byte {
	b := make([]byte, 0, len(raw)+len(typ)+24)
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, typ)
	b = append(b, `,"object":`...)
	b = append(b, raw...)
	return append(b, "}\n"...)
}
