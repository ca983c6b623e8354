package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/drover/drover/dockerapi"
)

// listenDocker opens the Docker API socket when one is configured: mode 0660, owned by
// root and, with DockerSocketGroup, by that group (as dockerd's -G), so only root and
// that group reach it.
func (d *Daemon) listenDocker() (net.Listener, error) {
	p := d.cfg.DockerSocket
	if p == "" {
		return nil, nil
	}
	gid := 0
	if g := d.cfg.DockerSocketGroup; g != "" {
		grp, err := user.LookupGroup(g)
		if err != nil {
			n, nerr := strconv.Atoi(g)
			if nerr != nil {
				return nil, fmt.Errorf("docker socket group %q: %w", g, err)
			}
			gid = n
		} else {
			gid, _ = strconv.Atoi(grp.Gid)
		}
	}
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("docker socket %s exists and is not a socket: remove it or choose another --docker-socket", p)
	}
	_ = os.Remove(p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", p, err)
	}
	if err := os.Chown(p, 0, gid); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Chmod(p, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	if gid != 0 {
		// The group must be able to reach the socket: its directory (the exec root by
		// default, 0700) lets that group through, without listing it.
		if err := allowGroupThrough(filepath.Dir(p), gid); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return ln, nil
}

// allowGroupThrough gives gid search (x) permission on dir when it does not have it: the
// directory becomes that group's, mode g+x, unless it already lets everyone through.
func allowGroupThrough(dir string, gid int) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	mode := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || mode&0o001 != 0 || (int(st.Gid) == gid && mode&0o010 != 0) {
		return nil
	}
	if err := os.Chown(dir, -1, gid); err != nil {
		return fmt.Errorf("let group %d reach the docker socket: %w", gid, err)
	}
	return os.Chmod(dir, mode|0o010)
}

// serveDocker answers the Docker Engine API on ln until the server is shut down.
func (d *Daemon) serveDocker(ln net.Listener) *http.Server {
	h := dockerapi.New(d, dockerapi.Options{Version: Version, Logger: d.log})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Warn("docker api socket", "err", err)
		}
	}()
	d.log.Info("docker api ready", "socket", d.cfg.DockerSocket)
	return srv
}
