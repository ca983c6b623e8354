// Package initproc hands a container's init process ("drover init", libcontainer's
// re-exec) to libcontainer as early in Go's package initialisation as its imports allow.
// Go initialises packages in import-path order as their imports become ready, so this
// package's init runs right after libcontainer's dependencies, before the hundred or so
// packages that sort later and that an init never needs (the cluster's, the API
// clients'); the init never returns to run them. cmd/drover imports it for that effect
// alone. In every other process it does nothing.
package initproc

import "github.com/drover/drover/runtime/libcontainer"

func init() {
	libcontainer.Init()
}
