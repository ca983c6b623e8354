package jsonlog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// Options control rotation of a log.
type Options struct {
	// MaxSize is the size in bytes at which the active file is rotated; 0 (or less) never
	// rotates.
	MaxSize int64
	// MaxFiles is how many files the log may use, the active one included: rotated files
	// are path.1 (newest) up to path.(MaxFiles-1). With 1 (or less) no rotated file is
	// kept and a full log starts over empty.
	MaxFiles int
}

// ParseLogOpts reads the json-file options of --log-opt: max-size (a size such as 10m,
// binary units as in Docker, or -1 for unlimited) and max-file (a count of at least 1, only
// with max-size). Unknown options are refused rather than ignored so that a user does not
// believe a setting took effect.
func ParseLogOpts(opts map[string]string) (Options, error) {
	o := Options{MaxFiles: 1}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same error every time
	for _, k := range keys {
		v := strings.TrimSpace(opts[k])
		switch k {
		case "max-size":
			if v == "-1" {
				o.MaxSize = 0
				continue
			}
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return Options{}, fmt.Errorf("log option max-size=%q: give a positive size such as 10m or 512k, or -1 for unlimited", opts[k])
			}
			o.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return Options{}, fmt.Errorf("log option max-file=%q: give a whole number of files of at least 1", opts[k])
			}
			o.MaxFiles = n
		case "compress":
			if b, err := strconv.ParseBool(v); err != nil || b {
				return Options{}, fmt.Errorf("log option compress=%q: compressed rotated logs are not supported, use compress=false or leave it out", opts[k])
			}
		default:
			return Options{}, fmt.Errorf("unknown log option %q: the json-file driver takes max-size and max-file", k)
		}
	}
	if o.MaxFiles > 1 && o.MaxSize == 0 {
		return Options{}, fmt.Errorf("log option max-file=%d needs max-size: files are rotated only when they reach max-size", o.MaxFiles)
	}
	return o, nil
}
