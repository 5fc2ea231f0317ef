#!/usr/bin/env bash
# Load then save (and the cleanup pipeline) of each model gives a file that onnxruntime-node
# loads and that produces bit-identical outputs to the original on the eval inputs.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/models.sh"
need_node
while read -r model task data; do
  name=$(basename "$model" .onnx)
  expect_exit 0 "re-save $name" -- "$EMBER" opt "$model" -o "$WORK/$name.resaved.onnx"
  expect_exit 0 "ort same outputs (re-save) $name" -- node "$ROOT/tests/interop/ort_check.js" same-outputs "$model" "$WORK/$name.resaved.onnx" --task "$task" --data "$data" --rows 3
  cat "$WORK/out"
  expect_exit 0 "cleanup $name" -- "$EMBER" opt "$model" --passes "dce,remove-identity,dedupe-initializers" -o "$WORK/$name.clean.onnx"
  expect_exit 0 "ort same outputs (cleanup) $name" -- node "$ROOT/tests/interop/ort_check.js" same-outputs "$model" "$WORK/$name.clean.onnx" --task "$task" --data "$data" --rows 3
  cat "$WORK/out"
  rm -f "$WORK"/*.onnx
done < <(interop_models)
finish
