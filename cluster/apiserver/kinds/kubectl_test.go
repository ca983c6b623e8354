package kinds

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"

	batchv1 "k8s.io/api/batch/v1"
)

const kubectlPath = "/usr/bin/kubectl"

// Objects the real kubectl writes (create ... --dry-run=client, which
// needs no server) pass defaulting and validation unchanged in meaning.
func TestKubectlGeneratedObjectsValidate(t *testing.T) {
	if _, err := os.Stat(kubectlPath); err != nil {
		t.Skipf("kubectl not installed at %s", kubectlPath)
	}
	dir := t.TempDir()
	byKind := map[string]*Kind{}
	for _, k := range All() {
		byKind[k.GVK.Kind] = k
	}
	tests := [][]string{
		{"create", "deployment", "web", "--image=nginx:1.27", "--image=busybox", "--replicas=2", "--port=80"},
		{"create", "job", "pi", "--image=perl:5.34", "--", "perl", "-e", "print 1"},
		{"create", "namespace", "team"},
		{"create", "priorityclass", "high", "--value=1000", "--description=important", "--preemption-policy=Never"},
	}
	for _, args := range tests {
		// Flags go before a "--" that starts the container's command.
		flags := []string{"--dry-run=client", "-o", "json", "--namespace=default"}
		if i := slices.Index(args, "--"); i >= 0 {
			args = slices.Concat(args[:i], flags, args[i:])
		} else {
			args = append(args, flags...)
		}
		cmd := exec.Command(kubectlPath, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECONFIG="+filepath.Join(dir, "none"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl %v: %v: %s", args, err, stderr.String())
		}
		obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(out, nil, nil)
		if err != nil {
			t.Fatalf("decode kubectl %v: %v", args, err)
		}
		k := byKind[gvk.Kind]
		if k == nil {
			t.Fatalf("kubectl %v made a %s, not a served kind", args, gvk)
		}
		if job, ok := obj.(*batchv1.Job); ok {
			job.UID = types.UID("0b9f4f5e-1d2c-4e55-9c62-2f0a5d9f7d11")
			GenerateJobSelector(job)
		}
		if m, ok := obj.(interface{ GetNamespace() string }); ok && !k.Namespaced && m.GetNamespace() != "" {
			obj.(interface{ SetNamespace(string) }).SetNamespace("")
		}
		k.Default(obj)
		if errs := k.Validate(obj, nil); len(errs) != 0 {
			t.Errorf("kubectl %v: %v", args, errs)
		}
		// Defaulting an object twice changes nothing.
		again := obj.DeepCopyObject()
		k.Default(again)
		if !equalObjects(obj, again) {
			t.Errorf("kubectl %v: defaulting twice differs", args)
		}
	}
}

func equalObjects(a, b runtime.Object) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
