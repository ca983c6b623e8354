// Package volume keeps drover's named and anonymous volumes (docker volume create/ls/
// inspect/rm/prune, -v NAME:/path, -v /path, image VOLUMEs). A volume is a directory
// <root>/<name>/_data that containers bind-mount, described by <root>/<name>/meta.json.
// A volume exists exactly when its meta.json is valid: Create writes it last, Remove first
// moves the whole directory aside, and Open clears what a crash left half done.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/errdefs"
)

// DriverLocal is the only driver: volumes live on the host under the store's root.
const DriverLocal = "local"

const (
	metaFile    = "meta.json"
	dataDir     = "_data"
	trashPrefix = ".trash-" // not a valid volume name, so it never clashes with one
	maxNameLen  = 255       // one path component
)

// Volume describes one volume, as docker volume inspect shows it.
type Volume struct {
	Name       string // user name, or 64-hex random for anonymous volumes
	Driver     string // "local"
	Mountpoint string // <root>/<name>/_data: what gets bind-mounted
	CreatedAt  time.Time
	Labels     map[string]string
	Options    map[string]string // local driver options: type, device, o (type=tmpfs only)
	Anonymous  bool              // made for -v /path or an image VOLUME, pruned by default
}

// meta is what meta.json holds; Mountpoint is derived from where it lives.
type meta struct {
	Name      string            `json:"name"`
	Driver    string            `json:"driver"`
	CreatedAt time.Time         `json:"created_at"`
	Labels    map[string]string `json:"labels,omitempty"`
	Options   map[string]string `json:"options,omitempty"`
	Anonymous bool              `json:"anonymous,omitempty"`
}

// Store holds the volumes below one root directory. Its methods are safe for concurrent use.
type Store struct {
	root string

	mu    sync.Mutex
	users map[string]int // Mount calls not yet matched by Unmount, per volume
}

// Open opens (creating if needed) the volume store at root, e.g. /var/lib/drover/volumes.
// Directories a crash left behind (a Create without its meta.json, a Remove half done, an
// interrupted Seed) are removed.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("open volume store: %w", err)
	}
	s := &Store{root: root, users: map[string]int{}}
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("open volume store %s: %w", root, err)
	}
	return s, nil
}

// Root returns the directory the store keeps its volumes in.
func (s *Store) Root() string { return s.root }

func (s *Store) recover() error {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		dir := filepath.Join(s.root, name)
		switch {
		case strings.HasPrefix(name, trashPrefix):
			if err := removeVolumeDir(dir); err != nil {
				return err
			}
		case e.IsDir() && validName(name) == nil:
			if _, err := s.readMeta(name); err != nil {
				// A Create that crashed before its meta.json was in place.
				if err := removeVolumeDir(dir); err != nil {
					return err
				}
				continue
			}
			if err := removeLeftovers(dir); err != nil {
				return err
			}
		}
		// Anything else is not ours to judge: leave it.
	}
	return nil
}

// removeLeftovers removes temp files of an interrupted meta.json write and seed copies of
// an interrupted Seed inside a valid volume's directory.
func removeLeftovers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, metaFile+".tmp") || strings.HasPrefix(n, dataDir+seedSuffix) {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeVolumeDir removes a volume directory, first detaching a tmpfs a previous daemon
// may have left mounted on its data directory (RemoveAll would fail on it, or empty it).
func removeVolumeDir(dir string) error {
	data := filepath.Join(dir, dataDir)
	for isMountpoint(data) {
		if err := syscall.Unmount(data, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", data, err)
		}
	}
	return os.RemoveAll(dir)
}

// validName applies Docker's rule for local volume names.
func validName(name string) error {
	if len(name) < 2 || len(name) > maxNameLen {
		return fmt.Errorf("volume name %q must be 2 to %d characters long: %w", name, maxNameLen, errdefs.ErrInvalidArgument)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return fmt.Errorf("volume name %q includes invalid characters: use letters, digits, '_', '.' and '-', starting with a letter or digit: %w", name, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func (s *Store) volumeDir(name string) string { return filepath.Join(s.root, name) }

func (s *Store) readMeta(name string) (Volume, error) {
	b, err := os.ReadFile(filepath.Join(s.volumeDir(name), metaFile))
	if err != nil {
		return Volume{}, err
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Volume{}, fmt.Errorf("volume %s: bad %s: %w", name, metaFile, err)
	}
	if m.Name != name || m.Driver != DriverLocal {
		return Volume{}, fmt.Errorf("volume %s: %s describes %q (driver %q)", name, metaFile, m.Name, m.Driver)
	}
	return Volume{
		Name:       m.Name,
		Driver:     m.Driver,
		Mountpoint: filepath.Join(s.volumeDir(name), dataDir),
		CreatedAt:  m.CreatedAt,
		Labels:     m.Labels,
		Options:    m.Options,
		Anonymous:  m.Anonymous,
	}, nil
}

// Create creates a volume, or returns the existing one of that name when its labels and
// options are the same (as Docker does). An empty name makes an anonymous volume with a
// random 64-hex name. opts are the local driver's options; see validateOptions.
func (s *Store) Create(name string, labels, opts map[string]string) (Volume, error) {
	anonymous := name == ""
	if anonymous {
		name = randomName()
	} else if err := validName(name); err != nil {
		return Volume{}, err
	}
	if err := validateOptions(opts); err != nil {
		return Volume{}, fmt.Errorf("create volume %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	if v, err := s.readMeta(name); err == nil {
		if !sameMap(v.Labels, labels) || !sameMap(v.Options, opts) {
			return Volume{}, fmt.Errorf("volume %s already exists with different labels or options: remove it first (drover volume rm %s) or choose another name: %w", name, name, errdefs.ErrConflict)
		}
		return v, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Volume{}, fmt.Errorf("create volume %s: %w", name, err)
	}

	v := Volume{
		Name:      name,
		Driver:    DriverLocal,
		CreatedAt: time.Now().UTC().Truncate(time.Second),
		Labels:    cloneMap(labels),
		Options:   cloneMap(opts),
		Anonymous: anonymous,
	}
	dir := s.volumeDir(name)
	// A directory without meta.json here is a leftover of a failed create: start afresh.
	if err := removeVolumeDir(dir); err != nil {
		return Volume{}, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := s.createDir(v); err != nil {
		os.RemoveAll(dir)
		return Volume{}, fmt.Errorf("create volume %s: %w", name, err)
	}
	v.Mountpoint = filepath.Join(dir, dataDir)
	return v, nil
}

func (s *Store) createDir(v Volume) error {
	dir := s.volumeDir(v.Name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	// Docker makes _data 0755 so that container users other than root can enter it.
	if err := os.Mkdir(filepath.Join(dir, dataDir), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, dataDir), 0o755); err != nil { // despite umask
		return err
	}
	b, err := json.MarshalIndent(meta{v.Name, v.Driver, v.CreatedAt, v.Labels, v.Options, v.Anonymous}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteDurable(filepath.Join(dir, metaFile), b, 0o600); err != nil {
		return err
	}
	return atomicfile.SyncDir(s.root)
}

func randomName() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func sameMap(a, b map[string]string) bool { return maps.Equal(a, b) } // nil equals empty

// Get returns the named volume.
func (s *Store) Get(name string) (Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.get(name)
}

func (s *Store) get(name string) (Volume, error) {
	if validName(name) != nil {
		return Volume{}, notFound(name)
	}
	v, err := s.readMeta(name)
	if errors.Is(err, fs.ErrNotExist) {
		return Volume{}, notFound(name)
	}
	return v, err
}

func notFound(name string) error {
	return fmt.Errorf("no such volume: %s (list volumes with drover volume ls): %w", name, errdefs.ErrNotFound)
}

// List returns all volumes, sorted by name.
func (s *Store) List() ([]Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list()
}

func (s *Store) list() ([]Volume, error) {
	entries, err := os.ReadDir(s.root) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []Volume
	for _, e := range entries {
		if !e.IsDir() || validName(e.Name()) != nil {
			continue
		}
		v, err := s.readMeta(e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue // a create in flight elsewhere or a leftover Open will clear
		}
		if err != nil {
			return nil, fmt.Errorf("list volumes: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Remove removes the volume and its data. inUse (the caller knows which containers use
// which volumes) refuses with ErrConflict, as does a volume still mounted through Mount.
func (s *Store) Remove(name string, inUse bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remove(name, inUse)
}

func (s *Store) remove(name string, inUse bool) error {
	if _, err := s.get(name); err != nil {
		return err
	}
	if inUse || s.users[name] > 0 {
		return fmt.Errorf("remove volume %s: volume is in use: remove the containers that use it first: %w", name, errdefs.ErrConflict)
	}
	// Move it aside first so that a crash never leaves a half-deleted volume under its name.
	trash := filepath.Join(s.root, trashPrefix+randomName()[:16])
	if err := os.Rename(s.volumeDir(name), trash); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if err := atomicfile.SyncDir(s.root); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if err := removeVolumeDir(trash); err != nil {
		return fmt.Errorf("remove volume %s: %w (the rest is removed at the next daemon start)", name, err)
	}
	return nil
}

// Prune removes the volumes no container uses: only anonymous ones unless all is set, as
// Docker 23 and later do. inUse may be nil (nothing is in use). It returns the names
// removed and the bytes their data took.
func (s *Store) Prune(inUse func(name string) bool, all bool) (removed []string, reclaimed int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vols, err := s.list()
	if err != nil {
		return nil, 0, err
	}
	for _, v := range vols {
		if (!all && !v.Anonymous) || (inUse != nil && inUse(v.Name)) || s.users[v.Name] > 0 {
			continue
		}
		size, _ := diskUsage(v.Mountpoint) // best effort: the size is only reported
		if err := s.remove(v.Name, false); err != nil {
			return removed, reclaimed, fmt.Errorf("prune volumes: %w", err)
		}
		removed = append(removed, v.Name)
		reclaimed += size
	}
	return removed, reclaimed, nil
}

// Size returns the disk usage of the volume's data in bytes (allocated blocks, each
// hardlinked file counted once).
func (s *Store) Size(name string) (int64, error) {
	s.mu.Lock()
	v, err := s.get(name)
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := diskUsage(v.Mountpoint)
	if err != nil {
		return 0, fmt.Errorf("size of volume %s: %w", name, err)
	}
	return n, nil
}

func diskUsage(dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info() // lstat: symlinks are counted, never followed
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Nlink > 1 && !fi.IsDir() {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total, err
}
