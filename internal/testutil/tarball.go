package testutil

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var busyboxTar, testprogTar once

// BusyboxTar returns the path of a tarball of BusyboxRootfs, for `drover import`. It is
// built once per test binary; treat it as read-only.
func BusyboxTar(t testing.TB) string {
	t.Helper()
	root := BusyboxRootfs(t)
	return busyboxTar.get(t, func() (string, error) { return tarRootfs(root) })
}

// TestProgramTar returns the path of a tarball of TestProgramRootfs (busybox plus
// /testprog).
func TestProgramTar(t testing.TB) string {
	t.Helper()
	root := TestProgramRootfs(t)
	return testprogTar.get(t, func() (string, error) { return tarRootfs(root) })
}

// tarEpoch is the modification time of every entry, so that the same tree always makes
// the same tarball (and an imported image the same digest).
var tarEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// tarRootfs writes root to root + ".tar": entries in lexical order, owned by root except
// the drover user's home, with fixed times.
func tarRootfs(root string) (string, error) {
	path := root + ".tar"
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := writeTar(f, root); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("tar %s: %w", root, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, nil
}

func writeTar(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Name:    filepath.ToSlash(rel),
			Mode:    int64(fi.Mode().Perm()),
			ModTime: tarEpoch,
			Format:  tar.FormatPAX,
		}
		if fi.Mode()&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
		if rel == "home/drover" {
			hdr.Uid, hdr.Gid = DroverUID, DroverGID
		}
		switch {
		case fi.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		default:
			return fmt.Errorf("%s: unexpected file type %v", p, fi.Mode().Type())
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
