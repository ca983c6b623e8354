package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	units "github.com/docker/go-units"
)

// now is the clock used for "ago" texts; tests fix it.
var now = time.Now

// render writes rows as a table (with header), one JSON object per line ("json"), or
// through a Go template ("{{.ID}}", or "table {{.ID}}\t{{.Names}}" with a header).
func render(w io.Writer, format string, header []string, defaultTmpl string, rows []any) error {
	switch {
	case format == "json":
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case format == "" || format == "table":
		return renderTable(w, header, defaultTmpl, rows)
	case strings.HasPrefix(format, "table "):
		tmpl := strings.TrimPrefix(format, "table ")
		return renderTable(w, headerOf(tmpl), tmpl, rows)
	}
	t, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return exitCode(125, fmt.Sprintf("bad --format template: %v", err))
	}
	for _, r := range rows {
		if err := t.Execute(w, r); err != nil {
			return exitCode(125, fmt.Sprintf("bad --format template: %v", err))
		}
		fmt.Fprintln(w)
	}
	return nil
}

var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"join":  strings.Join,
}

// headerOf derives column titles from a table template: {{.Names}} -> NAMES.
func headerOf(tmpl string) []string {
	var out []string
	for _, col := range strings.Split(tmpl, `\t`) {
		col = strings.TrimSpace(col)
		if i := strings.Index(col, "{{."); i >= 0 {
			name := col[i+3:]
			if j := strings.IndexAny(name, "} "); j >= 0 {
				name = name[:j]
			}
			out = append(out, strings.ToUpper(headerNames[name]))
			continue
		}
		out = append(out, strings.ToUpper(col))
	}
	return out
}

var headerNames = map[string]string{
	"ID": "container id", "Names": "names", "Image": "image", "Command": "command", "CreatedAt": "created at",
	"RunningFor": "created", "Status": "status", "State": "state", "Ports": "ports", "Labels": "labels",
	"Repository": "repository", "Tag": "tag", "CreatedSince": "created", "Size": "size", "Digest": "digest",
}

func renderTable(w io.Writer, header []string, tmpl string, rows []any) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	t, err := template.New("row").Funcs(templateFuncs).Parse(strings.ReplaceAll(tmpl, `\t`, "\t"))
	if err != nil {
		return exitCode(125, fmt.Sprintf("bad --format template: %v", err))
	}
	for _, r := range rows {
		if err := t.Execute(tw, r); err != nil {
			return exitCode(125, fmt.Sprintf("bad --format template: %v", err))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// ago renders a past time as Docker does: "3 seconds ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return units.HumanDuration(now().Sub(t)) + " ago"
}

// since renders a duration up to now: "3 seconds".
func since(t time.Time) string {
	return units.HumanDuration(now().Sub(t))
}

// truncate cuts s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
