package daemon

import (
	"context"
	"net/http"
)

// An Extension is a component above the engine that lives in the daemon's process: the
// cluster's server and node agent (cluster/). The daemon cannot import it (lower layers
// never import higher ones), so cmd/drover hands it over in Config.Extensions. It drives
// the engine through the API socket like any client, and its own requests arrive under
// /v1/<Name>/ on the same root-only socket.
type Extension interface {
	// Name is the path segment of its routes ("cluster").
	Name() string
	// Handler serves /v1/<Name>/...
	Handler() http.Handler
	// Run starts once the API socket serves and returns when ctx ends, at shutdown; an
	// error is logged, and does not stop the engine.
	Run(ctx context.Context) error
}
