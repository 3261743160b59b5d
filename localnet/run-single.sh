#!/usr/bin/env bash
# Runs a single-node OpenLedger chain: initializes $OPEN_HOME on first use, starts openledgerd
# (ABCI + gRPC) in the background and CometBFT in the foreground. Ctrl-C stops both.
set -euo pipefail

OPEN_HOME="${OPEN_HOME:-$HOME/.openledger}"
OPENLEDGERD="${OPENLEDGERD:-./target/release/openledgerd}"
COMETBFT="${COMETBFT:-./bin/cometbft}"
# The built web app (`make web`); when present, openledgerd serves it at /app on its REST port
# together with the local dev account (loopback only) the app's dev wallet signs with.
WEB_DIR="${WEB_DIR:-}"

if [ ! -f "$OPEN_HOME/config/genesis.json" ]; then
  "$OPENLEDGERD" --home "$OPEN_HOME" init
fi

ABCI_ADDR="$(sed -n 's/^abci_addr = "\(.*\)"/\1/p' "$OPEN_HOME/config/app.toml")"
API_ADDR="$(sed -n 's/^api_addr = "\(.*\)"/\1/p' "$OPEN_HOME/config/app.toml")"
START_ARGS=()
if [ -n "$WEB_DIR" ] && [ -f "$WEB_DIR/index.html" ]; then
  START_ARGS=(--web-dir "$WEB_DIR" --serve-dev-account)
fi
"$OPENLEDGERD" --home "$OPEN_HOME" start "${START_ARGS[@]}" >>"$OPEN_HOME/openledgerd.log" 2>&1 &
APP_PID=$!
cleanup() { kill "$APP_PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/${ABCI_ADDR%:*}/${ABCI_ADDR##*:}") 2>/dev/null; then break; fi
  if ! kill -0 "$APP_PID" 2>/dev/null; then echo "openledgerd exited; see $OPEN_HOME/openledgerd.log" >&2; exit 1; fi
  sleep 0.1
done

echo "openledgerd is up (log: $OPEN_HOME/openledgerd.log); starting CometBFT. Dev account: $OPEN_HOME/dev-account.json"
if [ ${#START_ARGS[@]} -gt 0 ]; then
  echo
  echo "  Web app: http://${API_ADDR:-127.0.0.1:1317}/app/   (wallet: Keplr, or the local dev account)"
  echo
fi
"$COMETBFT" start --home "$OPEN_HOME"
