// Package snapshot unpacks image layers once into directories keyed by chain ID, shared by
// every image that has them, and gives each container a root filesystem on top of its
// image's chain: an overlayfs mount (lowerdirs = the chain, upper and work per container)
// or, where overlayfs cannot be mounted, a private copy of the chain (copy-up fallback).
//
// Layout under the root directory:
//
//	snapshots/<chain-hex>/fs       the layer's own files, whiteouts in overlayfs format
//	snapshots/<chain-hex>/parent   the parent chain ID ("" for a base layer)
//	snapshots/<chain-hex>/diffid   the layer's diff ID
//	snapshots/<chain-hex>/size     bytes of file content in the layer
//	containers/<key>/driver        "overlay" or "copy"
//	containers/<key>/parent        the chain the container runs on
//	containers/<key>/upper, work   overlayfs upper and work directories (overlay driver)
//	containers/<key>/rootfs        the merged copy of the chain (copy driver)
//	tmp/                           unpacks and removals in progress, cleared at Open
//
// Layer tars are hostile input. They are applied with directory file descriptors and
// O_NOFOLLOW on every path component, so no entry, symlink or hardlink can make the
// snapshotter write outside the snapshot (see apply.go).
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"github.com/moby/sys/mount"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/errdefs"
)

// Driver names how container root filesystems are made.
type Driver string

const (
	// DriverOverlay mounts overlayfs with the chain as lowerdirs.
	DriverOverlay Driver = "overlay"
	// DriverCopy copies the merged chain into the container's directory and bind-mounts it:
	// slow and space-hungry, for hosts where overlayfs cannot be used (an overlayfs root,
	// some rootless setups).
	DriverCopy Driver = "copy"
)

// Snapshotter manages layer snapshots and container layers under a root directory.
type Snapshotter struct {
	root   string
	limits Limits
	forced Driver

	probeOnce sync.Once
	driver    Driver
}

// Option configures a Snapshotter.
type Option func(*Snapshotter)

// WithLimits sets the limits applied to every layer (zero fields keep the defaults).
func WithLimits(l Limits) Option { return func(s *Snapshotter) { s.limits = l.withDefaults() } }

// WithDriver forces a driver instead of probing for overlayfs.
func WithDriver(d Driver) Option { return func(s *Snapshotter) { s.forced = d } }

// Open creates (if needed) the snapshotter's directories and drops what a crash left in
// tmp/ (half unpacked layers, half removed ones).
func Open(root string, opts ...Option) (*Snapshotter, error) {
	s := &Snapshotter{root: root, limits: DefaultLimits}
	for _, o := range opts {
		o(s)
	}
	for _, d := range []string{"snapshots", "containers", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("open snapshotter: %w", err)
		}
	}
	tmp, err := os.ReadDir(filepath.Join(root, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("open snapshotter: %w", err)
	}
	for _, e := range tmp {
		p := filepath.Join(root, "tmp", e.Name())
		// A crash can leave the overlay probe mounted on p/merged.
		if err := mount.RecursiveUnmount(p); err != nil {
			return nil, fmt.Errorf("open snapshotter: unmount %s left by a crash: %w", p, err)
		}
		if err := os.RemoveAll(p); err != nil {
			return nil, fmt.Errorf("open snapshotter: clear %s: %w", p, err)
		}
	}
	return s, nil
}

// Root is the snapshotter's directory.
func (s *Snapshotter) Root() string { return s.root }

// ChainID is the chain ID of a layer with diff ID diffID on top of parent (OCI image spec).
func ChainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

func validChain(d digest.Digest) error {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("chain ID %q is not a sha256 digest: %w", d, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (s *Snapshotter) dir(chain digest.Digest) string {
	return filepath.Join(s.root, "snapshots", chain.Encoded())
}

// Exists reports whether the chain is unpacked.
func (s *Snapshotter) Exists(chain digest.Digest) bool {
	if validChain(chain) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(s.dir(chain), "fs"))
	return err == nil
}

// Unpack applies the uncompressed layer tar on top of the snapshot parent ("" for a base
// layer) and stores it as chain. It reads the layer to its end and checks that its digest
// (the diff ID) gives chain; on any mismatch or refusal nothing is kept. The layer goes to
// a temporary directory renamed into place when complete, so a crash never leaves a half
// snapshot visible. An existing chain makes Unpack a no-op that does not read layer.
func (s *Snapshotter) Unpack(ctx context.Context, chain, parent digest.Digest, layer io.Reader) error {
	if err := s.checkChain(chain, parent); err != nil {
		return err
	}
	if s.Exists(chain) {
		return nil
	}
	if parent != "" && !s.Exists(parent) {
		return fmt.Errorf("unpack %s: parent snapshot %s is missing: unpack the layers below first: %w", chain, parent, errdefs.ErrNotFound)
	}
	st, err := s.Stage(ctx, layer)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", chain, err)
	}
	defer st.Discard()
	return st.Commit(chain, parent)
}

func (s *Snapshotter) checkChain(chain, parent digest.Digest) error {
	if err := validChain(chain); err != nil {
		return err
	}
	if parent != "" {
		if err := validChain(parent); err != nil {
			return err
		}
	}
	return nil
}

// Staged is a layer applied to a directory of its own but not yet a snapshot: overlayfs
// layers do not depend on their parents' files, so a registry client unpacks all layers
// of an image at once, while they download, and commits them in order once they are all
// there.
type Staged struct {
	s      *Snapshotter
	tmp    string
	diffID digest.Digest
	size   int64
}

// Stage applies the uncompressed layer tar read from layer (to its end) into a temporary
// directory and computes its diff ID. Commit makes it a snapshot; Discard drops it.
func (s *Snapshotter) Stage(ctx context.Context, layer io.Reader) (*Staged, error) {
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "unpack-")
	if err != nil {
		return nil, err
	}
	st := &Staged{s: s, tmp: tmp}
	ok := false
	defer func() {
		if !ok {
			st.Discard()
		}
	}()
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		return nil, err
	}
	digester := digest.Canonical.Digester()
	lr := &limitedReader{r: io.TeeReader(layer, digester.Hash()), max: s.limits.MaxBytes}
	if st.size, err = applyLayer(ctx, fsDir, lr, overlayMode, s.limits); err != nil {
		return nil, err
	}
	// The diff ID covers the whole stream, the tar's end padding included.
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return nil, fmt.Errorf("read layer: %w", err)
	}
	st.diffID = digester.Digest()
	ok = true
	return st, nil
}

// DiffID is the digest of the uncompressed layer that was staged.
func (st *Staged) DiffID() digest.Digest { return st.diffID }

// Discard removes the staged directory unless Commit published it; it is safe to call
// more than once and after Commit.
func (st *Staged) Discard() {
	if st.tmp != "" {
		_ = os.RemoveAll(st.tmp)
		st.tmp = ""
	}
}

// Commit publishes the staged layer as snapshot chain on top of parent, which must exist:
// the staged diff ID must give chain. An existing chain makes Commit a no-op (and the
// staged copy is dropped).
func (st *Staged) Commit(chain, parent digest.Digest) error {
	s := st.s
	if err := s.checkChain(chain, parent); err != nil {
		return err
	}
	if st.tmp == "" {
		return fmt.Errorf("commit %s: the staged layer was discarded or committed already", chain)
	}
	if got := ChainID(parent, st.diffID); got != chain {
		return fmt.Errorf("unpack %s: layer content (diff ID %s) does not give this chain ID: the layer is corrupt or the image config lies: %w", chain, st.diffID, errdefs.ErrInvalidArgument)
	}
	if s.Exists(chain) {
		st.Discard()
		return nil
	}
	if parent != "" && !s.Exists(parent) {
		return fmt.Errorf("unpack %s: parent snapshot %s is missing: unpack the layers below first: %w", chain, parent, errdefs.ErrNotFound)
	}
	for name, v := range map[string]string{"parent": parent.String(), "diffid": st.diffID.String(), "size": strconv.FormatInt(st.size, 10)} {
		if err := os.WriteFile(filepath.Join(st.tmp, name), []byte(v), 0o600); err != nil {
			return fmt.Errorf("unpack %s: %w", chain, err)
		}
	}
	if err := atomicfile.SyncFS(st.tmp); err != nil {
		return fmt.Errorf("unpack %s: sync: %w", chain, err)
	}
	if err := os.Rename(st.tmp, s.dir(chain)); err != nil {
		if s.Exists(chain) { // unpacked meanwhile by someone else
			st.Discard()
			return nil
		}
		return fmt.Errorf("unpack %s: %w", chain, err)
	}
	st.tmp = ""
	if err := atomicfile.SyncDir(filepath.Join(s.root, "snapshots")); err != nil {
		return fmt.Errorf("unpack %s: sync: %w", chain, err)
	}
	return nil
}

func readMeta(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	return strings.TrimSpace(string(b)), err
}

// Parent returns the parent chain of chain ("" for a base layer).
func (s *Snapshotter) Parent(chain digest.Digest) (digest.Digest, error) {
	if !s.Exists(chain) {
		return "", fmt.Errorf("snapshot %s: %w", chain, errdefs.ErrNotFound)
	}
	p, err := readMeta(s.dir(chain), "parent")
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", chain, err)
	}
	return digest.Digest(p), nil
}

// lowers lists the fs directories of chain and its parents, top layer first.
func (s *Snapshotter) lowers(chain digest.Digest) ([]string, error) {
	var dirs []string
	for c := chain; c != ""; {
		if len(dirs) >= 1000 {
			return nil, fmt.Errorf("snapshot chain %s is longer than 1000 layers or loops", chain)
		}
		p, err := s.Parent(c)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Join(s.dir(c), "fs"))
		c = p
	}
	return dirs, nil
}

// Size is the bytes of file content in the one layer chain (not its parents).
func (s *Snapshotter) Size(chain digest.Digest) (int64, error) {
	if !s.Exists(chain) {
		return 0, fmt.Errorf("snapshot %s: %w", chain, errdefs.ErrNotFound)
	}
	v, err := readMeta(s.dir(chain), "size")
	if err != nil {
		return 0, fmt.Errorf("snapshot %s: %w", chain, err)
	}
	return strconv.ParseInt(v, 10, 64)
}

// Chains lists every unpacked snapshot.
func (s *Snapshotter) Chains() ([]digest.Digest, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "snapshots"))
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []digest.Digest
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// RemoveSnapshot deletes an unpacked layer. It is renamed away first, so a crash in the
// middle of the delete leaves no half snapshot under its name. The caller makes sure no
// image or container needs it (see image.Store.GC).
func (s *Snapshotter) RemoveSnapshot(chain digest.Digest) error {
	if err := validChain(chain); err != nil {
		return err
	}
	return s.removeDir(s.dir(chain))
}

func (s *Snapshotter) removeDir(dir string) error {
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "rm-")
	if err != nil {
		return err
	}
	if err := os.Rename(dir, filepath.Join(tmp, "x")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(tmp)
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

func du(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// Verify checks a snapshot's metadata: its files are there, its parent exists and its
// recorded diff ID on top of that parent gives its chain ID. (File content is checked
// against the diff ID when a layer is unpacked; it is not hashed again here.)
func (s *Snapshotter) Verify(chain digest.Digest) error {
	if !s.Exists(chain) {
		return fmt.Errorf("snapshot %s: %w", chain, errdefs.ErrNotFound)
	}
	dir := s.dir(chain)
	parent, err := readMeta(dir, "parent")
	if err != nil {
		return fmt.Errorf("snapshot %s: parent: %w", chain, err)
	}
	diffID, err := readMeta(dir, "diffid")
	if err != nil {
		return fmt.Errorf("snapshot %s: diff ID: %w", chain, err)
	}
	if _, err := s.Size(chain); err != nil {
		return fmt.Errorf("snapshot %s: size: %w", chain, err)
	}
	if parent != "" && !s.Exists(digest.Digest(parent)) {
		return fmt.Errorf("snapshot %s: parent %s is missing", chain, parent)
	}
	if got := ChainID(digest.Digest(parent), digest.Digest(diffID)); got != chain {
		return fmt.Errorf("snapshot %s: its diff ID %s on parent %q gives chain %s", chain, diffID, parent, got)
	}
	return nil
}
