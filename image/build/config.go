package build

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image"
)

// imageConfig is an image config as Docker writes it: the OCI fields plus Docker's
// Healthcheck, OnBuild, Shell and ArgsEscaped, which ocispec.Image leaves out.
type imageConfig struct {
	Created      *time.Time        `json:"created,omitempty"`
	Author       string            `json:"author,omitempty"`
	Architecture string            `json:"architecture"`
	Variant      string            `json:"variant,omitempty"`
	OS           string            `json:"os"`
	Config       containerConfig   `json:"config"`
	RootFS       ocispec.RootFS    `json:"rootfs"`
	History      []ocispec.History `json:"history,omitempty"`
}

type containerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
	Healthcheck  *image.HealthConfig `json:"Healthcheck,omitempty"`
	OnBuild      []string            `json:"OnBuild,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
}

// clone deep-copies the config so a step never changes its parent's state.
func (c imageConfig) clone() imageConfig {
	raw, _ := json.Marshal(c)
	var out imageConfig
	_ = json.Unmarshal(raw, &out)
	return out
}

func marshalConfig(c imageConfig) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// getEnv returns the value of key in a KEY=value list.
func getEnv(env []string, key string) (string, bool) {
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// setEnv sets key in a KEY=value list, in place of an earlier value.
func setEnv(env []string, key, value string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			out := append([]string(nil), env...)
			out[i] = key + "=" + value
			return out
		}
	}
	return append(append([]string(nil), env...), key+"="+value)
}
