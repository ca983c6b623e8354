//go:build !linux

package jsonlog

import (
	"errors"
	"os"
)

// openInotify is Linux only; elsewhere a follow polls.
func openInotify(string) (*os.File, error) { return nil, errors.New("inotify is Linux only") }
