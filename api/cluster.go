package api

import "time"

// ClusterInit makes this machine the first server of a new cluster.
type ClusterInit struct {
	// Advertise is the address other machines reach this one at (default: the address
	// of the default route's interface).
	Advertise string `json:"advertise,omitempty"`
	// NodeName names this machine in the cluster (default: the host name).
	NodeName string `json:"nodeName,omitempty"`
	// APIPort serves the Kubernetes-shaped API and joins (default 6443); RaftPort links
	// the servers (default 6444).
	APIPort  int `json:"apiPort,omitempty"`
	RaftPort int `json:"raftPort,omitempty"`
}

// ClusterJoin adds this machine to a cluster as an agent or a server.
type ClusterJoin struct {
	// Addr is any server's API address, host[:port].
	Addr  string `json:"addr"`
	Token string `json:"token"`
	// Server joins as a server (a Raft voter) rather than an agent.
	Server    bool   `json:"server,omitempty"`
	Advertise string `json:"advertise,omitempty"`
	NodeName  string `json:"nodeName,omitempty"`
	APIPort   int    `json:"apiPort,omitempty"`
	RaftPort  int    `json:"raftPort,omitempty"`
}

// ClusterStatus is this machine's view of its cluster.
type ClusterStatus struct {
	// Member is false when the machine is in no cluster; the rest is empty then.
	Member   bool   `json:"member"`
	Role     string `json:"role,omitempty"` // "server" or "agent"
	NodeName string `json:"nodeName,omitempty"`
	// API is the URL of this machine's API server (servers only).
	API string `json:"api,omitempty"`
	// Servers are the servers' API URLs as this machine knows them.
	Servers []string `json:"servers,omitempty"`
	// Leader is the node name of the Raft leader (servers only).
	Leader string `json:"leader,omitempty"`
}

// ClusterInitResult answers init: the tokens other machines join with.
type ClusterInitResult struct {
	Status      ClusterStatus `json:"status"`
	AgentToken  string        `json:"agentToken"`
	ServerToken string        `json:"serverToken"`
	Expires     time.Time     `json:"expires"`
}

// ClusterTokenCreate asks a server for a new join token.
type ClusterTokenCreate struct {
	Server bool          `json:"server,omitempty"`
	TTL    time.Duration `json:"ttl,omitempty"`
}

// ClusterToken is a join token and when it stops working.
type ClusterToken struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// ClusterNode is a node as `drover node ls` shows it.
type ClusterNode struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"` // Ready, NotReady, Unknown; ",SchedulingDisabled" when cordoned
	Roles      string    `json:"roles"`
	Created    time.Time `json:"created"`
	Version    string    `json:"version"`
	InternalIP string    `json:"internalIP,omitempty"`
}

// NodeDrain evicts a node's pods after cordoning it.
type NodeDrain struct {
	// Force also deletes pods no controller owns (they are not replaced).
	Force bool `json:"force,omitempty"`
	// GracePeriod overrides the pods' own (-1: theirs).
	GracePeriod int `json:"gracePeriod"`
	// Timeout gives up waiting for the pods to go (0: 5 minutes).
	Timeout time.Duration `json:"timeout,omitempty"`
}
