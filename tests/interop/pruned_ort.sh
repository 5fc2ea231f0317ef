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
finish
