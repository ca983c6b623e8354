package pki

import (
	"slices"
	"strings"
)

// Identity conventions: the subject a certificate carries, which the API
// server reads as user (CommonName) and groups (Organizations).
const (
	// AdminCommonName is the user of the admin kubeconfig.
	AdminCommonName = "drover-admin"
	// GroupMasters is the group the API server lets do anything.
	GroupMasters = "system:masters"
	// NodePrefix + node name is a node agent's user.
	NodePrefix = "system:node:"
	// GroupNodes is every node agent's group.
	GroupNodes = "system:nodes"
	// ServerPrefix + server id is a cluster server's user.
	ServerPrefix = "system:drover-server:"
	// GroupServers marks the cluster's servers: only they may serve the join
	// endpoint to a joining machine, and only they may ask to become voters.
	GroupServers = "drover:servers"
)

// Identity is a certificate subject: the user and its groups.
type Identity struct {
	CommonName    string
	Organizations []string
}

// AdminIdentity is the cluster administrator (kubectl's user).
func AdminIdentity() Identity {
	return Identity{CommonName: AdminCommonName, Organizations: []string{GroupMasters}}
}

// NodeIdentity is the node agent running on the machine called name.
func NodeIdentity(name string) Identity {
	return Identity{CommonName: NodePrefix + name, Organizations: []string{GroupNodes}}
}

// ServerIdentity is the cluster server with the given id (its Raft server id).
func ServerIdentity(id string) Identity {
	return Identity{CommonName: ServerPrefix + id, Organizations: []string{GroupMasters, GroupServers}}
}

// Equal reports whether two identities name the same user with the same
// set of groups (order and duplicates do not matter).
func (id Identity) Equal(o Identity) bool {
	if id.CommonName != o.CommonName {
		return false
	}
	a, b := normGroups(id.Organizations), normGroups(o.Organizations)
	return slices.Equal(a, b)
}

func normGroups(g []string) []string {
	s := slices.Clone(g)
	slices.Sort(s)
	return slices.Compact(s)
}

// NodeName returns the node name of a node or server identity's CommonName
// and whether it is one.
func NodeName(commonName string) (string, bool) {
	for _, p := range []string{NodePrefix, ServerPrefix} {
		if name, ok := strings.CutPrefix(commonName, p); ok && name != "" {
			return name, true
		}
	}
	return "", false
}

// IsServer reports whether the identity is one of the cluster's servers.
func (id Identity) IsServer() bool {
	return strings.HasPrefix(id.CommonName, ServerPrefix) && slices.Contains(id.Organizations, GroupServers)
}
