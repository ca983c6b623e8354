package remote

import "testing"

// FuzzManifestType: what a registry sends as a manifest is hostile; sniffing its type
// must never panic and must not call an index a manifest or the other way round.
func FuzzManifestType(f *testing.F) {
	f.Add("application/vnd.oci.image.manifest.v1+json", []byte(`{"schemaVersion":2,"config":{},"layers":[]}`))
	f.Add("application/json", []byte(`{"schemaVersion":2,"manifests":[]}`))
	f.Add("", []byte(`{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json"}`))
	f.Add("text/plain; charset=utf-8", []byte(`[1,2`))
	f.Fuzz(func(t *testing.T, contentType string, raw []byte) {
		_ = manifestType(contentType, raw)
	})
}
