package libcontainer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/errdefs"
)

func TestCheckVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"1.0.0": true, "1.0.2-dev": true, "1.2.1": true, specs.Version: true,
		"1.99.0": false, "2.0.0": false, "0.9.0": false, "": false, "1.0": false, "v1.0.0": false, "1.x.0": false,
	} {
		err := checkVersion(v)
		if (err == nil) != ok {
			t.Errorf("checkVersion(%q) = %v, want ok=%v", v, err, ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("checkVersion(%q): %v is not ErrInvalidArgument", v, err)
		}
	}
}

func TestCheckSeccomp(t *testing.T) {
	notify := &specs.Linux{Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}}
	if err := checkSeccomp(notify); err == nil || !strings.Contains(err.Error(), "listenerPath") {
		t.Fatalf("notify without a listener: %v", err)
	}
	notify.Seccomp.ListenerPath = "/run/agent.sock"
	if err := checkSeccomp(notify); err != nil {
		t.Fatalf("notify with a listener: %v", err)
	}
	if err := checkSeccomp(&specs.Linux{Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}}); err != nil {
		t.Fatal(err)
	}
}

func TestReadSpecErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := readSpec(dir); err == nil || !strings.Contains(err.Error(), "no config.json") {
		t.Fatalf("missing config.json: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion":"1.0.0","process":{"args":["true"],"cwd":"/"},"root":{"path":"rootfs"}}`), 0o644)
	if _, err := readSpec(dir); err == nil || !strings.Contains(err.Error(), "root.path") {
		t.Fatalf("missing rootfs: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "rootfs"), 0o755)
	s, err := readSpec(dir)
	if err != nil || s.Root.Path != filepath.Join(dir, "rootfs") {
		t.Fatalf("valid bundle: %v %+v", err, s)
	}
}
