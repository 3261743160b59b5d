#!/usr/bin/env bash
# Shows the localnet started by localnet/start.sh: per node whether its processes run, its
# height and catching_up (CometBFT RPC /status), the validator set with voting powers
# (/validators) and, through `openledgerd query inference`, the pending inference requests and
# the latest results.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LOCALNET_DIR="${LOCALNET_DIR:-$ROOT/localnet/data}"
OPENLEDGERD="${OPENLEDGERD:-$ROOT/target/release/openledgerd}"
RESULTS="${RESULTS:-3}" # how many of the latest inference requests to show

[ -f "$LOCALNET_DIR/localnet.json" ] || { echo "localnet: no network under $LOCALNET_DIR (run make localnet)" >&2; exit 1; }

python3 - "$LOCALNET_DIR" <<'PY'
import json, os, sys, urllib.request

root = sys.argv[1]
net = json.load(open(os.path.join(root, "localnet.json")))

def rpc(url, path):
    try:
        return json.load(urllib.request.urlopen(url + path, timeout=3))["result"]
    except Exception:
        return None

def running(i, kind):
    try:
        os.kill(int(open(os.path.join(root, "pids", f"node{i}.{kind}.pid")).read()), 0)
        return "up"
    except Exception:
        return "-"

print(f"chain {net['chain_id']}, {len(net['nodes'])} validators, {root}")
print(f"{'node':<6}{'height':>8}  {'catching_up':<12}{'comet':<6}{'app':<5}{'exec':<5}rpc")
for n in net["nodes"]:
    st = rpc(n["rpc_url"], "/status")
    height = st["sync_info"]["latest_block_height"] if st else "down"
    catching = str(st["sync_info"]["catching_up"]).lower() if st else "-"
    ex = running(n["index"], "executor") if n["executor_addr"] else "none"
    print(f"{n['moniker']:<6}{height:>8}  {catching:<12}{running(n['index'], 'comet'):<6}{running(n['index'], 'app'):<5}{ex:<5}{n['rpc_url']}")

vals = next((v for v in (rpc(n["rpc_url"], "/validators") for n in net["nodes"]) if v), None)
if vals:
    by_key = {n["consensus_pubkey"]: n for n in net["nodes"]}
    total = sum(int(v["voting_power"]) for v in vals["validators"])
    print(f"\nvalidator set at height {vals['block_height']} (total power {total}):")
    for v in vals["validators"]:
        node = by_key.get(v["pub_key"]["value"])
        name = f"{node['moniker']} {node['operator_address']}" if node else v["address"]
        share = 100 * int(v["voting_power"]) / total if total else 0
        print(f"  {name}  power {v['voting_power']} ({share:.1f} %)")
else:
    print("\nvalidator set: no node answers")
for m in net.get("models", []):
    print(f"base model {m['id']}: {m['name']} weights {m['weights_hash']}")
PY

# Inference: pending requests and the latest RESULTS requests with their results, from the
# first node that answers (`openledgerd query inference pending|request ID`).
python3 - "$LOCALNET_DIR/localnet.json" "$OPENLEDGERD" "$RESULTS" <<'PY'
import json, subprocess, sys

net = json.load(open(sys.argv[1]))
binary, shown = sys.argv[2], int(sys.argv[3])

def cli(url, *args):
    p = subprocess.run([binary, "query", "inference", *args, "--node", url], capture_output=True, text=True)
    return (json.loads(p.stdout) if p.returncode == 0 else None), p.stderr

def summary(r):
    res = r.get("result") or {}
    text = (res.get("text") or "").replace("\n", " ")
    line = f"  #{r.get('id')} {r.get('status')} model {r.get('base_model_id')} adapter {r.get('adapter_id')} fee {r.get('fee')} prompt {r.get('prompt', '')[:40]!r}"
    if res:
        line += (f"\n      -> {text[:70]!r} ({res.get('token_count')} tokens) at height {res.get('height')},"
                 f" agreeing power {res.get('agreeing_power')}/{res.get('eligible_power')}, slashed {res.get('slashed')}")
    return line

for node in net["nodes"]:
    url = node["rpc_url"]
    pending, err = cli(url, "pending")
    if pending is None:
        if "unrecognized subcommand" in err:
            print("\ninference queries: this openledgerd has no `query inference` (yet)")
            sys.exit(0)
        continue
    requests = pending.get("requests", [])
    print(f"\ninference (via {url}): {len(requests)} pending")
    for r in requests:
        print(summary(r))
    # Request ids are dense from 1: find the highest by doubling, then bisecting.
    exists = lambda i: cli(url, "request", str(i))[0] is not None
    hi = 1
    while exists(hi):
        hi *= 2
    lo = hi // 2  # exists(lo) (or lo == 0), not exists(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if exists(mid) else (lo, mid)
    if lo == 0:
        print("  no inference requests yet")
    else:
        print(f"latest requests (of {lo}):")
        for i in range(lo, max(0, lo - shown), -1):
            r, _ = cli(url, "request", str(i))
            if r:
                print(summary(r))
    sys.exit(0)
print("\ninference queries: no node answered")
PY
