#!/usr/bin/env bash
# Speed of structurally pruned models in ember-rt against the unpruned ones (issue 15), FP32 and
# INT8, side by side in one run: each round benchmarks the unpruned and the pruned model one
# after the other (median of RUNS inferences each); the table gives the medians over ROUNDS
# rounds, the time saved (1 - pruned/unpruned, the median of the per-round ratios) and the
# multiply-adds saved (`ember prune --json`: the whole model's MACs per row before and after),
# and their quotient: the share of the arithmetic cut that became time. On a shared machine the
# wall-clock medians drift with the other processes' load, so the table also gives the CPU time
# per inference (user + system, from /usr/bin/time: a run of 2+RUNS inferences minus one of 2,
# divided by RUNS; load and warm-up cancel), which scheduling delays do not inflate.
#   bench/prune_speed.sh [BUILD_DIR] [RUNS] [ROUNDS] [THREADS]
# CASES=PATTERN (an extended regex) keeps only the cases whose name matches, e.g. CASES=digits.
# Needs ../shared/models and ../shared/data. Models are made here with `ember prune` and
# `ember quantize` (INT8 weights, dynamic INT8 activations) into BUILD_DIR/prune-speed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
RUNS=${2:-20}
ROUNDS=${3:-5}
THREADS=${4:-1}
M=$ROOT/../shared/models
D=$ROOT/../shared/data
OUT=$BUILD/prune-speed
mkdir -p "$OUT"
[ -f "$M/digits-cnn.onnx" ] || { echo "SKIP: ../shared/models is absent"; exit 0; }

# name | unpruned model | prune options | calibration | input shapes
cases=(
  "digits-cnn, 50% of conv channels|$M/digits-cnn.onnx|--channels 0.5|$D/digits-calib.npz|image=256x1x8x8"
  "digits-cnn, 50% of conv channels, kept rounded to 8|$M/digits-cnn.onnx|--channels 0.5 --multiple 8|$D/digits-calib.npz|image=256x1x8x8"
  "digits-cnn, 50% of conv channels, kept rounded to 16|$M/digits-cnn.onnx|--channels 0.5 --multiple 16|$D/digits-calib.npz|image=256x1x8x8"
  "kjv-gpt2 [1,256], 20% of FFN neurons|$M/kjv-gpt2.onnx|--ffn 0.2 --calib-limit 64|$D/kjv-lm-calib.npy|input_ids=1x256"
  "kjv-gpt2 [1,256], 20% of FFN neurons, kept rounded to 64|$M/kjv-gpt2.onnx|--ffn 0.2 --calib-limit 64 --multiple 64|$D/kjv-lm-calib.npy|input_ids=1x256"
  "kjv-gpt2 [1,256], 20.1% of the parameters, heads narrowed 64 -> 32, FFN kept rounded to 64|$M/kjv-gpt2.onnx|--params 0.201 --head-width 0.5 --min-keep 0.7 --calib-limit 64 --multiple 64|$D/kjv-lm-calib.npy|input_ids=1x256"
)

# MODEL SHAPE-ARGS... -> "wall-median-ms cpu-ms-per-inference"
ms() {
  local model=$1; shift
  local short long
  short=$( { /usr/bin/time -f "%U %S" "$BUILD/ember-rt" bench "$model" "$@" --threads "$THREADS" --runs 2 --warmup 1 \
    --no-pack-cache >/dev/null; } 2>&1 | tail -1 | awk '{print $1 + $2}')
  long=$( { /usr/bin/time -f "%U %S" "$BUILD/ember-rt" bench "$model" "$@" --threads "$THREADS" --runs $((RUNS + 2)) \
    --warmup 1 --no-pack-cache --json >"$OUT/bench.json"; } 2>&1 | tail -1 | awk '{print $1 + $2}')
  echo "$(grep -o '"median_ms": [0-9.e+-]*' "$OUT/bench.json" | awk '{print $2}') $(echo "($long - $short) * 1000 / $RUNS" | bc -l)"
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
json_int() { grep -o "\"$1\": *[0-9]*" "$2" | head -1 | grep -o '[0-9]*$'; }

printf "| case | precision | unpruned ms | pruned ms | time saved | MACs saved | time / MACs saved | CPU ms unpruned | CPU ms pruned | CPU time saved / MACs saved |\n|---|---|---|---|---|---|---|---|---|---|\n"
for c in "${cases[@]}"; do
  IFS='|' read -r name model options calib shapes <<<"$c"
  [[ -z ${CASES:-} ]] || grep -Eq "$CASES" <<<"$name" || continue
  tag=$(echo "$name" | tr -c 'A-Za-z0-9\n' '_')
  pruned=$OUT/$tag.onnx
  # shellcheck disable=SC2086
  "$BUILD/ember" prune "$model" --calib "$calib" $options --json -o "$pruned" >"$OUT/$tag.json"
  before=$(json_int model_macs_before "$OUT/$tag.json"); after=$(json_int model_macs_after "$OUT/$tag.json")
  macs_saved=$(echo "1 - $after / $before" | bc -l)
  base=$OUT/$(basename "$model" .onnx)
  [ -f "$base.int8.onnx" ] || "$BUILD/ember" quantize "$model" --weights int8 --activations dynamic -o "$base.int8.onnx" >/dev/null
  "$BUILD/ember" quantize "$pruned" --weights int8 --activations dynamic -o "$OUT/$tag.int8.onnx" >/dev/null
  args=(); for s in $shapes; do args+=(--input-shape "$s"); done
  for precision in FP32 INT8; do
    a=$model; b=$pruned
    [ $precision = INT8 ] && a=$base.int8.onnx && b=$OUT/$tag.int8.onnx
    as=(); bs=(); rs=(); cas=(); cbs=(); crs=()
    for ((r = 0; r < ROUNDS; ++r)); do
      read -r x cx <<<"$(ms "$a" "${args[@]}")"; read -r y cy <<<"$(ms "$b" "${args[@]}")"
      as+=("$x"); bs+=("$y"); rs+=("$(echo "1 - $y / $x" | bc -l)")
      cas+=("$cx"); cbs+=("$cy"); crs+=("$(echo "1 - $cy / $cx" | bc -l)")
    done
    x=$(printf "%s\n" "${as[@]}" | median); y=$(printf "%s\n" "${bs[@]}" | median)
    saved=$(printf "%s\n" "${rs[@]}" | median)
    cx=$(printf "%s\n" "${cas[@]}" | median); cy=$(printf "%s\n" "${cbs[@]}" | median)
    csaved=$(printf "%s\n" "${crs[@]}" | median)
    printf "| %s | %s | %.3f | %.3f | %.1f%% | %.1f%% | %.2f | %.2f | %.2f | %.1f%% / %.2f |\n" "$name" $precision "$x" "$y" \
      "$(echo "100 * $saved" | bc -l)" "$(echo "100 * $macs_saved" | bc -l)" "$(echo "$saved / $macs_saved" | bc -l)" \
      "$cx" "$cy" "$(echo "100 * $csaved" | bc -l)" "$(echo "$csaved / $macs_saved" | bc -l)"
  done
done
