#!/usr/bin/env bash
# Stops what localnet/start.sh started, and nothing else: each pid in $LOCALNET_DIR/pids
# (default ./localnet/data/pids) is signalled only while its command line is still the
# openledgerd / cometbft / open-executor that was started for this localnet. The chain data
# stays; delete $LOCALNET_DIR to start a fresh network.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOCALNET_DIR="${LOCALNET_DIR:-$ROOT/localnet/data}"
[ -d "$LOCALNET_DIR" ] && LOCALNET_DIR="$(cd "$LOCALNET_DIR" && pwd -P)"
PIDS="$LOCALNET_DIR/pids"

if ! compgen -G "$PIDS/*.pid" >/dev/null; then
  echo "localnet: nothing to stop (no pid files in $PIDS)"
  exit 0
fi

ours() { # pid pidfile: still the process start.sh recorded?
  local cmd
  cmd="$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)" || return 1
  case "$2" in
    *.executor.pid) [[ "$cmd" == *open-executor*serve* ]] ;;
    *) [[ "$cmd" == *"$LOCALNET_DIR"* ]] ;;
  esac
}

# CometBFT first (it stops asking the apps for blocks), then the apps, then the executors.
for kind in comet app executor; do
  for f in "$PIDS"/*."$kind".pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null && ours "$pid" "$f"; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
      echo "stopped $(basename "$f" .pid) (pid $pid)"
    fi
    rm -f "$f"
  done
done
