#!/usr/bin/env bash
# Stops what localnet/ibc-start.sh started (Hermes, then each chain's CometBFT and openledgerd),
# each pid only while its command line still names this IBC localnet. The data stays; delete
# $IBC_LOCALNET_DIR (default ./localnet/ibc-data) for fresh chains.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${IBC_LOCALNET_DIR:-$ROOT/localnet/ibc-data}"
[ -d "$DIR/pids" ] || { echo "ibc-localnet: nothing to stop"; exit 0; }
DIR="$(cd "$DIR" && pwd -P)"
for pattern in hermes '*.comet' '*.app'; do
  for f in "$DIR"/pids/$pattern.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    if [[ "$cmd" == *"$DIR"* ]]; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      echo "stopped $(basename "$f" .pid) (pid $pid)"
    fi
    rm -f "$f"
  done
done
