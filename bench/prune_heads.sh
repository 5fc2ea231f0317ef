#!/usr/bin/env bash
# Structured pruning with attention heads (issue 15) on ../shared's kjv-gpt2 and kjv-bert:
# each configuration is pruned by `ember prune`, scored by `ember eval` and, with --ort,
# cross-checked by onnxruntime-node (bench/ort_eval.js). One line per configuration:
#   model ffn heads score head-score ranking recovery | prune seconds | file MB | ember quality | ort quality
# Usage: bash bench/prune_heads.sh [--ort] [--calib-limit N] [--quantize] CONFIG_FILE
#   CONFIG_FILE lines: "gpt2|bert FFN HEADS SCORE HEAD_SCORE RANKING RECOVERY"; --quantize also writes the
#   pruned model through quantize-weights{bits=4,block=32,method=gptq} and scores that.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EMBER=${EMBER:-$ROOT/build/ember}
SHARED=${SHARED:-$ROOT/../shared}
export NODE_PATH=${NODE_PATH:-$ROOT/build/node/node_modules}
ORT=0 QUANT=0 LIMIT=64
while [ $# -gt 1 ]; do
  case $1 in
    --ort) ORT=1 ;;
    --quantize) QUANT=1 ;;
    --calib-limit) LIMIT=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
CONFIGS=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

quality() {  # MODEL TASK DATA -> value printed by ember eval
  "$EMBER" eval "$1" --task "$2" --data "$3" 2>/dev/null | awk '/bits_per_byte|accuracy/ {print $2}'
}
ort_quality() {
  if [ $ORT = 1 ]; then node "$ROOT/bench/ort_eval.js" "$1" --task "$2" --data "$3" | sed 's/.*"value":\([0-9.]*\).*/\1/'; else echo -; fi
}
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f", b / 1e6 }'; }

while read -r model ffn heads score head_score ranking recovery; do
  [ -z "$model" ] || [ "${model:0:1}" = "#" ] && continue
  if [ "$model" = gpt2 ]; then
    M=$SHARED/models/kjv-gpt2.onnx C=$SHARED/data/kjv-lm-calib.npy T=lm D=$SHARED/data/kjv-lm-eval.npy
  else
    M=$SHARED/models/kjv-bert.onnx C=$SHARED/data/kjv-cls-calib.npz T=classify D=$SHARED/data/kjv-cls-eval.npz
  fi
  out=$WORK/pruned.onnx
  start=$(date +%s.%N)
  "$EMBER" prune "$M" --calib "$C" --calib-limit "$LIMIT" --ffn "$ffn" --heads "$heads" --score "$score" --head-score "$head_score" \
    --ranking "$ranking" --recovery "$recovery" -o "$out" > "$WORK/log" 2>&1 || { tail -3 "$WORK/log"; continue; }
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  line="$model ffn=$ffn heads=$heads $score $head_score $ranking $recovery | ${secs} s | $(mb "$out") MB | $(quality "$out" $T "$D") | $(ort_quality "$out" $T "$D")"
  if [ $QUANT = 1 ]; then
    "$EMBER" opt "$out" --calib "$C" --passes "quantize-weights{bits=4,block=32,method=gptq}" -o "$WORK/q.onnx" > "$WORK/qlog" 2>&1 \
      || { tail -3 "$WORK/qlog"; continue; }
    line="$line | int4 b32 gptq: $(mb "$WORK/q.onnx") MB | $(quality "$WORK/q.onnx" $T "$D") | $(ort_quality "$WORK/q.onnx" $T "$D")"
  fi
  echo "$line"
done < "$CONFIGS"
