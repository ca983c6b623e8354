// Package shim is drover's container supervisor. A shim process supervises a group of up
// to N containers (ADR 0005): it is the parent (and child subreaper) of their processes,
// holds their stdio, writes their log files, records their exit status, and outlives
// restarts of the daemon.
//
// The daemon talks to each container's shim over a unix socket in its bundle. Each
// connection carries one request as a JSON line and gets one JSON line back; "attach" (which
// can also start the created container) and "exec" then turn the connection into a framed
// stream (internal/stream) until the process exits.
package shim

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Operations a shim serves.
const (
	OpStart  = "start"  // let the created container run
	OpAttach = "attach" // stream the container's stdio
	OpExec   = "exec"   // run another process in the container and stream its stdio
	OpWait   = "wait"   // answer when the container has exited
	OpResize = "resize" // resize the container's terminal
	OpState  = "state"  // report pid and whether the container exited
	// OpReopenLog closes the log file and opens a new one at its path, once someone else
	// (the kubelet, rotating a CRI log) has moved the old one away.
	OpReopenLog = "reopen-log"
)

// Request is the first line a client sends on a connection.
type Request struct {
	Op string `json:"op"`
	// Stdin asks attach or exec to forward Stdin frames.
	Stdin bool `json:"stdin,omitempty"`
	// Start has attach start the created container once the stream is wired.
	Start bool `json:"start,omitempty"`
	// Process and Terminal describe an exec.
	Process  *specs.Process `json:"process,omitempty"`
	Terminal bool           `json:"terminal,omitempty"`
	// Detach runs an exec in the background with /dev/null as its stdio. Its Exit frame
	// follows at once, unless WaitExit holds it until the process has exited (Docker's
	// exec inspect reports a detached exec's exit code).
	Detach   bool `json:"detach,omitempty"`
	WaitExit bool `json:"waitExit,omitempty"`
	// Width and Height size a terminal (resize, or a new exec's terminal).
	Width  uint16 `json:"width,omitempty"`
	Height uint16 `json:"height,omitempty"`
}

// Response is the shim's answer line.
type Response struct {
	Error string      `json:"error,omitempty"`
	Pid   int         `json:"pid,omitempty"`
	Exit  *ExitStatus `json:"exit,omitempty"`
}

// ExitStatus is how a container ended; the shim also stores it in the bundle's exit file
// so the daemon learns it after a restart.
type ExitStatus struct {
	Code      int       `json:"code"`
	ExitedAt  time.Time `json:"exitedAt"`
	OOMKilled bool      `json:"oomKilled,omitempty"`
}

// File names inside a container's bundle (state) directory.
const (
	SocketName = "shim.sock"
	PidName    = "shim.pid"
	InitPid    = "init.pid"
	ExitName   = "exit.json"
	LogName    = "shim.log"
)
