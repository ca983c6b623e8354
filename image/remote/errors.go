package remote

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/drover/drover/internal/errdefs"
)

// registryError turns what the registry or the network said into an error a user can act
// on, wrapping the errdefs sentinel that fits.
func registryError(host string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		var codes []string
		for _, d := range te.Errors {
			codes = append(codes, d.String())
		}
		detail := strings.Join(codes, "; ")
		if detail == "" {
			detail = http.StatusText(te.StatusCode)
		}
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: %s: log in with: drover login %s: %w", host, detail, host, errdefs.ErrUnauthorized)
		case http.StatusNotFound:
			return fmt.Errorf("%s: %s: %w", host, detail, errdefs.ErrNotFound)
		}
		return fmt.Errorf("%s: %s", host, detail)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("registry %s: cannot resolve its name (%v): check the name and your DNS", host, err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Errorf("registry %s is unreachable: %v", host, err)
	}
	if strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "tls:") {
		return fmt.Errorf("registry %s: TLS failed (%v): put its CA in the daemon's certs directory (<certs-dir>/%s/ca.crt) or mark it --insecure-registry", host, err, host)
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("registry %s speaks plain HTTP: mark it with --insecure-registry %s on the daemon if you trust the network", host, host)
	}
	return fmt.Errorf("registry %s: %w", host, err)
}

// checkResponse returns nil when resp has one of the codes, else the registry's error.
func checkResponse(host string, resp *http.Response, codes ...int) error {
	if err := transport.CheckError(resp, codes...); err != nil {
		return registryError(host, err)
	}
	return nil
}
