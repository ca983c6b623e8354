//go:build !leanruntime

package main

// leanRuntime is cmd/drover-runtime's binary, and leanRuntimeDigest its SHA-256, when make
// embedded them (lean_embed.go). A plain go build leaves them empty, and the daemon runs
// this whole binary for its containers instead.
var leanRuntime []byte

const leanRuntimeDigest = ""

func releaseLeanRuntime() {}
