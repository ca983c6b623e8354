// Package client is the Go client of drover's HTTP API. The CLI, the tests and users'
// programs all talk to the daemon through it.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// Client talks to one daemon over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// New returns a client for the daemon listening on socket.
func New(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:      4,
		DisableKeepAlives: false,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// FromEnv returns a client for $DROVER_HOST (a socket path) or the default socket.
func FromEnv() *Client {
	s := os.Getenv("DROVER_HOST")
	s = strings.TrimPrefix(s, "unix://")
	if s == "" {
		s = api.DefaultSocket
	}
	return New(s)
}

// Socket is the daemon socket this client uses.
func (c *Client) Socket() string { return c.socket }

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func path(p string, q url.Values) string {
	u := "http://drover/" + api.Version + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends a request; a JSON body is encoded from in, unless in is an io.Reader.
func (c *Client) do(ctx context.Context, method, p string, q url.Values, in any) (*http.Response, error) {
	return c.doHeader(ctx, method, p, q, in, nil)
}

// doHeader is do with extra request headers.
func (c *Client) doHeader(ctx context.Context, method, p string, q url.Values, in any, hdr http.Header) (*http.Response, error) {
	var body io.Reader
	ctype := ""
	switch v := in.(type) {
	case nil:
	case io.Reader:
		body, ctype = v, "application/x-tar"
	default:
		data, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		body, ctype = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, path(p, q), body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.connErr(err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// connErr explains the most common failure: no daemon listening.
func (c *Client) connErr(err error) error {
	if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "no such file") {
		return fmt.Errorf("cannot connect to the drover daemon at %s: is it running? (start it with: drover daemon)", c.socket)
	}
	if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission denied") {
		return fmt.Errorf("permission denied on the drover daemon socket %s: run as root", c.socket)
	}
	return err
}

// StatusError is an error answer of the daemon.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// Unwrap maps HTTP status codes back to errdefs sentinels so callers use errors.Is.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case http.StatusNotFound:
		return errdefs.ErrNotFound
	case http.StatusConflict:
		return errdefs.ErrConflict
	case http.StatusBadRequest:
		return errdefs.ErrInvalidArgument
	case http.StatusUnauthorized:
		return errdefs.ErrUnauthorized
	}
	return nil
}

func decodeError(resp *http.Response) error {
	var e api.Error
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(data))
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	return &StatusError{Code: resp.StatusCode, Message: e.Message}
}

// call does a request and decodes a JSON answer into out (when out is non-nil).
func (c *Client) call(ctx context.Context, method, p string, q url.Values, in, out any) error {
	resp, err := c.do(ctx, method, p, q, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode daemon answer: %w", err)
	}
	return nil
}

// Hijacked is a connection taken over for a framed stream (internal/stream).
type Hijacked struct {
	net.Conn
	r *bufio.Reader
	// ContainerID is the container the stream belongs to, as the daemon named it.
	ContainerID string
}

// Read reads the stream, including what was buffered with the response headers.
func (h *Hijacked) Read(p []byte) (int, error) { return h.r.Read(p) }

// CloseWrite half-closes the connection.
func (h *Hijacked) CloseWrite() error {
	if uc, ok := h.Conn.(*net.UnixConn); ok {
		return uc.CloseWrite()
	}
	return nil
}

// hijack sends a request asking to upgrade to the framed stream.
func (c *Client) hijack(ctx context.Context, method, p string, q url.Values, in any) (*Hijacked, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, path(p, q), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", api.UpgradeProto)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, c.connErr(err)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return &Hijacked{Conn: conn, r: br, ContainerID: resp.Header.Get(api.ContainerIDHeader)}, nil
}
