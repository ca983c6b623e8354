// Command drover is the whole platform in one binary. What it does depends on how it is
// started: "drover init" is a container's first process (libcontainer's re-exec), "drover
// shim" supervises one container, "drover daemon" is the engine, anything else is the CLI.
package main

import (
	"os"

	"github.com/drover/drover/internal/cli"
	"github.com/drover/drover/runtime/libcontainer"
)

func init() {
	// Must run before anything else: in a container's init, libcontainer takes over here.
	libcontainer.Init()
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(runShim(os.Args[2:]))
	}
	root := cli.NewRoot()
	root.AddCommand(daemonCommand(), shimCommand())
	os.Exit(cli.Execute(root))
}
