package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/drover/drover/api"
)

var update = flag.Bool("update", false, "rewrite golden files")

// parseRun parses run flags and arguments as drover run would.
func parseRun(t *testing.T, args ...string) (api.ContainerConfig, error) {
	t.Helper()
	var f containerFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.register(fs)
	fs.BoolVar(&f.rm, "rm", false, "")
	if err := fs.Parse(args); err != nil {
		return api.ContainerConfig{}, err
	}
	return f.config(fs, fs.Args())
}

func TestRunFlags(t *testing.T) {
	t.Setenv("FROM_CLIENT", "yes")
	cfg, err := parseRun(t, "--name", "web", "-e", "A=1", "-e", "FROM_CLIENT", "-w", "/srv", "-u", "1000:1000",
		"--memory", "64m", "--memory-swap", "-1", "--cpus", "1.5", "--pids-limit", "50", "--ulimit", "nofile=512:1024",
		"--restart", "on-failure:3", "--read-only", "--tmpfs", "/run:size=1m", "-l", "tier=web", "--log-opt", "max-size=1m",
		"--health-cmd", "true", "--health-interval", "2s", "-it", "--entrypoint", "", "busybox", "sh", "-c", "echo hi")
	if err != nil {
		t.Fatal(err)
	}
	want := api.ContainerConfig{
		Name: "web", Image: "busybox", Entrypoint: []string{}, Cmd: []string{"sh", "-c", "echo hi"},
		Env: []string{"A=1", "FROM_CLIENT=yes"}, WorkingDir: "/srv", User: "1000:1000", Labels: map[string]string{"tier": "web"},
		Tty: true, OpenStdin: true, StdinOnce: true,
		Healthcheck: &api.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 2 * time.Second},
		Host: api.HostConfig{
			ReadonlyRootfs: true, Memory: 64 << 20, MemorySwap: -1, NanoCPUs: 1_500_000_000, PidsLimit: 50,
			Ulimits: []api.Ulimit{{Name: "nofile", Soft: 512, Hard: 1024}}, Tmpfs: map[string]string{"/run": "size=1m"},
			RestartPolicy: api.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3},
			LogConfig:     api.LogConfig{Config: map[string]string{"max-size": "1m"}},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config =\n%+v\nwant\n%+v", cfg, want)
	}
	cfg, _ = parseRun(t, "--log-driver", "k8s-file", "--log-opt", "path=/var/log/x/0.log", "busybox")
	if want := (api.LogConfig{Type: "k8s-file", Config: map[string]string{"path": "/var/log/x/0.log"}}); !reflect.DeepEqual(cfg.Host.LogConfig, want) {
		t.Fatalf("log config = %+v, want %+v", cfg.Host.LogConfig, want)
	}
	// No --entrypoint keeps the image's (nil), no command keeps the image's CMD (nil).
	cfg, _ = parseRun(t, "busybox")
	if cfg.Entrypoint != nil || cfg.Cmd != nil {
		t.Fatalf("defaults: entrypoint %v cmd %v", cfg.Entrypoint, cfg.Cmd)
	}
	// Relative bind sources become absolute.
	wd, _ := os.Getwd()
	cfg, _ = parseRun(t, "-v", "./data:/data:ro", "busybox")
	if cfg.Host.Binds[0] != filepath.Join(wd, "data")+":/data:ro" {
		t.Fatalf("bind = %q", cfg.Host.Binds[0])
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--memory", "lots", "busybox"},
		{"--cpus", "-1", "busybox"},
		{"--ulimit", "nofile", "busybox"},
		{"--ulimit", "nofile=10:5", "busybox"},
		{"--restart", "sometimes", "busybox"},
		{"--restart", "always:3", "busybox"},
		{"--log-opt", "max-size", "busybox"},
		{"--shm-size", "0", "busybox"},
	} {
		_, err := parseRun(t, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 125 || ee.msg == "" {
			t.Errorf("%v: err = %v, want a 125 error that says what is wrong", args, err)
		}
	}
}

func TestStartExitCode(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		code int
	}{
		{`failed to start container: exec: "nosuch": executable file not found in $PATH`, 127},
		{`exec: "/etc/passwd": permission denied`, 126},
		{`exec: "/etc": is a directory`, 126},
		{`read seccomp profile: open /x.json: no such file or directory`, 125},
		{`no such image: busybox`, 125},
	} {
		var ee *exitError
		if err := startExitCode(errors.New(tc.msg)); !errors.As(err, &ee) || ee.code != tc.code {
			t.Errorf("%q -> %v, want %d", tc.msg, err, tc.code)
		}
	}
}

// TestPsGolden renders ps in its formats against a golden file (refresh with -update).
func TestPsGolden(t *testing.T) {
	fixed := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	now = func() time.Time { return fixed }
	local := time.Local
	time.Local = time.UTC // CREATED AT is shown in local time
	t.Cleanup(func() { now, time.Local = time.Now, local })
	list := []api.Container{
		{ID: strings.Repeat("a", 64), Name: "web", ImageName: "busybox", Path: "sh", Args: []string{"-c", "sleep 1000; echo done"},
			Created: fixed.Add(-2 * time.Minute), Config: api.ContainerConfig{Labels: map[string]string{"tier": "web"}},
			State: api.ContainerState{Status: api.StatusRunning, StartedAt: fixed.Add(-90 * time.Second), Health: &api.Health{Status: api.HealthHealthy}}},
		{ID: strings.Repeat("b", 64), Name: "job", ImageName: "busybox:1", Path: "true", Created: fixed.Add(-time.Hour),
			State: api.ContainerState{Status: api.StatusExited, ExitCode: 3, FinishedAt: fixed.Add(-5 * time.Second)}},
		{ID: strings.Repeat("c", 64), Name: "fresh", ImageName: "busybox", Path: "true", Created: fixed.Add(-3 * time.Second),
			State: api.ContainerState{Status: api.StatusCreated}},
	}
	rows := make([]any, len(list))
	for i, c := range list {
		rows[i] = toPsRow(c, false)
	}
	var buf bytes.Buffer
	for _, format := range []string{"table", "json", "{{.Names}}: {{.Status}}", "table {{.ID}}\\t{{.Names}}\\t{{.State}}"} {
		buf.WriteString("== " + format + "\n")
		if err := render(&buf, format, psHeader, psTable, rows); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "ps.golden", buf.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs (run go test -update after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestSplitCpArg(t *testing.T) {
	for _, tc := range []struct{ in, ctr, path string }{
		{"web:/etc/hosts", "web", "/etc/hosts"},
		{"/abs/path", "", "/abs/path"},
		{"./rel:odd", "", "./rel:odd"},
		{"dir/file:x", "", "dir/file:x"},
		{"-", "", "-"},
	} {
		c, p := splitCpArg(tc.in)
		if c != tc.ctr || p != tc.path {
			t.Errorf("%q -> %q %q", tc.in, c, p)
		}
	}
}

func TestTemplateValueNumbers(t *testing.T) {
	tmpl, err := parseInspectFormat(`{{.Mem}} {{.Ratio}} {{if eq .Code 0}}zero{{end}} {{index .List 0}}`)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, templateValue([]byte(`{"Mem":67108864,"Ratio":0.5,"Code":0,"List":[12345678901]}`))); err != nil {
		t.Fatal(err)
	}
	if b.String() != "67108864 0.5 zero 12345678901" {
		t.Fatalf("template output %q", b.String())
	}
}
