# OpenLedger — build, run and test. Everything the project needs is installed from here.
#   make run    single-node chain (CometBFT v0.38 + openledgerd) on loopback, with generated genesis
#   make test   unit + end-to-end tests (real CometBFT nodes on loopback ports)
#   make bench  benchmarks (results go to BENCHMARKS.md)

SHELL := /bin/bash
COMETBFT_VERSION := v0.38.19
CACHE ?= $(HOME)/.cache/openledger
BIN := $(CURDIR)/bin
COMETBFT := $(BIN)/cometbft
OPEN_HOME ?= $(HOME)/.openledger
CARGO ?= cargo

.PHONY: all install-deps build build-debug run test lint fmt bench clean-home

all: build

## install-deps: the pinned CometBFT binary into ./bin (built once with `go install`, cached).
install-deps: $(COMETBFT)

$(COMETBFT):
	@mkdir -p $(BIN) $(CACHE)/bin
	@if [ ! -x "$(CACHE)/bin/cometbft-$(COMETBFT_VERSION)" ]; then \
		echo "Installing CometBFT $(COMETBFT_VERSION) with go install (one time, cached in $(CACHE))"; \
		GOBIN="$(CACHE)/gobin" go install github.com/cometbft/cometbft/cmd/cometbft@$(COMETBFT_VERSION) && \
		cp "$(CACHE)/gobin/cometbft" "$(CACHE)/bin/cometbft-$(COMETBFT_VERSION)"; \
	fi
	@cp "$(CACHE)/bin/cometbft-$(COMETBFT_VERSION)" $(COMETBFT)
	@$(COMETBFT) version

## build: release openledgerd.
build:
	$(CARGO) build --release -p openledger-app --bin openledgerd

build-debug:
	$(CARGO) build -p openledger-app --bin openledgerd

## run: init $(OPEN_HOME) if needed, then start openledgerd and CometBFT (Ctrl-C stops both).
run: install-deps build
	OPEN_HOME="$(OPEN_HOME)" OPENLEDGERD="$${CARGO_TARGET_DIR:-target}/release/openledgerd" COMETBFT="$(COMETBFT)" ./localnet/run-single.sh

## test: every unit test and the end-to-end suite.
test: install-deps build-debug
	$(CARGO) test --workspace --all-targets

## lint: formatting and clippy with warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: in-process FinalizeBlock / Commit throughput (see BENCHMARKS.md).
bench:
	$(CARGO) bench -p openledger-app --bench finalize_block

## clean-home: delete the local node home (chain data, keys) — asks nothing, be careful.
clean-home:
	rm -rf "$(OPEN_HOME)"
