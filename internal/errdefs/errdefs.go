// Package errdefs holds the few sentinel errors that cross package boundaries.
// Callers test them with errors.Is; only the API edge maps them to HTTP status codes.
package errdefs

import "errors"

var (
	// ErrNotFound: the named object (container, image, volume...) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object with that name or ID exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: the request itself is wrong (bad flag value, bad spec).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrConflict: the object is in a state that forbids the operation.
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: a registry refused the credentials (or wants some).
	ErrUnauthorized = errors.New("unauthorized")
)
