#!/usr/bin/env bash
# Forward-pass latency of ember-rt against onnxruntime-node, side by side in one run, at 1 and
# 2 threads; medians of N runs. Usage: bench/forward.sh [BUILD_DIR] [RUNS]
# Needs ../shared/models and build/node/node_modules (scripts/test.sh installs it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
RUNS=${2:-20}
M=$ROOT/../shared/models
export NODE_PATH=$ROOT/build/node/node_modules
cases=(
  "kjv-gpt2 FP32 [1,256]|$M/kjv-gpt2.onnx|input_ids=1x256|$M/kjv-gpt2.onnx"
  "kjv-gpt2 FP32 [1,1]|$M/kjv-gpt2.onnx|input_ids=1x1|$M/kjv-gpt2.onnx"
  "kjv-bert FP32 [64,128]|$M/kjv-bert.onnx|input_ids=64x128 attention_mask=64x128|$M/kjv-bert.onnx"
)
printf "| case | threads | ember-rt median ms | onnxruntime median ms | ratio |\n|---|---|---|---|---|\n"
for c in "${cases[@]}"; do
  IFS='|' read -r name ember_model shapes ort_model <<<"$c"
  args=(); for s in $shapes; do args+=(--input-shape "$s"); done
  for t in 1 2; do
    e=$("$BUILD/ember-rt" bench "$ember_model" "${args[@]}" --threads $t --runs "$RUNS" --json | grep -o '"median_ms": [0-9.e+-]*' | awk '{print $2}')
    o=$(node "$ROOT/bench/ort_bench.js" "$ort_model" "${args[@]}" --threads $t --runs "$RUNS" | grep -o '"median_ms":[0-9.e+-]*' | cut -d: -f2)
    printf "| %s | %d | %.2f | %.2f | %.2fx |\n" "$name" $t "$e" "$o" "$(echo "$e / $o" | bc -l)"
  done
done
