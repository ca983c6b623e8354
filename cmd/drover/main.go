// Command drover is the whole platform in one binary. What it does depends on how it is
// started: "drover init" is a container's first process (libcontainer's re-exec), "drover
// shim" supervises one container, "pause" (argv[0]) is a pod's infra process (in C, before
// Go starts: pause.go), "drover daemon" is the engine, "drover runtime" (or the
// binary called as "drover-runtime") is a runc-compatible OCI runtime, anything else is
// the CLI.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/cli"
	"github.com/drover/drover/runtime/libcontainer"
	// In a container's init, libcontainer takes over during package initialisation.
	_ "github.com/drover/drover/runtime/libcontainer/initproc"
	"github.com/drover/drover/runtime/ocicli"
)

func main() {
	if filepath.Base(os.Args[0]) == "drover-runtime" {
		os.Exit(runRuntime(runtimeCommand("drover-runtime"), os.Args[1:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "runtime" {
		// Engines call the runtime for every container operation: skip building the CLI.
		os.Exit(runRuntime(runtimeCommand("drover runtime"), os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(runShim(os.Args[2:]))
	}
	root := cli.NewRoot()
	root.AddCommand(daemonCommand(), shimCommand(), runtimeCommand("runtime"), registryCommand())
	os.Exit(cli.Execute(root))
}

func runtimeCommand(use string) *cobra.Command {
	return ocicli.NewCommand(use, ocicli.Hooks{
		New: func(c ocicli.Config) ocicli.Runtime {
			rt := libcontainer.New(c.Root)
			rt.SystemdCgroup = c.SystemdCgroup
			return rt
		},
		ExampleSpec: libcontainer.ExampleSpec,
		Features:    libcontainer.Features,
	})
}

// runRuntime runs the runtime command line on its own: errors on stderr, and the exit code
// of the container's process for run and exec in the foreground, as runc does.
func runRuntime(cmd *cobra.Command, args []string) int {
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err != nil && !ocicli.IsExit(err) {
		fmt.Fprintln(os.Stderr, cmd.Name()+":", err)
	}
	return ocicli.ExitCode(err)
}
