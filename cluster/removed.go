package cluster

import (
	"encoding/json"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/drover/drover/cluster/pki"
)

// refuseRemoved refuses, request by request, a client whose certificate was revoked or
// whose node was removed after its TLS handshake: the handshake's check alone would let
// a removed node's agent go on over its kept-alive connections. The connection is
// closed, so the client's next request meets the handshake's refusal.
func (s *serverRole) refuseRemoved(next http.Handler) http.Handler {
	member := pki.RequireMember(s.rec.isMember)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			leaf := r.TLS.PeerCertificates[0]
			err := s.rec.checkRevoked(leaf)
			if err == nil {
				err = member(leaf)
			}
			if err != nil {
				st := apierrors.NewUnauthorized("the client certificate no longer admits its holder: " + err.Error()).Status()
				st.Kind, st.APIVersion = "Status", "v1"
				w.Header().Set("Connection", "close")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(st)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
