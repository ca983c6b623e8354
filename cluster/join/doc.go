// Package join is the handshake that brings a machine into the cluster.
//
// The joiner holds only a join token ("drv1.<ca-hash>.<id>.<secret>", see
// package pki). It dials a server's API port, accepts whatever certificate
// chain is offered, and then checks the chain itself: some certificate in it
// must hash to the token's CA hash, and the serving certificate must verify
// against that CA and belong to the drover:servers group. Only then does it
// send the token and a CSR for a key it generated locally (the key never
// leaves the machine). The server checks the token, the node name and the
// CSR's subject, and answers with the CA, the signed certificate and where
// the servers are.
//
// A server joins in two steps, because adding a Raft voter to a one-server
// cluster cannot commit until the new server is up and answering:
//
//  1. POST /join/v1 with a server token: the server certificate comes back,
//     with the leader's Raft address.
//  2. The new server starts Raft (not bootstrapped) with that certificate,
//     then POSTs /join/v1/voter over mutual TLS; the handler calls
//     AddServer, which returns once the new configuration has committed.
//
// The API port that mounts Handler must serve a chain that includes the CA
// certificate (pki.ServerTLS appends it) from a drover:servers certificate,
// and must accept optional client certificates (pki.WithOptionalClientCert)
// so re-joining machines and the voter step can present theirs.
//
// Re-joining under a name a live member already uses is allowed only to the
// same machine, and "same machine" means proof of key possession: the TLS
// connection of the join presents that member's current certificate (issued
// by this CA, not revoked, with that node name). A machine that lost its
// certificate must be removed ("drover node rm") before it joins again; a
// machine id or host name could be copied, a private key cannot.
package join

import "github.com/drover/drover/cluster/pki"

// Paths served by Handler.
const (
	Path      = "/join/v1"
	VoterPath = "/join/v1/voter"
)

// Role is what the joining machine becomes.
type Role = pki.TokenUsage

const (
	RoleAgent  = pki.TokenAgent
	RoleServer = pki.TokenServer
)

// Leader is the Raft leader as a joining server needs it.
type Leader struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raftAddress"`
	APIAddress  string `json:"apiAddress,omitempty"`
}

// wireRequest is the body of POST /join/v1.
type wireRequest struct {
	Token    string `json:"token"`
	NodeName string `json:"nodeName"`
	Role     Role   `json:"role"`
	// CSR is a PEM certificate request for the role's identity.
	CSR string `json:"csr"`
	// Addresses are the IPs and DNS names the machine is reached at; they
	// become the certificate's SANs.
	Addresses []string `json:"addresses,omitempty"`
	// RaftAddress (host:port) is where a joining server serves Raft.
	RaftAddress string `json:"raftAddress,omitempty"`
}

// wireResponse is the answer to a successful join.
type wireResponse struct {
	CA      string   `json:"ca"`
	Cert    string   `json:"cert"`
	Servers []string `json:"servers"`
	Leader  *Leader  `json:"leader,omitempty"`
}

// voterRequest is the body of POST /join/v1/voter; the server id comes from
// the client certificate, never from the body.
type voterRequest struct {
	RaftAddress string `json:"raftAddress"`
	// APIAddress (host:port) is where the new server serves the API, which
	// its peers forward requests to when it leads.
	APIAddress string `json:"apiAddress,omitempty"`
}

// wireError is the body of every failure.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes in wireError.
const (
	codeBadRequest   = "bad_request"
	codeTokenInvalid = "token_invalid"
	codeTokenExpired = "token_expired"
	codeTokenRole    = "token_role"
	codeNameTaken    = "name_taken"
	codeRefused      = "csr_refused"
	codeUnauthorized = "unauthorized"
	codeUnavailable  = "unavailable"
)
