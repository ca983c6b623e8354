package jsonlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Message is one log record.
type Message struct {
	// Stream is "stdout" or "stderr".
	Stream string
	// Line is the text, ending with "\n" unless Partial. It is only valid during the
	// callback: the reader reuses its storage, so copy it to keep it.
	Line []byte
	// Time is when the shim read the line.
	Time time.Time
	// Partial marks a piece of a line longer than MaxLine (the line's last piece has
	// Partial false) or, in the CRI format, a last line the stream ended without a
	// newline.
	Partial bool
}

// ReadOptions select the records Read returns.
type ReadOptions struct {
	// Format is the log's format: FormatJSON ("" too) or FormatCRI.
	Format string
	// Tail is the number of records to return from the end of the log: less than 0 for all
	// of them, 0 for none (with Follow: only new ones). It counts records that pass Since
	// and Until.
	Tail int
	// Since and Until, when set, keep only records timed in [Since, Until]. Reading stops at
	// the first record after Until, and a follow ends once Until has passed.
	Since, Until time.Time
	// Follow keeps reading records as they are written, across rotations, until the context
	// ends, StopWhen reports true or Until passes.
	Follow bool
	// StopWhen, when set, is polled while following; once it reports true (the container
	// has exited and its shim flushed the log) Read returns after reading what is left.
	StopWhen func() bool
}

// pollInterval bounds how long a follow waits between looks at the log and at StopWhen.
const pollInterval = 100 * time.Millisecond

// Read calls fn for the selected records of the log at path, oldest first: the rotated files
// path.N ... path.1 and then path. Malformed lines (a torn write, a file edited by hand) are
// skipped. A missing log has no records, or, when following, is waited for. Read returns
// nil when the context ends, and fn's error if fn fails.
func Read(ctx context.Context, path string, opts ReadOptions, fn func(Message) error) error {
	files, err := openAll(path)
	if err != nil {
		return err
	}
	defer func() {
		for _, lf := range files {
			lf.close()
		}
	}()
	sizes := make([]int64, len(files))
	for i, lf := range files {
		sizes[i] = lf.info.Size()
	}
	var start position
	if opts.Tail >= 0 {
		if start, err = tailStart(files, sizes, opts); err != nil {
			return fmt.Errorf("tail log: %w", err)
		}
	}

	rd := &reader{ctx: ctx, path: path, opts: opts, fn: fn, decode: decoder(opts.Format)}
	var active *logFile // followed beyond its size when opened
	if opts.Follow && len(files) > 0 && files[len(files)-1].name == path {
		active = files[len(files)-1]
		files = files[:len(files)-1]
		defer active.close() // follow closes it too; a second Close is a no-op
	}
	lr := newLineReader(nil, 0)
	for i := start.file; i < len(files); i++ {
		off := int64(0)
		if i == start.file {
			off = start.off
		}
		lr.reset(io.NewSectionReader(files[i].f, off, sizes[i]-off), off)
		if done, err := rd.drain(lr); done || err != nil {
			return err
		}
		if done, err := rd.emitTail(lr); done || err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	var pos int64
	if active != nil && start.file == len(files) {
		pos = start.off
	}
	return rd.follow(active, pos, lr)
}

// followingKey is a context key for a func() that Read calls when it starts following, once
// it has read the records that were already there; tests use it to know that later
// writes are new ones.
type followingKey struct{}

// reader holds the state of one Read.
type reader struct {
	ctx    context.Context
	path   string
	opts   ReadOptions
	fn     func(Message) error
	decode func([]byte, *Message) bool
	msg    Message // reused for every record
}

// decoder returns the record decoder of a format.
func decoder(format string) func([]byte, *Message) bool {
	if format == FormatCRI {
		return decodeCRIRecord
	}
	return decodeRecord
}

// drain emits the complete lines lr has; done reports that reading must stop (Until passed,
// the context ended or fn failed, with its error).
func (rd *reader) drain(lr *lineReader) (done bool, err error) {
	for n := 1; ; n++ {
		line, err := lr.next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return true, fmt.Errorf("read log: %w", err)
		}
		if done, err := rd.emit(line); done || err != nil {
			return true, err
		}
		if n%1024 == 0 && rd.ctx.Err() != nil {
			return true, nil
		}
	}
}

// emitTail emits an unterminated last line, for when no more data will come to finish it.
func (rd *reader) emitTail(lr *lineReader) (bool, error) {
	if t := lr.tail(); len(t) > 0 {
		return rd.emit(t)
	}
	return false, nil
}

// emit decodes one line and passes it to fn if it is selected.
func (rd *reader) emit(line []byte) (done bool, err error) {
	if !rd.decode(line, &rd.msg) {
		return false, nil
	}
	if !rd.opts.Since.IsZero() && rd.msg.Time.Before(rd.opts.Since) {
		return false, nil
	}
	if !rd.opts.Until.IsZero() && rd.msg.Time.After(rd.opts.Until) {
		return true, nil
	}
	if err := rd.fn(rd.msg); err != nil {
		return true, err
	}
	return false, nil
}

// follow reads the active file cur from pos (or waits for the log to appear if cur is nil)
// and keeps reading as records are appended. When the Writer rotates, path names a new file:
// follow drains the old one, then moves to the file after it. It returns once StopWhen (or
// Until) says no more records will come and everything written has been read.
func (rd *reader) follow(cur *logFile, pos int64, lr *lineReader) error {
	defer func() { cur.close() }()
	if cur != nil {
		if _, err := cur.f.Seek(pos, io.SeekStart); err != nil {
			return fmt.Errorf("follow log: %w", err)
		}
		lr.reset(cur.f, pos)
	}
	w := newWaiter(rd.ctx, filepath.Dir(rd.path))
	defer w.close()
	if hook, ok := rd.ctx.Value(followingKey{}).(func()); ok {
		hook()
	}
	stopping := false    // no more writes will come: one last pass, then return
	rotatedSeen := false // path moved on from cur and cur has been drained since
	for {
		if cur == nil {
			lf, err := openFile(rd.path)
			if err != nil {
				return err
			}
			if lf != nil {
				cur = lf
				lr.reset(cur.f, 0)
				continue
			}
		} else {
			if done, err := rd.drain(lr); done || err != nil {
				return err
			}
			st, err := os.Stat(rd.path)
			switch {
			case err == nil && !os.SameFile(st, cur.info):
				if !rotatedSeen {
					// Records written just before the rotation may have landed after our
					// last read: drain once more, the Writer no longer writes to cur.
					rotatedSeen = true
					continue
				}
				next, err := nextFile(rd.path, cur)
				if err != nil {
					return err
				}
				if next != nil {
					if done, err := rd.emitTail(lr); done || err != nil {
						return err
					}
					cur.close()
					cur, rotatedSeen = next, false
					lr.reset(cur.f, 0)
					continue
				}
			case err == nil && st.Size() < lr.pos:
				// Truncated in place (not by our Writer, which replaces files): start over.
				if _, err := cur.f.Seek(0, io.SeekStart); err != nil {
					return fmt.Errorf("follow log: %w", err)
				}
				lr.reset(cur.f, 0)
				continue
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("follow log: %w", err)
			}
		}
		if rd.ctx.Err() != nil {
			return nil
		}
		if stopping {
			_, err := rd.emitTail(lr)
			return err
		}
		if (rd.opts.StopWhen != nil && rd.opts.StopWhen()) ||
			(!rd.opts.Until.IsZero() && time.Now().After(rd.opts.Until)) {
			stopping = true
			continue
		}
		if !w.wait(pollInterval) {
			return nil
		}
	}
}
