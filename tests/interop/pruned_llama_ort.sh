#!/usr/bin/env bash
# A tiny Llama (RMSNorm, rotary, SwiGLU, grouped-query attention; tests/fixtures/make_tiny_llama)
# pruned by `ember prune` (gated FFN neurons and KV groups, issue 15) runs in onnxruntime-node
# with Ember's outputs, with and without recovery.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/models.sh"
need_node
MAKE_LLAMA=${2:?usage: pruned_llama_ort.sh EMBER MAKE_TINY_LLAMA}
"$MAKE_LLAMA" "$WORK" || { echo "FAIL: make_tiny_llama"; exit 1; }
expect_exit 0 "the unpruned llama matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember "$WORK/llama.onnx" \
  --ember "$EMBER" --task lm --data "$WORK/eval.npy" --rows 4 --tol 1e-4
cat "$WORK/out"
for recovery in none lsq; do
  expect_exit 0 "prune llama ($recovery)" -- "$EMBER" prune "$WORK/llama.onnx" --calib "$WORK/calib.npy" --ffn 0.3 \
    --heads 0.5 --score wanda --head-score magnitude --recovery $recovery -o "$WORK/llama-$recovery.onnx"
  expect_exit 0 "pruned llama ($recovery) matches ort" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
    "$WORK/llama-$recovery.onnx" --ember "$EMBER" --task lm --data "$WORK/eval.npy" --rows 4 --tol 1e-4
  cat "$WORK/out"
done
finish
