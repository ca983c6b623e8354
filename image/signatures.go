package image

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/drover/drover/image/signature"
)

// bucketSignatures maps a manifest digest to the cosign signatures pulled with it
// (JSON list of signature.Signature), so that a push carries them on.
var bucketSignatures = []byte("signatures")

// AddSignatures records signatures of manifest d, keeping those already recorded.
func (s *Store) AddSignatures(d digest.Digest, sigs []signature.Signature) error {
	if len(sigs) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSignatures)
		if err != nil {
			return err
		}
		var have []signature.Signature
		if v := b.Get([]byte(d)); v != nil {
			_ = json.Unmarshal(v, &have)
		}
	next:
		for _, sg := range sigs {
			for _, h := range have {
				if h.Signature == sg.Signature && bytes.Equal(h.Payload, sg.Payload) {
					continue next
				}
			}
			if len(have) < signature.MaxSignatures {
				have = append(have, sg)
			}
		}
		v, err := json.Marshal(have)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(d), v); err != nil {
			return fmt.Errorf("record signatures of %s: %w", d, err)
		}
		return nil
	})
}

// Signatures returns the signatures recorded for manifest d.
func (s *Store) Signatures(d digest.Digest) ([]signature.Signature, error) {
	var out []signature.Signature
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSignatures)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(d)); v != nil {
			return json.Unmarshal(v, &out)
		}
		return nil
	})
	return out, err
}

// forgetSignatures drops the signatures of manifest d (its image is removed).
func forgetSignatures(tx *bolt.Tx, d digest.Digest) error {
	if b := tx.Bucket(bucketSignatures); b != nil {
		return b.Delete([]byte(d))
	}
	return nil
}
