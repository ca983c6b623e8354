// Package percontainer holds the entry points of the processes drover starts for each
// container: the shim, the container's init (libcontainer's re-exec), a pod's pause and
// the runc-compatible runtime command line. Both binaries link it: cmd/drover, and
// cmd/drover-runtime, which links nothing else, so that these processes skip the package
// initialisation of the cluster, the API servers and their clients (ADR 0003).
package percontainer

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/drover/drover/runtime/libcontainer"
	// In a container's init, libcontainer takes over during package initialisation.
	_ "github.com/drover/drover/runtime/libcontainer/initproc"
	"github.com/drover/drover/runtime/ocicli"
)

// RuntimeName is the name under which a drover binary is the OCI runtime command line.
const RuntimeName = "drover-runtime"

// Run runs the per-container process args name and reports whether they named one: the
// runtime command line ("runtime" as the first argument, or argv[0] "drover-runtime") or
// the shim ("shim"). A container's init and a pod's pause never get here: they take over
// before main.
func Run(args []string) (code int, ok bool) {
	if len(args) > 1 {
		// First, as the daemon calls its drover-runtime with these too.
		switch args[1] {
		case "runtime":
			// Engines call the runtime for every container operation: skip building the CLI.
			return RunRuntime(RuntimeCommand("drover runtime"), args[2:]), true
		case "shim":
			return Shim(args[2:]), true
		}
	}
	if filepath.Base(args[0]) == RuntimeName {
		return RunRuntime(RuntimeCommand(RuntimeName), args[1:]), true
	}
	return 0, false
}

// RuntimeCommand is the OCI runtime command line on the embedded runtime.
func RuntimeCommand(use string) *cobra.Command {
	return ocicli.NewCommand(use, ocicli.Hooks{
		New: func(c ocicli.Config) ocicli.Runtime {
			rt := libcontainer.New(c.Root)
			rt.SystemdCgroup, rt.KeepLoaded = c.SystemdCgroup, true // one command per process
			return rt
		},
		ExampleSpec: libcontainer.ExampleSpec,
		Features:    libcontainer.Features,
	})
}

// RunRuntime runs the runtime command line on its own: errors on stderr, and the exit code
// of the container's process for run and exec in the foreground, as runc does.
func RunRuntime(cmd *cobra.Command, args []string) int {
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err != nil && !ocicli.IsExit(err) {
		fmt.Fprintln(os.Stderr, cmd.Name()+":", err)
	}
	return ocicli.ExitCode(err)
}
