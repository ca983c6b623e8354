package volume

import (
	"regexp"
	"testing"
)

// FuzzValidName checks the hand-written validator against Docker's regular expression, and
// that no accepted name can step out of the store's root.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"ab", "a", "", "..", "../x", "a/b", "_data", "my_vol.1-x", "a\x00b", "é1", ".trash-1"} {
		f.Add(s)
	}
	docker := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
	f.Fuzz(func(t *testing.T, name string) {
		err := validName(name)
		want := docker.MatchString(name) && len(name) <= maxNameLen
		if (err == nil) != want {
			t.Fatalf("validName(%q) = %v, Docker's rule says valid=%v", name, err, want)
		}
		if err == nil && (name == ".." || name == "." || len(name) > 255) {
			t.Fatalf("validName accepted %q", name)
		}
		for i := 0; err == nil && i < len(name); i++ {
			if name[i] == '/' || name[i] == 0 {
				t.Fatalf("validName accepted %q", name)
			}
		}
	})
}
