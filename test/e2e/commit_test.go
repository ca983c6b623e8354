package e2e

import (
	"strings"
	"testing"
)

// TestCommitAndDiff: drover diff lists what a container changed, as docker diff does, and
// drover commit makes an image of it that runs with those changes and the config given.
func TestCommitAndDiff(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	e.must("run", "-d", "--name", "work", "--network", "none", "busybox", "sh", "-c",
		"echo hello > /greeting && rm /bin/yes && mkdir -p /data/x && echo extra >> /etc/passwd && touch /ready && sleep 300")
	for i := 0; i < 50 && !strings.Contains(e.must("diff", "work"), "/ready"); i++ {
		e.must("exec", "work", "sleep", "0.1")
	}
	// The runtime's files (/etc/hosts, /etc/hostname, /etc/resolv.conf, /.dockerenv) are
	// not the container's changes.
	want := "C /bin\nD /bin/yes\nA /data\nA /data/x\nC /etc\nC /etc/passwd\nA /greeting\nA /ready\n"
	if got := e.must("diff", "work"); got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}

	id := strings.TrimSpace(e.must("commit", "-m", "a greeting", "-a", "tester", "-c", "ENV GREETING=yes", "-c", `CMD ["cat", "/greeting"]`, "work", "greeter:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("commit printed %q", id)
	}
	if s := e.inspect("work", "{{.State.Status}}"); s != "running" {
		t.Fatalf("after commit the container is %s, want running again", s)
	}
	if out := e.must("run", "--rm", "--network", "none", "greeter:v1"); out != "hello\n" {
		t.Fatalf("the committed image's CMD: %q", out)
	}
	out := e.must("run", "--rm", "--network", "none", "greeter:v1", "sh", "-c",
		"echo $GREETING; test -e /bin/yes && echo yes-there; test -d /data/x && echo data; tail -n 1 /etc/passwd; test -s /.dockerenv && echo dockerenv-not-empty; true")
	if out != "yes\ndata\nextra\n" {
		t.Fatalf("the committed image's files and env: %q", out)
	}
	if out := e.must("history", "greeter:v1"); !strings.Contains(out, "a greeting") {
		t.Fatalf("history lacks the commit message:\n%s", out)
	}

	// Bad input: a clear error, no image.
	before := e.must("images", "-q")
	if _, errOut, code := e.drover("commit", "work", "Bad Name"); code == 0 || !strings.Contains(errOut, "invalid reference") {
		t.Fatalf("commit with a bad name: exit %d, %q", code, errOut)
	}
	if _, errOut, code := e.drover("commit", "-c", "FROBNICATE x", "work", "x:1"); code == 0 || !strings.Contains(errOut, "FROBNICATE") {
		t.Fatalf("commit with a bad change: exit %d, %q", code, errOut)
	}
	if _, errOut, code := e.drover("commit", "nosuch", "x:1"); code == 0 || !strings.Contains(errOut, "no such container") {
		t.Fatalf("commit of a missing container: exit %d, %q", code, errOut)
	}
	if after := e.must("images", "-q"); after != before {
		t.Fatalf("failed commits made images:\n%s\nthen:\n%s", before, after)
	}
}
