package dockerapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover/drover/internal/errdefs"
)

// API versions served: from what Debian's docker 20.10 and docker-compose 1.29 speak up to
// the version of the wire-type module (github.com/moby/moby/api v1.57.0).
const (
	MinAPIVersion = "1.41"
	MaxAPIVersion = "1.57"
)

// Options configure the front door.
type Options struct {
	// Version is drover's version, reported as the engine version.
	Version string
	Logger  *slog.Logger
}

// Server answers the Docker Engine API over an Engine.
type Server struct {
	engine Engine
	opts   Options
	mux    *http.ServeMux
	execs  execTable
	// pending are attaches waiting for their container's start (docker run attaches
	// before it starts), by container ID.
	pendingMu sync.Mutex
	pending   map[string][]*pendingAttach
}

// New returns the handler of the Docker Engine API.
func New(e Engine, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{engine: e, opts: opts, mux: http.NewServeMux(), pending: map[string][]*pendingAttach{}}
	s.execs.byID = map[string]*execInstance{}
	s.routes()
	return s
}

var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

// ServeHTTP strips a /v1.xx prefix, checks the version and dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil {
		v := m[1]
		if versionLess(v, MinAPIVersion) {
			writeError(w, fmt.Errorf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version: %w", v, MinAPIVersion, errdefs.ErrInvalidArgument))
			return
		}
		if versionLess(MaxAPIVersion, v) {
			writeError(w, fmt.Errorf("client version %s is too new. Maximum supported API version is %s: %w", v, MaxAPIVersion, errdefs.ErrInvalidArgument))
			return
		}
		r2 := withVersion(r, v)
		u := *r.URL
		r2.URL = &u
		r2.URL.Path = m[2]
		r2.URL.RawPath = ""
		r = r2
	}
	if s.opts.Logger.Enabled(r.Context(), slog.LevelDebug) {
		t0 := time.Now()
		defer func() {
			s.opts.Logger.Debug("docker api", "method", r.Method, "path", r.URL.Path, "took", time.Since(t0))
		}()
	}
	w.Header().Set("Api-Version", MaxAPIVersion)
	w.Header().Set("Ostype", "linux")
	w.Header().Set("Server", "Docker/"+s.opts.Version+" (linux)")
	s.mux.ServeHTTP(w, r)
}

// versionLess compares "major.minor" API versions.
func versionLess(a, b string) bool {
	am, an := splitVersion(a)
	bm, bn := splitVersion(b)
	return am < bm || (am == bm && an < bn)
}

func splitVersion(v string) (int, int) {
	maj, min, _ := strings.Cut(v, ".")
	x, _ := strconv.Atoi(maj)
	y, _ := strconv.Atoi(min)
	return x, y
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, err)
		}
	})
}

// errNotImplemented marks what this front door does not do (501, as Docker answers for
// features a daemon lacks).
var errNotImplemented = errors.New("not implemented")

// errNotModified answers start of a running container and stop of a stopped one (304).
var errNotModified = errors.New("not modified")

// Error is Docker's error body.
type Error struct {
	Message string `json:"message"`
}

// writeError maps errdefs sentinels to Docker's status codes.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, errNotModified):
		w.WriteHeader(http.StatusNotModified)
		return
	case errors.Is(err, errdefs.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, errdefs.ErrAlreadyExists), errors.Is(err, errdefs.ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, errdefs.ErrInvalidArgument):
		code = http.StatusBadRequest
	case errors.Is(err, errdefs.ErrUnauthorized):
		code = http.StatusUnauthorized
	case errors.Is(err, errNotImplemented):
		code = http.StatusNotImplemented
	}
	writeJSON(w, code, Error{Message: cleanMessage(err)})
}

// cleanMessage drops the sentinel suffix (": not found") that only serves errors.Is.
func cleanMessage(err error) string {
	msg := err.Error()
	for _, s := range []error{errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrConflict, errdefs.ErrInvalidArgument, errdefs.ErrUnauthorized, errNotImplemented} {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	return msg
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON request body. Unknown fields are ignored, as Docker does: older
// clients send fields newer API versions dropped.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("request body is empty: send a JSON object: %w", errdefs.ErrInvalidArgument)
		}
		return fmt.Errorf("invalid JSON in request body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return nil
}

func boolQuery(r *http.Request, name string) bool {
	v := strings.ToLower(r.URL.Query().Get(name))
	return v == "1" || v == "true" || v == "yes"
}

func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// notFound rewrites a not-found error in Docker's words ("No such container: x"), which
// clients and scripts match on.
func notFound(err error, kind, ref string) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("No such %s: %s: %w", kind, ref, errdefs.ErrNotFound)
	}
	return err
}

func errorsIsNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }
