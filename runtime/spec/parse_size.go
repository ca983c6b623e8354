package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/drover/drover/internal/errdefs"
)

// ParseCPUs parses a --cpus value such as "1.5". "0" means no limit. Whether the machine
// has that many CPUs is checked by Generate.
func ParseCPUs(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("cpus %q: want a number such as 1.5: %w", s, errdefs.ErrInvalidArgument)
	}
	if f < 0 {
		return 0, fmt.Errorf("cpus %q: must not be negative: %w", s, errdefs.ErrInvalidArgument)
	}
	if f != 0 && f < 0.01 {
		return 0, fmt.Errorf("cpus %q: the smallest limit is 0.01: %w", s, errdefs.ErrInvalidArgument)
	}
	if f > 1<<20 {
		return 0, fmt.Errorf("cpus %q: too large: %w", s, errdefs.ErrInvalidArgument)
	}
	return f, nil
}

// ParseMemory parses a --memory or --shm-size value such as "512m" or "1g" (binary units:
// 1k = 1024) into bytes.
func ParseMemory(s string) (int64, error) {
	n, err := units.RAMInBytes(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("memory size %q: want a positive size such as 512m or 1g: %w", s, errdefs.ErrInvalidArgument)
	}
	return n, nil
}

// ParseMemorySwap parses --memory-swap: a size like ParseMemory, or -1 for unlimited swap.
func ParseMemorySwap(s string) (int64, error) {
	if strings.TrimSpace(s) == "-1" {
		return -1, nil
	}
	n, err := units.RAMInBytes(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("memory-swap %q: want a positive size such as 1g, or -1 for unlimited swap: %w", s, errdefs.ErrInvalidArgument)
	}
	return n, nil
}
