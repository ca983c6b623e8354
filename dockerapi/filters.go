package dockerapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// filters are the values of Docker's filters query parameter: the same key ORs, different
// keys AND.
type filters map[string][]string

// parseFilters reads the JSON of a filters parameter, in either of its forms:
// {"key":{"value":true}} (current) or {"key":["value"]} (API before 1.22, still sent).
func parseFilters(raw string) (filters, error) {
	f := filters{}
	if raw == "" {
		return f, nil
	}
	var current map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &current); err == nil {
		for k, vs := range current {
			for v, on := range vs {
				if on {
					f[k] = append(f[k], v)
				}
			}
		}
		return f, nil
	}
	var legacy map[string][]string
	if err := json.Unmarshal([]byte(raw), &legacy); err != nil {
		return nil, fmt.Errorf("invalid filters %q: want JSON such as {\"label\":{\"a=b\":true}}: %w", raw, errdefs.ErrInvalidArgument)
	}
	for k, vs := range legacy {
		f[k] = append(f[k], vs...)
	}
	return f, nil
}

// validate rejects keys outside allowed with Docker's message.
func (f filters) validate(allowed ...string) error {
	for k := range f {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// match reports whether one of the key's values accepts (true when the key is absent).
func (f filters) match(key string, ok func(string) bool) bool {
	vals := f[key]
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		if ok(v) {
			return true
		}
	}
	return false
}

// matchLabels checks "label" filters (key or key=value) against labels.
func (f filters) matchLabels(labels map[string]string) bool {
	for _, v := range f["label"] {
		k, val, hasVal := strings.Cut(v, "=")
		got, ok := labels[k]
		if !ok || (hasVal && got != val) {
			return false
		}
	}
	return true
}

// prune reads the filters every prune takes: until, label and label!.
func (f filters) prune() (api.PruneFilter, error) {
	if err := f.validate("until", "label", "label!"); err != nil {
		return api.PruneFilter{}, err
	}
	var pf api.PruneFilter
	for _, v := range f["until"] {
		t, err := api.ParseTime(v, time.Now())
		if err != nil {
			return api.PruneFilter{}, err
		}
		if pf.Until.IsZero() || t.Before(pf.Until) {
			pf.Until = t
		}
	}
	pf.Labels, pf.NotLabels = f["label"], f["label!"]
	return pf, nil
}
