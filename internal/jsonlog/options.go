package jsonlog

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// Log formats, named as the log drivers of --log-driver.
const (
	// FormatJSON is Docker's json-file format, the default.
	FormatJSON = "json-file"
	// FormatCRI is the CRI's log format, which the kubelet and crictl read from the file
	// itself; podman calls this log driver k8s-file.
	FormatCRI = "k8s-file"
)

// Options control the format and rotation of a log.
type Options struct {
	// Format is FormatJSON ("" too) or FormatCRI.
	Format string
	// MaxSize is the size in bytes at which the active file is rotated; 0 (or less) never
	// rotates.
	MaxSize int64
	// MaxFiles is how many files the log may use, the active one included: rotated files
	// are path.1 (newest) up to path.(MaxFiles-1). With 1 (or less) no rotated file is
	// kept and a full log starts over empty.
	MaxFiles int
}

// Config is a container's log driver and its options.
type Config struct {
	Options
	// Path is where a k8s-file log is written, from its path option; "" lets the daemon
	// choose.
	Path string
}

// ParseConfig reads --log-driver (json-file, the default, or k8s-file) and its --log-opt
// options: max-size (a size such as 10m, binary units as in Docker, or -1 for unlimited)
// and max-file (a count of at least 1, only with max-size) for both, and path (absolute)
// for k8s-file. Unknown options are refused rather than ignored so that a user does not
// believe a setting took effect.
func ParseConfig(driver string, opts map[string]string) (Config, error) {
	c := Config{Options: Options{Format: FormatJSON, MaxFiles: 1}}
	switch driver {
	case "", FormatJSON:
	case FormatCRI:
		c.Format = FormatCRI
	default:
		return Config{}, fmt.Errorf("log driver %q is not supported: use json-file or k8s-file", driver)
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same error every time
	for _, k := range keys {
		v := strings.TrimSpace(opts[k])
		switch {
		case k == "max-size":
			if v == "-1" {
				c.MaxSize = 0
				continue
			}
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return Config{}, fmt.Errorf("log option max-size=%q: give a positive size such as 10m or 512k, or -1 for unlimited", opts[k])
			}
			c.MaxSize = n
		case k == "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return Config{}, fmt.Errorf("log option max-file=%q: give a whole number of files of at least 1", opts[k])
			}
			c.MaxFiles = n
		case k == "compress":
			if b, err := strconv.ParseBool(v); err != nil || b {
				return Config{}, fmt.Errorf("log option compress=%q: compressed rotated logs are not supported, use compress=false or leave it out", opts[k])
			}
		case k == "path" && c.Format == FormatCRI:
			if !filepath.IsAbs(v) || strings.HasSuffix(v, "/") {
				return Config{}, fmt.Errorf("log option path=%q: give the absolute path of the log file, such as /var/log/pods/app/c/0.log", opts[k])
			}
			c.Path = filepath.Clean(v)
		case c.Format == FormatCRI:
			return Config{}, fmt.Errorf("unknown log option %q: the k8s-file driver takes path, max-size and max-file", k)
		default:
			return Config{}, fmt.Errorf("unknown log option %q: the json-file driver takes max-size and max-file", k)
		}
	}
	if c.MaxFiles > 1 && c.MaxSize == 0 {
		return Config{}, fmt.Errorf("log option max-file=%d needs max-size: files are rotated only when they reach max-size", c.MaxFiles)
	}
	return c, nil
}
