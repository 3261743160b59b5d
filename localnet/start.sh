#!/usr/bin/env bash
# Starts a 4-validator OpenLedger network on loopback ports. Builds nothing: uses openledgerd
# ($OPENLEDGERD, default ./target/release/openledgerd), CometBFT ($COMETBFT, ./bin/cometbft) and
# open-executor ($OPEN_EXECUTOR, the executor workspace's release build). On first use it writes
# the network with `openledgerd testnet` under $LOCALNET_DIR (default ./localnet/data) with the
# SmolLM2 GGUF ($EXECUTOR_MODEL) registered as base model 1 and every validator as its executor.
# Then it starts, per validator, one open-executor (--threads 1), one openledgerd and one
# CometBFT in the background (logs in each node home, pid files in $LOCALNET_DIR/pids) and
# waits until every node has committed block 2. Genesis registered the executors before they
# ran, so each validator then re-registers its executor with the hardware class the executor's
# Health reports (`tx inference register-executor --executor`). `localnet/stop.sh` stops exactly
# those processes.
# NO_EXECUTOR=1 writes and runs the network without executors or model.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOCALNET_DIR="${LOCALNET_DIR:-$ROOT/localnet/data}"
OPENLEDGERD="${OPENLEDGERD:-$ROOT/target/release/openledgerd}"
COMETBFT="${COMETBFT:-$ROOT/bin/cometbft}"
OPEN_EXECUTOR="${OPEN_EXECUTOR:-$HOME/.cache/openledger/target-executor/release/open-executor}"
EXECUTOR_MODEL="${EXECUTOR_MODEL:-$HOME/.cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
VALIDATORS="${VALIDATORS:-4}"
BASE_PORT="${BASE_PORT:-27000}"
TIMEOUT_COMMIT="${TIMEOUT_COMMIT:-1s}"
CHAIN_ID="${CHAIN_ID:-openledger-localnet-1}"
NO_EXECUTOR="${NO_EXECUTOR:-}"
mkdir -p "$LOCALNET_DIR"
LOCALNET_DIR="$(cd "$LOCALNET_DIR" && pwd -P)" # as in localnet.json and the processes' --home
PIDS="$LOCALNET_DIR/pids"

die() { echo "localnet: $*" >&2; exit 1; }
for bin in "$OPENLEDGERD" "$COMETBFT"; do
  [ -x "$bin" ] || die "$bin not found (run \`make localnet\`, or set OPENLEDGERD / COMETBFT)"
done

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if compgen -G "$PIDS/*.pid" >/dev/null; then
  for f in "$PIDS"/*.pid; do
    if alive "$f"; then die "already running ($f); \`localnet/stop.sh\` first"; fi
  done
  rm -f "$PIDS"/*.pid
fi

if [ ! -f "$LOCALNET_DIR/localnet.json" ]; then
  args=(testnet --validators "$VALIDATORS" --output "$LOCALNET_DIR" --chain-id "$CHAIN_ID"
        --base-port "$BASE_PORT" --timeout-commit "$TIMEOUT_COMMIT")
  if [ -z "$NO_EXECUTOR" ]; then
    [ -f "$EXECUTOR_MODEL" ] || die "$EXECUTOR_MODEL not found (run \`make executor-model\`, or NO_EXECUTOR=1)"
    args+=(--model "$EXECUTOR_MODEL")
  else
    for ((i = 0; i < VALIDATORS; i++)); do args+=(--without-executor "$i"); done
  fi
  "$OPENLEDGERD" "${args[@]}"
fi
mkdir -p "$PIDS"

# One line per node: index home abci_port rpc_port executor_port executor_addr(or -), then the
# registered model ids (comma separated, "-" for none) on a line starting with "ids", then the
# model paths (for the executors) on a line starting with "models".
mapfile -t NODES < <(python3 - "$LOCALNET_DIR/localnet.json" <<'PY'
import json, sys
net = json.load(open(sys.argv[1]))
for n in net["nodes"]:
    print(n["index"], n["home"], n["abci_port"], n["rpc_port"], n["executor_port"], n["executor_addr"] or "-")
print("ids", ",".join(str(m["id"]) for m in net["models"]) or "-")
print("models", *[m["path"] for m in net["models"] if m.get("path")])
PY
)
MODELS=(${NODES[-1]#models})
unset 'NODES[-1]'
MODEL_IDS="${NODES[-1]#ids }"
unset 'NODES[-1]'

wait_port() { # port pid what log
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || die "$3 exited; see $4"
    sleep 0.5
  done
  die "$3 did not open port $1 within 300 s; see $4"
}

EXEC_PORTS=()
for line in "${NODES[@]}"; do
  read -r i home abci rpc exec_port exec_addr <<<"$line"
  if [ "$exec_addr" != "-" ]; then EXEC_PORTS+=("$exec_port"); fi
done
for line in "${NODES[@]}"; do
  read -r i home abci rpc exec_port exec_addr <<<"$line"
  if [ "$exec_addr" != "-" ]; then
    [ -x "$OPEN_EXECUTOR" ] || die "$OPEN_EXECUTOR not found (run \`make localnet\`, or set OPEN_EXECUTOR, or NO_EXECUTOR=1)"
    [ "${#MODELS[@]}" -gt 0 ] || die "node$i has an executor but localnet.json names no model file"
    model_args=()
    for m in "${MODELS[@]}"; do model_args+=(--model "$m"); done
    # Each executor keeps its own adapter store and fetches adapters it lacks from the others.
    peer_args=()
    for p in "${EXEC_PORTS[@]}"; do
      if [ "$p" != "$exec_port" ]; then peer_args+=(--peer "http://127.0.0.1:$p"); fi
    done
    nohup "$OPEN_EXECUTOR" serve "${model_args[@]}" --listen "127.0.0.1:$exec_port" --threads 1 \
      --adapter-store "$home/executor-adapters" "${peer_args[@]}" \
      >>"$home/executor.log" 2>&1 </dev/null &
    echo $! >"$PIDS/node$i.executor.pid"
  fi
done
for line in "${NODES[@]}"; do
  read -r i home abci rpc exec_port exec_addr <<<"$line"
  if [ "$exec_addr" != "-" ]; then
    wait_port "$exec_port" "$(cat "$PIDS/node$i.executor.pid")" "open-executor of node$i" "$home/executor.log"
  fi
  nohup "$OPENLEDGERD" start --home "$home" >>"$home/openledgerd.log" 2>&1 </dev/null &
  echo $! >"$PIDS/node$i.app.pid"
  wait_port "$abci" "$!" "openledgerd of node$i" "$home/openledgerd.log"
done
for line in "${NODES[@]}"; do
  read -r i home abci rpc exec_port exec_addr <<<"$line"
  nohup "$COMETBFT" start --home "$home" >>"$home/cometbft.log" 2>&1 </dev/null &
  echo $! >"$PIDS/node$i.comet.pid"
done

height() { python3 -c 'import json,sys,urllib.request
try: print(json.load(urllib.request.urlopen(sys.argv[1] + "/status", timeout=2))["result"]["sync_info"]["latest_block_height"])
except Exception: print(0)' "http://127.0.0.1:$1"; }
for line in "${NODES[@]}"; do
  read -r i home abci rpc exec_port exec_addr <<<"$line"
  for _ in $(seq 1 240); do
    [ "$(height "$rpc")" -ge 2 ] && break
    kill -0 "$(cat "$PIDS/node$i.comet.pid")" 2>/dev/null || die "cometbft of node$i exited; see $home/cometbft.log"
    sleep 0.5
  done
  [ "$(height "$rpc")" -ge 2 ] || die "node$i did not reach height 2 within 120 s; see $home/cometbft.log"
done

# Record each executor's hardware class (informational; a failure only warns).
if [ "$MODEL_IDS" != "-" ]; then
  for line in "${NODES[@]}"; do
    read -r i home abci rpc exec_port exec_addr <<<"$line"
    [ "$exec_addr" != "-" ] || continue
    if ! "$OPENLEDGERD" --home "$home" tx inference register-executor --models "$MODEL_IDS" --executor "$exec_addr" \
      --from dev --node "http://127.0.0.1:$rpc" >>"$home/register-executor.log" 2>&1 </dev/null; then
      echo "localnet: node$i: could not record its executor's hardware class; see $home/register-executor.log" >&2
    fi
  done
fi

echo "localnet is up: ${#NODES[@]} validators under $LOCALNET_DIR (description: localnet.json)"
for line in "${NODES[@]}"; do
  read -r i home abci rpc exec_port exec_addr <<<"$line"
  echo "  node$i: rpc http://127.0.0.1:$rpc  home $home  executor ${exec_addr/-/none}"
done
echo "node0's dev account (the funded one): $LOCALNET_DIR/node0/dev-account.json"
echo "status: localnet/status.sh (make localnet-status); stop: localnet/stop.sh (make localnet-stop)"
