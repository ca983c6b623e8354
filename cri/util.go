package cri

import (
	"encoding/base64"
	"strings"
	"time"
)

// decodeBasic splits a base64 "user:password" (the auth field of a Docker config).
func decodeBasic(enc string) (user, password string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

func nowNanos() int64 { return time.Now().UnixNano() }
