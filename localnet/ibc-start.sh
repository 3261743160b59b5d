#!/usr/bin/env bash
# Starts two single-validator OpenLedger chains on loopback with the Hermes IBC relayer between
# them (what `make ibc-localnet` runs). Builds nothing: uses openledgerd ($OPENLEDGERD), CometBFT
# ($COMETBFT) and hermes ($HERMES). On first use it initializes the chains ibc-a-1 (ports from
# 28000) and ibc-b-1 (ports from 28100) under $IBC_LOCALNET_DIR (default ./localnet/ibc-data),
# writes Hermes's config (its home is $IBC_LOCALNET_DIR/hermes) with each chain's dev account as
# the relayer key and this chain's proof specs (`openledgerd query ibc proof-specs`), and creates
# the clients, a connection and an ICS-20 channel (channel-0 on both sides). Then it starts both
# chains and `hermes start` in the background (logs beside each home, pids in
# $IBC_LOCALNET_DIR/pids). `localnet/ibc-stop.sh` stops them.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${IBC_LOCALNET_DIR:-$ROOT/localnet/ibc-data}"
OPENLEDGERD="${OPENLEDGERD:-$ROOT/target/release/openledgerd}"
COMETBFT="${COMETBFT:-$ROOT/bin/cometbft}"
HERMES="${HERMES:-$ROOT/bin/hermes}"
die() { echo "ibc-localnet: $*" >&2; exit 1; }
for bin in "$OPENLEDGERD" "$COMETBFT" "$HERMES"; do
  [ -x "$bin" ] || die "$bin not found (run \`make ibc-localnet\`, or set OPENLEDGERD / COMETBFT / HERMES)"
done
mkdir -p "$DIR/pids"
DIR="$(cd "$DIR" && pwd -P)"
HERMES_HOME="$DIR/hermes"
CONFIG="$HERMES_HOME/config.toml"
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
for f in "$DIR"/pids/*.pid; do
  if alive "$f"; then die "already running ($f); \`localnet/ibc-stop.sh\` first"; fi
done
rm -f "$DIR"/pids/*.pid

CHAINS=("ibc-a-1 28000" "ibc-b-1 28100")
first_run=""
for entry in "${CHAINS[@]}"; do
  read -r id base <<<"$entry"
  home="$DIR/$id"
  if [ ! -f "$home/config/genesis.json" ]; then
    first_run=1
    "$OPENLEDGERD" init --home "$home" --chain-id "$id" \
      --rpc-laddr "tcp://127.0.0.1:$base" --p2p-laddr "tcp://127.0.0.1:$((base + 1))" \
      --abci-addr "127.0.0.1:$((base + 2))" --grpc-addr "127.0.0.1:$((base + 3))" \
      --api-addr "127.0.0.1:$((base + 4))" --timeout-commit 1s >/dev/null
  fi
  "$OPENLEDGERD" --home "$home" start >>"$home/openledgerd.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$id.app.pid"
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$((base + 2))") 2>/dev/null && break
    alive "$DIR/pids/$id.app.pid" || die "openledgerd of $id exited; see $home/openledgerd.log"
    sleep 0.1
  done
  "$COMETBFT" start --home "$home" >>"$home/cometbft.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$id.comet.pid"
done

height() { curl -s "http://127.0.0.1:$1/status" | sed -n 's/.*"latest_block_height":"\([0-9]*\)".*/\1/p'; }
for entry in "${CHAINS[@]}"; do
  read -r id base <<<"$entry"
  for _ in $(seq 1 300); do
    h="$(height "$base")"; [ -n "$h" ] && [ "$h" -ge 2 ] && break
    sleep 0.2
  done
  [ "$(height "$base")" -ge 2 ] || die "$id did not reach block 2; see $DIR/$id/cometbft.log"
done

hermes() { HOME="$HERMES_HOME" "$HERMES" --config "$CONFIG" "$@"; }
if [ -n "$first_run" ] || [ ! -f "$CONFIG" ]; then
  mkdir -p "$HERMES_HOME"
  specs="$("$OPENLEDGERD" query ibc proof-specs)"
  cat >"$CONFIG" <<TOML
[global]
log_level = 'info'
[mode.clients]
enabled = true
refresh = true
misbehaviour = false
[mode.connections]
enabled = false
[mode.channels]
enabled = false
[mode.packets]
enabled = true
clear_interval = 100
clear_on_start = true
tx_confirmation = true
TOML
  for entry in "${CHAINS[@]}"; do
    read -r id base <<<"$entry"
    cat >>"$CONFIG" <<TOML

[[chains]]
id = '$id'
type = 'CosmosSdk'
rpc_addr = 'http://127.0.0.1:$base'
grpc_addr = 'http://127.0.0.1:$((base + 3))'
event_source = { mode = 'pull', interval = '500ms' }
rpc_timeout = '10s'
account_prefix = 'open'
key_name = 'relayer'
store_prefix = 'ibc'
default_gas = 400000
max_gas = 4000000
gas_price = { price = 0.025, denom = 'uopen' }
gas_multiplier = 1.5
clock_drift = '5s'
max_block_time = '30s'
trusting_period = '14days'
trust_threshold = { numerator = '1', denominator = '3' }
compat_mode = '0.38'
proof_specs = '''$specs'''
TOML
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mnemonic"])' "$DIR/$id/dev-account.json" >"$HERMES_HOME/$id.mnemonic"
    chmod 600 "$HERMES_HOME/$id.mnemonic"
    hermes keys add --chain "$id" --mnemonic-file "$HERMES_HOME/$id.mnemonic" --overwrite >/dev/null
  done
  echo "ibc-localnet: creating clients, a connection and the transfer channel (about a minute)"
  hermes create channel --a-chain ibc-a-1 --b-chain ibc-b-1 --a-port transfer --b-port transfer \
    --new-client-connection --yes >>"$HERMES_HOME/create.log" 2>&1 || die "channel creation failed; see $HERMES_HOME/create.log"
fi
HOME="$HERMES_HOME" "$HERMES" --config "$CONFIG" start >>"$HERMES_HOME/start.log" 2>&1 </dev/null &
echo $! >"$DIR/pids/hermes.pid"

cat <<TXT
ibc-localnet: running
  ibc-a-1: RPC http://127.0.0.1:28000, gRPC 127.0.0.1:28003, REST http://127.0.0.1:28004 (home $DIR/ibc-a-1)
  ibc-b-1: RPC http://127.0.0.1:28100, gRPC 127.0.0.1:28103, REST http://127.0.0.1:28104 (home $DIR/ibc-b-1)
  hermes:  config $CONFIG, log $HERMES_HOME/start.log
Send OPEN from A to B:
  $OPENLEDGERD --home $DIR/ibc-a-1 tx ibc-transfer transfer dev transfer channel-0 <open1… on B> 1000uopen --node http://127.0.0.1:28000
TXT
