package cli

import (
	"strings"
	"testing"
)

func TestBuildFlagValues(t *testing.T) {
	t.Setenv("FROM_ENV", "env-value")
	got, err := keyValues([]string{"A=1", "B=", "C=x=y", "FROM_ENV", "UNSET_VAR_XYZ"}, "build-arg", true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "", "C": "x=y", "FROM_ENV": "env-value"}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	for _, bad := range [][]string{{"=x"}, {"NOVALUE"}} {
		if _, err := keyValues(bad, "label", false); err == nil {
			t.Errorf("--label %v accepted", bad)
		}
	}
}

func TestOCIOutput(t *testing.T) {
	if dest, err := ociOutput([]string{"type=oci,dest=/tmp/x.tar"}); err != nil || dest != "/tmp/x.tar" {
		t.Fatalf("%q %v", dest, err)
	}
	for _, bad := range []string{"type=registry", "type=oci", "dest=x", "type=oci,dest=x,compression=zstd"} {
		if _, err := ociOutput([]string{bad}); err == nil || !strings.Contains(err.Error(), "--output") {
			t.Errorf("-o %s: %v", bad, err)
		}
	}
}
