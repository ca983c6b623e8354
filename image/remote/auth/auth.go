// Package auth reads and writes registry credentials the way the Docker CLI keeps them:
// the config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json) with its "auths"
// entries, and the credential helpers it names (credsStore, credHelpers), so a user's
// existing `docker login` works with drover and the other way round.
package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/drover/drover/internal/atomicfile"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// hubKey is the key Docker Hub's credentials live under.
const hubKey = "https://index.docker.io/v1/"

// DefaultConfigPath is $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func DefaultConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/root"
	}
	return filepath.Join(home, ".docker", "config.json")
}

// File is a parsed config file. Keys drover does not know are kept as they were.
type File struct {
	path string
	raw  map[string]json.RawMessage

	auths       map[string]entry
	credsStore  string
	credHelpers map[string]string
}

// entry is one "auths" value.
type entry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// Load reads the config file at path; a missing file is an empty config.
func Load(path string) (*File, error) {
	f := &File{path: path, raw: map[string]json.RawMessage{}, auths: map[string]entry{}, credHelpers: map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials %s: %w", path, err)
	}
	if err := f.parse(data); err != nil {
		return nil, fmt.Errorf("credentials file %s is not valid JSON (%v): fix or remove it", path, err)
	}
	return f, nil
}

func (f *File) parse(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, &f.raw); err != nil {
		return err
	}
	if f.raw == nil {
		f.raw = map[string]json.RawMessage{}
	}
	if v, ok := f.raw["auths"]; ok {
		if err := json.Unmarshal(v, &f.auths); err != nil {
			return fmt.Errorf("auths: %w", err)
		}
	}
	if v, ok := f.raw["credsStore"]; ok {
		if err := json.Unmarshal(v, &f.credsStore); err != nil {
			return fmt.Errorf("credsStore: %w", err)
		}
	}
	if v, ok := f.raw["credHelpers"]; ok {
		if err := json.Unmarshal(v, &f.credHelpers); err != nil {
			return fmt.Errorf("credHelpers: %w", err)
		}
	}
	if f.auths == nil {
		f.auths = map[string]entry{}
	}
	if f.credHelpers == nil {
		f.credHelpers = map[string]string{}
	}
	return nil
}

// normalise maps the many spellings of a registry to the host[:port] drover uses
// ("docker.io" for Docker Hub).
func normalise(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	if i := strings.Index(s, "/"); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "index.docker.io", "registry-1.docker.io", "docker.io", "":
		return "docker.io"
	}
	return s
}

// key is the config key credentials for registry are stored under.
func key(registry string) string {
	if r := normalise(registry); r != "docker.io" {
		return r
	}
	return hubKey
}

// helperFor is the credential helper for registry, "" for the file itself.
func (f *File) helperFor(registry string) string {
	r := normalise(registry)
	for k, h := range f.credHelpers {
		if normalise(k) == r {
			return h
		}
	}
	return f.credsStore
}

// findAuth finds the "auths" key matching registry, in any of its spellings.
func (f *File) findAuth(registry string) (string, bool) {
	r := normalise(registry)
	if _, ok := f.auths[key(registry)]; ok {
		return key(registry), true
	}
	for k := range f.auths {
		if normalise(k) == r {
			return k, true
		}
	}
	return "", false
}

// Get returns the credentials for registry; none stored is an empty AuthConfig.
func (f *File) Get(registry string) (api.AuthConfig, error) {
	if h := f.helperFor(registry); h != "" {
		return helperGet(h, key(registry))
	}
	k, ok := f.findAuth(registry)
	if !ok {
		return api.AuthConfig{}, nil
	}
	e := f.auths[k]
	a := api.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken, ServerAddress: k}
	if e.Auth != "" {
		dec, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return api.AuthConfig{}, fmt.Errorf("credentials for %s in %s: bad auth value: log in again", registry, f.path)
		}
		user, pass, ok := strings.Cut(string(dec), ":")
		if !ok {
			return api.AuthConfig{}, fmt.Errorf("credentials for %s in %s: auth is not user:password: log in again", registry, f.path)
		}
		a.Username, a.Password = user, pass
	}
	return a, nil
}

// Store saves credentials for registry: through its helper when one is configured, else
// in the file (base64 user:password, as Docker writes it).
func (f *File) Store(registry string, a api.AuthConfig) error {
	if h := f.helperFor(registry); h != "" {
		return helperStore(h, key(registry), a)
	}
	if k, ok := f.findAuth(registry); ok {
		delete(f.auths, k)
	}
	e := entry{IdentityToken: a.IdentityToken}
	if a.Username != "" || a.Password != "" {
		e.Auth = base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password))
	}
	f.auths[key(registry)] = e
	return f.save()
}

// Erase removes the credentials for registry (logout).
func (f *File) Erase(registry string) error {
	if h := f.helperFor(registry); h != "" {
		return helperErase(h, key(registry))
	}
	k, ok := f.findAuth(registry)
	if !ok {
		return fmt.Errorf("not logged in to %s: %w", normalise(registry), errdefs.ErrNotFound)
	}
	delete(f.auths, k)
	return f.save()
}

// save writes the file atomically (temp file, fsync, rename), 0600 in a 0700 directory.
func (f *File) save() error {
	auths, err := json.Marshal(f.auths)
	if err != nil {
		return err
	}
	f.raw["auths"] = auths
	data, err := json.MarshalIndent(f.raw, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := atomicfile.WriteDurable(f.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save credentials to %s: %w", f.path, err)
	}
	return nil
}

// EncodeHeader encodes credentials for the X-Registry-Auth header.
func EncodeHeader(a api.AuthConfig) string {
	data, _ := json.Marshal(a)
	return base64.URLEncoding.EncodeToString(data)
}

// DecodeHeader decodes an X-Registry-Auth header (base64url or standard base64 JSON).
func DecodeHeader(s string) (api.AuthConfig, error) {
	var a api.AuthConfig
	s = strings.TrimSpace(s)
	var data []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.StdEncoding, base64.RawURLEncoding, base64.RawStdEncoding} {
		if data, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return a, fmt.Errorf("X-Registry-Auth header is not base64: %w", errdefs.ErrInvalidArgument)
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("X-Registry-Auth header is not JSON credentials: %w", errdefs.ErrInvalidArgument)
	}
	return a, nil
}

// helperCreds is the JSON a credential helper speaks.
type helperCreds struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

// tokenUser is the username a helper stores an identity token under.
const tokenUser = "<token>"

func runHelper(helper, action string, stdin []byte) ([]byte, error) {
	bin := "docker-credential-" + helper
	cmd := exec.Command(bin, action)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(string(out) + " " + stderr.String())
		if strings.Contains(msg, "credentials not found") {
			return nil, errdefs.ErrNotFound
		}
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("credential helper %s is not installed (the Docker config names it): install it or edit the config", bin)
		}
		return nil, fmt.Errorf("credential helper %s %s: %v: %s", bin, action, err, msg)
	}
	return out, nil
}

func helperGet(helper, server string) (api.AuthConfig, error) {
	out, err := runHelper(helper, "get", []byte(server))
	if errors.Is(err, errdefs.ErrNotFound) {
		return api.AuthConfig{}, nil
	}
	if err != nil {
		return api.AuthConfig{}, err
	}
	var c helperCreds
	if err := json.Unmarshal(out, &c); err != nil {
		return api.AuthConfig{}, fmt.Errorf("credential helper %s: bad answer: %v", helper, err)
	}
	if c.Username == tokenUser {
		return api.AuthConfig{IdentityToken: c.Secret, ServerAddress: server}, nil
	}
	return api.AuthConfig{Username: c.Username, Password: c.Secret, ServerAddress: server}, nil
}

func helperStore(helper, server string, a api.AuthConfig) error {
	c := helperCreds{ServerURL: server, Username: a.Username, Secret: a.Password}
	if a.IdentityToken != "" {
		c.Username, c.Secret = tokenUser, a.IdentityToken
	}
	data, _ := json.Marshal(c)
	_, err := runHelper(helper, "store", data)
	return err
}

func helperErase(helper, server string) error {
	_, err := runHelper(helper, "erase", []byte(server))
	if errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("not logged in to %s: %w", normalise(server), errdefs.ErrNotFound)
	}
	return err
}
