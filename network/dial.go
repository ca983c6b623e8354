package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"

	"github.com/vishvananda/netns"
)

// DialIn connects to addr ("tcp", host:port) from inside the network namespace at path
// (a bind-mounted namespace file or /proc/PID/ns/net): the socket is made there, so
// 127.0.0.1 is the namespace's own loopback. Port forwarding to a pod uses it.
func DialIn(ctx context.Context, path, addr string) (net.Conn, error) {
	var conn net.Conn
	err := InNamespace(path, func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return conn, err
}

// InNamespace runs fn on a locked OS thread inside the network namespace at path; sockets
// fn creates belong to that namespace for good.
func InNamespace(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer target.Close()
	return onNamespaceThread(func() error {
		if err := netns.Set(target); err != nil {
			return fmt.Errorf("enter netns %s: %w", path, err)
		}
		return nil
	}, fn)
}

// onNamespaceThread runs enter (which moves the thread to another network namespace) and
// then fn on a locked OS thread of a goroutine of its own, and moves the thread back. If
// enter fails, fn does not run. If the thread cannot return to the original namespace it
// stays locked, and Go discards it when the goroutine ends, so no other goroutine ever
// runs in the wrong namespace.
func onNamespaceThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("return to host netns: %w", err))
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
