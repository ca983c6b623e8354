package pki

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
)

// KeyPair is a certificate (PEM, possibly followed by its chain) and its
// private key (PEM), as written to disk and handed to TLS.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// TLSCertificate parses the pair for a tls.Config.
func (kp KeyPair) TLSCertificate() (tls.Certificate, error) {
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load key pair: %w", err)
	}
	return c, nil
}

// WriteKeyPair writes dir/name.crt (0644) and dir/name.key (0600), each
// crash-safely. The key goes first so a crash never leaves a certificate
// whose key is missing.
func WriteKeyPair(dir, name string, kp KeyPair) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write key pair %s: %w", name, err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, name+".key"), kp.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("write key pair %s: %w", name, err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, name+".crt"), kp.CertPEM, 0o644); err != nil {
		return fmt.Errorf("write key pair %s: %w", name, err)
	}
	return nil
}

// ReadKeyPair reads what WriteKeyPair wrote and checks the two belong
// together.
func ReadKeyPair(dir, name string) (KeyPair, error) {
	var kp KeyPair
	var err error
	if kp.CertPEM, err = os.ReadFile(filepath.Join(dir, name+".crt")); err != nil {
		return KeyPair{}, fmt.Errorf("read key pair %s: %w", name, err)
	}
	if kp.KeyPEM, err = os.ReadFile(filepath.Join(dir, name+".key")); err != nil {
		return KeyPair{}, fmt.Errorf("read key pair %s: %w", name, err)
	}
	if _, err := kp.TLSCertificate(); err != nil {
		return KeyPair{}, fmt.Errorf("read key pair %s: %w", name, err)
	}
	return kp, nil
}

// WriteFileAtomic replaces path with data so that a crash leaves either the
// old file or the whole new one: temp file in the same directory, fsync,
// rename, fsync of the directory.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes 0600; set the final mode before any byte lands so a
	// key is never readable by others, even briefly.
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write %s: sync directory: %w", path, err)
	}
	return nil
}
