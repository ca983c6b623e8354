package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// op is what a command asks the state machine to do.
type op byte

const (
	opNoop   op = iota + 1 // a new leader's first entry: all earlier entries are applied once it is
	opCreate               // fails when the key exists
	opUpdate               // fails when absent or the revision differs from expect (0: any)
	opDelete               // same precondition as opUpdate
)

// command is one replicated write. Its encoding is a version byte, the op,
// the expected revision and the key as uvarints/length-prefixed bytes, then
// the value as the rest of the entry: small, and no reflection on the hot path.
type command struct {
	op     op
	expect uint64
	key    string
	value  []byte
}

const commandVersion = 1

var errBadCommand = errors.New("malformed command")

func (c command) encode() []byte {
	b := make([]byte, 0, 2+2*binary.MaxVarintLen64+len(c.key)+len(c.value))
	b = append(b, commandVersion, byte(c.op))
	b = binary.AppendUvarint(b, c.expect)
	b = binary.AppendUvarint(b, uint64(len(c.key)))
	b = append(b, c.key...)
	return append(b, c.value...)
}

func decodeCommand(b []byte) (command, error) {
	if len(b) < 2 {
		return command{}, fmt.Errorf("%w: %d bytes", errBadCommand, len(b))
	}
	if b[0] != commandVersion {
		return command{}, fmt.Errorf("%w: version %d, this build knows %d", errBadCommand, b[0], commandVersion)
	}
	c := command{op: op(b[1])}
	if c.op < opNoop || c.op > opDelete {
		return command{}, fmt.Errorf("%w: op %d", errBadCommand, c.op)
	}
	b = b[2:]
	var n int
	if c.expect, n = binary.Uvarint(b); n <= 0 {
		return command{}, fmt.Errorf("%w: expected revision", errBadCommand)
	}
	b = b[n:]
	klen, n := binary.Uvarint(b)
	if n <= 0 || klen > uint64(len(b)-n) {
		return command{}, fmt.Errorf("%w: key length", errBadCommand)
	}
	b = b[n:]
	c.key = string(b[:klen])
	if rest := b[klen:]; len(rest) > 0 {
		// Copy: raft may reuse the log's buffer, and values outlive the entry.
		c.value = append([]byte(nil), rest...)
	}
	return c, nil
}
