// Package remote is drover's registry client: it pulls images into the image store and
// pushes them out, speaking the OCI distribution API. go-containerregistry supplies the
// wire pieces that are easy to get wrong (the ping, the anonymous and bearer token
// flows, basic auth, the https-then-http fallback for insecure registries); the requests
// themselves are plain HTTP here, so that blobs stream straight into the content store
// with range requests for resuming and are unpacked while they arrive.
package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
	"github.com/drover/drover/image/policy"
)

// Options configures the client; the daemon fills it from its flags.
type Options struct {
	// Insecure lists registries (host[:port], or CIDRs such as 10.0.0.0/8) that may be
	// reached over plain HTTP or TLS that does not verify. Loopback always may, as with
	// Docker.
	Insecure []string
	// CertsDir holds per-registry TLS material, Docker's layout:
	// <CertsDir>/<host[:port]>/*.crt (CAs), *.cert + *.key (a client certificate).
	CertsDir string
	// Mirrors are registries tried, in order, before the one an image names, with the
	// same repository path: "host[:port]" mirrors Docker Hub, "registry=host[:port]" the
	// registry named (gcr.io=mirror.local:5000), as containerd's and podman's mirror
	// settings do.
	Mirrors []string
	// Concurrency is how many layers download at once (default 4).
	Concurrency int
	// UserAgent is sent with every request.
	UserAgent string
	// Policy, when set, is the trust policy every pull must satisfy before anything of
	// the image is stored.
	Policy *policy.Policy
}

// Client pulls into and pushes from one image store.
type Client struct {
	store *image.Store
	opts  Options
}

// New returns a client for store.
func New(store *image.Store, opts Options) *Client {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "drover"
	}
	return &Client{store: store, opts: opts}
}

// hubHost is where docker.io's API lives.
const hubHost = "registry-1.docker.io"

// apiHost maps a reference's domain to the host that serves its API.
func apiHost(domain string) string {
	if domain == "docker.io" || domain == "index.docker.io" {
		return hubHost
	}
	return domain
}

// repository is one repository on one registry endpoint, with an authorised client.
type repository struct {
	host   string // host[:port] of the API
	path   string // repository path, e.g. library/busybox
	client *http.Client
}

// url of an API path under the repository ("manifests/latest", "blobs/sha256:...").
// The scheme is rewritten by ggcr's transport to whatever its ping found (http for an
// insecure registry that has no TLS).
func (r *repository) url(p string) string {
	return "https://" + r.host + "/v2/" + r.path + "/" + p
}

// open authorises against host for repository path with the given actions ("pull",
// "push"): ggcr's transport pings the registry, then handles tokens and basic auth.
func (c *Client) open(ctx context.Context, host, path string, auth api.AuthConfig, actions ...string) (*repository, error) {
	reg, err := c.registry(host)
	if err != nil {
		return nil, err
	}
	base, err := c.baseTransport(host)
	if err != nil {
		return nil, err
	}
	scope := "repository:" + path + ":" + strings.Join(actions, ",")
	rt, err := transport.NewWithContext(ctx, reg, authenticator(auth), base, []string{scope})
	if err != nil {
		return nil, registryError(host, err)
	}
	rt = transport.NewUserAgent(rt, c.opts.UserAgent)
	return &repository{host: host, path: path, client: &http.Client{Transport: rt}}, nil
}

func authenticator(a api.AuthConfig) authn.Authenticator {
	if a == (api.AuthConfig{}) || (a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == "") {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken})
}

// registry names host for ggcr, marked insecure when plain HTTP is allowed for it.
func (c *Client) registry(host string) (name.Registry, error) {
	var opts []name.Option
	if c.insecure(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("registry %q: %w", host, err)
	}
	return reg, nil
}

// insecure reports whether host may be used without verified TLS.
func (c *Client) insecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, e := range c.opts.Insecure {
		if e == host || e == h {
			return true
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil && ip != nil && cidr.Contains(ip) {
			return true
		}
	}
	return false
}

// baseTransport is the HTTP transport for host: system CAs plus the registry's own from
// CertsDir, its client certificate, and no verification for insecure registries that
// have no CA of their own.
func (c *Client) baseTransport(host string) (http.RoundTripper, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	hasCA := false
	if c.opts.CertsDir != "" {
		dir := filepath.Join(c.opts.CertsDir, host)
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("registry %s: read certificates: %w", host, err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			switch {
			case strings.HasSuffix(e.Name(), ".crt"):
				pem, err := os.ReadFile(p)
				if err != nil {
					return nil, fmt.Errorf("registry %s: %w", host, err)
				}
				if cfg.RootCAs == nil {
					if cfg.RootCAs, err = x509.SystemCertPool(); err != nil || cfg.RootCAs == nil {
						cfg.RootCAs = x509.NewCertPool()
					}
				}
				if !cfg.RootCAs.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("registry %s: %s holds no PEM certificate", host, p)
				}
				hasCA = true
			case strings.HasSuffix(e.Name(), ".cert"):
				key := strings.TrimSuffix(p, ".cert") + ".key"
				cert, err := tls.LoadX509KeyPair(p, key)
				if err != nil {
					return nil, fmt.Errorf("registry %s: client certificate %s (with %s): %w", host, p, key, err)
				}
				cfg.Certificates = append(cfg.Certificates, cert)
			}
		}
	}
	if !hasCA && c.insecure(host) {
		cfg.InsecureSkipVerify = true
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   c.opts.Concurrency + 2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if hasCA {
		return httpsOnly{t}, nil
	}
	return t, nil
}

// httpsOnly refuses plain HTTP: a registry with a CA of its own speaks TLS, and a failed
// handshake must not fall back to HTTP (which ggcr tries for loopback registries).
type httpsOnly struct{ http.RoundTripper }

func (h httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return nil, fmt.Errorf("plain HTTP refused for %s: it has a CA in the certs directory", req.URL.Host)
	}
	return h.RoundTripper.RoundTrip(req)
}

// mirrors returns the mirrors configured for registry domain, in order.
func (c *Client) mirrors(domain string) []string {
	var out []string
	for _, m := range c.opts.Mirrors {
		reg, mirror, scoped := strings.Cut(m, "=")
		if !scoped {
			reg, mirror = "docker.io", m
		}
		if reg == domain {
			out = append(out, mirror)
		}
	}
	return out
}
