package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"syscall"
)

// apiError is one of the distribution spec's error codes with the HTTP status it goes with.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errBlobUnknown(msg string) *apiError {
	return &apiError{http.StatusNotFound, "BLOB_UNKNOWN", msg, nil}
}
func errBlobUploadUnknown() *apiError {
	return &apiError{http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", nil}
}
func errBlobUploadInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "BLOB_UPLOAD_INVALID", msg, nil}
}
func errDigestInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "DIGEST_INVALID", msg, nil}
}
func errManifestBlobUnknown(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", msg, nil}
}
func errManifestInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "MANIFEST_INVALID", msg, nil}
}
func errManifestUnknown(msg string) *apiError {
	return &apiError{http.StatusNotFound, "MANIFEST_UNKNOWN", msg, nil}
}
func errNameInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "NAME_INVALID", msg, nil}
}
func errNameUnknown(name string) *apiError {
	return &apiError{http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry", map[string]string{"name": name}}
}
func errSizeInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "SIZE_INVALID", msg, nil}
}
func errTagInvalid(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "TAG_INVALID", msg, nil}
}
func errUnauthorized() *apiError {
	return &apiError{http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", nil}
}
func errDenied() *apiError {
	return &apiError{http.StatusForbidden, "DENIED", "requested access to the resource is denied", nil}
}
func errUnsupported(msg string) *apiError {
	return &apiError{http.StatusMethodNotAllowed, "UNSUPPORTED", msg, nil}
}
func errRangeInvalid(msg string) *apiError {
	return &apiError{http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", msg, nil}
}
func errTooLarge(msg string) *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, "SIZE_INVALID", msg, nil}
}

// writeError answers with the spec's error body. Errors that are not an apiError are the
// server's own (a full disk, a broken store): 500, or 507 when the disk is full.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		status := http.StatusInternalServerError
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			status = http.StatusInsufficientStorage
		}
		ae = &apiError{status, "UNKNOWN", err.Error(), nil}
	}
	body, _ := json.Marshal(struct {
		Errors []*apiError `json:"errors"`
	}{[]*apiError{ae}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(ae.Status)
	_, _ = w.Write(body)
}
