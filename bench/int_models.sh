#!/usr/bin/env bash
# Fast kernels (issue 5), side by side in one run: the kernel benchmarks (INT4 GEMV against
# the bandwidth bound, u8s8 GEMM against oneDNN), then quantized models in ember-rt against
# onnxruntime-node at 1 and 2 threads; medians of RUNS runs, ratio = ember / onnxruntime.
#   bench/int_models.sh [BUILD_DIR] [RUNS]
# Needs ../shared/models, a build with -DEMBER_BUILD_BENCH=ON (ember, ember-rt, bench/*) and
# onnxruntime-node (NODE_PATH, or build/node/node_modules as scripts/test.sh installs it).
# oneDNN (libdnnl-dev) is optional: installed here when apt-get can, else bench_qgemm reports
# against the VPDPBUSD peak. Ember's models are made here with `ember quantize`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
RUNS=${2:-20}
ROUNDS=${3:-5}
M=$ROOT/../shared/models
OUT=$BUILD/bench-models
export NODE_PATH=${NODE_PATH:-$ROOT/build/node/node_modules}
if [ ! -d "$NODE_PATH/onnxruntime-node" ]; then
  mkdir -p "$ROOT/build/node"
  (cd "$ROOT/build/node" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error onnxruntime-node >/dev/null)
  export NODE_PATH=$ROOT/build/node/node_modules
fi
mkdir -p "$OUT"

if ! dpkg -s libdnnl-dev >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libdnnl-dev >/dev/null 2>&1 || true
fi
cmake "$BUILD" -DEMBER_BUILD_BENCH=ON >/dev/null
ninja -C "$BUILD" ember ember-rt bench_int4_gemv bench_qgemm >/dev/null
echo "## Kernels"
echo
echo '```'
"$BUILD/bench/bench_int4_gemv" --threads 1,2 --reps "$RUNS"
echo
"$BUILD/bench/bench_qgemm" --threads 1,2
echo '```'
echo
echo "## Models"
echo

# Ember's quantized kjv-gpt2: INT8 weights with dynamic INT8 activations, and INT4 blocks of 32,
# both in the onnxruntime-contrib form so that onnxruntime runs the very same files.
[ -f "$OUT/kjv-gpt2.int8_dyn.onnx" ] ||
  "$BUILD/ember" quantize "$M/kjv-gpt2.onnx" --weights int8 --activations dynamic --format ort -o "$OUT/kjv-gpt2.int8_dyn.onnx" >/dev/null
[ -f "$OUT/kjv-gpt2.int4_b32.onnx" ] ||
  "$BUILD/ember" quantize "$M/kjv-gpt2.onnx" --weights int4 --block 32 --format ort -o "$OUT/kjv-gpt2.int4_b32.onnx" >/dev/null
# Eight 4096 x 4096 INT4 layers (75 MB, larger than L3) as a chain of MatMulNBits.
[ -f "$OUT/int4_gemv_chain.onnx" ] || "$BUILD/bench/bench_int4_gemv" --reps 1 --threads 1 --write-model "$OUT/int4_gemv_chain.onnx" >/dev/null

ember_ms() {  # MODEL THREADS SHAPES...
  local model=$1 t=$2; shift 2
  "$BUILD/ember-rt" bench "$model" "$@" --threads "$t" --runs "$RUNS" --json | grep -o '"median_ms": [0-9.e+-]*' | awk '{print $2}'
}
ort_ms() {
  local model=$1 t=$2; shift 2
  node "$ROOT/bench/ort_bench.js" "$model" "$@" --threads "$t" --runs "$RUNS" | grep -o '"median_ms":[0-9.e+-]*' | cut -d: -f2
}

# name | ember model | onnxruntime model | shapes | divisor (layers per model, for per-layer times)
cases=(
  "kjv-gpt2 [1,256]: Ember INT8 vs onnxruntime's dynamic INT8|$OUT/kjv-gpt2.int8_dyn.onnx|$M/peer/kjv-gpt2.dyn_int8.onnx|input_ids=1x256|1"
  "kjv-gpt2 [1,256]: both on onnxruntime's dynamic INT8|$M/peer/kjv-gpt2.dyn_int8.onnx|$M/peer/kjv-gpt2.dyn_int8.onnx|input_ids=1x256|1"
  "kjv-gpt2 [1,1]: Ember INT4 vs onnxruntime FP32|$OUT/kjv-gpt2.int4_b32.onnx|$M/kjv-gpt2.onnx|input_ids=1x1|1"
  "kjv-gpt2 [1,1]: Ember INT4 vs onnxruntime MatMulNBits (same model)|$OUT/kjv-gpt2.int4_b32.onnx|$OUT/kjv-gpt2.int4_b32.onnx|input_ids=1x1|1"
  "kjv-bert [64,128]: onnxruntime's dynamic INT8 (same model)|$M/peer/kjv-bert.dyn_int8.onnx|$M/peer/kjv-bert.dyn_int8.onnx|input_ids=64x128 attention_mask=64x128|1"
  "INT4 GEMV 4096x4096 per layer (8-layer MatMulNBits chain)|$OUT/int4_gemv_chain.onnx|$OUT/int4_gemv_chain.onnx|x=1x4096|8"
)
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf "| case | threads | ember-rt median ms | onnxruntime median ms | ratio (median of %d rounds) | ratio range |\n|---|---|---|---|---|---|\n" "$ROUNDS"
for c in "${cases[@]}"; do
  IFS='|' read -r name ember_model ort_model shapes divisor <<<"$c"
  args=(); for s in $shapes; do args+=(--input-shape "$s"); done
  for t in 1 2; do
    es=(); os=(); rs=()
    for ((r = 0; r < ROUNDS; ++r)); do
      e=$(ember_ms "$ember_model" $t "${args[@]}")
      o=$(ort_ms "$ort_model" $t "${args[@]}")
      es+=("$e"); os+=("$o"); rs+=("$(echo "$e / $o" | bc -l)")
    done
    e=$(printf "%s\n" "${es[@]}" | median); o=$(printf "%s\n" "${os[@]}" | median)
    ratio=$(printf "%s\n" "${rs[@]}" | median)
    lo=$(printf "%s\n" "${rs[@]}" | sort -g | head -1); hi=$(printf "%s\n" "${rs[@]}" | sort -g | tail -1)
    printf "| %s | %d | %.3f | %.3f | %.2fx | %.2f-%.2fx |\n" "$name" $t "$(echo "$e / $divisor" | bc -l)" \
      "$(echo "$o / $divisor" | bc -l)" "$ratio" "$lo" "$hi"
  done
done
