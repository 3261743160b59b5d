#!/usr/bin/env bash
# Runs a single-node OpenLedger chain with its AI half (what `make run` starts):
#   - on first use, initializes $OPEN_HOME with the bundled SmolLM2 ($EXECUTOR_MODEL) registered
#     as base model 1, served by this validator's own executor;
#   - starts openledgerd (ABCI, gRPC, REST, the web app at /app) and, when the binary exists,
#     open-executor; when it does not exist yet, builds it in the background ($EXECUTOR_BUILD,
#     the long part of a first build) and starts it when it is ready, so the chain starts now;
#   - seeds, once, a demo datanet with two contributors and a fine-tuned adapter pinned to it
#     (`openledgerd demo`, which waits for the executor);
#   - runs CometBFT in the foreground. Ctrl-C stops everything.
# Environment: OPEN_HOME, OPENLEDGERD, COMETBFT, WEB_DIR (the built web app), OPEN_EXECUTOR,
# EXECUTOR_MODEL, EXECUTOR_BUILD (command), EXECUTOR_PORT (50051), OPEN_INIT_ARGS (extra
# `openledgerd init` flags, e.g. other ports), NO_EXECUTOR=1 (chain only), NO_DEMO=1.
set -euo pipefail

OPEN_HOME="${OPEN_HOME:-$HOME/.openledger}"
OPENLEDGERD="${OPENLEDGERD:-./target/release/openledgerd}"
COMETBFT="${COMETBFT:-./bin/cometbft}"
WEB_DIR="${WEB_DIR:-}"
OPEN_EXECUTOR="${OPEN_EXECUTOR:-}"
EXECUTOR_MODEL="${EXECUTOR_MODEL:-}"
EXECUTOR_BUILD="${EXECUTOR_BUILD:-}"
EXECUTOR_PORT="${EXECUTOR_PORT:-50051}"
NO_EXECUTOR="${NO_EXECUTOR:-}"
NO_DEMO="${NO_DEMO:-}"
read -r -a INIT_ARGS <<<"${OPEN_INIT_ARGS:-}"

with_ai=""
if [ -z "$NO_EXECUTOR" ] && [ -n "$EXECUTOR_MODEL" ] && [ -n "$OPEN_EXECUTOR" ]; then
  [ -f "$EXECUTOR_MODEL" ] || { echo "run: $EXECUTOR_MODEL not found (make executor-model)" >&2; exit 1; }
  with_ai=1
fi

if [ ! -f "$OPEN_HOME/config/genesis.json" ]; then
  if [ -n "$with_ai" ]; then
    INIT_ARGS+=(--model "$EXECUTOR_MODEL" --executor-addr "http://127.0.0.1:$EXECUTOR_PORT")
  fi
  "$OPENLEDGERD" --home "$OPEN_HOME" init "${INIT_ARGS[@]}"
fi

conf() { sed -n "s/^$1 = \"\(.*\)\"/\1/p" "$OPEN_HOME/config/app.toml"; }
ABCI_ADDR="$(conf abci_addr)"
API_ADDR="$(conf api_addr)"
COMET_RPC="$(conf comet_rpc)"
EXECUTOR_ADDR="$(conf executor_addr)"
if [ -n "$with_ai" ] && [ -z "$EXECUTOR_ADDR" ]; then
  echo "run: $OPEN_HOME was initialized without a model, so this chain has no AI half;"
  echo "     \`make clean-home\` (deletes that chain) and \`make run\` again to get it."
  with_ai=""
fi

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$OPEN_HOME/executor.pid" ] && kill "$(cat "$OPEN_HOME/executor.pid")" 2>/dev/null || true
  rm -f "$OPEN_HOME/executor.pid"
}
trap cleanup EXIT INT TERM

START_ARGS=()
if [ -n "$WEB_DIR" ] && [ -f "$WEB_DIR/index.html" ]; then
  START_ARGS=(--web-dir "$WEB_DIR" --serve-dev-account)
fi
"$OPENLEDGERD" --home "$OPEN_HOME" start "${START_ARGS[@]}" >>"$OPEN_HOME/openledgerd.log" 2>&1 &
APP_PID=$!
PIDS+=("$APP_PID")

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/${ABCI_ADDR%:*}/${ABCI_ADDR##*:}") 2>/dev/null; then break; fi
  if ! kill -0 "$APP_PID" 2>/dev/null; then echo "openledgerd exited; see $OPEN_HOME/openledgerd.log" >&2; exit 1; fi
  sleep 0.1
done

start_executor() {
  local port="${EXECUTOR_ADDR##*:}"
  nohup "$OPEN_EXECUTOR" serve --model "$EXECUTOR_MODEL" --listen "127.0.0.1:$port" \
    --adapter-store "$OPEN_HOME/executor-adapters" >>"$OPEN_HOME/executor.log" 2>&1 </dev/null &
  echo $! >"$OPEN_HOME/executor.pid"
  echo "run: open-executor started (SmolLM2 on $EXECUTOR_ADDR; log: $OPEN_HOME/executor.log)"
}

if [ -n "$with_ai" ]; then
  if [ -x "$OPEN_EXECUTOR" ]; then
    start_executor
  elif [ -n "$EXECUTOR_BUILD" ]; then
    BUILD_LOG="$OPEN_HOME/executor-build.log"
    echo "run: building open-executor in the background: the release build of mistral.rs and candle that runs"
    echo "     SmolLM2 for inference and fine-tuning (20-35 min the first time on 2 cores, cached after)."
    echo "     The chain starts now; the Playground answers once the executor is up. Log: $BUILD_LOG"
    (
      eval "$EXECUTOR_BUILD" >>"$BUILD_LOG" 2>&1 &
      build=$!
      while kill -0 "$build" 2>/dev/null; do
        sleep 60
        step="$(grep -o 'Compiling [^ ]* v[^ ]*' "$BUILD_LOG" | tail -n 1 || true)"
        crates="$(grep -c 'Compiling ' "$BUILD_LOG" || true)"
        [ -n "$step" ] && echo "run: open-executor build: $crates crates compiled, now: $step"
      done
      if wait "$build" && [ -x "$OPEN_EXECUTOR" ]; then
        start_executor
      else
        echo "run: the open-executor build failed; see $BUILD_LOG" >&2
      fi
    ) &
    PIDS+=("$!")
  else
    echo "run: $OPEN_EXECUTOR not found and no EXECUTOR_BUILD given: running without the executor" >&2
  fi
  if [ -z "$NO_DEMO" ]; then
    # Seeds once (demo.json marks it done); its tx JSON goes to demo.log, its progress here.
    "$OPENLEDGERD" --home "$OPEN_HOME" demo --node "$COMET_RPC" >>"$OPEN_HOME/demo.log" &
    PIDS+=("$!")
  fi
fi

echo "openledgerd is up (log: $OPEN_HOME/openledgerd.log); starting CometBFT. Dev account: $OPEN_HOME/dev-account.json"
if [ ${#START_ARGS[@]} -gt 0 ]; then
  echo
  echo "  Web app: http://${API_ADDR:-127.0.0.1:1317}/app/   (wallet: Keplr, or the local dev account)"
  echo
fi
if [ -n "$with_ai" ]; then
  echo "  Ask the model:  openledgerd tx inference request --model 1 --prompt 'What is open data?' --fee 1000uopen --from dev --node $COMET_RPC"
  echo "  (with the demo adapter once \`$OPEN_HOME/demo.json\` names it: add --adapter ID)"
  echo
fi
"$COMETBFT" start --home "$OPEN_HOME"
