#!/usr/bin/env bash
# Scale benchmarks (issue 19): for each size, a Llama-shaped model from gen_llama, then as a
# user would run it: RTN INT4, INT8 and GPTQ INT4 (512 calibration tokens) with wall time, CPU
# time and peak RSS (/usr/bin/time -v) beside reading the weights once and writing the INT8
# output's size once (O_DIRECT, as ember writes large external data), and ember-rt on the INT4 and INT8 models: start-up (cold and
# warm page cache, packed-weight cache written then used), decode step [1, 1] against a plain
# read measured in the same run on 1 and 2 threads, prefill [1, 256]. Files are deleted after
# each size. Prints one JSON object per measurement (bench/RESULTS.md has the tables).
#
#   bash bench/scale.sh [--build build] [--work DIR] [--sizes "0.1 0.5 1 2"] [--skip-gptq] [--skip-rt]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build WORK=/tmp/ember-scale SIZES="0.1 0.5 1 2" GPTQ=1 RT=1
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --skip-gptq) GPTQ=0; shift ;;
    --skip-rt) RT=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
EMBER=$BUILD/ember RT_BIN=$BUILD/ember-rt GEN=$BUILD/bench/gen_llama
for b in "$EMBER" "$RT_BIN" "$GEN"; do [ -x "$b" ] || { echo "missing $b (build with -DEMBER_BUILD_BENCH=ON)" >&2; exit 2; }; done
mkdir -p "$WORK"

# 512 calibration tokens: 4 rows of 128 ids below the vocabulary size, as int64 .npy.
python3 - "$WORK/calib512.npy" <<'EOF'
import random, struct, sys
random.seed(1)
rows, cols = 4, 128
hdr = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
hdr += ' ' * (64 - (10 + len(hdr) + 1) % 64) + '\n'
with open(sys.argv[1], 'wb') as f:
    f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode())
    f.write(struct.pack('<%dq' % (rows * cols), *[random.randrange(32000) for _ in range(rows * cols)]))
EOF

# timed NAME CMD...: wall seconds, CPU seconds (user + system: the figure to compare on a
# shared machine) and peak RSS of one command as a JSON line.
timed() {
  local name=$1; shift
  /usr/bin/time -v "$@" > "$WORK/$name.out" 2> "$WORK/$name.time" || { echo "{\"step\": \"$name\", \"failed\": true}"; return 0; }
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; ++i) s = s * 60 + t[i]; print s}' "$WORK/$name.time")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident/ {print $2 / 1048576}' "$WORK/$name.time")
  echo "{\"step\": \"$name\", \"seconds\": $wall, \"cpu_seconds\": $cpu, \"peak_rss_gb\": $rss}"
}

bytes_of() { du -cb "$@" 2>/dev/null | tail -1 | cut -f1; }

for size in $SIZES; do
  model=$WORK/llama$size.onnx
  "$GEN" -o "$model" --params "$size" | head -1 | sed "s/^/# /"
  echo "{\"size_b\": $size, \"fp32_bytes\": $(bytes_of "$model" "$model.data")}"
  # The floor the quantizers are compared with: the weights read once (from the page cache
  # the generator left them in) and an output of the INT8 model's size written once.
  timed "read-once-$size" dd if="$model.data" of=/dev/null bs=1M
  timed "rtn4-$size" "$EMBER" quantize "$model" --weights int4 --method rtn -o "$WORK/q4.onnx"
  echo "{\"size_b\": $size, \"int4_bytes\": $(bytes_of "$WORK/q4.onnx" "$WORK/q4.onnx.data")}"
  timed "int8-$size" "$EMBER" quantize "$model" --weights int8 -o "$WORK/q8.onnx"
  echo "{\"size_b\": $size, \"int8_bytes\": $(bytes_of "$WORK/q8.onnx" "$WORK/q8.onnx.data")}"
  timed "write-once-$size" dd if=/dev/zero of="$WORK/write-once" bs=1M oflag=direct count=$(( $(bytes_of "$WORK/q8.onnx.data") >> 20 ))
  rm -f "$WORK/write-once"
  [ "$GPTQ" = 1 ] && timed "gptq4-$size" "$EMBER" quantize "$model" --weights int4 --method gptq --calib "$WORK/calib512.npy" -o "$WORK/q4g.onnx"
  rm -f "$WORK"/q4g.onnx*
  if [ "$RT" = 1 ]; then
    for q in q4 q8; do
      rm -f "$WORK/$q.onnx.ember-pack"
      for start in first cold warm; do
        flags=(--runs 5 --json)
        [ $start = cold ] && flags+=(--cold)
        echo "{\"size_b\": $size, \"model\": \"$q\", \"start\": \"$start\", \"rt\": $("$RT_BIN" bench "$WORK/$q.onnx" --input-shape input_ids=1x1 --threads 2 "${flags[@]}" | tr -d '\n')}"
      done
      for t in 1 2; do
        echo "{\"size_b\": $size, \"model\": \"$q\", \"decode_threads\": $t, \"rt\": $("$RT_BIN" bench "$WORK/$q.onnx" --input-shape input_ids=1x1 --threads $t --runs 20 --read-bandwidth --json | tr -d '\n')}"
      done
      echo "{\"size_b\": $size, \"model\": \"$q\", \"prefill\": 256, \"rt\": $("$RT_BIN" bench "$WORK/$q.onnx" --input-shape input_ids=1x256 --threads 2 --runs 5 --json | tr -d '\n')}"
    done
  fi
  rm -f "$model" "$model.data" "$WORK"/q4.onnx* "$WORK"/q8.onnx*
done
