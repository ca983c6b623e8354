//go:build leanruntime

package main

import _ "embed"

// make builds cmd/drover-runtime to this file first (it is not in git).
//
//go:embed drover-runtime.bin
var leanRuntime []byte
