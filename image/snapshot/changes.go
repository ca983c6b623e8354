package snapshot

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// ChangeKind is what happened to a path, numbered as the Docker API numbers it.
type ChangeKind int

const (
	Modified ChangeKind = iota
	Added
	Deleted
)

// Change is one changed path of a container's layer (absolute, slash-separated).
type Change struct {
	Path string
	Kind ChangeKind
}

// Changes lists, sorted by path, what container layer key changed against the layers it
// was prepared on (docker diff): paths that are new, deleted (whiteouts) or changed
// (there below too). A directory that is there below counts as changed only when
// something in it does; skip leaves out paths, as for Diff.
func (s *Snapshotter) Changes(key string, skip func(rel string) bool) ([]Change, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	// The layers the container was prepared on, top first.
	var lowers []string
	if parent, err := readMeta(s.containerDir(key), "parent"); err != nil {
		return nil, fmt.Errorf("changes of %s: %w", key, err)
	} else if parent != "" {
		if lowers, err = s.lowers(digest.Digest(parent)); err != nil {
			return nil, err
		}
	}
	below := func(rel string) bool {
		for _, l := range lowers { // a whiteout in a higher layer hides what is deeper
			var st unix.Stat_t
			if unix.Lstat(filepath.Join(l, rel), &st) == nil {
				return !isWhiteout(&st)
			}
		}
		return false
	}
	var out []Change
	var dirs []string // directories there below too: changed only if something in them is
	err := s.walkUpper(key, "changes of", skip, func(p, rel string, d fs.DirEntry) error {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if isWhiteout(&st) {
			out = append(out, Change{"/" + rel, Deleted})
			return nil
		}
		switch {
		case !below(rel):
			out = append(out, Change{"/" + rel, Added})
		case d.IsDir():
			dirs = append(dirs, rel)
		default:
			out = append(out, Change{"/" + rel, Modified})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		for _, c := range out {
			if strings.HasPrefix(c.Path, "/"+d+"/") {
				out = append(out, Change{"/" + d, Modified})
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// isWhiteout tells an overlayfs deletion mark: a 0/0 character device.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}
