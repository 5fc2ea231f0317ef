#!/usr/bin/env bash
# Quality of every quantization scheme (issue 4), with the tool's own time and peak memory:
# `ember quantize` on the shared models (all calibration rows), then the evaluation protocol in
# `ember eval` and, as a cross-check, in onnxruntime-node (bench/ort_eval.js) on the same file.
#   bench/quality.sh [BUILD_DIR]      prints a markdown table
# Needs ../shared and onnxruntime-node (build/node/node_modules, as scripts/test.sh installs it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
M=$ROOT/../shared/models
D=$ROOT/../shared/data
OUT=$BUILD/quality-models
export NODE_PATH=${NODE_PATH:-$ROOT/build/node/node_modules}
mkdir -p "$OUT"

# model | task | calibration | eval | scheme name | ember quantize flags
cases=(
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|W8 (qdq)|--weights int8"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|W8A8 dynamic, per row (ort)|--weights int8 --activations dynamic --format ort"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|W8A8 dynamic, per tensor (qdq)|--weights int8 --activations dynamic"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|W8A8 static percentile (qdq)|--weights int8 --activations static"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|W8A8 static entropy (qdq)|--weights int8 --activations static --calib-method entropy"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|W8A8 static mse + SmoothQuant 0.5|--weights int8 --activations static --calib-method mse --smoothquant 0.5"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|INT4 b32 RTN (qdq)|--weights int4 --block 32"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|INT4 b32 GPTQ (qdq)|--weights int4 --block 32 --method gptq"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|INT4 b32 AWQ (qdq)|--weights int4 --block 32 --method awq"
  "kjv-gpt2|lm|kjv-lm-calib.npy|kjv-lm-eval.npy|INT4 b32 GPTQ (MatMulNBits)|--weights int4 --block 32 --method gptq --format ort"
  "kjv-bert|classify|kjv-cls-calib.npz|kjv-cls-eval.npz|W8 (qdq)|--weights int8"
  "kjv-bert|classify|kjv-cls-calib.npz|kjv-cls-eval.npz|W8A8 dynamic (ort)|--weights int8 --activations dynamic --format ort"
  "kjv-bert|classify|kjv-cls-calib.npz|kjv-cls-eval.npz|W8A8 static (qdq)|--weights int8 --activations static"
  "kjv-bert|classify|kjv-cls-calib.npz|kjv-cls-eval.npz|INT4 b32 GPTQ (qdq)|--weights int4 --block 32 --method gptq"
  "digits-cnn|classify|digits-calib.npz|digits-eval.npz|W8 (qdq)|--weights int8"
  "digits-cnn|classify|digits-calib.npz|digits-eval.npz|W8A8 dynamic (ort)|--weights int8 --activations dynamic --format ort"
  "digits-cnn|classify|digits-calib.npz|digits-eval.npz|W8A8 static (qdq)|--weights int8 --activations static"
  "digits-cnn|classify|digits-calib.npz|digits-eval.npz|INT4 b32 GPTQ (qdq)|--weights int4 --block 32 --method gptq"
)
echo "| model | scheme | ember eval | onnxruntime eval | file MB | quantize s | quantize peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"
for c in "${cases[@]}"; do
  IFS='|' read -r model task calib eval scheme flags <<<"$c"
  out="$OUT/$model-$(echo "$scheme" | tr -c 'A-Za-z0-9' '_').onnx"
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$BUILD/ember" quantize "$M/$model.onnx" $flags --calib "$D/$calib" -o "$out" >/dev/null 2>"$OUT/err.txt" ||
    { echo "| $model | $scheme | quantize failed: $(tail -1 "$OUT/err.txt") | | | | |"; continue; }
  read -r secs rss_kb <"$OUT/time.txt"
  ember=$("$BUILD/ember" eval "$out" --task "$task" --data "$D/$eval" --json 2>/dev/null | grep -o '"value": [0-9.e+-]*' | awk '{print $2}')
  peer=$(node "$ROOT/bench/ort_eval.js" "$out" --task "$task" --data "$D/$eval" | grep -o '"value":[0-9.e+-]*' | cut -d: -f2)
  printf "| %s | %s | %.4f | %.4f | %.2f | %.1f | %.0f |\n" "$model" "$scheme" "$ember" "$peer" \
    "$(echo "$(stat -c %s "$out") / 1000000" | bc -l)" "$secs" "$(echo "$rss_kb / 1024" | bc -l)"
done
