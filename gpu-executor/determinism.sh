#!/usr/bin/env bash
# make determinism: the executor's outputs across separately compiled builds. Builds open-executor
# (without mistral.rs, which the portable kernels do not use) once per CPU target in
# DETERMINISM_CPUS (default: x86-64 = baseline SSE2, x86-64-v3 = AVX2 + FMA, native), then runs
# `open-executor probe` of each build on the tiny random Llama (safetensors, f32) and on SmolLM2
# (Q4_1/Q8_0 GGUF): 50 prompts, and 2 ModelFactory (LoRA) training steps on them, on every kernel
# path the CPU has at 1, 2 and 4 threads. Fails unless every build, path and thread count gives
# the same inference digest and the same training digest per model.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${OPENLEDGER_CACHE:-$HOME/.cache/openledger}"
CPUS="${DETERMINISM_CPUS:-x86-64 x86-64-v3 native}"
THREADS="${DETERMINISM_THREADS:-1,2,4}"
SMOLLM2="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT="$CACHE/determinism"
mkdir -p "$OUT"
[ -f "$SMOLLM2" ] || { echo "no SmolLM2 GGUF at $SMOLLM2 (make executor-model)" >&2; exit 1; }

for cpu in $CPUS; do
  echo "[determinism] building open-executor with -C target-cpu=$cpu (no mistral.rs)"
  start=$(date +%s)
  RUSTFLAGS="-C target-cpu=$cpu" cargo build --release --locked --no-default-features --bin open-executor \
    --manifest-path gpu-executor/Cargo.toml --target-dir "$CACHE/target-determinism-$cpu"
  echo "[determinism] $cpu built in $(( $(date +%s) - start )) s"
done

first_cpu="${CPUS%% *}"
tiny="$OUT/tiny-llama"
"$CACHE/target-determinism-$first_cpu/release/open-executor" fixture llama --out "$tiny" --seed 2026 >/dev/null

status=0
printf '\n%-14s %-10s %-26s %-20s %-17s %s\n' "build" "model" "paths x threads" "compiled features" "inference" "training"
for model in "$tiny" "$SMOLLM2"; do
  name=$(basename "$model")
  digests=""
  for cpu in $CPUS; do
    log="$OUT/$cpu-$name.jsonl"
    "$CACHE/target-determinism-$cpu/release/open-executor" probe --model "$model" --thread-counts "$THREADS" >"$log" 2>"$OUT/$cpu-$name.err" || status=1
    summary=$(tail -n 1 "$log")
    digest=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["digest"])' "$summary")
    train_digest=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["train_digest"])' "$summary")
    agree=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["agree"])' "$summary")
    runs=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print("+".join(s["paths"]) + " x " + ",".join(map(str, s["thread_counts"])))' "$summary")
    feats=$(python3 -c 'import json,sys; print(",".join(json.loads(sys.argv[1])["target_features"]) or "-")' "$summary")
    printf '%-14s %-10.10s %-26s %-20s %-17s %s%s\n' "$cpu" "$name" "$runs" "$feats" "${digest:0:16}" "${train_digest:0:16}" "$([ "$agree" = True ] || echo '  DISAGREE within the build')"
    digests="$digests $digest/$train_digest"
  done
  if [ "$(echo $digests | tr ' ' '\n' | sort -u | wc -l)" -ne 1 ]; then
    echo "[determinism] $name: builds disagree" >&2
    status=1
  fi
done
if [ $status -eq 0 ]; then
  echo "[determinism] every build, path and thread count gave the same inference and training digests per model"
fi
exit $status
