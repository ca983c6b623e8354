// Package pki is the cluster's certificate authority: the CA on disk, the
// certificates it issues for admins, nodes and servers, the mutual-TLS
// configurations every link between machines uses, the revocation check
// that runs on every handshake, and the join tokens a new machine presents
// to get its first certificate.
//
// Identities follow Kubernetes: the certificate's CommonName is the user and
// its Organizations are the groups, so the API server authorizes a node as
// "system:node:<name>" in "system:nodes" exactly as it would a kubelet.
package pki
