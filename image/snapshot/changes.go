package snapshot

import (
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
	var out []Change
	var dirs []string // directories there below too: changed only if something in them is
	var lowers []string
	loaded := false
	below := func(dir, rel string) (bool, error) {
		if !loaded { // the layers the container was prepared on
			loaded = true
			parent, err := readMeta(dir, "parent")
			if err != nil {
				return false, err
			}
			if parent != "" {
				if lowers, err = s.lowers(digest.Digest(parent)); err != nil {
					return false, err
				}
			}
		}
		for _, l := range lowers { // top layer first: a whiteout there hides what is deeper
			var st unix.Stat_t
			if unix.Lstat(filepath.Join(l, rel), &st) == nil {
				return !(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0), nil
			}
		}
		return false, nil
	}
	dir := s.containerDir(key)
	_, err := s.walkUpper(key, "changes of", skip, func(p, rel string, d fs.DirEntry) error {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			out = append(out, Change{"/" + rel, Deleted})
			return nil
		}
		there, err := below(dir, rel)
		switch {
		case err != nil:
			return err
		case !there:
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
