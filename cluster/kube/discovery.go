package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// PreferredResources is the server's resources at each group's preferred version, read
// from the legacy discovery documents (client-go's discovery client links every group).
// Groups that fail to answer are skipped, and their errors joined into the error.
func PreferredResources(ctx context.Context, rc rest.Interface) ([]*metav1.APIResourceList, error) {
	get := func(path string, into any) error {
		b, err := rc.Get().AbsPath(path).SetHeader("Accept", "application/json").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("discovery %s: %w", path, err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			return fmt.Errorf("discovery %s: %w", path, err)
		}
		return nil
	}
	var paths []string
	var core metav1.APIVersions
	if err := get("/api", &core); err != nil {
		return nil, err
	}
	if len(core.Versions) > 0 {
		paths = append(paths, "/api/"+core.Versions[0])
	}
	var groups metav1.APIGroupList
	if err := get("/apis", &groups); err != nil {
		return nil, err
	}
	for _, g := range groups.Groups {
		if gv := g.PreferredVersion.GroupVersion; gv != "" {
			paths = append(paths, "/apis/"+gv)
		}
	}
	var out []*metav1.APIResourceList
	var errs []error
	for _, p := range paths {
		l := &metav1.APIResourceList{}
		if err := get(p, l); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}
