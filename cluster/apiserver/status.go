package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover/drover/cluster/store"
)

// conflictMsg is Kubernetes' wording for a stale resourceVersion.
const conflictMsg = "the object has been modified; please apply your changes to the latest version and try again"

// storeErr maps a store error on one object to the Status Kubernetes returns.
// ErrNotLeader stays wrapped so the handler can forward the request.
func storeErr(err error, gr schema.GroupResource, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotLeader):
		return err
	case errors.Is(err, store.ErrNotFound):
		return apierrors.NewNotFound(gr, name)
	case errors.Is(err, store.ErrExists):
		return apierrors.NewAlreadyExists(gr, name)
	case errors.Is(err, store.ErrConflict):
		return apierrors.NewConflict(gr, name, errors.New(conflictMsg))
	case errors.Is(err, store.ErrFutureRevision):
		return apierrors.NewTimeoutError(fmt.Sprintf("too large resource version: %v", err), 1)
	case errors.Is(err, store.ErrClosed):
		return apierrors.NewServiceUnavailable("the cluster state is shutting down")
	case errors.Is(err, store.ErrCompacted):
		return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %v", err))
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError(fmt.Sprintf("the store did not answer in time: %v", err), 1)
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return se
	}
	return apierrors.NewInternalError(err)
}

// toStatus turns any error into the Status body written for it.
func toStatus(err error) *metav1.Status {
	var ae apierrors.APIStatus
	if errors.As(err, &ae) {
		st := ae.Status()
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		st.Kind, st.APIVersion = "Status", "v1"
		return &st
	}
	if errors.Is(err, store.ErrNotLeader) {
		st := apierrors.NewServiceUnavailable("the cluster store has no leader; retry shortly").Status()
		st.Kind, st.APIVersion = "Status", "v1"
		return &st
	}
	if errors.Is(err, store.ErrCompacted) {
		st := apierrors.NewResourceExpired("too old resource version").Status()
		st.Kind, st.APIVersion = "Status", "v1"
		return &st
	}
	st := apierrors.NewInternalError(err).Status()
	st.Kind, st.APIVersion = "Status", "v1"
	return &st
}

// writeError writes err as a Status with its code.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := toStatus(err)
	writeObject(w, r, int(st.Code), st)
}

func successStatus(code int, details *metav1.StatusDetails) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Code:     int32(code),
		Details:  details,
	}
}

func badRequest(format string, args ...any) error {
	return apierrors.NewBadRequest(fmt.Sprintf(format, args...))
}

func unsupportedMedia(ct string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusUnsupportedMediaType,
		Reason:  metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got %q", ct),
	}}
}

func methodNotAllowed(gr schema.GroupResource, action string) error {
	return apierrors.NewMethodNotSupported(gr, action)
}

func forbiddenErr(gr schema.GroupResource, name string, err error) error {
	return apierrors.NewForbidden(gr, name, err)
}

func unavailable(msg string) error {
	return apierrors.NewServiceUnavailable(msg)
}
