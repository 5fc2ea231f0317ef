#!/usr/bin/env bash
# Ember's interpreter matches onnxruntime-node on each model's eval inputs
# (max |ember - ort| / max |ort| <= 1e-4).
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/models.sh"
need_node
while read -r model task data; do
  name=$(basename "$model" .onnx)
  expect_exit 0 "ember matches ort on $name" -- node "$ROOT/tests/interop/ort_check.js" match-ember "$model" --ember "$EMBER" --task "$task" --data "$data" --rows 4 --tol 1e-4
  cat "$WORK/out"
done < <(interop_models)
finish
