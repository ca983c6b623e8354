package ocicli

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestParseUser(t *testing.T) {
	for in, want := range map[string][2]uint32{"0": {0, 0}, "1000": {1000, 0}, "1000:100": {1000, 100}} {
		u, g, err := parseUser(in)
		if err != nil || u != want[0] || g != want[1] {
			t.Errorf("parseUser(%q) = %d %d %v", in, u, g, err)
		}
	}
	for _, bad := range []string{"", "root", "1:x", ":1", "-1"} {
		if _, _, err := parseUser(bad); err == nil {
			t.Errorf("parseUser(%q) accepted", bad)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"a", "web-1", "x.y_z"} {
		if err := checkID(ok); err != nil {
			t.Errorf("checkID(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", strings.Repeat("a", 2000)} {
		if err := checkID(bad); err == nil {
			t.Errorf("checkID(%q) accepted", bad)
		}
	}
}

func TestFilterPs(t *testing.T) {
	out := "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sh\nroot 420 1 other\n"
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	err := filterPs([]byte(out), []int{42})
	os.Stdout = old
	w.Close()
	got, _ := io.ReadAll(r)
	if err != nil || string(got) != "UID PID PPID CMD\nroot 42 1 sh\n" {
		t.Fatalf("filterPs: %v %q", err, got)
	}
	if err := filterPs([]byte("USER CMD\n"), nil); err == nil {
		t.Fatal("ps output without a PID column accepted")
	}
}

func TestExitCode(t *testing.T) {
	if ExitCode(exitError{7}) != 7 || !IsExit(exitError{0}) || ExitCode(nil) != 0 || ExitCode(io.EOF) != 1 || IsExit(io.EOF) {
		t.Fatal("exit codes")
	}
}
