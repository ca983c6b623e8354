// Command drover is the whole platform in one binary. What it does depends on how it is
// started: the processes drover runs for each container ("drover init", "drover shim", a
// pod's "pause", "drover runtime" or the binary called as "drover-runtime") are
// internal/percontainer's; "drover daemon" is the engine; anything else is the CLI.
//
// Built with make, the binary carries cmd/drover-runtime (the same per-container entry
// points without the rest of drover) and the daemon runs that for its containers (lean.go).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/drover/drover/internal/cli"
	"github.com/drover/drover/internal/percontainer"
)

func main() {
	if code, ok := percontainer.Run(os.Args); ok {
		os.Exit(code)
	}
	root := cli.NewRoot()
	root.AddCommand(daemonCommand(), shimCommand(), percontainer.RuntimeCommand("runtime"), registryCommand())
	os.Exit(cli.Execute(root))
}

// shimCommand documents "drover shim" in the help; main runs it before cobra.
func shimCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "shim [BUNDLE]",
		Short:  "Supervise containers (started by the daemon)",
		Hidden: true,
		Args:   cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := percontainer.Shim(args); code != 0 {
				return fmt.Errorf("shim failed")
			}
			return nil
		},
	}
}
