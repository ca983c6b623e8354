package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"

	"github.com/drover/drover/cri"
)

var _ cri.Engine = (*Daemon)(nil)

// serveCRI serves the CRI on cfg.CRISocket (mode 0600: a kubelet runs as root) and
// returns the function that stops it.
func (d *Daemon) serveCRI() (func(), error) {
	p := d.cfg.CRISocket
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("cri socket %s exists and is not a socket: remove it or choose another --cri-socket", p)
	}
	_ = os.Remove(p)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", p, err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	srv := cri.New(d)
	stopStreaming := func() {}
	if addr := d.cfg.CRIStreamAddr; addr != "" {
		if stopStreaming, err = srv.ServeStreaming(addr); err != nil {
			ln.Close()
			_ = os.Remove(p)
			return nil, fmt.Errorf("%w: choose another --cri-stream-addr", err)
		}
	}
	g := grpc.NewServer()
	srv.Register(g)
	go func() {
		if err := g.Serve(ln); err != nil {
			d.log.Warn("cri socket", "err", err)
		}
	}()
	d.log.Info("cri ready", "socket", p)
	return func() { g.Stop(); stopStreaming(); _ = os.Remove(p) }, nil
}

// ImageFilesystem reports the image store's directory, the bytes its images take there
// (unpacked layers and the content store) and the inodes in use on its filesystem, for
// the CRI's ImageFsInfo.
func (d *Daemon) ImageFilesystem(ctx context.Context) (string, uint64, uint64, error) {
	dir := filepath.Join(d.cfg.Root, "image")
	u, err := d.images.DiskUsage()
	if err != nil {
		return "", 0, 0, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return dir, uint64(u.LayersSize + u.BlobsSize), st.Files - st.Ffree, nil
}
