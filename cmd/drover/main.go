// Command drover is the whole platform in one binary. What it does depends on how it is
// started: "drover init" is a container's first process (libcontainer's re-exec), "drover
// shim" supervises one container, "drover daemon" is the engine, "drover runtime" (or the
// binary called as "drover-runtime") is a runc-compatible OCI runtime, anything else is
// the CLI.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/cli"
	"github.com/drover/drover/runtime"
	"github.com/drover/drover/runtime/libcontainer"
	"github.com/drover/drover/runtime/ocicli"
)

func init() {
	// Must run before anything else: in a container's init, libcontainer takes over here.
	libcontainer.Init()
}

func main() {
	if filepath.Base(os.Args[0]) == "drover-runtime" {
		os.Exit(runRuntime(runtimeCommand("drover-runtime")))
	}
	if filepath.Base(os.Args[0]) == pauseName {
		os.Exit(runPause())
	}
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(runShim(os.Args[2:]))
	}
	root := cli.NewRoot()
	root.AddCommand(daemonCommand(), shimCommand(), runtimeCommand("runtime"), registryCommand())
	os.Exit(cli.Execute(root))
}

func runtimeCommand(use string) *cobra.Command {
	return ocicli.NewCommand(use, func(root string) runtime.Runtime { return libcontainer.New(root) })
}

// runRuntime runs the runtime command line on its own, printing errors as runc does.
func runRuntime(cmd *cobra.Command) int {
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "drover-runtime:", err)
		return 1
	}
	return 0
}
