package image

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/image/snapshot"
	"github.com/drover/drover/internal/errdefs"
)

// Metadata buckets: images maps a config digest to its record, refs maps a full
// normalised reference (name:tag or name@digest) to a config digest.
var (
	bucketImages = []byte("images")
	bucketRefs   = []byte("refs")
)

// Store is the local image store.
//
// Crash safety: blobs are committed to the content store and layers unpacked before the
// metadata that names them is written, in one bbolt transaction. A crash in between
// leaves at most unreferenced blobs and snapshots, which GC removes.
type Store struct {
	root    string
	db      *bolt.DB
	content *content.Store
	snaps   *snapshot.Snapshotter
	opts    options

	mu sync.Mutex // serialises writers: import, load, commit, tag, remove, GC

	holdMu sync.Mutex
	held   map[digest.Digest]int // blobs in use by operations under way; GC keeps them

	roots []GCRoots // what GC keeps besides images (AddGCRoots)
}

type options struct {
	limits   snapshot.Limits
	driver   snapshot.Driver
	maxRatio int64
}

// Option configures a Store.
type Option func(*options)

// WithLimits bounds each layer (uncompressed size, entries); see snapshot.Limits.
func WithLimits(l snapshot.Limits) Option { return func(o *options) { o.limits = l } }

// WithSnapshotDriver forces the container layer driver instead of probing for overlayfs.
func WithSnapshotDriver(d snapshot.Driver) Option { return func(o *options) { o.driver = d } }

// WithMaxCompressionRatio refuses compressed layers and archives that expand more than
// ratio times (checked past 64 MiB of output). 0, the default, checks no ratio: zstd
// legitimately compresses zero-filled files tens of thousands of times, and the size
// limit bounds a bomb anyway.
func WithMaxCompressionRatio(ratio int64) Option { return func(o *options) { o.maxRatio = ratio } }

// Open opens (creating if needed) the image store under root:
// root/content (blobs), root/snapshot (layers, container layers), root/images.db.
func Open(root string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	sopts := []snapshot.Option{snapshot.WithLimits(o.limits)}
	if o.driver != "" {
		sopts = append(sopts, snapshot.WithDriver(o.driver))
	}
	ss, err := snapshot.Open(filepath.Join(root, "snapshot"), sopts...)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(root, "images.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open image metadata %s (is another daemon using this root?): %w", filepath.Join(root, "images.db"), err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketRefs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open image metadata: %w", err)
	}
	return &Store{root: root, db: db, content: cs, snaps: ss, opts: o, held: map[digest.Digest]int{}}, nil
}

// Close closes the metadata database.
func (s *Store) Close() error { return s.db.Close() }

// Content is the blob store (a registry client writes pulled blobs here, then calls
// Commit).
func (s *Store) Content() *content.Store { return s.content }

// Snapshots is the snapshotter holding unpacked layers and container layers.
func (s *Store) Snapshots() *snapshot.Snapshotter { return s.snaps }

// Hold protects blobs from GC until the returned release is called: a pull holds what it
// has written until Commit records the image.
func (s *Store) Hold(ds ...digest.Digest) (release func()) {
	s.holdMu.Lock()
	for _, d := range ds {
		s.held[d]++
	}
	s.holdMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.holdMu.Lock()
			for _, d := range ds {
				if s.held[d]--; s.held[d] <= 0 {
					delete(s.held, d)
				}
			}
			s.holdMu.Unlock()
		})
	}
}

func (s *Store) isHeld(d digest.Digest) bool {
	s.holdMu.Lock()
	defer s.holdMu.Unlock()
	return s.held[d] > 0
}

func notFound(ref string) error {
	return fmt.Errorf("no such image: %s: %w", ref, errdefs.ErrNotFound)
}

// Get finds an image by name (normalised: busybox is docker.io/library/busybox:latest),
// by full ID (sha256:<hex>) or by a unique prefix of at least 4 hex digits of its ID.
func (s *Store) Get(refOrID string) (*Image, error) {
	var img *Image
	err := s.db.View(func(tx *bolt.Tx) error {
		id, err := s.resolve(tx, refOrID)
		if err != nil {
			return err
		}
		img, err = s.getTx(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.loadConfig(img); err != nil {
		return nil, err
	}
	return img, nil
}

// resolve finds the image ID refOrID names.
func (s *Store) resolve(tx *bolt.Tx, refOrID string) (digest.Digest, error) {
	images := tx.Bucket(bucketImages)
	if d, err := digest.Parse(refOrID); err == nil {
		if images.Get([]byte(d)) != nil {
			return d, nil
		}
		return "", notFound(refOrID)
	}
	if r, err := ParseReference(refOrID); err == nil {
		if v := tx.Bucket(bucketRefs).Get([]byte(r.String())); v != nil {
			return digest.Digest(v), nil
		}
		if r.Digest != "" {
			// name@digest of an image known under that name by its manifest digest.
			if id := s.byManifest(tx, r); id != "" {
				return id, nil
			}
		}
	}
	if !isImageID(refOrID) {
		return "", notFound(refOrID)
	}
	hex := strings.TrimPrefix(refOrID, "sha256:")
	if len(hex) < 4 {
		return "", fmt.Errorf("no such image: %s: an ID prefix needs at least 4 hex digits: %w", refOrID, errdefs.ErrNotFound)
	}
	prefix := []byte("sha256:" + hex)
	var found digest.Digest
	c := images.Cursor()
	for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
		if found != "" {
			return "", fmt.Errorf("image ID prefix %s matches several images: give more digits: %w", refOrID, errdefs.ErrInvalidArgument)
		}
		found = digest.Digest(k)
	}
	if found == "" {
		return "", notFound(refOrID)
	}
	return found, nil
}

func (s *Store) byManifest(tx *bolt.Tx, r Reference) digest.Digest {
	var found digest.Digest
	_ = tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
		kr, err := ParseReference(string(k))
		if err != nil || kr.Name() != r.Name() {
			return nil
		}
		var rec record
		if raw := tx.Bucket(bucketImages).Get(v); raw != nil && json.Unmarshal(raw, &rec) == nil && rec.Manifest.Digest == r.Digest {
			found = digest.Digest(v)
		}
		return nil
	})
	return found
}

func (s *Store) getRecord(tx *bolt.Tx, id digest.Digest) (record, error) {
	var rec record
	v := tx.Bucket(bucketImages).Get([]byte(id))
	if v == nil {
		return rec, notFound(id.String())
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return rec, fmt.Errorf("image %s: corrupt metadata record: %w", id, err)
	}
	return rec, nil
}

// refsOf lists the references (full form) that point at id.
func refsOf(tx *bolt.Tx, id digest.Digest) []Reference {
	var out []Reference
	_ = tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
		if digest.Digest(v) == id {
			if r, err := ParseReference(string(k)); err == nil {
				out = append(out, r)
			}
		}
		return nil
	})
	return out
}

func (s *Store) getTx(tx *bolt.Tx, id digest.Digest) (*Image, error) {
	rec, err := s.getRecord(tx, id)
	if err != nil {
		return nil, err
	}
	img := &Image{
		ID: id, Manifest: rec.Manifest.Digest, Layers: rec.Layers, DiffIDs: rec.DiffIDs,
		ChainID: ChainID(rec.DiffIDs), Created: rec.Created, Size: rec.Size,
	}
	for _, r := range refsOf(tx, id) {
		if r.Digest != "" {
			img.RepoDigests = append(img.RepoDigests, r.Familiar())
		} else {
			img.RepoTags = append(img.RepoTags, r.Familiar())
		}
	}
	sort.Strings(img.RepoTags)
	sort.Strings(img.RepoDigests)
	return img, nil
}

// loadConfig fills the config-derived fields from the config blob.
func (s *Store) loadConfig(img *Image) error {
	raw, err := s.readBlob(img.ID, MaxConfigSize)
	if err != nil {
		return fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	cfg, hc, err := parseConfig(raw)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.ID, err)
	}
	img.Config, img.RawConfig, img.Healthcheck = cfg, raw, hc
	return nil
}

// readBlob reads a whole (small) blob, refusing one larger than max.
func (s *Store) readBlob(d digest.Digest, max int64) ([]byte, error) {
	rc, err := s.content.Open(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("blob %s is larger than the %d bytes allowed for it: %w", d, max, errdefs.ErrInvalidArgument)
	}
	return data, nil
}

// List returns every image, newest first.
func (s *Store) List() ([]*Image, error) {
	var out []*Image
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketImages).ForEach(func(k, _ []byte) error {
			img, err := s.getTx(tx, digest.Digest(k))
			if err != nil {
				return err
			}
			out = append(out, img)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, img := range out {
		// An unreadable config leaves the image listed with an empty config: one broken
		// image must not hide the others (Get reports the error).
		_ = s.loadConfig(img)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Tag gives the image src the name ref (a tag, not a digest); a tag already on another
// image moves.
func (s *Store) Tag(src, ref string) error {
	r, err := ParseReference(ref)
	if err != nil {
		return err
	}
	if r.Digest != "" {
		return fmt.Errorf("tag %q: a tag cannot contain a digest: %w", ref, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		id, err := s.resolve(tx, src)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketRefs).Put([]byte(r.String()), []byte(id))
	})
}

// Remove removes the reference refOrID, as docker rmi does. A name that is not the image's
// last reference is only untagged. The last name, or an ID, deletes the image, its blobs
// and layers (those no other image uses); an ID with several names needs force. inUse (may
// be nil) tells whether a container uses an image ID: such an image is not deleted (with
// force, a name is still untagged).
func (s *Store) Remove(refOrID string, force bool, inUse func(id string) bool) (untagged, deleted []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		untagged, deleted = nil, nil
		id, err := s.resolve(tx, refOrID)
		if err != nil {
			return err
		}
		refs := tx.Bucket(bucketRefs)
		all := refsOf(tx, id)
		used := inUse != nil && inUse(id.String())
		short := id.Encoded()[:12]
		if r, perr := ParseReference(refOrID); perr == nil && refs.Get([]byte(r.String())) != nil {
			// Digest references go with the last tag, as with Docker.
			tags := 0
			for _, o := range all {
				if o.Digest == "" {
					tags++
				}
			}
			if (r.Digest == "" && tags > 1) || (r.Digest != "" && len(all) > 1) || (used && force) {
				untagged = append(untagged, r.Familiar())
				return refs.Delete([]byte(r.String()))
			}
			if used {
				return fmt.Errorf("image %s (%s) is used by a container: remove the container first, or use force to untag it: %w", r.Familiar(), short, errdefs.ErrConflict)
			}
		} else {
			if len(all) > 1 && !force {
				return fmt.Errorf("image %s is referenced by %d names: remove them one by one or use force: %w", short, len(all), errdefs.ErrConflict)
			}
			if used {
				return fmt.Errorf("image %s is used by a container: remove the container first: %w", short, errdefs.ErrConflict)
			}
		}
		for _, r := range all {
			untagged = append(untagged, r.Familiar())
			if err := refs.Delete([]byte(r.String())); err != nil {
				return err
			}
		}
		deleted = append(deleted, id.String())
		return tx.Bucket(bucketImages).Delete([]byte(id))
	})
	if err != nil {
		return nil, nil, err
	}
	if len(deleted) > 0 {
		if _, err := s.gcLocked(); err != nil {
			return untagged, deleted, fmt.Errorf("image deleted, but freeing its data failed (run GC again): %w", err)
		}
	}
	return untagged, deleted, nil
}

// forgetLocked deletes an image's record and names (s.mu held); GC frees its data.
func (s *Store) forgetLocked(id digest.Digest) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range refsOf(tx, id) {
			if err := tx.Bucket(bucketRefs).Delete([]byte(r.String())); err != nil {
				return err
			}
		}
		if rec, err := s.getRecord(tx, id); err == nil {
			if err := forgetSignatures(tx, rec.Manifest.Digest); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketImages).Delete([]byte(id))
	})
}
