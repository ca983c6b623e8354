package shim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/drover/drover/internal/atomicfile"
)

// ConfigName is the file in the bundle from which a shim reads its Config.
const ConfigName = "shim.json"

// Config tells a shim what to supervise. The daemon writes it into the bundle.
type Config struct {
	ID     string `json:"id"`
	Bundle string `json:"bundle"`
	// Runtime is "" for the embedded runtime, else the path of an OCI runtime binary.
	Runtime     string `json:"runtime,omitempty"`
	RuntimeRoot string `json:"runtimeRoot"`
	// LogPath is the container's log, in LogFormat (json-file if empty, or k8s-file);
	// rotation per LogMaxSize/LogMaxFiles.
	LogPath     string `json:"logPath"`
	LogFormat   string `json:"logFormat,omitempty"`
	LogMaxSize  int64  `json:"logMaxSize,omitempty"`
	LogMaxFiles int    `json:"logMaxFiles,omitempty"`
	Terminal    bool   `json:"terminal,omitempty"`
	OpenStdin   bool   `json:"openStdin,omitempty"`
	Width       uint16 `json:"width,omitempty"`
	Height      uint16 `json:"height,omitempty"`
	// OOMFile is the cgroup file whose "oom_kill N" line counts OOM kills
	// (memory.oom_control on cgroup v1, memory.events on v2).
	OOMFile string `json:"oomFile,omitempty"`
	// Ephemeral says the container is removed when it exits and never starts again
	// (--rm): its exit is reported before the runtime's cleanup (cgroups, state), which
	// then cannot race with a next start of the same container.
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// WriteConfig stores cfg in its bundle.
func WriteConfig(cfg Config) error {
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return atomicfile.Replace(filepath.Join(cfg.Bundle, ConfigName), data, 0o600)
}

// ReadConfig loads the Config stored in bundle.
func ReadConfig(bundle string) (Config, error) {
	var cfg Config
	data, err := os.ReadFile(filepath.Join(bundle, ConfigName))
	if err != nil {
		return cfg, fmt.Errorf("read shim config: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("parse shim config: %w", err)
	}
	return cfg, nil
}

// ReadExit returns the exit status a shim recorded in bundle, if any.
func ReadExit(bundle string) (*ExitStatus, error) {
	data, err := os.ReadFile(filepath.Join(bundle, ExitName))
	if err != nil {
		return nil, err
	}
	var st ExitStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("parse exit file: %w", err)
	}
	return &st, nil
}
