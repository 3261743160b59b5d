#!/usr/bin/env bash
# Regenerates proto/descriptors/cosmos.bin: the FileDescriptorSet of the Cosmos SDK services the
# node serves, used for gRPC server reflection (grpcurl) and by the REST server (gateway routes
# from the google.api.http options, JSON of Any values). The .proto sources come from the
# Go module proxy (the same versions cosmos-sdk-proto 0.27 was generated from); protoc is the one
# vendored by the protoc-bin-vendored crate. Run after adding a served cosmos service.
set -euo pipefail
cd "$(dirname "$0")"

SDK=github.com/cosmos/cosmos-sdk@v0.50.9
COMET=github.com/cometbft/cometbft@v0.38.19
GOGO=github.com/cosmos/gogoproto@v1.7.0
COSMOS_PROTO=github.com/cosmos/cosmos-proto@v1.0.0-beta.5
GATEWAY=github.com/grpc-ecosystem/grpc-gateway@v1.16.0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && go mod init descriptors >/dev/null 2>&1)
dir() { (cd "$work" && go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'); }
SDK_DIR=$(dir $SDK); COMET_DIR=$(dir $COMET); GOGO_DIR=$(dir $GOGO); CP_DIR=$(dir $COSMOS_PROTO); GW_DIR=$(dir $GATEWAY)

PROTOC_DIR=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/protoc-bin-vendored-linux-x86_64-*/ | tail -1)
PROTOC="$PROTOC_DIR/bin/protoc"

SERVICES=(
  cosmos/auth/v1beta1/query.proto
  cosmos/bank/v1beta1/query.proto
  cosmos/tx/v1beta1/service.proto
  cosmos/staking/v1beta1/query.proto
  cosmos/distribution/v1beta1/query.proto
  cosmos/slashing/v1beta1/query.proto
  cosmos/gov/v1/query.proto
  cosmos/gov/v1beta1/query.proto
  cosmos/upgrade/v1beta1/query.proto
  # Node-level services (answered in app/server/src/grpc.rs from CometBFT's RPC and the node).
  cosmos/base/tendermint/v1beta1/query.proto
  cosmos/base/node/v1beta1/query.proto
  cosmos/consensus/v1/query.proto
  # Message and key types (not served as services): the REST server renders the Any values of
  # txs, accounts and proposals from these descriptors.
  cosmos/auth/v1beta1/tx.proto
  cosmos/bank/v1beta1/tx.proto
  cosmos/staking/v1beta1/tx.proto
  cosmos/distribution/v1beta1/tx.proto
  cosmos/slashing/v1beta1/tx.proto
  cosmos/gov/v1/tx.proto
  cosmos/gov/v1beta1/tx.proto
  cosmos/upgrade/v1beta1/tx.proto
  cosmos/crypto/secp256k1/keys.proto
  cosmos/crypto/ed25519/keys.proto
  cosmos/crypto/multisig/keys.proto
)

"$PROTOC" \
  -I "$SDK_DIR/proto" -I "$COMET_DIR/proto" -I "$GOGO_DIR" -I "$CP_DIR/proto" \
  -I "$GW_DIR/third_party/googleapis" -I "$PROTOC_DIR/include" \
  --include_imports --descriptor_set_out=descriptors/cosmos.bin "${SERVICES[@]}"
ls -l descriptors/cosmos.bin
