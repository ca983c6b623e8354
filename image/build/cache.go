package build

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

var bucketSteps = []byte("steps")

// Cache maps a step's cache key to the state the step produced (its image config and
// layers), in a bbolt file so it survives restarts. The layers it names are GC roots of
// the image store (see Roots).
type Cache struct {
	db  *bolt.DB
	dir string
}

// cacheEntry is the state after a step.
type cacheEntry struct {
	Config []byte               `json:"config"` // the image config JSON after the step
	Layers []ocispec.Descriptor `json:"layers"`
	Time   time.Time            `json:"time"`
}

// OpenCache opens (creating) the cache database in dir.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open build cache: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "cache.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open build cache: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketSteps)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open build cache: %w", err)
	}
	return &Cache{db: db, dir: dir}, nil
}

// Close closes the database.
func (c *Cache) Close() error { return c.db.Close() }

func (c *Cache) get(key digest.Digest) (*cacheEntry, bool) {
	var e cacheEntry
	found := false
	_ = c.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSteps).Get([]byte(key))
		if v != nil && json.Unmarshal(v, &e) == nil {
			found = true
		}
		return nil
	})
	return &e, found
}

func (c *Cache) put(key digest.Digest, e cacheEntry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSteps).Put([]byte(key), raw)
	})
}

// Roots lists the blobs and layer chains the cache references, for the image store's GC.
func (c *Cache) Roots() (blobs []digest.Digest, layers [][]digest.Digest, err error) {
	err = c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSteps).ForEach(func(_, v []byte) error {
			var e cacheEntry
			if json.Unmarshal(v, &e) != nil {
				return nil
			}
			var cfg imageConfig
			if json.Unmarshal(e.Config, &cfg) != nil {
				return nil
			}
			for _, l := range e.Layers {
				blobs = append(blobs, l.Digest)
			}
			blobs = append(blobs, digest.FromBytes(e.Config))
			layers = append(layers, cfg.RootFS.DiffIDs)
			return nil
		})
	})
	return blobs, layers, err
}

// mountDir is the directory kept for RUN --mount=type=cache,id=ID.
func (c *Cache) mountDir(id string) string {
	return filepath.Join(c.dir, "mounts", digest.FromString(id).Encoded())
}

// Prune forgets every cached step and empties the RUN cache mounts; the image store's
// next GC frees the steps' layers.
func (c *Cache) Prune() (int, error) {
	_ = os.RemoveAll(filepath.Join(c.dir, "mounts"))
	n := 0
	err := c.db.Update(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketSteps).Stats().KeyN
		if err := tx.DeleteBucket(bucketSteps); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketSteps)
		return err
	})
	return n, err
}
