package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestRunOptions covers --stop-signal/--stop-timeout, labels with ps filters and
// templates, --network host and logs --since/--until.
func TestRunOptions(t *testing.T) {
	e := newEnv(t)
	e.importTestprog("testprog")

	e.must("run", "-d", "--name", "stubborn", "--stop-signal", "SIGUSR1", "--stop-timeout", "1", "testprog", "/testprog", "signals")
	e.eventually(10*time.Second, "ready", func() bool { return strings.Contains(e.must("logs", "stubborn"), "ready") })
	e.must("stop", "stubborn")
	if out := e.must("logs", "stubborn"); !strings.Contains(out, "SIGUSR1") {
		t.Fatalf("stop did not send the stop signal: %q", out)
	}
	if s := e.inspect("stubborn", "{{.State.ExitCode}}"); s != "137" {
		t.Fatalf("after the stop timeout the container should be killed: exit %s", s)
	}

	e.must("run", "-d", "--name", "labelled", "-l", "tier=web", "--label", "team=core", "testprog", "/testprog", "sleep", "60s")
	e.must("run", "-d", "--name", "plain", "testprog", "/testprog", "sleep", "60s")
	out := e.must("ps", "--filter", "label=tier=web", "--format", "{{.Names}} {{.Labels}}")
	if strings.TrimSpace(out) != "labelled team=core,tier=web" {
		t.Fatalf("ps label filter/template: %q", out)
	}
	out = e.must("ps", "--format", "table {{.Names}}\t{{.Status}}")
	if !strings.HasPrefix(out, "NAMES") || !strings.Contains(out, "plain") {
		t.Fatalf("ps table template:\n%s", out)
	}
	if _, errOut, code := e.drover("ps", "--filter", "bogus=1"); code == 0 || !strings.Contains(errOut, "filter") {
		t.Fatalf("bad filter: %d %q", code, errOut)
	}

	host, _ := os.Hostname()
	if out := e.must("run", "--rm", "--network", "host", "testprog", "hostname"); strings.TrimSpace(out) != host {
		t.Fatalf("--network host hostname = %q, want %q", out, host)
	}
	if out := e.must("run", "--rm", "--network", "none", "testprog", "sh", "-c", "ls /sys/class/net"); strings.TrimSpace(out) != "lo" {
		t.Fatalf("--network none should be loopback only: %q", out)
	}
	if out := e.must("run", "--rm", "testprog", "sh", "-c", "ls /sys/class/net"); strings.TrimSpace(out) != "eth0\nlo" {
		t.Fatalf("the default bridge network should give eth0 and lo: %q", out)
	}

	e.must("run", "--name", "timed", "testprog", "sh", "-c", "echo early; sleep 2; echo late")
	// "early" was logged two seconds before "late", which was just now.
	if out := e.must("logs", "--since", "1s", "timed"); strings.Contains(out, "early") || !strings.Contains(out, "late") {
		t.Fatalf("logs --since 1s: %q", out)
	}
	if out := e.must("logs", "--until", "1s", "timed"); !strings.Contains(out, "early") || strings.Contains(out, "late") {
		t.Fatalf("logs --until 1s: %q", out)
	}
}
