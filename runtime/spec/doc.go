// Package spec turns what a user asked for (image config already merged with run options)
// into an OCI runtime spec with Docker-equivalent security defaults: fresh namespaces, a
// reduced capability set, masked and read-only /proc and /sys paths, a device cgroup that
// denies everything but the standard nodes, clamped rlimits and drover's own seccomp
// allowlist.
//
// The spec is consumed by the embedded libcontainer runtime and by external runc binaries
// (Debian's runc 1.1.5 among them), so every choice here stays within what both accept.
//
// The package also holds the pure parsers for the run flags that feed Options
// (--ulimit, --volume, --tmpfs, --security-opt, --cpus, --memory) and LookPath, which resolves
// a command inside a rootfs without leaving it, so the daemon can fail early with Docker's
// "executable file not found in $PATH".
package spec
