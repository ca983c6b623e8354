package percontainer

import (
	"fmt"
	"os"
	"runtime/debug"
	gosync "sync"
	"time"

	"github.com/drover/drover/runtime"
	"github.com/drover/drover/runtime/libcontainer"
	"github.com/drover/drover/runtime/oci"
	"github.com/drover/drover/shim"
)

// Shim supervises the containers the daemon hands it. fd 3 is the daemon's socket:
// without a BUNDLE argument the shim waits there for bundles (a warm shim) and answers
// "ok PID" or "error MSG" for each, until the daemon closes it; it exits once its
// containers have. With BUNDLE it serves that one container.
func Shim(args []string) int {
	if len(args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: drover shim [BUNDLE]")
		return 2
	}
	sync := os.NewFile(3, "sync")
	if len(args) == 1 {
		cfg, err := shim.ReadConfig(args[0])
		if err == nil {
			err = shim.Serve(cfg, shimRuntime(cfg), sync)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "shim:", err)
			return 1
		}
		return 0
	}
	assignments := shim.NewAssignments(sync)
	tidy := time.AfterFunc(time.Hour, debug.FreeOSMemory)
	defer tidy.Stop()
	var running gosync.WaitGroup
	for {
		bundle, ok, err := assignments.Next()
		if !ok {
			break
		}
		var sv *shim.Supervisor
		if err == nil {
			var cfg shim.Config
			if cfg, err = shim.ReadConfig(bundle); err == nil {
				sv, err = shim.Start(cfg, shimRuntime(cfg))
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "shim:", err)
			if _, werr := fmt.Fprint(sync, shim.SyncLine(err, 0)); werr != nil {
				break
			}
			continue
		}
		if _, err := fmt.Fprint(sync, shim.SyncLine(nil, sv.Pid())); err != nil {
			sv.Abort() // the daemon went away before it knew of this container
			break
		}
		running.Add(1)
		go func() { defer running.Done(); sv.Run() }()
		// Creating a container left garbage this long-lived process should not keep; give
		// it back once starts pause, not now, when the container is about to be started.
		tidy.Reset(time.Second)
	}
	sync.Close()
	running.Wait()
	return 0
}

func shimRuntime(cfg shim.Config) runtime.Runtime {
	if cfg.Runtime == "" {
		return libcontainer.New(cfg.RuntimeRoot)
	}
	return &oci.Runtime{Path: cfg.Runtime, Root: cfg.RuntimeRoot}
}
