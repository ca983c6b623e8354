package apiserver

import (
	"strings"
	"testing"
)

func TestKubectlBasics(t *testing.T) {
	ts := startServer(t)
	out := ts.mustKubectl("", "get", "namespaces")
	if !strings.Contains(out, "default") || !strings.Contains(out, "Active") {
		t.Fatalf("get namespaces:\n%s", out)
	}
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: c
    image: busybox
`
	out = ts.mustKubectl(pod, "create", "-f", "-")
	if !strings.Contains(out, "pod/web created") {
		t.Fatalf("create: %s", out)
	}
	out = ts.mustKubectl("", "get", "pods", "-A")
	if !strings.Contains(out, "web") || !strings.Contains(out, "NAMESPACE") {
		t.Fatalf("get pods -A:\n%s", out)
	}
	t.Log(out)
}
