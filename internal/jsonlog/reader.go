package jsonlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"time"
)

// Message is one log record.
type Message struct {
	Stream string
	Line   []byte
	Time   time.Time
}

// ReadOptions select records. Tail < 0 means all.
type ReadOptions struct {
	Tail         int
	Since, Until time.Time
	Follow       bool
	// StopWhen ends a follow once it returns true and the file is drained (the container
	// has exited).
	StopWhen func() bool
}

type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// decode parses one line; malformed lines are skipped by the callers.
func decode(line []byte) (Message, bool) {
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		return Message{}, false
	}
	return Message{Stream: r.Stream, Line: []byte(r.Log), Time: r.Time}, true
}

// files lists the rotated logs oldest first, then the active one.
func files(path string) []string {
	var out []string
	for i := 1; ; i++ {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		out = append([]string{p}, out...)
	}
	return append(out, path)
}

// Read calls fn for the selected records of the log at path, oldest first.
func Read(ctx context.Context, path string, opts ReadOptions, fn func(Message) error) error {
	keep := func(m Message) bool {
		if !opts.Since.IsZero() && m.Time.Before(opts.Since) {
			return false
		}
		if !opts.Until.IsZero() && m.Time.After(opts.Until) {
			return false
		}
		return true
	}
	paths := files(path)
	if opts.Tail >= 0 {
		msgs := tail(paths, opts.Tail, keep)
		for _, m := range msgs {
			if err := fn(m); err != nil {
				return err
			}
		}
	} else {
		for _, p := range paths[:len(paths)-1] {
			if err := readFile(p, keep, fn); err != nil {
				return err
			}
		}
	}
	if !opts.Follow && opts.Tail >= 0 {
		return nil
	}
	// Read (and maybe follow) the active file from where the tail left it.
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer func() { f.Close() }()
	if opts.Tail >= 0 {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var partial []byte
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = append(partial, line...)
			partial = nil
			if m, ok := decode(line); ok && keep(m) {
				if !opts.Until.IsZero() && m.Time.After(opts.Until) {
					return nil
				}
				if err := fn(m); err != nil {
					return err
				}
			}
			continue
		}
		partial = append(partial, line...)
		if err != io.EOF {
			return err
		}
		if !opts.Follow {
			return nil
		}
		stop := opts.StopWhen != nil && opts.StopWhen()
		// Rotated away? Switch to the new active file.
		if st, serr := os.Stat(path); serr == nil {
			if cur, cerr := f.Stat(); cerr == nil && !os.SameFile(st, cur) {
				f.Close()
				if f, err = os.Open(path); err != nil {
					return err
				}
				br.Reset(f)
				partial = nil
				continue
			}
		}
		if stop {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readFile(path string, keep func(Message) bool, fn func(Message) error) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m, ok := decode(sc.Bytes()); ok && keep(m) {
			if err := fn(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// tail returns the last n kept records across paths, reading files backwards in blocks so
// a large log is not parsed whole.
func tail(paths []string, n int, keep func(Message) bool) []Message {
	var out []Message
	for i := len(paths) - 1; i >= 0 && len(out) < n; i-- {
		lines := lastLines(paths[i], n-len(out), keep)
		out = append(lines, out...)
	}
	return out
}

func lastLines(path string, n int, keep func(Message) bool) []Message {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	const block = 32 << 10
	var msgs []Message
	var rest []byte
	for off := fi.Size(); off > 0 && len(msgs) < n; {
		size := int64(block)
		if off < size {
			size = off
		}
		off -= size
		buf := make([]byte, size)
		if _, err := f.ReadAt(buf, off); err != nil {
			return msgs
		}
		buf = append(buf, rest...)
		lines := bytes.Split(buf, []byte{'\n'})
		rest = lines[0]
		if off == 0 {
			rest = nil
		} else {
			lines = lines[1:]
		}
		for j := len(lines) - 1; j >= 0 && len(msgs) < n; j-- {
			if m, ok := decode(lines[j]); ok && keep(m) {
				msgs = append([]Message{m}, msgs...)
			}
		}
		if off == 0 && rest == nil {
			break
		}
	}
	return msgs
}
