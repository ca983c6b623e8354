package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// maxPatchOps bounds a JSON patch's operations, as Kubernetes does.
const maxPatchOps = 10000

func init() {
	// A JSON patch's copy operations may grow a document by no more than
	// a request body could; unbounded, a few dozen copies exhaust memory.
	if jsonpatch.AccumulatedCopySizeLimit == 0 {
		jsonpatch.AccumulatedCopySizeLimit = maxBody
	}
}

// applyPatch applies a patch body of the request's content type to the
// JSON of the current object. schema is an empty object of the patched
// type, for strategic merge patches.
func applyPatch(r *http.Request, current, patch []byte, schema runtime.Object) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, unsupportedMedia(r.Header.Get("Content-Type"))
	}
	switch types.PatchType(mt) {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, badRequest("decode json patch: %v", err)
		}
		if len(p) > maxPatchOps {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the JSON patch has %d operations; the limit is %d", len(p), maxPatchOps))
		}
		out, err := p.Apply(current)
		if err != nil {
			return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
				Message: "apply json patch: " + err.Error(),
			}}
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(current, patch)
		if err != nil {
			return nil, badRequest("apply merge patch: %v", err)
		}
		return out, nil
	case types.StrategicMergePatchType:
		out, err := strategicpatch.StrategicMergePatch(current, patch, schema)
		if err != nil {
			return nil, badRequest("apply strategic merge patch: %v", err)
		}
		return out, nil
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
			Message: "server-side apply is not served by this cluster: use kubectl apply without --server-side",
		}}
	}
	return nil, unsupportedMedia(mt)
}

// patch serves PATCH of an object or its status.
func (s *server) patch(w http.ResponseWriter, r *http.Request, req *request) error {
	k := req.kind
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	switch mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); types.PatchType(mt) {
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		_, err := applyPatch(r, nil, nil, nil) // refused before the object is read
		return err
	}
	for attempt := 0; ; attempt++ {
		old, rev, err := s.load(r, req)
		if err != nil {
			return err
		}
		obj, pinned, err := s.patched(w, r, req, k, old)
		if err != nil {
			return err
		}
		if pinned != "" && pinned != accessor(old).GetResourceVersion() {
			return apierrors.NewConflict(req.gr, req.name, errors.New(conflictMsg))
		}
		out, err := s.commit(r.Context(), req, old, obj, rev, dry)
		if apierrors.IsConflict(err) && pinned == "" && attempt < maxRetries {
			continue
		}
		if err != nil {
			return err
		}
		return s.respond(w, r, req, http.StatusOK, out)
	}
}

// patched applies the request's patch to old and decodes the result,
// returning the resourceVersion the patch itself pins ("" when none).
func (s *server) patched(w http.ResponseWriter, r *http.Request, req *request, k *kinds.Kind, old runtime.Object) (runtime.Object, string, error) {
	cur, err := json.Marshal(old)
	if err != nil {
		return nil, "", err
	}
	out, err := applyPatch(r, cur, req.body, k.New())
	if err != nil {
		return nil, "", err
	}
	pinned := patchRV(req.body)
	// The result decodes as JSON whatever the patch's own type was.
	jr := r.Clone(r.Context())
	jr.Header.Set("Content-Type", mediaJSON)
	obj, err := decodeBody(w, jr, out, k, k.GVK, k.New())
	if err != nil {
		return nil, "", err
	}
	m := accessor(obj)
	if m.GetName() != req.name {
		return nil, "", badRequest("metadata.name: Invalid value: %q: field is immutable", m.GetName())
	}
	return obj, pinned, nil
}

// patchRV is metadata.resourceVersion as a merge-style patch sets it.
func patchRV(body []byte) string {
	var p struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Metadata.ResourceVersion
}
