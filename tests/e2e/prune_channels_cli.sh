#!/usr/bin/env bash
# `ember prune --channels` (issue 15, convolution channels) on the digits sample: the per-group
# table, --json, a smaller file that still classifies, determinism, both unit kinds at once, and
# the bad-input cases (exit 2 naming the option, or saying what was looked for).
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples

expect_exit 0 "prune digits channels" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" \
  --channels 0.5 --recovery lsq -o "$WORK/digits.onnx"
for word in "channel group" /c1/Conv /c2/Conv /f1/Gemm MACs/image "model multiply-adds" wrote; do expect_stdout_contains "$word"; done
[ "$(stat -c %s "$WORK/digits.onnx")" -lt "$(stat -c %s "$S/digits-cnn.onnx")" ] && pass || fail "the pruned file is not smaller"
expect_exit 0 "the pruned model evaluates" -- "$EMBER" eval "$WORK/digits.onnx" --task classify --data "$S/digits-eval.npz"
expect_stdout_contains "accuracy"
expect_exit 0 "prune again" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" \
  --channels 0.5 --recovery lsq -o "$WORK/digits2.onnx"
cmp -s "$WORK/digits.onnx" "$WORK/digits2.onnx" && pass || fail "two prune runs differ"
expect_exit 0 "prune --json, rounded to 4" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" \
  --channels 0.5 --multiple 4 --score fluctuation --ranking uniform --json -o "$WORK/digits4.onnx"
for key in '"channel_groups"' '"channels_after": 8' '"channels_after": 16' '"model_macs_before"' '"channel_skipped"'; do
  expect_stdout_contains "$key"
done
expect_exit 0 "channels and FFN neurons at once" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" \
  --channels 0.25 --ffn 0.25 -o "$WORK/both.onnx"
for word in neurons "channel group" /f2/Gemm; do expect_stdout_contains "$word"; done

expect_exit 2 "channels 1" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --channels 1 -o "$WORK/bad.onnx"
expect_stderr_contains "--channels"
expect_exit 2 "negative channels" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --channels -0.5 -o "$WORK/bad.onnx"
expect_stderr_contains "--channels"
expect_exit 2 "a transformer has no channel group" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" \
  --calib-limit 4 --channels 0.5 -o "$WORK/bad.onnx"
expect_stderr_contains "no prunable convolution channel group"
expect_stderr_contains "Conv"
expect_exit 0 "make an INT8 model" -- "$EMBER" quantize "$S/digits-cnn.onnx" --weights int8 -o "$WORK/int8.onnx"
expect_exit 2 "quantized convs are no channel groups" -- "$EMBER" prune "$WORK/int8.onnx" --calib "$S/digits-calib.npz" \
  --channels 0.5 --score magnitude -o "$WORK/bad.onnx"
expect_stderr_contains "no prunable convolution channel group"
expect_stderr_contains "no constant f32 weight"
[ -e "$WORK/bad.onnx" ] && fail "a failed run wrote a model" || pass
finish
