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
expect_exit 0 "prune digits" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --calib-limit 32 \
  --ffn 0.25 --score taylor --recovery bias -o "$WORK/digits.onnx"
expect_exit 0 "pruned digits matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember "$WORK/digits.onnx" \
  --ember "$EMBER" --task classify --data "$S/digits-eval.npz" --rows 4 --tol 1e-4
cat "$WORK/out"
finish
