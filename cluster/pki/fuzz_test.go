package pki

import (
	"crypto"
	"encoding/pem"
	"net"
	"strings"
	"testing"
)

// FuzzParseToken: token text comes from users and joiners. Parsing never
// panics, and whatever parses prints back as the same text.
func FuzzParseToken(f *testing.F) {
	f.Add("drv1." + strings.Repeat("ab", 32) + ".abcd2345." + strings.Repeat("q", 32))
	f.Add(" drv1." + strings.Repeat("0", 64) + ".aaaaaaaa." + strings.Repeat("7", 32) + "\n")
	f.Add("drv1....")
	f.Add("drv1." + strings.Repeat("é", 32) + ".abcd2345." + strings.Repeat("q", 32))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		if tok.String() != strings.TrimSpace(s) {
			t.Fatalf("parsed %q, prints %q", s, tok.String())
		}
		again, err := ParseToken(tok.String())
		if err != nil || again != tok {
			t.Fatalf("reparse of %q: %+v, %v", tok.String(), again, err)
		}
	})
}

// FuzzSignCSR: a CSR is what a joining machine sends. Whatever the bytes,
// SignCSR never panics, and a certificate it does issue carries exactly the
// allowed subject and SANs, for the key that signed the CSR.
func FuzzSignCSR(f *testing.F) {
	ca, err := NewCA(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	key, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	node := NodeIdentity("n1")
	for _, id := range []Identity{node, AdminIdentity(), {node.CommonName, []string{GroupNodes, GroupMasters}}} {
		csr, err := NewCSR(key, id, []string{"n1"}, []net.IP{net.ParseIP("10.0.0.1")})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(csr)
		b, _ := pem.Decode(csr)
		f.Add(b.Bytes) // bare DER: the target wraps it
	}
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n\n-----END CERTIFICATE REQUEST-----\n"))
	allowed := Request{
		CommonName: node.CommonName, Organizations: node.Organizations, Usage: Both,
		DNSNames: []string{"n1"}, IPs: []net.IP{net.ParseIP("10.0.0.1")},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := data
		if b, _ := pem.Decode(data); b == nil {
			in = pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: data})
		}
		certPEM, err := ca.SignCSR(in, allowed)
		if err != nil {
			return
		}
		csr, err := ParseCSR(in)
		if err != nil {
			t.Fatalf("signed a CSR that does not parse: %v", err)
		}
		c, err := ParseCertPEM(certPEM)
		if err != nil {
			t.Fatal(err)
		}
		if !(Identity{c.Subject.CommonName, c.Subject.Organization}).Equal(node) || len(c.Subject.OrganizationalUnit) > 0 {
			t.Fatalf("issued subject %v", c.Subject)
		}
		if len(c.DNSNames) != 1 || c.DNSNames[0] != "n1" || len(c.IPAddresses) != 1 || len(c.EmailAddresses)+len(c.URIs) > 0 {
			t.Fatalf("issued SANs %v %v %v %v", c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs)
		}
		if !(Identity{csr.Subject.CommonName, csr.Subject.Organization}).Equal(node) {
			t.Fatalf("signed a CSR asking for %v", csr.Subject)
		}
		type equaler interface{ Equal(crypto.PublicKey) bool }
		if pk, ok := c.PublicKey.(equaler); !ok || !pk.Equal(csr.PublicKey) {
			t.Fatal("certificate key is not the CSR's")
		}
	})
}
