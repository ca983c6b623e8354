// Package runtime defines how drover drives an OCI runtime. Two implementations exist:
// runtime/libcontainer (embedded, the default) and runtime/oci (any runc-compatible binary).
// Both take an OCI bundle (a directory with config.json and the rootfs) and follow the
// create/start split of the OCI runtime spec, so the shim can wire stdio before the
// container's process runs.
package runtime

import (
	"context"
	"os"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime creates and controls containers. Create and Exec make the container's processes
// children of the calling process (the shim), which reaps them with wait4.
type Runtime interface {
	// Create sets up the container from the bundle; its process waits until Start.
	Create(ctx context.Context, id, bundle string, io IO) (Process, error)
	// Start lets a created container's process run.
	Start(ctx context.Context, id string) error
	// Exec runs an extra process inside a running container.
	Exec(ctx context.Context, id string, p *specs.Process, io IO) (Process, error)
	// Kill signals the init process, or every process of the container when all is set.
	Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// State reports the runtime's view of the container.
	State(ctx context.Context, id string) (State, error)
	// Pids lists the host pids of the container's processes.
	Pids(ctx context.Context, id string) ([]int, error)
	// Delete removes the container's runtime state and cgroups; force kills it first.
	Delete(ctx context.Context, id string, force bool) error
}

// IO is the stdio handed to a container process. With Terminal set the runtime allocates
// a pseudo-terminal inside the container and returns its master in Process.Console;
// the Stdin/Stdout/Stderr files are then unused.
type IO struct {
	Stdin, Stdout, Stderr *os.File
	Terminal              bool
	// ConsoleWidth and ConsoleHeight size a new terminal.
	ConsoleWidth, ConsoleHeight uint16
	// ExtraFiles are passed on as fds 3, 4, ... (runc's --preserve-fds).
	ExtraFiles []*os.File
}

// CreateOptions are the create-time choices of runc's command line that are not in the
// bundle's spec.
type CreateOptions struct {
	// NoPivotRoot enters the root filesystem with MS_MOVE instead of pivot_root(2), for
	// root filesystems on a ramdisk, where pivot_root fails.
	NoPivotRoot bool
	// NoNewKeyring keeps the caller's session keyring instead of a new one per container.
	NoNewKeyring bool
}

// Process is a started container process.
type Process struct {
	Pid     int
	Console *os.File // pty master when IO.Terminal was set
}

// Status of a container as runtimes report it (OCI state values plus "paused").
type Status string

const (
	StatusCreating Status = "creating"
	StatusCreated  Status = "created"
	StatusRunning  Status = "running"
	StatusPaused   Status = "paused"
	StatusStopped  Status = "stopped"
)

// State is a runtime's view of one container. Rootfs, Created and Annotations are set
// where the runtime knows them.
type State struct {
	ID          string
	Pid         int
	Status      Status
	Bundle      string
	Rootfs      string
	Created     time.Time
	Annotations map[string]string
}
