//go:build !leanruntime

package main

// leanRuntime is cmd/drover-runtime's binary when make embedded it (lean_embed.go). A
// plain go build leaves it empty, and the daemon runs this whole binary for its
// containers instead.
var leanRuntime []byte
