package cli

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/archive"
)

// splitCpArg splits "CONTAINER:PATH"; a local path has no colon before its first slash.
func splitCpArg(arg string) (container, p string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	c, rest, ok := strings.Cut(arg, ":")
	if !ok || strings.Contains(c, "/") {
		return "", arg
	}
	return c, rest
}

func cpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cp CONTAINER:SRC_PATH DEST_PATH|-\n  drover cp SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files between a container and the local filesystem",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcC, src := splitCpArg(args[0])
			dstC, dst := splitCpArg(args[1])
			switch {
			case srcC != "" && dstC == "":
				return copyFrom(cmd, srcC, src, dst)
			case srcC == "" && dstC != "":
				return copyTo(cmd, src, dstC, dst)
			default:
				return exitCode(1, "copy between a container and the local filesystem: exactly one side must be CONTAINER:PATH")
			}
		},
	}
}

func copyFrom(cmd *cobra.Command, ctr, src, dst string) error {
	body, err := clientFor().CopyFromContainer(cmd.Context(), ctr, src)
	if err != nil {
		return exitCode(1, err.Error())
	}
	defer body.Close()
	if dst == "-" {
		_, err := io.Copy(os.Stdout, body)
		return err
	}
	// Into an existing directory, keep the name; otherwise the copy takes dst's name.
	dir, rename := dst, ""
	if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
		dir, rename = filepath.Dir(dst), filepath.Base(dst)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return exitCode(1, err.Error())
	}
	var r io.Reader = body
	if rename != "" {
		r = renameTop(body, path.Base(path.Clean("/"+src)), rename)
	}
	if err := archive.Untar(r, absDir, "/", archive.DefaultLimits); err != nil {
		return exitCode(1, fmt.Sprintf("copy to %s: %v", dst, err))
	}
	return nil
}

func copyTo(cmd *cobra.Command, src, ctr, dst string) error {
	c := clientFor()
	if src == "-" {
		if err := c.CopyToContainer(cmd.Context(), ctr, dst, os.Stdin); err != nil {
			return exitCode(1, err.Error())
		}
		return nil
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return exitCode(1, err.Error())
	}
	if _, err := os.Lstat(abs); err != nil {
		return exitCode(1, fmt.Sprintf("could not find the file %s in the local filesystem", src))
	}
	send := func(dir, name string) error {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(archive.Tar(pw, filepath.Dir(abs), "/"+filepath.Base(abs)))
		}()
		var body io.Reader = pr
		if name != filepath.Base(abs) {
			body = renameTop(pr, filepath.Base(abs), name)
		}
		return c.CopyToContainer(cmd.Context(), ctr, dir, body)
	}
	err = send(dst, filepath.Base(abs))
	if err != nil && !strings.HasSuffix(dst, "/") {
		// dst is not an existing directory: the copy gets dst's name in its parent.
		if err2 := send(path.Dir(path.Clean("/"+dst)), path.Base(dst)); err2 == nil {
			return nil
		}
	}
	if err != nil {
		return exitCode(1, err.Error())
	}
	return nil
}

// renameTop rewrites the leading path component from -> to in a tar stream.
func renameTop(r io.Reader, from, to string) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(r)
		tw := tar.NewWriter(pw)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				pw.CloseWithError(tw.Close())
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			name := strings.TrimPrefix(hdr.Name, "./")
			if name == from || strings.HasPrefix(name, from+"/") {
				hdr.Name = to + strings.TrimPrefix(name, from)
			}
			if err := tw.WriteHeader(hdr); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}
