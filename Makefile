# drover builds with cgo and the seccomp tag (Debian: libseccomp-dev).
export GOFLAGS := -tags=seccomp -buildvcs=false
BIN := bin/drover

.PHONY: build test unit e2e bench demo clean

build:
	go build -o $(BIN) ./cmd/drover

# All tests. Integration tests need root; they build bin/drover themselves.
test: build
	go test -count=1 -timeout 25m ./...

unit:
	go test -count=1 -short ./...

bench: build
	bench/run.sh

demo: build
	scripts/demo.sh

clean:
	rm -rf bin
