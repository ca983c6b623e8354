package registry

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Access is what a request may do to a repository.
type Access int

const (
	NoAccess Access = iota
	Pull
	Push // implies Pull
)

func parseAccess(s string) (Access, bool) {
	switch s {
	case "pull", "read":
		return Pull, true
	case "push", "write", "pull,push", "push,pull":
		return Push, true
	}
	return NoAccess, false
}

// Auth checks htpasswd (bcrypt) users and grants access per repository.
//
// Without rules every authenticated user may push and pull everything, and anonymous
// requests may pull when AnonymousPull is set. With rules (an access file, see
// LoadRules) a request gets the most a matching rule grants.
type Auth struct {
	Realm         string
	AnonymousPull bool

	users map[string][]byte // user -> bcrypt hash
	rules []rule

	mu       sync.Mutex
	verified map[string][32]byte // user -> sha256 of a password bcrypt accepted

	tokenKey []byte // set: the Docker token flow (token.go)
}

// dummyHash is compared against for unknown users.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("drover-no-such-user"), bcrypt.DefaultCost)
	return h
})

// anonymous is the user name of requests without credentials (in rules too).
const anonymous = "anonymous"

type rule struct {
	user    string // a user, "*" for any authenticated user, or "anonymous"
	pattern string // path.Match pattern over repository names
	access  Access
}

// LoadHtpasswd reads an htpasswd file of bcrypt entries (htpasswd -B).
func LoadHtpasswd(file string) (*Auth, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	defer f.Close()
	a := &Auth{Realm: "drover", users: map[string][]byte{}, verified: map[string][32]byte{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" || !strings.HasPrefix(hash, "$2") {
			return nil, fmt.Errorf("htpasswd %s line %d: want user:bcrypt-hash (make it with htpasswd -B)", file, n)
		}
		a.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("htpasswd %s: %w", file, err)
	}
	if len(a.users) == 0 {
		return nil, fmt.Errorf("htpasswd %s: no users", file)
	}
	return a, nil
}

// LoadRules reads an access file: one rule a line, "USER REPOSITORY-PATTERN ACCESS",
// where USER is a user name, "*" (any authenticated user) or "anonymous", the pattern
// is "*" (every repository), "team/**" (all under team/) or a path.Match glob
// ("team/*": one level) and ACCESS is pull or push (a request gets the most any matching rule grants).
func (a *Auth) LoadRules(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("access rules: %w", err)
	}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return fmt.Errorf("access rules %s line %d: want USER REPOSITORY-PATTERN pull|push", file, n+1)
		}
		acc, ok := parseAccess(f[2])
		if !ok {
			return fmt.Errorf("access rules %s line %d: access %q: want pull or push", file, n+1, f[2])
		}
		if _, err := path.Match(f[1], ""); err != nil {
			return fmt.Errorf("access rules %s line %d: pattern %q: %v", file, n+1, f[1], err)
		}
		a.rules = append(a.rules, rule{user: f[0], pattern: f[1], access: acc})
	}
	return nil
}

// authenticate returns the request's user ("anonymous" without credentials); ok is
// false when credentials were given and are wrong.
func (a *Auth) authenticate(r *http.Request) (string, bool) {
	user, pass, has := r.BasicAuth()
	if !has || (user == "" && pass == "") {
		// Clients without credentials answer a Basic challenge with empty ones.
		return anonymous, true
	}
	hash, known := a.users[user]
	sum := sha256.Sum256([]byte(pass))
	a.mu.Lock()
	prev, seen := a.verified[user]
	a.mu.Unlock()
	// bcrypt costs tens of milliseconds by design: a password it accepted once is
	// remembered by its hash, so a client's every request does not pay it again.
	if seen && subtle.ConstantTimeCompare(prev[:], sum[:]) == 1 {
		return user, true
	}
	if !known {
		// Spend the same time as for a known user: timing does not tell users apart.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(pass))
		return "", false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return "", false
	}
	a.mu.Lock()
	a.verified[user] = sum
	a.mu.Unlock()
	return user, true
}

// access is what user may do to the repository name.
func (a *Auth) access(user, name string) Access {
	if len(a.rules) == 0 {
		switch {
		case user != anonymous:
			return Push
		case a.AnonymousPull:
			return Pull
		}
		return NoAccess
	}
	best := NoAccess
	if user == anonymous && a.AnonymousPull {
		best = Pull
	}
	for _, r := range a.rules {
		if r.user != user && (r.user != "*" || user == anonymous) {
			continue
		}
		if matchRepo(r.pattern, name) && r.access > best {
			best = r.access
		}
	}
	return best
}

// matchRepo matches a repository name against a rule's pattern: "*" alone is every
// repository, "team/**" everything under team/, anything else a path.Match glob whose
// "*" stays within one component ("team/*").
func matchRepo(pattern, name string) bool {
	if pattern == "*" || pattern == "**" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
		return strings.HasPrefix(name, prefix+"/")
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

func (a *Auth) challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.Realm))
}
