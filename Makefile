# drover builds with cgo and the seccomp tag (Debian: libseccomp-dev).
# The binary is linked statically and stripped: drover starts three times per container
# (CLI, shim, container init), and a static binary skips the dynamic loader each time.
# grpcnotrace keeps gRPC's request tracing (golang.org/x/net/trace) out of the binary:
# their package inits cost every drover process ~2 ms and ~230 page faults.
TAGS := seccomp,osusergo,netgo,grpcnotrace
export GOFLAGS := -tags=$(TAGS) -buildvcs=false
LDFLAGS := -s -w -extldflags -static
BIN := bin/drover
LEAN := bin/drover-runtime

.PHONY: build test unit e2e bench demo clean

# bin/drover-runtime is the per-container part of drover alone (cmd/drover-runtime): it
# starts in a third of the whole binary's time. bin/drover carries it (-tags leanruntime)
# and its daemon runs it for containers; podman and containerd can run it as their runtime.
build:
	go build -ldflags '$(LDFLAGS)' -o $(LEAN) ./cmd/drover-runtime
	cp $(LEAN) cmd/drover/drover-runtime.bin
	sha256sum $(LEAN) | cut -d' ' -f1 | tr -d '\n' > cmd/drover/drover-runtime.sha256
	go build -tags=$(TAGS),leanruntime -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/drover

# All tests. Integration tests need root; they build bin/drover themselves.
# test/testcontainers is a module of its own (its dependencies stay out of drover's go.mod)
# that uses drover through a replace: -mod=mod lets it follow drover's dependency changes.
# bench/dockerapi is one too (Docker's client module); vet keeps it building.
test: build
	DROVER_BIN=$(CURDIR)/$(BIN) go test -count=1 -timeout 25m ./...
	cd test/testcontainers && DROVER_BIN=$(CURDIR)/$(BIN) GOFLAGS="$(GOFLAGS) -mod=mod" go test -count=1 -timeout 5m ./...
	cd bench/dockerapi && GOFLAGS="$(GOFLAGS) -mod=mod" go vet ./...

unit:
	go test -count=1 -short ./...

bench: build
	bench/run.sh

demo: build
	scripts/demo.sh

clean:
	rm -rf bin cmd/drover/drover-runtime.bin cmd/drover/drover-runtime.sha256
