package agent

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover/drover/api"
	"github.com/drover/drover/cluster/kube/kubefake"
)

// TestContainerConfig: how a pod's container becomes an engine container.
func TestContainerConfig(t *testing.T) {
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}, Data: map[string]string{"k": "from-cm"}})
	a := &Agent{cfg: Config{NodeName: "n1", API: kubefake.Wrap(cs), StateDir: t.TempDir()}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "0123456789abcdef"}, Spec: corev1.PodSpec{NodeName: "n1"}}
	tests := []struct {
		name  string
		c     corev1.Container
		check func(t *testing.T, cfg api.ContainerConfig)
	}{
		{"neither command nor args keeps the image's", corev1.Container{Name: "c", Image: "img"}, func(t *testing.T, cfg api.ContainerConfig) {
			if cfg.Entrypoint != nil || cfg.Cmd != nil {
				t.Fatalf("entrypoint %q cmd %q", cfg.Entrypoint, cfg.Cmd)
			}
		}},
		{"command replaces entrypoint and cmd", corev1.Container{Name: "c", Image: "img", Command: []string{"/bin/x"}}, func(t *testing.T, cfg api.ContainerConfig) {
			if !reflect.DeepEqual(cfg.Entrypoint, []string{"/bin/x"}) || cfg.Cmd == nil || len(cfg.Cmd) != 0 {
				t.Fatalf("entrypoint %q cmd %#v", cfg.Entrypoint, cfg.Cmd)
			}
		}},
		{"args alone replace cmd", corev1.Container{Name: "c", Image: "img", Args: []string{"a"}}, func(t *testing.T, cfg api.ContainerConfig) {
			if cfg.Entrypoint != nil || !reflect.DeepEqual(cfg.Cmd, []string{"a"}) {
				t.Fatalf("entrypoint %q cmd %q", cfg.Entrypoint, cfg.Cmd)
			}
		}},
		{"env is expanded in order, into args too", corev1.Container{Name: "c", Image: "img",
			Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "$(A)-$(C)-$$(A)"},
				{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "k"}}},
				{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
			Args: []string{"$(B)", "$(IP)"}}, func(t *testing.T, cfg api.ContainerConfig) {
			want := []string{"A=1", "B=1-$(C)-$(A)", "CM=from-cm", "IP=10.0.0.9"}
			if !reflect.DeepEqual(cfg.Env, want) || !reflect.DeepEqual(cfg.Cmd, []string{"1-$(C)-$(A)", "10.0.0.9"}) {
				t.Fatalf("env %q cmd %q", cfg.Env, cfg.Cmd)
			}
		}},
		{"resources", corev1.Container{Name: "c", Image: "img", Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}, func(t *testing.T, cfg api.ContainerConfig) {
			if cfg.Host.NanoCPUs != 500_000_000 || cfg.Host.CPUShares != 256 || cfg.Host.Memory != 64<<20 {
				t.Fatalf("host config %+v", cfg.Host)
			}
		}},
		{"securityContext", corev1.Container{Name: "c", Image: "img", SecurityContext: &corev1.SecurityContext{
			RunAsUser: ptrTo[int64](1000), RunAsGroup: ptrTo[int64](1000), ReadOnlyRootFilesystem: ptrTo(true), AllowPrivilegeEscalation: ptrTo(false),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}}}, func(t *testing.T, cfg api.ContainerConfig) {
			h := cfg.Host
			if cfg.User != "1000:1000" || !h.ReadonlyRootfs || !reflect.DeepEqual(h.SecurityOpt, []string{"no-new-privileges"}) ||
				!reflect.DeepEqual(h.CapAdd, []string{"NET_ADMIN"}) || !reflect.DeepEqual(h.CapDrop, []string{"ALL"}) {
				t.Fatalf("user %q host %+v", cfg.User, h)
			}
		}},
		{"volume mounts", corev1.Container{Name: "c", Image: "img", VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v", ReadOnly: true}}}, func(t *testing.T, cfg api.ContainerConfig) {
			if !reflect.DeepEqual(cfg.Host.Binds, []string{"/host/v:/v:ro"}) {
				t.Fatalf("binds %q", cfg.Host.Binds)
			}
		}},
		{"labels name the pod", corev1.Container{Name: "c", Image: "img"}, func(t *testing.T, cfg api.ContainerConfig) {
			l := cfg.Labels
			if l[labelUID] != "0123456789abcdef" || l[labelName] != "web" || l[labelNamespace] != "ns" || l[labelContainer] != "c" || l[labelAttempt] != "2" || cfg.Name != "k8s_c_web_ns_01234567_2" || cfg.Host.Pod != "enginepod" {
				t.Fatalf("name %q labels %v", cfg.Name, l)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := a.containerConfig(context.Background(), pod, &tc.c, false, 2, "enginepod", podEnv{podIP: "10.0.0.9"}, map[string]string{"v": "/host/v"})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
		})
	}
}

func TestMirrorRef(t *testing.T) {
	for _, tc := range []struct{ mirror, ref, want string }{
		{"", "busybox", ""},
		{"mirror.local:5000", "busybox", "mirror.local:5000/library/busybox"},
		{"https://mirror.local/", "user/app:1", "mirror.local/user/app:1"},
		{"mirror.local", "docker.io/nginx:1", "mirror.local/library/nginx:1"},
		{"mirror.local", "ghcr.io/x/y", ""},
	} {
		if got := mirrorRef(tc.mirror, tc.ref); got != tc.want {
			t.Errorf("mirrorRef(%q, %q) = %q, want %q", tc.mirror, tc.ref, got, tc.want)
		}
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for ref, want := range map[string]corev1.PullPolicy{"busybox": corev1.PullAlways, "busybox:latest": corev1.PullAlways,
		"busybox:1.36": corev1.PullIfNotPresent, "localhost:5000/x": corev1.PullAlways, "x@sha256:abc": corev1.PullIfNotPresent} {
		if got := defaultPullPolicy(ref); got != want {
			t.Errorf("defaultPullPolicy(%q) = %s, want %s", ref, got, want)
		}
	}
}
