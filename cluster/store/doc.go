// Package store is the cluster's replicated key-value store: a Raft log
// (hashicorp/raft, raft-boltdb) applied to an in-memory, multi-version map.
// Every committed write gets the Raft index of its log entry as its
// revision, which the API serves as resourceVersion; watches replay the
// recent change feed from any revision still in the window.
//
// Keys are opaque byte strings to the store; the API server lays them out as
// "/<group>/<resource>/<namespace>/<name>" so a prefix selects a resource
// kind or a namespace. Values are the API server's encoded objects; the store
// never looks inside them, so the state machine stays deterministic.
//
// # Design
//
// Writes (Create, Update, Delete) are Raft log entries in a small binary
// encoding (command.go); the leader's raft.Apply returns once the entry is
// committed and applied, and the state machine's answer (the new KV, or
// ErrExists, ErrConflict, ErrNotFound) comes back through the future. CAS
// checks run inside the state machine, so they are decided in log order.
//
// The state machine (fsm.go) keeps the data in an immutable radix tree:
// each write makes a new root and leaves the old one intact. A ring of the
// last WatchWindow writes keeps each write's event and root, which serves
// List at a past revision (consistent pagination while writes go on) and
// Watch replays; anything older fails with ErrCompacted. Snapshots write the
// current tree and revision; after a restore the window starts there.
//
// Linearizable reads (Get, List) run on the leader: once per term it applies
// a no-op of its own, so entries of earlier terms are applied locally, and
// each read confirms leadership with a quorum (VerifyLeader) first. GetLocal,
// ListLocal and Watch read the local replica on any server.
//
// Watchers are fed by the state machine without blocking: each has a queue
// and a goroutine that delivers in revision order; a queue that grows past
// WatchBuffer ends the watch (its channel closes; the caller re-lists).
//
// The Raft transport is raft's NetworkTransport over a stream layer of ours
// (stream.go) that speaks mutual TLS and can refuse peers, which the tests
// use to partition the cluster. Log and stable store are raft-boltdb in Dir,
// snapshots raft's file snapshot store in Dir.
package store
