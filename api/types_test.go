package api

import (
	"testing"
	"time"
)

func TestPruneFilterMatch(t *testing.T) {
	now := time.Now()
	old, recent := now.Add(-2*time.Hour), now.Add(-time.Minute)
	labels := map[string]string{"env": "test", "team": "a"}
	tests := []struct {
		name    string
		f       PruneFilter
		created time.Time
		want    bool
	}{
		{"no filter", PruneFilter{}, recent, true},
		{"until: older", PruneFilter{Until: now.Add(-time.Hour)}, old, true},
		{"until: newer", PruneFilter{Until: now.Add(-time.Hour)}, recent, false},
		{"label key", PruneFilter{Labels: []string{"env"}}, recent, true},
		{"label key=value", PruneFilter{Labels: []string{"env=test"}}, recent, true},
		{"label other value", PruneFilter{Labels: []string{"env=prod"}}, recent, false},
		{"every label", PruneFilter{Labels: []string{"env", "missing"}}, recent, false},
		{"label! present", PruneFilter{NotLabels: []string{"team=a"}}, recent, false},
		{"label! absent", PruneFilter{NotLabels: []string{"keep"}}, recent, true},
		{"all together", PruneFilter{Until: now, Labels: []string{"env=test"}, NotLabels: []string{"keep"}}, old, true},
	}
	for _, tt := range tests {
		if got := tt.f.Match(labels, tt.created); got != tt.want {
			t.Errorf("%s: Match = %v, want %v", tt.name, got, tt.want)
		}
	}
}
