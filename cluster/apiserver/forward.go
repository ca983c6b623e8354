package apiserver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
)

// forward sends a request the local store could not serve (a follower's)
// to the leader, naming the caller in headers the leader trusts from
// drover:servers only. It reports false when there is no leader to ask.
func (s *server) forward(w http.ResponseWriter, r *http.Request, u User, body []byte) bool {
	leader, rt, ok := s.cfg.Forward(r)
	if !ok || leader == "" {
		return false
	}
	target, err := url.Parse(leader)
	if err != nil {
		return false
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Del(HeaderUser)
			pr.Out.Header.Del(HeaderGroup)
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Set(HeaderUser, u.Name)
			for _, g := range u.Groups {
				pr.Out.Header.Add(HeaderGroup, g)
			}
			pr.Out.Body = io.NopCloser(bytes.NewReader(body))
			pr.Out.ContentLength = int64(len(body))
			pr.Out.Header.Set("Content-Length", strconv.Itoa(len(body)))
		},
		Transport:     rt,
		FlushInterval: -1, // watches stream
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, r, unavailable("forward to the leader at "+target.Host+": "+err.Error()))
		},
	}
	proxy.ServeHTTP(w, r)
	return true
}
