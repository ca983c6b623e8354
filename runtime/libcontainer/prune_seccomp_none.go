//go:build !(linux && cgo && seccomp)

package libcontainer

import "github.com/opencontainers/runc/libcontainer/configs"

// pruneSeccomp needs libseccomp; without it there is no filter to prune.
func pruneSeccomp(*configs.Seccomp) {}
