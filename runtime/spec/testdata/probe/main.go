// Command probe runs inside a test container and reports, one "name=result" line each,
// how a set of syscalls fares under the container's seccomp filter, then exercises what an
// ordinary Go program does (threads, exec, loopback TCP). It is built by runc_test.go.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func result(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func errnoOf(_, _ uintptr, e syscall.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func main() {
	report := func(name string, err error) { fmt.Printf("%s=%s\n", name, result(err)) }

	// clone3 with a zero-sized argument: the kernel says EINVAL, the filter ENOSYS.
	report("clone3", errnoOf(unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)))
	report("unshare_fs", unix.Unshare(unix.CLONE_FS))
	report("unshare_user", unix.Unshare(unix.CLONE_NEWUSER))
	_, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	report("socket_vsock", err)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.Close(fd)
	}
	report("socket_inet", err)
	report("keyctl", errnoOf(unix.Syscall(unix.SYS_KEYCTL, 0, 0, 0)))
	report("personality_query", errnoOf(unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)))
	report("personality_other", errnoOf(unix.Syscall(unix.SYS_PERSONALITY, 0x0400000, 0, 0)))
	unix.Syscall(unix.SYS_PERSONALITY, 0, 0, 0) // back to the Linux default
	var attr [128]byte
	report("bpf", errnoOf(unix.Syscall(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), 0)))
	report("ptrace_traceme_probe", errnoOf(unix.Syscall(unix.SYS_PTRACE, unix.PTRACE_PEEKDATA, 1, 0)))

	// What real programs do.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = os.ReadDir("/") }()
	}
	wg.Wait()
	report("exec", exec.Command("/bin/busybox", "true").Run())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.Write([]byte("x"))
				c.Close()
			}
		}()
		var c net.Conn
		c, err = net.Dial("tcp", ln.Addr().String())
		if err == nil {
			b := make([]byte, 1)
			_, err = c.Read(b)
			c.Close()
		}
		ln.Close()
	}
	report("tcp_loopback", err)
}
