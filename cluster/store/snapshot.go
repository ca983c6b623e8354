package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	iradix "github.com/hashicorp/go-immutable-radix"
	"github.com/hashicorp/raft"
)

// Snapshot format: magic, then uvarints revision and count, then per key in
// key order: key (length-prefixed), value (length-prefixed), revision,
// create revision. A format of our own keeps values opaque and the file
// streamable in both directions.
const snapshotMagic = "drover-store-snapshot-v1\n"

// maxSnapshotField bounds one length read from a snapshot so a corrupt file
// fails cleanly instead of asking for gigabytes.
const maxSnapshotField = 1 << 30

type fsmSnapshot struct {
	tree *iradix.Tree
	rev  uint64
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot at %d: %w", s.rev, err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf [binary.MaxVarintLen64]byte
	uvarint := func(v uint64) {
		bw.Write(buf[:binary.PutUvarint(buf[:], v)])
	}
	bw.WriteString(snapshotMagic)
	uvarint(s.rev)
	uvarint(uint64(s.tree.Len()))
	s.tree.Root().Walk(func(k []byte, v interface{}) bool {
		kv := v.(*KV)
		uvarint(uint64(len(k)))
		bw.Write(k)
		uvarint(uint64(len(kv.Value)))
		bw.Write(kv.Value)
		uvarint(kv.Revision)
		uvarint(kv.CreateRevision)
		return false
	})
	// bufio keeps the first write error and returns it from Flush.
	return bw.Flush()
}

func (s *fsmSnapshot) Release() {}

func readSnapshot(r io.Reader) (*iradix.Tree, uint64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, 0, fmt.Errorf("read header: %w", err)
	}
	if string(magic) != snapshotMagic {
		return nil, 0, fmt.Errorf("not a store snapshot: header %q", magic)
	}
	rev, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, 0, fmt.Errorf("read revision: %w", err)
	}
	count, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, 0, fmt.Errorf("read count: %w", err)
	}
	bytesField := func() ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if n > maxSnapshotField {
			return nil, fmt.Errorf("field of %d bytes", n)
		}
		if n <= 64<<10 {
			b := make([]byte, n)
			_, err = io.ReadFull(br, b)
			return b, err
		}
		// Large: grow with the data that really arrives, so a corrupt
		// length in a short file does not allocate it all up front.
		var buf bytes.Buffer
		_, err = io.CopyN(&buf, br, int64(n))
		return buf.Bytes(), err
	}
	txn := iradix.New().Txn()
	for i := uint64(0); i < count; i++ {
		kv := &KV{}
		k, err := bytesField()
		if err == nil {
			kv.Key = string(k)
			kv.Value, err = bytesField()
		}
		if err == nil {
			kv.Revision, err = binary.ReadUvarint(br)
		}
		if err == nil {
			kv.CreateRevision, err = binary.ReadUvarint(br)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, fmt.Errorf("read key %d of %d: %w", i+1, count, err)
		}
		if len(kv.Value) == 0 {
			kv.Value = nil // as Apply stores an empty value
		}
		txn.Insert(k, kv)
	}
	return txn.Commit(), rev, nil
}
