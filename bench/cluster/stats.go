package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// dist is a set of durations summarised as p50, p99 and max.
type dist []time.Duration

// pct is the q-th quantile by the nearest-rank method (p99 of 100 samples is the 99th).
func (d dist) pct(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func (d dist) String() string {
	if len(d) == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s, p99 %s, max %s (n=%d)", ms(d.pct(0.5)), ms(d.pct(0.99)), ms(d.pct(1)), len(d))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
