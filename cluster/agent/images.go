package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover/drover/api"
)

// pullState is one container's image-pull back-off.
type pullState struct {
	retryAt time.Time
	delay   time.Duration
	err     string
}

// pullImage makes sure c's image is present, as its imagePullPolicy says; on failure it
// sets c's waiting reason (ErrImagePull, then ImagePullBackOff until the next try).
func (w *podWorker) pullImage(ctx context.Context, c *ctrView) error {
	ref := c.spec.Image
	policy := c.spec.ImagePullPolicy
	if policy == "" {
		policy = defaultPullPolicy(ref)
	}
	if policy != corev1.PullAlways {
		if _, err := w.a.cfg.Engine.ImageInspect(ctx, ref); err == nil {
			return nil
		} else if !isNotFound(err) {
			c.waiting, c.message = "ErrImagePull", err.Error()
			return err
		}
		if policy == corev1.PullNever {
			c.waiting = "ErrImageNeverPull"
			c.message = fmt.Sprintf("container image %q is not present with pull policy of Never", ref)
			return errors.New(c.message)
		}
	}
	if w.pulls == nil {
		w.pulls = map[string]*pullState{}
	}
	ps := w.pulls[c.spec.Name]
	if ps != nil && time.Now().Before(ps.retryAt) {
		c.waiting, c.message = "ImagePullBackOff", fmt.Sprintf("back-off pulling image %q: %s", ref, ps.err)
		return errors.New(c.message)
	}
	if err := w.a.pull(ctx, ref); err != nil {
		if ps == nil {
			ps = &pullState{}
			w.pulls[c.spec.Name] = ps
		}
		ps.delay = min(max(2*ps.delay, backoffInitial), backoffMax)
		ps.retryAt, ps.err = time.Now().Add(ps.delay), err.Error()
		c.waiting, c.message = "ErrImagePull", err.Error()
		return err
	}
	delete(w.pulls, c.spec.Name)
	return nil
}

// defaultPullPolicy is Kubernetes' default: Always for :latest or no tag, else
// IfNotPresent.
func defaultPullPolicy(ref string) corev1.PullPolicy {
	if strings.Contains(ref, "@") {
		return corev1.PullIfNotPresent
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if _, tag, ok := strings.Cut(last, ":"); !ok || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// pull pulls ref through the engine, from the registry mirror when one is configured
// and ref is on Docker Hub.
func (a *Agent) pull(ctx context.Context, ref string) error {
	if m := mirrorRef(a.cfg.RegistryMirror, ref); m != "" {
		if err := a.pullFrom(ctx, m); err == nil {
			if err := a.cfg.Engine.ImageTag(ctx, m, ref); err != nil {
				return fmt.Errorf("tag %s as %s: %w", m, ref, err)
			}
			return nil
		}
	}
	return a.pullFrom(ctx, ref)
}

func (a *Agent) pullFrom(ctx context.Context, ref string) error {
	body, err := a.cfg.Engine.ImagePull(ctx, ref, "", "")
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var p api.Progress
		if json.Unmarshal(sc.Bytes(), &p) == nil && p.Error != "" {
			return fmt.Errorf("pull %s: %s", ref, p.Error)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return nil
}

// mirrorRef is ref's name on mirror when ref is a Docker Hub image, else "".
func mirrorRef(mirror, ref string) string {
	if mirror == "" {
		return ""
	}
	first, rest, ok := strings.Cut(ref, "/")
	switch {
	case !ok:
		rest = "library/" + ref
	case first == "docker.io" || first == "index.docker.io":
		if !strings.Contains(rest, "/") {
			rest = "library/" + rest
		}
	case strings.ContainsAny(first, ".:") || first == "localhost":
		return "" // another registry
	default:
		rest = ref
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(mirror, "https://"), "http://"), "/") + "/" + rest
}
