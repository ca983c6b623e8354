package network

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Buckets of the state file. Endpoints are keyed "<containerID>/<networkID>", ports by
// container ID. The endpoint record is the IP allocation: an address is in use exactly
// when an endpoint record holds it.
var (
	bucketNetworks  = []byte("networks")
	bucketEndpoints = []byte("endpoints")
	bucketPorts     = []byte("ports")
)

// netRecord is the persisted form of a network.
type netRecord struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Subnet   string `json:"subnet"`
	Gateway  string `json:"gateway"`
	Bridge   string `json:"bridge"`
	Internal bool   `json:"internal,omitempty"`
	// NonMasquerade: CreateOptions.NonMasquerade, canonical.
	NonMasquerade []string          `json:"nonMasquerade,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Created       time.Time         `json:"created"`
	// LastIP is the address handed out last; allocation continues after it.
	LastIP string `json:"lastIP,omitempty"`
}

// portRecord is the persisted form of a container's published ports.
type portRecord struct {
	ContainerID string        `json:"containerID"`
	NetworkID   string        `json:"networkID"`
	TargetIP    string        `json:"targetIP"`
	Bindings    []PortBinding `json:"bindings"`
}

// store wraps the bbolt file.
type store struct{ db *bolt.DB }

func openStore(path string) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create network state dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open network state %s (is another daemon using it?): %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketNetworks, bucketEndpoints, bucketPorts} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init network state %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func endpointKey(containerID, networkID string) []byte {
	return []byte(containerID + "/" + networkID)
}

func (s *store) put(bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, data) })
}

func (s *store) del(bucket, key []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(key) })
}

// load reads everything into memory; the manager keeps it there and writes through.
func (s *store) load() (map[string]*netRecord, map[string]*Endpoint, map[string]*portRecord, error) {
	nets := map[string]*netRecord{}
	eps := map[string]*Endpoint{}
	ports := map[string]*portRecord{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketNetworks).ForEach(func(k, v []byte) error {
			var r netRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("network %s: %w", k, err)
			}
			nets[r.ID] = &r
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketEndpoints).ForEach(func(k, v []byte) error {
			var e Endpoint
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("endpoint %s: %w", k, err)
			}
			eps[string(k)] = &e
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketPorts).ForEach(func(k, v []byte) error {
			var p portRecord
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("ports %s: %w", k, err)
			}
			ports[string(k)] = &p
			return nil
		})
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read network state: %w", err)
	}
	return nets, eps, ports, nil
}
