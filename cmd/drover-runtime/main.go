// Command drover-runtime is the part of drover that runs for each container: the
// runc-compatible runtime command line, the shim, the container's init and a pod's pause
// (internal/percontainer), without the rest of drover. Each of these processes then starts
// in about a third of the time the whole binary needs (ADR 0003): make embeds it in
// bin/drover, whose daemon runs it for its containers, and installs it beside bin/drover
// for engines such as podman (--runtime).
package main

import (
	"os"

	"github.com/drover/drover/internal/percontainer"
)

func main() {
	if code, ok := percontainer.Run(os.Args); ok {
		os.Exit(code)
	}
	// Under any other name it is still the runtime command line.
	os.Exit(percontainer.RunRuntime(percontainer.RuntimeCommand(percontainer.RuntimeName), os.Args[1:]))
}
