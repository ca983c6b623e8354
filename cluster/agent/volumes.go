package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podDir holds what the agent keeps of one pod: pod.json and volumes/.
func (a *Agent) podDir(uid string) string { return filepath.Join(a.cfg.StateDir, "pods", uid) }

// prepareVolumes makes the pod's volumes on the host and returns each one's host path.
// emptyDir volumes live under the pod's directory (a tmpfs for medium Memory) and go
// with the pod; hostPath volumes are bound as they are.
func (a *Agent) prepareVolumes(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(a.podDir(string(pod.UID)), "volumes", v.Name)
		switch {
		case v.HostPath != nil:
			if err := ensureHostPath(v.HostPath); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			out[v.Name] = v.HostPath.Path
			continue
		case v.EmptyDir != nil:
			if err := ensureDir(dir); err != nil {
				return nil, err
			}
			if v.EmptyDir.Medium == corev1.StorageMediumMemory {
				if err := mountTmpfs(dir, v.EmptyDir.SizeLimit); err != nil {
					return nil, fmt.Errorf("volume %s: %w", v.Name, err)
				}
			}
		case v.ConfigMap != nil:
			if err := a.writeConfigMap(ctx, pod.Namespace, dir, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case v.Secret != nil:
			if err := a.writeSecret(ctx, pod.Namespace, dir, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case v.Projected != nil:
			if err := ensureDir(dir); err != nil {
				return nil, err
			}
			for _, src := range v.Projected.Sources {
				var err error
				switch {
				case src.ConfigMap != nil:
					err = a.writeConfigMap(ctx, pod.Namespace, dir, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional)
				case src.Secret != nil:
					err = a.writeSecret(ctx, pod.Namespace, dir, src.Secret.Name, src.Secret.Items, src.Secret.Optional)
				case src.DownwardAPI != nil:
					for _, it := range src.DownwardAPI.Items {
						if it.FieldRef == nil {
							continue
						}
						val, ferr := fieldValue(pod, it.FieldRef.FieldPath, podEnv{})
						if ferr == nil {
							ferr = writeFile(dir, it.Path, []byte(val))
						}
						err = errors.Join(err, ferr)
					}
				}
				// A service account token needs the TokenRequest API: not served yet.
				if err != nil {
					return nil, fmt.Errorf("volume %s: %w", v.Name, err)
				}
			}
		default:
			// Kinds the agent does not serve get an empty directory, so the pod still runs.
			if err := ensureDir(dir); err != nil {
				return nil, err
			}
		}
		out[v.Name] = dir
	}
	return out, nil
}

func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create volume directory: %w", err)
	}
	return nil
}

// ensureHostPath creates a hostPath volume's path when its type asks for that.
func ensureHostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	switch t {
	case corev1.HostPathDirectoryOrCreate:
		return os.MkdirAll(h.Path, 0o755)
	case corev1.HostPathFileOrCreate:
		if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	case corev1.HostPathDirectory, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev:
		if _, err := os.Stat(h.Path); err != nil {
			return fmt.Errorf("hostPath %s: %w", h.Path, err)
		}
	}
	return nil
}

// mountTmpfs mounts a tmpfs on dir unless one is there already (an adopted pod).
func mountTmpfs(dir string, size *resource.Quantity) error {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) == nil && unix.Stat(filepath.Dir(dir), &parent) == nil && st.Dev != parent.Dev {
		return nil
	}
	opts := "mode=0777"
	if size != nil && size.Value() > 0 {
		opts += ",size=" + strconv.FormatInt(size.Value(), 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// removePodDir unmounts what the pod's volumes mounted and removes its directory.
func (a *Agent) removePodDir(uid string) error {
	dir := a.podDir(uid)
	entries, _ := os.ReadDir(filepath.Join(dir, "volumes"))
	for _, e := range entries {
		p := filepath.Join(dir, "volumes", e.Name())
		for unix.Unmount(p, unix.MNT_DETACH) == nil {
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pod directory: %w", err)
	}
	return nil
}

func (a *Agent) writeConfigMap(ctx context.Context, ns, dir, name string, items []corev1.KeyToPath, optional *bool) error {
	if err := ensureDir(dir); err != nil {
		return err
	}
	cm, err := a.cfg.API.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("configmap %s: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return writeKeys(dir, data, items)
}

func (a *Agent) writeSecret(ctx context.Context, ns, dir, name string, items []corev1.KeyToPath, optional *bool) error {
	if err := ensureDir(dir); err != nil {
		return err
	}
	s, err := a.cfg.API.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("secret %s: %w", name, err)
	}
	return writeKeys(dir, s.Data, items)
}

// writeKeys writes data's keys (or only items, under their paths) into dir.
func writeKeys(dir string, data map[string][]byte, items []corev1.KeyToPath) error {
	if len(items) == 0 {
		for k, v := range data {
			if err := writeFile(dir, k, v); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("no key %s", it.Key)
		}
		if err := writeFile(dir, it.Path, v); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes rel under dir; rel comes from the API, so it may not leave dir.
func writeFile(dir, rel string, data []byte) error {
	p := filepath.Join(dir, rel)
	if r, err := filepath.Rel(dir, p); err != nil || r == ".." || filepath.IsAbs(rel) || len(r) >= 3 && r[:3] == "../" {
		return fmt.Errorf("path %q leaves the volume", rel)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
