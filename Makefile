# Meridian — build, run and test targets.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/meridiandns/meridian/internal/version.Version=$(VERSION)
BIN     := bin/meridian
GO      ?= go
IMAGE_NAME ?= meridian
IMAGE   ?= $(IMAGE_NAME):$(VERSION)

.PHONY: all build run dr-demo test test-short lint docker bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/meridian

## run: serve the bundled example on 127.0.0.1:5353 (no root needed)
run: build
	./$(BIN) serve --config examples/meridian.yaml

## dr-demo: the three-region fleet of docs/dr.md on loopback, with its
## origins: kill an origin, drain a region, watch the status page
dr-demo: build
	MERIDIAN=$(BIN) examples/dr/run.sh

## test: lint, then every test (integration tests build and start the binary);
## internal/testreport prints what go test would, then every skipped test
## and why (a tool not installed, not root)
test: lint
	$(GO) run ./internal/testreport $(GO) test -json -race -count=1 -timeout 10m ./...
	$(GO) test -count=1 -run 'TestMeshScale' -v ./healthmesh/

## soak: the soak test of make test (30 s there) for five minutes
soak:
	MERIDIAN_SOAK_DURATION=5m $(GO) test -count=1 -timeout 15m -run 'TestSoak' -v ./cmd/meridian/

test-short:
	$(GO) test -short -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## docker: the image, tagged with the version and as latest, which
## examples/deploy/Dockerfile builds on
docker:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) -t $(IMAGE_NAME):latest .

## bench: Go micro-benchmarks, then Meridian against gdnsd under dnsperf
## (internal/bench/README.md). Needs dnsperf; gdnsd is optional. No root.
BENCH_SECONDS ?= 10
BENCH_PAIRS   ?= 5
BENCH_OUT     ?= bin/bench
BENCH_FLAGS   ?=
.PHONY: bench-go bench-gslb bench-mesh
bench: # one after the other, also under make -j: timings must not overlap
	@$(MAKE) --no-print-directory bench-go
	@$(MAKE) --no-print-directory bench-mesh
	@$(MAKE) --no-print-directory bench-gslb

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./server/ ./zones/ ./pools/ ./geo/

## bench-mesh: CPU per HTTP probe, then the mesh at 3, 20 and 50 nodes with
## 1000 endpoints (traffic, mass failure, CPU and heap per node; ~10 min)
bench-mesh:
	$(GO) test -count=1 -run '^$$' -bench 'Benchmark(Probe|Checker)HTTP' -benchtime 2000x -benchmem ./healthmesh/
	MERIDIAN_MESH_SCALE=full $(GO) test -count=1 -timeout 20m -run 'TestMeshScale' -v ./healthmesh/

bench-gslb: build
	$(GO) run ./cmd/gslbbench -meridian $(BIN) $(if $(BENCH_OUT),-out $(BENCH_OUT)) \
	  -seconds $(BENCH_SECONDS) -pairs $(BENCH_PAIRS) $(BENCH_FLAGS)

## fuzz: every fuzz target for FUZZTIME each, one after the other (-fuzz
## takes one target per package run). A failing input is saved under the
## package's testdata/fuzz/ and replayed by every later go test.
FUZZTIME ?= 30s
# (-fuzzminimizetime keeps slow targets fuzzing rather than shrinking inputs)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzQuery$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzOPT$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzServfail$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzParseYAML$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./zones/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadYAML$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./zones/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadMaster$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./zones/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./pools/
	$(GO) test -run '^$$' -fuzz '^FuzzMeshMessage$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./healthmesh/
	$(GO) test -run '^$$' -fuzz '^FuzzMeshState$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./healthmesh/
	$(GO) test -run '^$$' -fuzz '^FuzzDrainBody$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/api/
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/api/

clean:
	rm -rf bin
