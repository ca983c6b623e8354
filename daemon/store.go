package daemon

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/drover/drover/api"
)

var (
	bucketContainers = []byte("containers")
	bucketPods       = []byte("pods")
)

// record is what the daemon persists of a container: the API view plus the few facts it
// needs to find the container's host state again after a restart.
type record struct {
	api.Container
	// Bundle is the container's state directory (OCI bundle, shim socket, exit file).
	Bundle string `json:"bundle"`
	// RuntimePath is the OCI runtime binary, "" for the embedded runtime.
	RuntimePath string `json:"runtimePath,omitempty"`
	// ManuallyStopped keeps restart policies from undoing a user's stop.
	ManuallyStopped bool `json:"manuallyStopped,omitempty"`
	// ShimPid is the pid of the shim supervising the current run.
	ShimPid int `json:"shimPid,omitempty"`
	// Infra marks the infra container of a pod: it holds the pod's namespaces, with drover
	// itself as a pause process, or, when Pinned, as namespace files (podns.go).
	Infra  bool `json:"infra,omitempty"`
	Pinned bool `json:"pinned,omitempty"`
}

// store keeps container records in bbolt, one JSON value per container ID.
type store struct {
	db *bolt.DB
}

func openStore(path string) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2e9})
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w (is another daemon using this root?)", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketContainers, bucketPods} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func (s *store) put(r *record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.putJSON(r.ID, data)
}

// putJSON stores a record already encoded.
func (s *store) putJSON(id string, data []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Put([]byte(id), data)
	})
}

func (s *store) delete(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).Delete([]byte(id))
	})
}

func (s *store) all() ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketContainers).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("container %s: corrupt record: %w", k, err)
			}
			out = append(out, &r)
			return nil
		})
	})
	return out, err
}

func (s *store) putPod(p *podRecord) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPods).Put([]byte(p.ID), data)
	})
}

func (s *store) deletePod(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPods).Delete([]byte(id))
	})
}

func (s *store) allPods() ([]*podRecord, error) {
	var out []*podRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPods).ForEach(func(k, v []byte) error {
			var p podRecord
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("pod %s: corrupt record: %w", k, err)
			}
			out = append(out, &p)
			return nil
		})
	})
	return out, err
}
