#!/usr/bin/env bash
# Gated-FFN and grouped-query-attention pruning (issue 15) on a Llama-shaped model with random
# weights (bench/gen_llama: RMSNorm, rotary, SwiGLU, GQA): prunes FFN neurons and KV groups with
# an activation score (wanda, magnitude heads) and with gradients (taylor), times the pruning,
# checks the pruned models against onnxruntime-node, and measures the CPU time per inference in
# ember-rt of the unpruned and the pruned models side by side (user + system from /usr/bin/time:
# a run of 2+RUNS inferences minus one of 2, divided by RUNS; median over ROUNDS rounds).
# Random weights say nothing about quality; the figures are structure, size, arithmetic, speed.
#   bench/prune_llama.sh [BUILD_DIR] [RUNS] [ROUNDS]     (BUILD_DIR configured with -DEMBER_BUILD_BENCH=ON)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
RUNS=${2:-40}
ROUNDS=${3:-3}
OUT=$BUILD/prune-llama
S=$ROOT/samples
mkdir -p "$OUT"
"$BUILD/bench/gen_llama" -o "$OUT/llama.onnx" --hidden 512 --ffn 1408 --layers 4 --heads 8 --kv-heads 2 --vocab 256 --max-seq 256
prune() {
  local name=$1; shift
  /usr/bin/time -f "%e s wall, %M KB peak" -o "$OUT/$name.time" "$BUILD/ember" prune "$OUT/llama.onnx" \
    --calib "$S/kjv-lm-calib.npy" --calib-limit 32 --ffn 0.25 --heads 0.5 --recovery lsq "$@" -o "$OUT/$name.onnx" >"$OUT/$name.txt"
  echo "== $name: $(cat "$OUT/$name.time"), $(grep 'multiply-adds' "$OUT/$name.txt")"
  grep -E "neurons|kv-groups|total|wrote" "$OUT/$name.txt"
}
prune wanda --score wanda --head-score magnitude
prune wanda64 --score wanda --head-score magnitude --multiple 64
prune taylor --score taylor --head-score taylor
echo "file bytes: unpruned $(($(stat -c %s "$OUT/llama.onnx") + $(stat -c %s "$OUT/llama.onnx.data"))), pruned $(stat -c %s "$OUT/wanda.onnx")"
if [ -d "$BUILD/node/node_modules/onnxruntime-node" ]; then
  for m in llama wanda taylor; do
    NODE_PATH=$BUILD/node/node_modules node "$ROOT/tests/interop/ort_check.js" match-ember "$OUT/$m.onnx" \
      --ember "$BUILD/ember" --task lm --data "$S/kjv-lm-eval.npy" --rows 2 --tol 1e-4 | tail -1
  done
fi
cpu_ms() {
  local short long
  short=$( { /usr/bin/time -f "%U %S" "$BUILD/ember-rt" bench "$1" --input-shape input_ids=1x128 --threads 1 --runs 2 \
    --warmup 1 --no-pack-cache >/dev/null; } 2>&1 | tail -1 | awk '{print $1 + $2}')
  long=$( { /usr/bin/time -f "%U %S" "$BUILD/ember-rt" bench "$1" --input-shape input_ids=1x128 --threads 1 \
    --runs $((RUNS + 2)) --warmup 1 --no-pack-cache >/dev/null; } 2>&1 | tail -1 | awk '{print $1 + $2}')
  awk -v s="$short" -v l="$long" -v n="$RUNS" 'BEGIN { printf "%.3f", (l - s) * 1000 / n }'
}
for round in $(seq "$ROUNDS"); do
  echo "round $round: CPU ms/inference [1,128]: unpruned $(cpu_ms "$OUT/llama.onnx"), wanda $(cpu_ms "$OUT/wanda.onnx"), wanda64 $(cpu_ms "$OUT/wanda64.onnx")"
done
