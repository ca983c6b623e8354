package daemon

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image"
	"github.com/drover/drover/registry"
)

// startRegistry serves the OCI distribution API on cfg.RegistryAddr: the
// daemon's own images, read-only, as repositories named by their path
// (127.0.0.1:5000/team/app:1 is served as team/app:1, busybox as library/busybox),
// beside what clients push, which is kept in a registry store of its own under
// ROOT/registry (the daemon's image GC and the registry's never see each other's blobs).
// It returns a function that stops it.
func (d *Daemon) startRegistry() (func(), error) {
	opts := d.cfg.RegistryOptions
	opts.Source = &registry.Source{Tags: d.registryTags, Blobs: d.images.Content()}
	opts.Logf = func(format string, args ...any) { d.log.Warn(fmt.Sprintf(format, args...)) }
	reg, err := registry.Open(filepath.Join(d.cfg.Root, "registry"), opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", d.cfg.RegistryAddr)
	if err != nil {
		reg.Close()
		return nil, fmt.Errorf("registry: listen on %s: %w", d.cfg.RegistryAddr, err)
	}
	srv := &http.Server{Handler: reg, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(discard{}, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if d.cfg.RegistryTLSCert != "" {
			err = srv.ServeTLS(ln, d.cfg.RegistryTLSCert, d.cfg.RegistryTLSKey)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("registry stopped", "err", err)
		}
	}()
	d.log.Info("registry serving the daemon's images", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		srv.Close()
		<-done
		reg.Close()
	}, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// registryTags lists the daemon's tagged images by repository path and tag.
func (d *Daemon) registryTags() (map[string]map[string]digest.Digest, error) {
	imgs, err := d.images.List()
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]digest.Digest{}
	for _, img := range imgs {
		if img.Manifest == "" {
			continue
		}
		for _, t := range img.RepoTags {
			ref, err := image.ParseReference(t)
			if err != nil || ref.Tag == "" {
				continue
			}
			if out[ref.Path] == nil {
				out[ref.Path] = map[string]digest.Digest{}
			}
			if _, taken := out[ref.Path][ref.Tag]; !taken {
				out[ref.Path][ref.Tag] = img.Manifest
			}
		}
	}
	return out, nil
}
