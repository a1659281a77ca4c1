# Deskway. `make` alone prints the targets. Every target runs plain go
# commands or a script under scripts/; nothing here needs a global install
# beyond `make deps`.

SHELL      := /bin/bash
GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X main.version=$(VERSION)
BIN        := bin
FUZZTIME   ?= 10s
PREFIX     ?= /usr/local
DESTDIR    ?=
WASM_EXEC  := $(shell $(GO) env GOROOT)/lib/wasm
# Packages whose tests exercise goroutines and locks run under -race.
RACE_PKGS  := ./proto/... ./relay/... ./broker/... ./agent/... ./viewer/...
# Packages whose known-answer tests must also pass under GOOS=js GOARCH=wasm.
WASM_PKGS  := ./proto/ ./codec/ ./viewer/

# build and test install missing Debian packages first (scripts/deps.sh
# is a no-op when they are present); SKIP_DEPS=1 leaves that out.
DEPS       := $(if $(SKIP_DEPS),,deps)

# Pure-Go binaries build with CGO_ENABLED=0; the agent and the native viewer
# need cgo (X11, GL). Only commands that exist are built.
SERVERS    := $(notdir $(wildcard $(addprefix cmd/,deskway-broker deskway-relay deskway-bench)))
CGO_BINS   := $(notdir $(wildcard $(addprefix cmd/,deskway-agent deskway-viewer)))

.DEFAULT_GOAL := help
.PHONY: help deps build wasm test test-short test-wasm bench fuzz lint fmt tidy demo install clean

help: ## Show this help.
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install the Debian packages the build, tests and demo need (idempotent).
	@bash scripts/deps.sh

wasm: ## Build the browser viewer's core (web/static/deskway.wasm).
	@bash scripts/wasm.sh

build: $(DEPS) wasm ## Build every binary into bin/ (installs missing packages first).
	@mkdir -p $(BIN)
	$(if $(SERVERS),CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(SERVERS)))
	$(if $(CGO_BINS),CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(CGO_BINS)))

test: $(DEPS) wasm ## Run every test: vet, gofmt, race on concurrent packages, wasm KATs (installs missing packages first).
	@bash scripts/lint.sh
	$(GO) test -race -timeout 20m $(RACE_PKGS)
	$(GO) test -timeout 20m $$($(GO) list ./... | grep -v -E '/(proto|relay|broker|agent|viewer)(/|$$)')
	@$(MAKE) --no-print-directory test-wasm

test-short: ## Run the fast unit tests only (-short, no race).
	$(GO) test -short ./...

test-wasm: ## Run the leaf packages' tests under GOOS=js GOARCH=wasm in node.
	PATH="$(WASM_EXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -timeout 20m $(WASM_PKGS)

bench: ## Run the Go benchmarks and print their figures.
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## Run every fuzz target for FUZZTIME (default 10s) each.
	@FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

lint: ## gofmt check and go vet.
	@bash scripts/lint.sh

fmt: ## Format the sources.
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

tidy: ## go mod tidy.
	$(GO) mod tidy

demo: ## Run the whole suite on this machine and print where to connect.
	@bash scripts/demo.sh

install: build ## Install the binaries into $(DESTDIR)$(PREFIX)/bin.
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/* $(DESTDIR)$(PREFIX)/bin/

clean: ## Remove build outputs and test caches.
	rm -rf $(BIN) web/static/deskway.wasm web/static/deskway.wasm.gz
	$(GO) clean -testcache
