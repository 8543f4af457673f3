# logferry: the two commands a newcomer needs are in README.md (make demo, make test).
GO      ?= go
BIN     := bin/logferry
PKGS    := ./...
STATICCHECK_VERSION := 2026.2.2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME ?= 10s

.PHONY: all build demo test test-short bench bench-sinks bench-micro fuzz-smoke lint fmt vet tidy-check clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/logferry

## demo: the agent on an embedded default (a simulated node), records to stdout.
demo:
	$(GO) run ./cmd/logferry agent --simulate

## test: the whole suite, race detector on where the machine can build it (tools/test).
test:
	$(GO) run ./tools/test

test-short:
	$(GO) test -short -count=1 $(PKGS)

## bench: end-to-end throughput (1,000,000 CRI lines, 100 pods) plus the micro-benchmarks.
bench: build
	$(GO) run ./tools/bench -bin $(BIN)
	$(GO) run ./tools/bench -bin $(BIN) -pods 1000 -lines 1000 -sinks file,discard -latency-pods 0
	$(MAKE) bench-micro

## bench-sinks: the Kafka (in-process kfake, zstd) and Elasticsearch (VictoriaLogs) sinks
## end to end, twice each with the agent's default checkpoint interval (runs of seconds:
## the wall time's resolution matters less than measuring the defaults), then the outage
## run (sink down 60 s under 20 MB/s of writes).
bench-sinks: build
	$(GO) run ./tools/bench -bin $(BIN) -sinks kafka,elasticsearch -runs 2 -latency-pods 0 -checkpoint-interval 1s
	$(GO) run ./tools/bench -bin $(BIN) -outage 60s -rate 20MB/s

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./internal/format/ ./internal/record/ ./internal/sink/

## fuzz-smoke: every fuzz target briefly.
fuzz-smoke:
	@set -e; for pkg in $$(grep -l '^func Fuzz' $$(git ls-files --cached --others --exclude-standard '*_test.go') | xargs -n1 dirname | sort -u | sed 's|^|./|'); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg; \
	  done; \
	done

lint: vet tidy-check $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) $(PKGS)

vet:
	$(GO) vet $(PKGS)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

fmt:
	gofmt -w $$(git ls-files '*.go')

tidy-check:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

clean:
	rm -rf bin
