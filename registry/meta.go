package registry

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

// The metadata store: which blobs and manifests each repository holds, its tags and the
// referrers of its manifests. The bytes live in the content store, shared by all
// repositories; a repository sees only what is linked to it here, so one repository's
// blobs never show through another's name.
//
//	repos/<name>/blobs/<digest>              size, link time (8+8 bytes)
//	repos/<name>/manifests/<digest>          manifestRecord (JSON)
//	repos/<name>/tags/<tag>                  digest
//	repos/<name>/referrers/<subject>/<digest> descriptor of the referrer (JSON)
var (
	bucketRepos     = []byte("repos")
	bucketBlobs     = []byte("blobs")
	bucketManifests = []byte("manifests")
	bucketTags      = []byte("tags")
	bucketReferrers = []byte("referrers")
)

// manifestRecord is what the registry keeps about a pushed manifest.
type manifestRecord struct {
	MediaType    string            `json:"mediaType"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Subject      digest.Digest     `json:"subject,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// Refs are the blobs and manifests it needs (GC keeps them).
	Refs    []digest.Digest `json:"refs,omitempty"`
	Created time.Time       `json:"created"`
}

type meta struct{ db *bolt.DB }

func openMeta(path string) (*meta, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: another process holds it (is a registry already serving this root? stop it first)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketRepos)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("init %s: %w", path, err)
	}
	return &meta{db: db}, nil
}

func (m *meta) close() error { return m.db.Close() }

// repo returns the repository's bucket (nil when unknown).
func repo(tx *bolt.Tx, name string) *bolt.Bucket {
	return tx.Bucket(bucketRepos).Bucket([]byte(name))
}

func sub(b *bolt.Bucket, name []byte) *bolt.Bucket {
	if b == nil {
		return nil
	}
	return b.Bucket(name)
}

// createRepo returns the repository's bucket, creating it and its sub-buckets.
func createRepo(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	b, err := tx.Bucket(bucketRepos).CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, err
	}
	for _, s := range [][]byte{bucketBlobs, bucketManifests, bucketTags, bucketReferrers} {
		if _, err := b.CreateBucketIfNotExists(s); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (m *meta) repoExists(name string) bool {
	found := false
	_ = m.db.View(func(tx *bolt.Tx) error {
		found = repo(tx, name) != nil
		return nil
	})
	return found
}

func linkValue(size int64) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(size))
	binary.BigEndian.PutUint64(v[8:], uint64(time.Now().UnixNano()))
	return v
}

func (m *meta) linkBlob(name string, d digest.Digest, size int64) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		b, err := createRepo(tx, name)
		if err != nil {
			return err
		}
		return b.Bucket(bucketBlobs).Put([]byte(d), linkValue(size))
	})
}

// blobLinked reports whether d is linked to the repository.
func (m *meta) blobLinked(name string, d digest.Digest) bool {
	found := false
	_ = m.db.View(func(tx *bolt.Tx) error {
		b := sub(repo(tx, name), bucketBlobs)
		found = b != nil && b.Get([]byte(d)) != nil
		return nil
	})
	return found
}

// unlinkBlob removes the link; false when there was none.
func (m *meta) unlinkBlob(name string, d digest.Digest) (bool, error) {
	found := false
	err := m.db.Update(func(tx *bolt.Tx) error {
		b := sub(repo(tx, name), bucketBlobs)
		if b == nil || b.Get([]byte(d)) == nil {
			return nil
		}
		found = true
		return b.Delete([]byte(d))
	})
	return found, err
}

// putManifest records a manifest and points the tags at it. A manifest
// with a subject is listed among its subject's referrers.
func (m *meta) putManifest(name string, d digest.Digest, rec manifestRecord, tags []string) error {
	val, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return m.db.Update(func(tx *bolt.Tx) error {
		b, err := createRepo(tx, name)
		if err != nil {
			return err
		}
		if err := b.Bucket(bucketManifests).Put([]byte(d), val); err != nil {
			return err
		}
		for _, tag := range tags {
			if err := b.Bucket(bucketTags).Put([]byte(tag), []byte(d)); err != nil {
				return err
			}
		}
		if rec.Subject != "" {
			desc, err := json.Marshal(ocispec.Descriptor{MediaType: rec.MediaType, Digest: d, Size: rec.Size, ArtifactType: rec.ArtifactType, Annotations: rec.Annotations})
			if err != nil {
				return err
			}
			rb, err := b.Bucket(bucketReferrers).CreateBucketIfNotExists([]byte(rec.Subject))
			if err != nil {
				return err
			}
			return rb.Put([]byte(d), desc)
		}
		return nil
	})
}

// resolve finds the manifest a tag or digest names in the repository.
func (m *meta) resolve(name, ref string) (digest.Digest, manifestRecord, bool) {
	var d digest.Digest
	var rec manifestRecord
	found := false
	_ = m.db.View(func(tx *bolt.Tx) error {
		b := repo(tx, name)
		if b == nil {
			return nil
		}
		d = digest.Digest(ref)
		if validTag(ref) {
			v := b.Bucket(bucketTags).Get([]byte(ref))
			if v == nil {
				return nil
			}
			d = digest.Digest(v)
		}
		v := b.Bucket(bucketManifests).Get([]byte(d))
		if v == nil {
			return nil
		}
		found = json.Unmarshal(v, &rec) == nil
		return nil
	})
	return d, rec, found
}

// deleteManifest removes a manifest, the tags that point at it and its referrer entry.
func (m *meta) deleteManifest(name string, d digest.Digest) (bool, error) {
	found := false
	err := m.db.Update(func(tx *bolt.Tx) error {
		b := repo(tx, name)
		if b == nil {
			return nil
		}
		mb := b.Bucket(bucketManifests)
		v := mb.Get([]byte(d))
		if v == nil {
			return nil
		}
		found = true
		var rec manifestRecord
		_ = json.Unmarshal(v, &rec)
		if err := mb.Delete([]byte(d)); err != nil {
			return err
		}
		tb := b.Bucket(bucketTags)
		var tags [][]byte
		_ = tb.ForEach(func(k, v []byte) error {
			if string(v) == string(d) {
				tags = append(tags, append([]byte(nil), k...))
			}
			return nil
		})
		for _, t := range tags {
			if err := tb.Delete(t); err != nil {
				return err
			}
		}
		if rec.Subject != "" {
			if rb := b.Bucket(bucketReferrers).Bucket([]byte(rec.Subject)); rb != nil {
				if err := rb.Delete([]byte(d)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return found, err
}

func (m *meta) deleteTag(name, tag string) (bool, error) {
	found := false
	err := m.db.Update(func(tx *bolt.Tx) error {
		tb := sub(repo(tx, name), bucketTags)
		if tb == nil || tb.Get([]byte(tag)) == nil {
			return nil
		}
		found = true
		return tb.Delete([]byte(tag))
	})
	return found, err
}

// page lists keys after last (all when last is empty), at most n of them (all when n < 0),
// and whether more follow. bbolt keeps keys sorted bytewise, which is the lexical order
// the spec asks for.
func page(b *bolt.Bucket, last string, n int) ([]string, bool) {
	out := []string{}
	if b == nil {
		return out, false
	}
	c := b.Cursor()
	var k []byte
	if last == "" {
		k, _ = c.First()
	} else {
		k, _ = c.Seek([]byte(last))
		if k != nil && string(k) == last {
			k, _ = c.Next()
		}
	}
	for ; k != nil; k, _ = c.Next() {
		if n >= 0 && len(out) == n {
			return out, true
		}
		out = append(out, string(k))
	}
	return out, false
}

// tags lists a repository's tags; ok is false when the repository is unknown.
func (m *meta) tags(name, last string, n int) (tags []string, more, ok bool) {
	_ = m.db.View(func(tx *bolt.Tx) error {
		b := repo(tx, name)
		if b == nil {
			return nil
		}
		ok = true
		tags, more = page(b.Bucket(bucketTags), last, n)
		return nil
	})
	return tags, more, ok
}

// repos lists repository names in order, filtered by keep.
func (m *meta) repos(last string, n int, keep func(string) bool) ([]string, bool) {
	out := []string{}
	more := false
	_ = m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRepos).Cursor()
		var k []byte
		if last == "" {
			k, _ = c.First()
		} else {
			k, _ = c.Seek([]byte(last))
			if k != nil && string(k) == last {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			if !keep(string(k)) {
				continue
			}
			if n >= 0 && len(out) == n {
				more = true
				return nil
			}
			out = append(out, string(k))
		}
		return nil
	})
	return out, more
}

// referrers lists the manifests whose subject is d, optionally only one artifact type.
func (m *meta) referrers(name string, d digest.Digest, artifactType string) []ocispec.Descriptor {
	out := []ocispec.Descriptor{}
	_ = m.db.View(func(tx *bolt.Tx) error {
		rb := sub(sub(repo(tx, name), bucketReferrers), []byte(d))
		if rb == nil {
			return nil
		}
		return rb.ForEach(func(_, v []byte) error {
			var desc ocispec.Descriptor
			if json.Unmarshal(v, &desc) == nil && (artifactType == "" || desc.ArtifactType == artifactType) {
				out = append(out, desc)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out
}

// live returns every digest that must stay: manifests, what they reference, and blobs
// linked more recently than since (a push whose manifest has not come yet).
func (m *meta) live(since time.Time) (map[digest.Digest]bool, error) {
	keep := map[digest.Digest]bool{}
	err := m.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRepos).ForEachBucket(func(name []byte) error {
			b := tx.Bucket(bucketRepos).Bucket(name)
			if err := b.Bucket(bucketManifests).ForEach(func(k, v []byte) error {
				keep[digest.Digest(k)] = true
				var rec manifestRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("manifest %s of %s: %w", k, name, err)
				}
				for _, r := range rec.Refs {
					keep[r] = true
				}
				return nil
			}); err != nil {
				return err
			}
			return b.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
				if len(v) == 16 && int64(binary.BigEndian.Uint64(v[8:])) > since.UnixNano() {
					keep[digest.Digest(k)] = true
				}
				return nil
			})
		})
	})
	return keep, err
}

// unlinkMissing drops blob links whose blob is gone from the store.
func (m *meta) unlinkMissing(gone map[digest.Digest]bool) error {
	if len(gone) == 0 {
		return nil
	}
	return m.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRepos).ForEachBucket(func(name []byte) error {
			bb := tx.Bucket(bucketRepos).Bucket(name).Bucket(bucketBlobs)
			for d := range gone {
				if err := bb.Delete([]byte(d)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}
