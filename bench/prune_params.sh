#!/usr/bin/env bash
# kjv-gpt2 under one parameter budget (issue 15: 20% of the non-embedding parameters, FFN neurons
# and heads): for each configuration, `ember prune --params R --min-keep K [FLAGS]` with the
# recovery (lsq, the default) and the same selection without it (--recovery none), both scored
# by `ember eval` and, with --ort, by onnxruntime-node (bench/ort_eval.js); with --quantize the
# recovered model also goes through `ember quantize --weights int4 --block 32 --method gptq`.
# One line per configuration:
#   R K FLAGS | prune s | MB | lsq | none | recovered share | [ort lsq] | [int4: MB, bits/byte, ort]
# Usage: bash bench/prune_params.sh [--ort] [--quantize] CONFIG_FILE
#   CONFIG_FILE lines: "R K [FLAGS...]", e.g. "0.201 0.7" or "0.201 0.7 --select score".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EMBER=${EMBER:-$ROOT/build/ember}
SHARED=${SHARED:-$ROOT/../shared}
export NODE_PATH=${NODE_PATH:-$ROOT/build/node/node_modules}
ORT=0 QUANT=0
while [ $# -gt 1 ]; do
  case $1 in
    --ort) ORT=1 ;;
    --quantize) QUANT=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
CONFIGS=$1
M=$SHARED/models/kjv-gpt2.onnx C=$SHARED/data/kjv-lm-calib.npy D=$SHARED/data/kjv-lm-eval.npy
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

bpb() { "$EMBER" eval "$1" --task lm --data "$D" 2>/dev/null | awk '/bits_per_byte/ {print $2}'; }
ort_bpb() { node "$ROOT/bench/ort_eval.js" "$1" --task lm --data "$D" | sed 's/.*"value":\([0-9.]*\).*/\1/'; }
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f", b / 1e6 }'; }

while read -r ratio keep flags; do
  [ -z "$ratio" ] || [ "${ratio:0:1}" = "#" ] && continue
  # shellcheck disable=SC2086
  prune() { "$EMBER" prune "$M" --calib "$C" --params "$ratio" --min-keep "$keep" $flags "$@" > "$WORK/log" 2>&1 || { tail -3 "$WORK/log"; return 1; }; }
  start=$(date +%s.%N)
  prune -o "$WORK/lsq.onnx" || continue
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  prune --recovery none -o "$WORK/none.onnx" || continue
  lsq=$(bpb "$WORK/lsq.onnx") none=$(bpb "$WORK/none.onnx")
  share=$(awk -v l="$lsq" -v n="$none" 'BEGIN { printf "%.1f%%", 100 * (n - l) / (n - 1.1329) }')
  line="$ratio $keep ${flags:-(defaults)} | ${secs} s | $(mb "$WORK/lsq.onnx") MB | $lsq | $none | $share"
  [ $ORT = 1 ] && line="$line | ort $(ort_bpb "$WORK/lsq.onnx")"
  if [ $QUANT = 1 ]; then
    "$EMBER" quantize "$WORK/lsq.onnx" --calib "$C" --calib-limit 64 --weights int4 --block 32 --method gptq -o "$WORK/q.onnx" \
      > "$WORK/qlog" 2>&1 || { tail -3 "$WORK/qlog"; continue; }
    line="$line | int4 b32: $(stat -c %s "$WORK/q.onnx") B, $(bpb "$WORK/q.onnx")"
    [ $ORT = 1 ] && line="$line, ort $(ort_bpb "$WORK/q.onnx")"
  fi
  echo "$line"
done < "$CONFIGS"
