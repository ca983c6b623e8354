package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/image/snapshot"
	"github.com/drover/drover/internal/errdefs"
)

// HealthConfig is Docker's health check in an image config (not part of the OCI spec).
type HealthConfig struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// Image is one stored image.
type Image struct {
	ID          digest.Digest        `json:"id"` // config digest
	RepoTags    []string             `json:"-"`
	RepoDigests []string             `json:"repoDigests,omitempty"`
	Manifest    digest.Digest        `json:"manifest"`
	Layers      []ocispec.Descriptor `json:"layers"` // blobs as stored
	DiffIDs     []digest.Digest      `json:"diffIds"`
	ChainID     digest.Digest        `json:"chainId"`
	Created     time.Time            `json:"created"`
	Size        int64                `json:"size"`
	Config      ocispec.Image        `json:"-"`
	Healthcheck *HealthConfig        `json:"-"`
}

var (
	bucketImages = []byte("images")
	bucketTags   = []byte("tags")
)

// Store is the local image store.
type Store struct {
	root    string
	db      *bolt.DB
	content *content.Store
	snaps   *snapshot.Snapshotter
	mu      sync.Mutex // serialises writers (import, load, tag, remove)
}

// Open opens the image store under root.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	ss, err := snapshot.Open(filepath.Join(root, "snapshot"))
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(root, "images.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open image metadata: %w", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketTags} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{root: root, db: db, content: cs, snaps: ss}, nil
}

// Close closes the metadata database.
func (s *Store) Close() error { return s.db.Close() }

// Snapshots is the snapshotter holding the unpacked layers and container layers.
func (s *Store) Snapshots() *snapshot.Snapshotter { return s.snaps }

// Content is the blob store.
func (s *Store) Content() *content.Store { return s.content }

// ChainIDs computes the chain IDs of a list of diff IDs (OCI image spec).
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

// load fills the config-derived fields of img.
func (s *Store) load(img *Image) error {
	f, err := s.content.Open(img.ID)
	if err != nil {
		return err
	}
	defer f.Close()
	var raw struct {
		ocispec.Image
		Config struct {
			ocispec.ImageConfig
			Healthcheck *HealthConfig `json:"Healthcheck"`
		} `json:"config"`
	}
	if err := json.NewDecoder(f).Decode(&raw); err != nil {
		return fmt.Errorf("image %s: bad config: %w", img.ID, err)
	}
	img.Config = raw.Image
	img.Config.Config = raw.Config.ImageConfig
	img.Healthcheck = raw.Config.Healthcheck
	return nil
}

// Get finds an image by name, full ID or unique ID prefix.
func (s *Store) Get(ref string) (*Image, error) {
	var img *Image
	err := s.db.View(func(tx *bolt.Tx) error {
		id, err := s.resolve(tx, ref)
		if err != nil {
			return err
		}
		img, err = s.getTx(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return img, s.load(img)
}

func (s *Store) resolve(tx *bolt.Tx, ref string) (digest.Digest, error) {
	notFound := fmt.Errorf("no such image: %s: import or load it first: %w", ref, errdefs.ErrNotFound)
	if r, err := ParseReference(ref); err == nil {
		if v := tx.Bucket(bucketTags).Get([]byte(r.String())); v != nil {
			return digest.Digest(v), nil
		}
	}
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) < 4 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", notFound
	}
	var found digest.Digest
	c := tx.Bucket(bucketImages).Cursor()
	prefix := []byte("sha256:" + hex)
	for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
		if found != "" {
			return "", fmt.Errorf("image ID prefix %s is ambiguous: use more characters: %w", ref, errdefs.ErrInvalidArgument)
		}
		found = digest.Digest(k)
	}
	if found == "" {
		return "", notFound
	}
	return found, nil
}

func (s *Store) getTx(tx *bolt.Tx, id digest.Digest) (*Image, error) {
	v := tx.Bucket(bucketImages).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("no such image: %s: %w", id, errdefs.ErrNotFound)
	}
	var img Image
	if err := json.Unmarshal(v, &img); err != nil {
		return nil, fmt.Errorf("image %s: corrupt record: %w", id, err)
	}
	tags := tx.Bucket(bucketTags)
	_ = tags.ForEach(func(k, v []byte) error {
		if digest.Digest(v) == id {
			if r, err := ParseReference(string(k)); err == nil {
				img.RepoTags = append(img.RepoTags, r.Familiar())
			}
		}
		return nil
	})
	sort.Strings(img.RepoTags)
	return &img, nil
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
		_ = s.load(img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Tag points ref at the image src.
func (s *Store) Tag(src, ref string) error {
	r, err := ParseReference(ref)
	if err != nil {
		return err
	}
	if r.Digest != "" {
		return fmt.Errorf("cannot tag with a digest reference %q: %w", ref, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		id, err := s.resolve(tx, src)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketTags).Put([]byte(r.String()), []byte(id))
	})
}

// record stores an image and its tags in one transaction (blobs and snapshots are already
// committed, so a crash never leaves an image that cannot run).
func (s *Store) record(img *Image, tags []string) error {
	data, err := json.Marshal(img)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketImages).Put([]byte(img.ID), data); err != nil {
			return err
		}
		for _, t := range tags {
			if err := tx.Bucket(bucketTags).Put([]byte(t), []byte(img.ID)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Remove untags ref, or deletes the image when ref is an ID, when its last tag goes, or
// with force; deleted images' blobs and layers go unless another image uses them. inUse
// says whether a container uses an image ID.
func (s *Store) Remove(ref string, force bool, inUse func(id string) bool) (untagged, deleted []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var del *Image
	err = s.db.Update(func(tx *bolt.Tx) error {
		id, err := s.resolve(tx, ref)
		if err != nil {
			return err
		}
		img, err := s.getTx(tx, id)
		if err != nil {
			return err
		}
		tags := tx.Bucket(bucketTags)
		byName := false
		if r, perr := ParseReference(ref); perr == nil && tags.Get([]byte(r.String())) != nil {
			byName = true
			if len(img.RepoTags) > 1 && !force {
				untagged = append(untagged, r.Familiar())
				return tags.Delete([]byte(r.String()))
			}
		}
		if !byName && len(img.RepoTags) > 1 && !force {
			return fmt.Errorf("image %s is referenced in multiple repositories: untag them or use -f: %w", id.Encoded()[:12], errdefs.ErrConflict)
		}
		if inUse != nil && inUse(id.String()) {
			return fmt.Errorf("image %s is used by a container: remove the container first: %w", id.Encoded()[:12], errdefs.ErrConflict)
		}
		for _, t := range img.RepoTags {
			r, _ := ParseReference(t)
			untagged = append(untagged, t)
			if err := tags.Delete([]byte(r.String())); err != nil {
				return err
			}
		}
		deleted = append(deleted, id.String())
		del = img
		return tx.Bucket(bucketImages).Delete([]byte(id))
	})
	if err != nil || del == nil {
		return untagged, deleted, err
	}
	return untagged, deleted, s.GC()
}

// GC deletes blobs and layer snapshots that no image references.
func (s *Store) GC() error {
	keepBlobs := map[digest.Digest]bool{}
	keepChains := map[string]bool{}
	imgs, err := s.List()
	if err != nil {
		return err
	}
	for _, img := range imgs {
		keepBlobs[img.ID], keepBlobs[img.Manifest] = true, true
		for _, l := range img.Layers {
			keepBlobs[l.Digest] = true
		}
		for _, c := range ChainIDs(img.DiffIDs) {
			keepChains[c.Encoded()] = true
		}
	}
	var errs []error
	_ = s.content.Walk(func(d digest.Digest, _ int64) error {
		if !keepBlobs[d] {
			errs = append(errs, s.content.Delete(d))
		}
		return nil
	})
	entries, _ := os.ReadDir(filepath.Join(s.root, "snapshot", "snapshots"))
	for _, e := range entries {
		if !keepChains[e.Name()] {
			errs = append(errs, s.snaps.RemoveSnapshot(digest.NewDigestFromEncoded(digest.SHA256, e.Name())))
		}
	}
	return errors.Join(errs...)
}
