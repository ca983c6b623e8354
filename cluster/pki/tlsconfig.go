package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
)

// TLSOption adjusts a configuration ServerTLS or ClientTLS builds.
type TLSOption func(*tls.Config)

// WithVerifyPeer runs the checks, in order, on the peer's leaf certificate
// at every handshake, resumed ones included (it uses VerifyConnection,
// which unlike VerifyPeerCertificate also runs on session resumption), so
// a revoked certificate or a removed node fails at the handshake.
func WithVerifyPeer(checks ...VerifyPeer) TLSOption {
	return func(c *tls.Config) {
		prev := c.VerifyConnection
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if prev != nil {
				if err := prev(cs); err != nil {
					return err
				}
			}
			if len(cs.PeerCertificates) == 0 {
				// Only reachable with WithOptionalClientCert: an anonymous
				// client, which the handler itself must treat as such.
				return nil
			}
			for _, check := range checks {
				if err := check(cs.PeerCertificates[0]); err != nil {
					return fmt.Errorf("peer certificate: %w", err)
				}
			}
			return nil
		}
	}
}

// WithOptionalClientCert makes a server verify a client certificate when
// one is presented but also accept clients without one. The API port uses
// it: it serves the join endpoint to machines that have no certificate yet,
// and re-joining machines present their old one.
func WithOptionalClientCert() TLSOption {
	return func(c *tls.Config) { c.ClientAuth = tls.VerifyClientCertIfGiven }
}

// RequireGroup is a VerifyPeer that accepts only certificates in the group
// (e.g. GroupServers on the Raft port).
func RequireGroup(group string) VerifyPeer {
	return func(cert *x509.Certificate) error {
		if !slices.Contains(cert.Subject.Organization, group) {
			return fmt.Errorf("%q is not in group %q", cert.Subject.CommonName, group)
		}
		return nil
	}
}

// ErrNotMember is wrapped by RequireMember's error.
var ErrNotMember = errors.New("not a member of the cluster")

// RequireMember is a VerifyPeer that refuses node and server certificates
// whose node name isMember does not know (a removed machine), and passes
// every other identity (the admin). isMember runs on every handshake: it
// must answer from memory (the server's view of the node list), not from
// a read that can block.
func RequireMember(isMember func(nodeName string) bool) VerifyPeer {
	return func(cert *x509.Certificate) error {
		name, ok := NodeName(cert.Subject.CommonName)
		if ok && !isMember(name) {
			return fmt.Errorf("%w: %q", ErrNotMember, name)
		}
		return nil
	}
}

// ServerTLS is the configuration of a listener: TLS 1.3 only, serving cert,
// and client certificates required and verified against the CA. The CA
// certificate is appended to the served chain if missing, so a joining
// machine can find and pin it.
func ServerTLS(ca *x509.Certificate, cert tls.Certificate, opts ...TLSOption) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if !slices.ContainsFunc(cert.Certificate, func(der []byte) bool { return slices.Equal(der, ca.Raw) }) {
		cert.Certificate = append(slices.Clone(cert.Certificate), ca.Raw)
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// ClientTLS is the configuration of a dialer: TLS 1.3 only, the server's
// certificate verified against the CA (and its name against the address
// dialed), and cert presented as the client's identity.
func ClientTLS(ca *x509.Certificate, cert tls.Certificate, opts ...TLSOption) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// PeerIdentity is the verified identity of a TLS peer, or an error if it
// presented no verified certificate.
func PeerIdentity(cs *tls.ConnectionState) (Identity, *x509.Certificate, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Identity{}, nil, errors.New("no verified client certificate")
	}
	leaf := cs.VerifiedChains[0][0]
	return Identity{CommonName: leaf.Subject.CommonName, Organizations: leaf.Subject.Organization}, leaf, nil
}
