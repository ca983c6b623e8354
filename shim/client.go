package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Client talks to one shim through the socket in its bundle.
type Client struct {
	Bundle string
}

// Conn is a client connection after its request was answered; for attach and exec it
// carries the framed stream.
type Conn struct {
	net.Conn
	*bufio.Reader
	Response Response
}

// Read reads the stream, including bytes already buffered after the response line.
func (c *Conn) Read(p []byte) (int, error) { return c.Reader.Read(p) }

// Dial sends req and reads the response line.
func (c *Client) Dial(ctx context.Context, req Request) (*Conn, error) {
	var d net.Dialer
	var nc net.Conn
	err := withSocketPath(c.Bundle, SocketName, func(p string) error {
		var err error
		nc, err = d.DialContext(ctx, "unix", p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("connect to shim: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	data, _ := json.Marshal(req)
	if _, err := nc.Write(append(data, '\n')); err != nil {
		nc.Close()
		return nil, fmt.Errorf("shim %s: %w", req.Op, err)
	}
	br := bufio.NewReader(nc)
	line, err := br.ReadBytes('\n')
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("shim %s: %w", req.Op, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		nc.Close()
		return nil, fmt.Errorf("shim %s: bad response: %w", req.Op, err)
	}
	if resp.Error != "" {
		nc.Close()
		return nil, errors.New(resp.Error)
	}
	_ = nc.SetDeadline(time.Time{})
	return &Conn{Conn: nc, Reader: br, Response: resp}, nil
}

// Call makes a request that has no stream and closes the connection.
func (c *Client) Call(ctx context.Context, req Request) (Response, error) {
	conn, err := c.Dial(ctx, req)
	if err != nil {
		return Response{}, err
	}
	conn.Close()
	return conn.Response, nil
}

// Wait blocks until the container has exited and returns how it ended.
func (c *Client) Wait(ctx context.Context) (*ExitStatus, error) {
	conn, err := c.Dial(ctx, Request{Op: OpWait})
	if err != nil {
		return nil, err
	}
	conn.Close()
	if conn.Response.Exit == nil {
		return nil, errors.New("shim wait: no exit status")
	}
	return conn.Response.Exit, nil
}

// shimEnv keeps the shim's environment small and its Go runtime lean: it is one process
// per container, so its memory counts many times over.
func shimEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "GOMAXPROCS=1", "GOGC=50"}
	if v := os.Getenv("DROVER_DEBUG"); v != "" {
		env = append(env, "DROVER_DEBUG="+v)
	}
	return env
}
