package dockerapi

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/drover/drover/internal/errdefs"
)

// Builder is what an engine that builds images from a Dockerfile offers; the build
// endpoint answers 501 until the engine has one.
type Builder interface {
	BuildImage(ctx context.Context, req BuildRequest, progress func(line string)) (imageID string, err error)
}

// BuildRequest is a classic (non-BuildKit) docker build.
type BuildRequest struct {
	// Context is the build context as an uncompressed tar stream.
	Context io.Reader
	// Dockerfile is the Dockerfile's path inside the context ("Dockerfile" by default).
	Dockerfile string
	Tags       []string
	BuildArgs  map[string]*string
	Labels     map[string]string
	Target     string
	NoCache    bool
	Pull       bool
	Platform   string
}

// buildUnsupported are query parameters of POST /build drover's builder does not honour;
// set, they are refused by name rather than ignored.
var buildUnsupported = []string{"remote", "extrahosts", "squash", "cachefrom", "isolation", "shmsize",
	"cpusetcpus", "cpusetmems", "cpushares", "cpuquota", "cpuperiod", "memory", "memswap", "ulimits",
	"securityopt", "outputs", "session"}

func (s *Server) handleBuild(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("version") == "2" {
		return fmt.Errorf("BuildKit builds (version=2) are not supported by drover: build with the classic builder (DOCKER_BUILDKIT=0): %w", errNotImplemented)
	}
	for _, k := range buildUnsupported {
		if v := q.Get(k); v != "" && v != "0" && v != "false" && v != "[]" && v != "{}" && v != "null" {
			return fmt.Errorf("build option %q is not supported by drover: remove it and try again: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	if nm := q.Get("networkmode"); nm != "" && nm != "default" && nm != "bridge" {
		return fmt.Errorf("build network mode %q is not supported by drover: %w", nm, errdefs.ErrInvalidArgument)
	}
	b, ok := s.engine.(Builder)
	if !ok {
		return fmt.Errorf("image build through the Docker API is not supported by this drover yet: %w", errNotImplemented)
	}
	req := BuildRequest{Dockerfile: q.Get("dockerfile"), Tags: q["t"], Target: q.Get("target"),
		NoCache: boolQuery(r, "nocache"), Pull: boolQuery(r, "pull"), Platform: q.Get("platform")}
	if req.Dockerfile == "" {
		req.Dockerfile = "Dockerfile"
	}
	for name, dst := range map[string]any{"buildargs": &req.BuildArgs, "labels": &req.Labels} {
		if v := q.Get(name); v != "" {
			if err := json.Unmarshal([]byte(v), dst); err != nil {
				return fmt.Errorf("invalid %s: want a JSON object: %v: %w", name, err, errdefs.ErrInvalidArgument)
			}
		}
	}
	ctxReader, err := buildContext(r.Body)
	if err != nil {
		return err
	}
	req.Context = ctxReader
	pw := newProgressWriter(w)
	quiet := boolQuery(r, "q")
	id, err := b.BuildImage(r.Context(), req, func(line string) {
		if !quiet {
			pw.send(progressMessage{Message: jsonstream.Message{Stream: line}})
		}
	})
	if err == nil {
		aux := json.RawMessage(fmt.Sprintf(`{"ID":%q}`, id))
		pw.send(progressMessage{Message: jsonstream.Message{Aux: &aux}})
		if !quiet {
			pw.send(progressMessage{Message: jsonstream.Message{Stream: "Successfully built " + shortID(id) + "\n"}})
			for _, t := range req.Tags {
				pw.send(progressMessage{Message: jsonstream.Message{Stream: "Successfully tagged " + t + "\n"}})
			}
		}
	}
	return pw.finish(err)
}

// buildContext accepts the context as a plain tar or gzip-compressed (docker build
// --compress); other compressions are refused.
func buildContext(body io.Reader) (io.Reader, error) {
	br := bufio.NewReader(body)
	head, _ := br.Peek(6)
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("build context: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		return zr, nil
	case len(head) >= 3 && string(head[:3]) == "BZh",
		len(head) >= 6 && string(head[:6]) == "\xfd7zXZ\x00",
		len(head) >= 4 && string(head[:4]) == "\x28\xb5\x2f\xfd":
		return nil, fmt.Errorf("build context: only plain or gzip-compressed tar is supported: %w", errdefs.ErrInvalidArgument)
	}
	return br, nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
