package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testprogPackage is the import path of the test program.
const testprogPackage = "github.com/drover/drover/internal/testutil/testprog"

var testprogBinary once

// TestProgram builds internal/testutil/testprog as a static binary (CGO_ENABLED=0) once per
// test binary and returns its path. See testprog's usage for its subcommands: exit,
// sleep, echo, env, stdin, signals, http, alloc, spam, forkbomb, tty, pid, cat.
func TestProgram(t testing.TB) string {
	t.Helper()
	return testprogBinary.get(t, buildTestProgram)
}

func buildTestProgram() (string, error) {
	dir, err := cache()
	if err != nil {
		return "", err
	}
	goTool, err := findGo()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "testprog")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", out, testprogPackage)
	// Build from inside the module: the source directory if this file's path is known,
	// else the test's working directory, which go test sets to a package of the module.
	if _, file, _, ok := runtime.Caller(0); ok {
		if src := filepath.Join(filepath.Dir(file), "testprog"); isDir(src) {
			cmd.Dir = src
		}
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build testprog: %s: %w\n%s", strings.Join(cmd.Args, " "), err, b)
	}
	return out, nil
}

// findGo finds the go command: on PATH, or in GOROOT.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("build testprog: the go command is neither on PATH nor in $GOROOT/bin")
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
