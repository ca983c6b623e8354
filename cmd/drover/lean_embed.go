//go:build leanruntime

package main

import (
	_ "embed"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// make builds cmd/drover-runtime to these files first (they are not in git).
var (
	//go:embed drover-runtime.bin
	leanRuntime []byte
	//go:embed drover-runtime.sha256
	leanRuntimeDigest string
)

// releaseLeanRuntime gives back the pages of leanRuntime that writing it out read in:
// they lie in the executable's read-only data and would otherwise stay in the daemon's
// RSS. They are clean pages of the file, read again from it if ever touched.
func releaseLeanRuntime() {
	page := uintptr(os.Getpagesize())
	base := unsafe.Pointer(unsafe.SliceData(leanRuntime))
	start := uintptr(base)
	first := (start + page - 1) &^ (page - 1)
	last := (start + uintptr(len(leanRuntime))) &^ (page - 1)
	if last > first {
		_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(base, first-start)), last-first), unix.MADV_DONTNEED)
	}
}
