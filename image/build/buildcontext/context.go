// Package buildcontext packs a build context directory into the tar stream a build
// request carries, leaving out what the directory's .dockerignore excludes (Docker's
// rules: patterns with ** and !exceptions, matched against slash paths relative to the
// context).
package buildcontext

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// IgnoreFile is the name of the exclusion file at the root of a context.
const IgnoreFile = ".dockerignore"

// Excludes reads the exclusion patterns of the context dir built with dockerfile: as
// BuildKit, a DOCKERFILE.dockerignore beside the Dockerfile wins over dir's .dockerignore
// (none: no patterns).
func Excludes(dir, dockerfile string) ([]string, error) {
	name := filepath.Join(dir, IgnoreFile)
	if dockerfile != "" {
		if _, err := os.Stat(dockerfile + IgnoreFile); err == nil {
			name = dockerfile + IgnoreFile
		}
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", IgnoreFile, err)
	}
	return patterns, nil
}

// Size is the bytes of file content Tar would send (the daemon sizes its scratch space
// with it).
func Size(dir string, excludes []string) (int64, error) {
	var total int64
	err := walk(dir, excludes, func(_, _ string, d fs.DirEntry) error {
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

// Tar writes the files of dir that excludes leave in as an uncompressed tar to w. Names
// are relative to dir; symlinks are sent as links, never followed; device nodes,
// sockets and fifos are left out. Files keep their modes and times (owners do not
// matter: COPY gives root unless --chown says otherwise).
func Tar(w io.Writer, dir string, excludes []string) error {
	bw := bufio.NewWriterSize(w, 256<<10) // few large writes through the request's pipe
	tw := tar.NewWriter(bw)
	if err := walk(dir, excludes, func(p, rel string, d fs.DirEntry) error { return addEntry(tw, p, rel, d) }); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// walk calls fn for each path of dir that excludes leave in.
func walk(dir string, excludes []string, fn func(p, rel string, d fs.DirEntry) error) error {
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return fmt.Errorf("%s: %w", IgnoreFile, err)
	}
	parents := map[string]patternmatcher.MatchInfo{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		parent := filepath.ToSlash(filepath.Dir(rel))
		excluded, info, err := pm.MatchesUsingParentResults(rel, parents[parent])
		if err != nil {
			return fmt.Errorf("%s: %w", IgnoreFile, err)
		}
		if d.IsDir() {
			parents[rel] = info
		}
		if excluded {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil // an exception below may still bring files of it back
		}
		return fn(p, rel, d)
	})
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	return nil
}

func addEntry(tw *tar.Writer, p, rel string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	case fi.Mode().IsRegular(), fi.IsDir():
	default:
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.Format = tar.FormatPAX
	hdr.AccessTime, hdr.ChangeTime = fi.ModTime(), fi.ModTime()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if fi.Mode().IsRegular() && fi.Size() > 0 {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	return nil
}

// IsArchive tells a tar stream (plain) from anything else by the ustar magic.
func IsArchive(head []byte) bool {
	return len(head) >= 262 && strings.HasPrefix(string(head[257:262]), "ustar")
}
