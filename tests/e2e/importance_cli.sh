#!/usr/bin/env bash
# `ember importance` (issue 6) on the sample models: every loss, the JSON report against its
# schema's required fields, the ranked table, and the bad-input cases (exit 2 with a reason).
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples

for loss in ce pseudo mse; do
  expect_exit 0 "importance digits --loss $loss" -- "$EMBER" importance "$S/digits-cnn.onnx" --data "$S/digits-calib.npz" \
    --limit 16 --loss $loss -o "$WORK/digits-$loss.json"
  expect_stdout_contains "Conv"
  [ -s "$WORK/digits-$loss.json" ] && pass || fail "importance --loss $loss wrote no report"
done
expect_exit 0 "importance gpt2-tiny --loss lm --json" -- "$EMBER" importance "$S/kjv-gpt2-tiny.onnx" --data "$S/kjv-lm-calib.npy" \
  --limit 4 --batch 1 --loss lm --json
# The report names the loss, scores each weight, and predicts INT8/INT4 sensitivities.
for key in '"loss"' '"taylor"' '"candidates"' '"int4"' '"attention"' '"fisher"'; do expect_stdout_contains "$key"; done
grep -v '_*seconds"' "$WORK/out" >"$WORK/tiny.json"  # all but the timings

# Deterministic: the same inputs give the same report.
expect_exit 0 "importance gpt2-tiny again" -- "$EMBER" importance "$S/kjv-gpt2-tiny.onnx" --data "$S/kjv-lm-calib.npy" \
  --limit 4 --batch 1 --loss lm --json
grep -v '_*seconds"' "$WORK/out" | cmp -s - "$WORK/tiny.json" && pass || fail "two importance runs differ"

# A loss that does not fit the model.
expect_exit 2 "lm loss on a classifier" -- "$EMBER" importance "$S/digits-cnn.onnx" --data "$S/digits-calib.npz" --loss lm
expect_stderr_contains "lm needs logits"
expect_exit 2 "ce loss without labels" -- "$EMBER" importance "$S/kjv-gpt2-tiny.onnx" --data "$S/kjv-lm-calib.npy" --loss ce --limit 2
expect_stderr_contains "ce needs logits"
# An op without a backward rule on the gradient path (run-time activation quantization).
expect_exit 0 "make a dynamically quantized model" -- "$EMBER" quantize "$S/digits-cnn.onnx" --weights int8 --activations dynamic \
  --format ort -o "$WORK/dyn.onnx"
# The integer MatMul (run-time quantized activations) has no rule: it cuts off every weight, named.
expect_exit 2 "importance through MatMulInteger" -- "$EMBER" importance "$WORK/dyn.onnx" --data "$S/digits-calib.npz" --limit 4
expect_stderr_contains "cut off every weight"
expect_stderr_contains "MatMulInteger"
expect_exit 2 "missing data file" -- "$EMBER" importance "$S/digits-cnn.onnx" --data "$WORK/none.npz"
[ -e "$WORK/none.json" ] && fail "a failed run wrote a report" || pass
finish
