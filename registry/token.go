package registry

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The Docker token flow (distribution's token authentication): a request without a
// token is answered 401 with `WWW-Authenticate: Bearer realm=".../token",service=...,
// scope="repository:NAME:pull,push"`; the client asks the realm for a token, with its
// credentials, for those scopes; the registry then accepts `Authorization: Bearer
// TOKEN` for what the token grants. drover is its own token server: /token checks the
// htpasswd users and the access rules and issues a JWT (HS256, key made at start, so
// tokens die with the process) that lives tokenTTL.

const (
	tokenService = "drover-registry"
	tokenTTL     = 5 * time.Minute
)

// EnableTokens switches the registry to the Docker token flow.
func (a *Auth) EnableTokens() {
	a.tokenKey = make([]byte, 32)
	_, _ = rand.Read(a.tokenKey)
}

func (a *Auth) tokens() bool { return a.tokenKey != nil }

type tokenAccess struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type tokenClaims struct {
	Issuer    string        `json:"iss"`
	Subject   string        `json:"sub"`
	Audience  string        `json:"aud"`
	ExpiresAt int64         `json:"exp"`
	NotBefore int64         `json:"nbf"`
	IssuedAt  int64         `json:"iat"`
	ID        string        `json:"jti"`
	Access    []tokenAccess `json:"access"`
}

var b64 = base64.RawURLEncoding

func (a *Auth) sign(c tokenClaims) string {
	head := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(c)
	msg := head + "." + b64.EncodeToString(body)
	mac := hmac.New(sha256.New, a.tokenKey)
	mac.Write([]byte(msg))
	return msg + "." + b64.EncodeToString(mac.Sum(nil))
}

var errBadToken = errors.New("invalid token")

func (a *Auth) parseToken(tok string) (tokenClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tokenClaims{}, errBadToken
	}
	mac := hmac.New(sha256.New, a.tokenKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return tokenClaims{}, errBadToken
	}
	if head, err := b64.DecodeString(parts[0]); err != nil || string(head) != `{"alg":"HS256","typ":"JWT"}` {
		return tokenClaims{}, errBadToken
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}, errBadToken
	}
	var c tokenClaims
	if err := json.Unmarshal(body, &c); err != nil {
		return tokenClaims{}, errBadToken
	}
	now := time.Now().Unix()
	if c.Audience != tokenService || now >= c.ExpiresAt || now < c.NotBefore-5 {
		return tokenClaims{}, errBadToken
	}
	return c, nil
}

// grants is what a token allows on a repository.
func (c tokenClaims) grants(name string) Access {
	best := NoAccess
	for _, a := range c.Access {
		if a.Type != "repository" || a.Name != name {
			continue
		}
		for _, act := range a.Actions {
			switch {
			case act == "push" || act == "delete" || act == "*": // issued only to users who may push
				best = Push
			case act == "pull" && best < Pull:
				best = Pull
			}
		}
	}
	return best
}

func (c tokenClaims) catalog() bool {
	for _, a := range c.Access {
		if a.Type == "registry" && a.Name == "catalog" {
			return true
		}
	}
	return false
}

// serveToken is the token endpoint: GET /token?service=...&scope=repository:NAME:pull,push
func (a *Auth) serveToken(w http.ResponseWriter, req *http.Request) {
	user, ok := a.authenticate(req)
	if !ok {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", a.Realm))
		writeError(w, errUnauthorized())
		return
	}
	if s := req.URL.Query().Get("service"); s != "" && s != tokenService {
		writeError(w, &apiError{http.StatusBadRequest, "UNSUPPORTED", fmt.Sprintf("service %q: this token server serves %q", s, tokenService), nil})
		return
	}
	var granted []tokenAccess
	for _, scope := range req.URL.Query()["scope"] {
		for _, one := range strings.Split(scope, " ") {
			parts := strings.Split(one, ":")
			if len(parts) < 3 {
				continue
			}
			typ, name, actions := parts[0], strings.Join(parts[1:len(parts)-1], ":"), strings.Split(parts[len(parts)-1], ",")
			switch typ {
			case "repository":
				if !validName(name) {
					continue
				}
				have := a.access(user, name)
				var acts []string
				for _, act := range actions {
					if (act == "pull" && have >= Pull) || ((act == "push" || act == "delete" || act == "*") && have >= Push) {
						acts = append(acts, act)
					}
				}
				granted = append(granted, tokenAccess{Type: "repository", Name: name, Actions: acts})
			case "registry":
				if name == "catalog" && (user != anonymous || a.AnonymousPull) {
					granted = append(granted, tokenAccess{Type: "registry", Name: "catalog", Actions: []string{"*"}})
				}
			}
		}
	}
	now := time.Now()
	tok := a.sign(tokenClaims{Issuer: tokenService, Subject: user, Audience: tokenService, ExpiresAt: now.Add(tokenTTL).Unix(),
		NotBefore: now.Unix(), IssuedAt: now.Unix(), ID: newID(), Access: granted})
	_ = writeJSON(w, "application/json", map[string]any{
		"token": tok, "access_token": tok, "expires_in": int(tokenTTL.Seconds()), "issued_at": now.UTC().Format(time.RFC3339),
	})
}

// bearerChallenge names the realm and the scope a request needs.
func (a *Auth) bearerChallenge(w http.ResponseWriter, req *http.Request, scope, errCode string) {
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	v := fmt.Sprintf(`Bearer realm="%s://%s/token",service="%s"`, scheme, req.Host, tokenService)
	if scope != "" {
		v += fmt.Sprintf(`,scope="%s"`, scope)
	}
	if errCode != "" {
		v += fmt.Sprintf(`,error="%s"`, errCode)
	}
	w.Header().Set("WWW-Authenticate", v)
}
