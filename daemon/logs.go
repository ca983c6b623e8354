package daemon

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/jsonlog"
	"github.com/drover/drover/internal/stream"
)

// handleLogs streams the container's log as frames, following it while the container runs.
func (d *Daemon) handleLogs(w http.ResponseWriter, r *http.Request, c *container) error {
	q := r.URL.Query()
	opts := jsonlog.ReadOptions{Format: c.rec.Config.Host.LogConfig.Type, Tail: -1, Follow: boolQuery(r, "follow")}
	if t := q.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid --tail %q: give a number of lines or all: %w", t, errdefs.ErrInvalidArgument)
		}
		opts.Tail = n
	}
	now := time.Now()
	var err error
	if opts.Since, err = parseTime(q.Get("since"), now); err != nil {
		return err
	}
	if opts.Until, err = parseTime(q.Get("until"), now); err != nil {
		return err
	}
	if opts.Follow {
		opts.StopWhen = func() bool { return !c.running() }
	}
	timestamps := boolQuery(r, "timestamps")
	w.Header().Set("Content-Type", "application/vnd.drover.stream")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	fw := stream.NewWriter(w)
	err = jsonlog.Read(r.Context(), c.rec.LogPath, opts, func(m jsonlog.Message) error {
		kind := stream.Stdout
		if m.Stream == "stderr" {
			kind = stream.Stderr
		}
		line := m.Line
		if timestamps {
			line = append([]byte(m.Time.UTC().Format(time.RFC3339Nano)+" "), line...)
		}
		if err := fw.WriteFrame(kind, line); err != nil {
			return err
		}
		if fl != nil && opts.Follow {
			fl.Flush()
		}
		return nil
	})
	if err != nil && r.Context().Err() == nil {
		_ = fw.WriteFrame(stream.Error, []byte(err.Error()))
	}
	return nil
}

// parseTime reads --since/--until values: RFC 3339 times, Unix seconds (with optional
// fraction) or a duration before now ("10m").
func parseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); ok || isDigits(v) {
		s, err1 := strconv.ParseInt(sec, 10, 64)
		var ns int64
		var err2 error
		if ok {
			frac = (frac + "000000000")[:9]
			ns, err2 = strconv.ParseInt(frac, 10, 64)
		}
		if err1 == nil && err2 == nil {
			return time.Unix(s, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use RFC 3339 (2006-01-02T15:04:05Z), Unix seconds, or a duration such as 10m: %w", v, errdefs.ErrInvalidArgument)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
