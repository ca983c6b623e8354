package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/drover/drover/runtime"
	"github.com/drover/drover/runtime/libcontainer"
	"github.com/drover/drover/runtime/oci"
	"github.com/drover/drover/shim"
)

// shimCommand documents "drover shim"; main dispatches it before cobra to keep the
// per-container process's start-up small.
func shimCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "shim [BUNDLE]",
		Short:  "Supervise one container (started by the daemon)",
		Hidden: true,
		Args:   cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := runShim(args); code != 0 {
				return fmt.Errorf("shim failed")
			}
			return nil
		},
	}
}

// runShim serves one container. fd 3 is the daemon's socket: without a BUNDLE argument
// the shim first waits there for its bundle (a warm shim), then answers "ok PID" on it.
func runShim(args []string) int {
	if len(args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: drover shim [BUNDLE]")
		return 2
	}
	sync := os.NewFile(3, "sync")
	var bundle string
	if len(args) == 1 {
		bundle = args[0]
	} else {
		b, ok, err := shim.Assignment(sync)
		if !ok {
			return 0 // the daemon went away before it needed us
		}
		if err != nil {
			fmt.Fprintf(sync, "error %v\n", err)
			return 1
		}
		bundle = b
	}
	cfg, err := shim.ReadConfig(bundle)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if sync != nil {
			fmt.Fprintf(sync, "error %v\n", err)
		}
		return 1
	}
	var rt runtime.Runtime
	if cfg.Runtime == "" {
		rt = libcontainer.New(cfg.RuntimeRoot)
	} else {
		rt = &oci.Runtime{Path: cfg.Runtime, Root: cfg.RuntimeRoot}
	}
	if err := shim.Serve(cfg, rt, sync); err != nil {
		fmt.Fprintln(os.Stderr, "shim:", err)
		return 1
	}
	return 0
}
