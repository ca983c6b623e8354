package oci

import (
	"os/exec"
	"testing"

	"github.com/drover/drover/runtime/runtimetest"
)

func TestSuiteRunc(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
	rt, err := New("runc", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	runtimetest.Suite(t, rt)
}
