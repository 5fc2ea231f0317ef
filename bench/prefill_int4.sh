#!/usr/bin/env bash
# INT4 vs INT8 prefill on one Llama-shaped model (issue 19's target: prefill [1, 256] INT4 no
# slower than INT8): gen_llama writes the model, `ember quantize` makes RTN INT4 (block 32) and
# INT8 copies, then `ember-rt bench` runs them alternately, ROUNDS times, at each shape, so a
# busy machine slows both alike. With --before BIN, the INT4 model also runs under another
# ember-rt (say a build of main) in the same rounds, for a before/after of the INT4 kernel.
# Prints one line per model and shape: the median of the rounds' median milliseconds, and
# the ratio to INT8. --threads takes a list ("1 2"): each shape then runs at every count, the
# counts alternating within each round too. Files go to --work and are deleted at the end.
#
#   bash bench/prefill_int4.sh [--build build] [--work DIR] [--params 0.1] [--rounds 5]
#                              [--shapes "1x256 1x64 1x1"] [--threads "2"] [--before PATH/ember-rt]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build WORK=/tmp/ember-prefill PARAMS=0.1 ROUNDS=5 SHAPES="1x256 1x64 1x1" THREADS=2 BEFORE=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --params) PARAMS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --shapes) SHAPES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --before) BEFORE=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
EMBER=$BUILD/ember RT_BIN=$BUILD/ember-rt GEN=$BUILD/bench/gen_llama
for b in "$EMBER" "$RT_BIN" "$GEN" ${BEFORE:+"$BEFORE"}; do
  [ -x "$b" ] || { echo "missing $b (build with -DEMBER_BUILD_BENCH=ON)" >&2; exit 2; }
done
mkdir -p "$WORK"
trap 'rm -f "$WORK"/llama.onnx* "$WORK"/q4.onnx* "$WORK"/q8.onnx*' EXIT

"$GEN" -o "$WORK/llama.onnx" --params "$PARAMS" | head -1 | sed 's/^/# /'
"$EMBER" quantize "$WORK/llama.onnx" --weights int4 --method rtn -o "$WORK/q4.onnx" > /dev/null
"$EMBER" quantize "$WORK/llama.onnx" --weights int8 -o "$WORK/q8.onnx" > /dev/null

# median_ms BIN MODEL SHAPE RUNS THREADS: the median of one `ember-rt bench`.
median_ms() {
  "$1" bench "$2" --input-shape "input_ids=$3" --threads "$5" --runs "$4" --warmup 2 --json |
    awk -F': ' '/"median_ms"/ {gsub(/,/, "", $2); print $2}'
}
median_of() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# Each model once before timing, so the pack caches are written outside the rounds.
for q in q4 q8; do median_ms "$RT_BIN" "$WORK/$q.onnx" 1x1 1 1 > /dev/null; done
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), threads $THREADS, $ROUNDS rounds"
for shape in $SHAPES; do
  runs=5
  [ "$shape" = 1x1 ] && runs=100
  for t in $THREADS; do : > "$WORK/q4.$t.times"; : > "$WORK/q8.$t.times"; : > "$WORK/before.$t.times"; done
  for ((r = 0; r < ROUNDS; ++r)); do
    for t in $THREADS; do
      median_ms "$RT_BIN" "$WORK/q4.onnx" "$shape" "$runs" "$t" >> "$WORK/q4.$t.times"
      median_ms "$RT_BIN" "$WORK/q8.onnx" "$shape" "$runs" "$t" >> "$WORK/q8.$t.times"
      [ -n "$BEFORE" ] && median_ms "$BEFORE" "$WORK/q4.onnx" "$shape" "$runs" "$t" >> "$WORK/before.$t.times"
    done
  done
  for t in $THREADS; do
    q4=$(median_of < "$WORK/q4.$t.times") q8=$(median_of < "$WORK/q8.$t.times")
    line="{\"params_b\": $PARAMS, \"shape\": \"$shape\", \"threads\": $t, \"int4_ms\": $q4, \"int8_ms\": $q8"
    line+=", \"int4_over_int8\": $(awk -v a="$q4" -v b="$q8" 'BEGIN {printf "%.3f", a / b}')"
    if [ -n "$BEFORE" ]; then
      before=$(median_of < "$WORK/before.$t.times")
      line+=", \"int4_before_ms\": $before, \"before_over_int8\": $(awk -v a="$before" -v b="$q8" 'BEGIN {printf "%.3f", a / b}')"
    fi
    echo "$line}"
  done
done
rm -f "$WORK"/*.times
