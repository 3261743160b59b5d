#!/usr/bin/env bash
# Runs a single-node OpenLedger chain: initializes $OPEN_HOME on first use, starts openledgerd
# (ABCI + gRPC) in the background and CometBFT in the foreground. Ctrl-C stops both.
set -euo pipefail

OPEN_HOME="${OPEN_HOME:-$HOME/.openledger}"
OPENLEDGERD="${OPENLEDGERD:-./target/release/openledgerd}"
COMETBFT="${COMETBFT:-./bin/cometbft}"

if [ ! -f "$OPEN_HOME/config/genesis.json" ]; then
  "$OPENLEDGERD" --home "$OPEN_HOME" init
fi

ABCI_ADDR="$(sed -n 's/^abci_addr = "\(.*\)"/\1/p' "$OPEN_HOME/config/app.toml")"
"$OPENLEDGERD" --home "$OPEN_HOME" start >>"$OPEN_HOME/openledgerd.log" 2>&1 &
APP_PID=$!
cleanup() { kill "$APP_PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/${ABCI_ADDR%:*}/${ABCI_ADDR##*:}") 2>/dev/null; then break; fi
  if ! kill -0 "$APP_PID" 2>/dev/null; then echo "openledgerd exited; see $OPEN_HOME/openledgerd.log" >&2; exit 1; fi
  sleep 0.1
done

echo "openledgerd is up (log: $OPEN_HOME/openledgerd.log); starting CometBFT. Dev account: $OPEN_HOME/dev-account.json"
"$COMETBFT" start --home "$OPEN_HOME"
