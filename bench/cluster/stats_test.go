package main

import (
	"testing"
	"time"
)

func TestDistPct(t *testing.T) {
	var hundred dist
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name string
		d    dist
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.99, 0},
		{"one", dist{5}, 0.5, 5},
		{"median of 100", hundred, 0.5, 50 * time.Millisecond},
		{"p99 of 100", hundred, 0.99, 99 * time.Millisecond},
		{"max of 100", hundred, 1, 100 * time.Millisecond},
		{"p99 of 3 is the max", dist{1, 3, 2}, 0.99, 3},
	}
	for _, tt := range tests {
		if got := tt.d.pct(tt.q); got != tt.want {
			t.Errorf("%s: pct(%v) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
}
