package cli

import (
	"fmt"
	"path"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
)

// filterImages keeps the images that pass every filter ("key=value"), as docker images
// --filter does: filters of one key are alternatives, different keys must all match.
func filterImages(imgs []api.Image, filters []string) ([]api.Image, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" && k != "label" {
			return nil, fmt.Errorf("bad filter %q: use key=value", f)
		}
		switch k {
		case "dangling", "reference", "label", "before", "since":
		default:
			return nil, fmt.Errorf("invalid filter %q: use dangling, reference, label, before or since", k)
		}
		byKey[k] = append(byKey[k], v)
	}
	created := func(ref string) (int64, error) {
		for _, img := range imgs {
			if matchesImage(img, ref) {
				return img.Created.UnixNano(), nil
			}
		}
		return 0, fmt.Errorf("no such image: %s", ref)
	}
	var out []api.Image
	for _, img := range imgs {
		ok := true
		for k, vs := range byKey {
			matched := false
			for _, v := range vs {
				m, err := imageFilter(img, k, v, created)
				if err != nil {
					return nil, err
				}
				matched = matched || m
			}
			ok = ok && matched
		}
		if ok {
			out = append(out, img)
		}
	}
	return out, nil
}

func imageFilter(img api.Image, k, v string, created func(string) (int64, error)) (bool, error) {
	switch k {
	case "dangling":
		if v != "true" && v != "false" {
			return false, fmt.Errorf("bad dangling filter %q: use true or false", v)
		}
		return (len(img.RepoTags) == 0) == (v == "true"), nil
	case "reference":
		for _, t := range img.RepoTags {
			repo := t[:strings.LastIndex(t, ":")]
			if m, _ := path.Match(v, t); m {
				return true, nil
			}
			if m, _ := path.Match(v, repo); m {
				return true, nil
			}
			if r, err := image.ParseReference(v); err == nil && !strings.ContainsAny(v, "*?[") && r.Familiar() == t {
				return true, nil
			}
		}
		return false, nil
	case "label":
		lk, lv, hasValue := strings.Cut(v, "=")
		got, ok := img.Config.Labels[lk]
		return ok && (!hasValue || got == lv), nil
	case "before", "since":
		t, err := created(v)
		if err != nil {
			return false, err
		}
		if k == "before" {
			return img.Created.UnixNano() < t, nil
		}
		return img.Created.UnixNano() > t, nil
	}
	return false, nil
}

// matchesImage reports whether ref names img (a name or an ID prefix).
func matchesImage(img api.Image, ref string) bool {
	if strings.HasPrefix(img.ID, ref) || strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), ref) {
		return true
	}
	r, err := image.ParseReference(ref)
	if err != nil {
		return false
	}
	for _, t := range img.RepoTags {
		if t == r.Familiar() {
			return true
		}
	}
	return false
}
