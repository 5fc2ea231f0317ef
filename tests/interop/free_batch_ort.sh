#!/usr/bin/env bash
# free-batch (issue 18): the GPT-2 exports fix their batch to 1 inside the graph, so onnxruntime
# refuses a batch; after `ember opt --passes free-batch` each row of a batch equals its batch-1
# run in onnxruntime-node (FP32, and INT8 weights made by `ember quantize` after the pass).
# Ember's own batched rows are checked by the unit tests (tests/unit/passes/test_free_batch.cc).
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/models.sh"
need_node
models=("$ROOT/samples/kjv-gpt2-tiny.onnx")
if [ -f "$SHARED/models/kjv-gpt2.onnx" ]; then models+=("$SHARED/models/kjv-gpt2.onnx"); else echo "note: $SHARED/models/kjv-gpt2.onnx is absent"; fi
for model in "${models[@]}"; do
  name=$(basename "$model" .onnx)
  expect_exit 0 "ort refuses a batch of the original $name" -- node "$ROOT/tests/interop/batch_rows.js" "$model" --expect-refusal
  cat "$WORK/out"
  expect_exit 0 "free-batch $name" -- "$EMBER" opt "$model" --passes free-batch -o "$WORK/$name-free.onnx"
  for seq in 8 13; do
    expect_exit 0 "$name after free-batch: rows of a batch equal their batch-1 runs in ort (seq $seq)" -- \
      node "$ROOT/tests/interop/batch_rows.js" "$WORK/$name-free.onnx" --rows 3 --seq $seq --tol 1e-6
    cat "$WORK/out"
  done
  expect_exit 0 "quantize $name after free-batch" -- "$EMBER" quantize "$WORK/$name-free.onnx" --weights int8 -o "$WORK/$name-free-int8.onnx"
  expect_exit 0 "$name INT8 after free-batch: rows equal in ort" -- \
    node "$ROOT/tests/interop/batch_rows.js" "$WORK/$name-free-int8.onnx" --rows 4 --seq 16 --tol 1e-6
  cat "$WORK/out"
done
# A model whose rows mix cannot be freed: dynamic activation quantization scales the whole
# tensor at once, so free-batch refuses naming the node.
expect_exit 0 "quantize gpt2-tiny with dynamic activations" -- "$EMBER" quantize "$ROOT/samples/kjv-gpt2-tiny.onnx" \
  --weights int8 --activations dynamic -o "$WORK/tiny-dyn.onnx"
expect_exit 2 "free-batch refuses dynamic activation quantization" -- "$EMBER" opt "$WORK/tiny-dyn.onnx" --passes free-batch -o "$WORK/x.onnx"
expect_stderr_contains "DynamicQuantizeLinear"
[ ! -e "$WORK/x.onnx" ] && pass || fail "a refused free-batch left an output behind"
finish
