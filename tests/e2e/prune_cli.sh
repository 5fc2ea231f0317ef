#!/usr/bin/env bash
# `ember prune` (issue 15) on the sample models: the per-layer table, --json, a smaller file,
# determinism, and the bad-input cases (exit 2 naming the option, or what was looked for).
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples

expect_exit 0 "prune gpt2-tiny" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --calib-limit 8 \
  --ffn 0.3 --score wanda --recovery lsq -o "$WORK/tiny.onnx"
for word in neurons parameters MACs/token node_addmm_2 wrote; do expect_stdout_contains "$word"; done
[ "$(stat -c %s "$WORK/tiny.onnx")" -lt "$(stat -c %s "$S/kjv-gpt2-tiny.onnx")" ] && pass || fail "the pruned file is not smaller"
expect_exit 0 "the pruned model evaluates" -- "$EMBER" eval "$WORK/tiny.onnx" --task lm --data "$S/kjv-lm-eval.npy"
expect_stdout_contains "bits_per_byte"
expect_exit 0 "prune again" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --calib-limit 8 \
  --ffn 0.3 --score wanda --recovery lsq -o "$WORK/tiny2.onnx"
cmp -s "$WORK/tiny.onnx" "$WORK/tiny2.onnx" && pass || fail "two prune runs differ"
expect_exit 0 "prune digits --json" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --calib-limit 32 \
  --ffn 0.25 --score taylor --recovery bias -o "$WORK/digits.onnx" --json
for key in '"layers"' '"units_after"' '"macs_before"' '"file_bytes_after"' '"skipped"'; do expect_stdout_contains "$key"; done

# Attention heads: the table has a row per block (unit "heads"), --json says so, the run is deterministic.
expect_exit 0 "prune gpt2-tiny heads" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --calib-limit 8 \
  --ffn 0.2 --heads 0.25 --score wanda --head-score magnitude --recovery lsq -o "$WORK/heads.onnx"
for word in heads node_addmm_1 4-\>2; do expect_stdout_contains "$word"; done
expect_exit 0 "prune gpt2-tiny heads --json" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" \
  --calib-limit 8 --ffn 0.2 --heads 0.25 --score wanda --head-score magnitude --recovery lsq -o "$WORK/heads2.onnx" --json
for key in '"unit": "heads"' '"heads": 0.25' '"head_score": "magnitude"'; do expect_stdout_contains "$key"; done
cmp -s "$WORK/heads.onnx" "$WORK/heads2.onnx" && pass || fail "two head-pruning runs differ"
expect_exit 0 "the head-pruned model evaluates" -- "$EMBER" eval "$WORK/heads.onnx" --task lm --data "$S/kjv-lm-eval.npy"
expect_stdout_contains "bits_per_byte"
# Narrowed heads: one budget with FFN neurons, a row per block (unit "head-dims", 64->32), --json
# says so, deterministic, and the narrowed model evaluates; bad widths and --heads with it are refused.
expect_exit 0 "prune gpt2-tiny head-width" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --calib-limit 8 \
  --params 0.2 --head-width 0.5 -o "$WORK/narrow.onnx"
for word in head-dims 'total (pruned layers)'; do expect_stdout_contains "$word"; done
expect_exit 0 "prune gpt2-tiny head-width --json" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" \
  --calib-limit 8 --params 0.2 --head-width 0.5 -o "$WORK/narrow2.onnx" --json
for key in '"unit": "head-dims"' '"head_width": 0.5'; do expect_stdout_contains "$key"; done
cmp -s "$WORK/narrow.onnx" "$WORK/narrow2.onnx" && pass || fail "two head-width runs differ"
expect_exit 0 "the narrowed model evaluates" -- "$EMBER" eval "$WORK/narrow.onnx" --task lm --data "$S/kjv-lm-eval.npy"
expect_exit 2 "head width 1" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --head-width 1 -o "$WORK/bad.onnx"
expect_stderr_contains "--head-width"
expect_exit 2 "head width with heads" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --heads 0.25 \
  --head-width 0.5 -o "$WORK/bad.onnx"
expect_stderr_contains "--head-width"
expect_exit 2 "heads ratio 1" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --heads 1 -o "$WORK/bad.onnx"
expect_stderr_contains "--heads"
expect_exit 2 "no attention in digits" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --heads 0.5 \
  --ffn 0 -o "$WORK/bad.onnx"
expect_stderr_contains "no prunable attention heads"

expect_exit 2 "ratio 1" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --ffn 1 -o "$WORK/bad.onnx"
expect_stderr_contains "--ffn"
expect_exit 2 "negative ratio" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --ffn -0.5 -o "$WORK/bad.onnx"
expect_stderr_contains "--ffn"
expect_exit 2 "refit rows 0" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --refit-rows 0 -o "$WORK/bad.onnx"
expect_stderr_contains "--refit-rows"
expect_exit 2 "unknown score" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --score l2 -o "$WORK/bad.onnx"
expect_stderr_contains "--score"
expect_exit 2 "unknown selection" -- "$EMBER" prune "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --select lowest -o "$WORK/bad.onnx"
expect_stderr_contains "--select"
# --select score (the units with the lowest scores) against the default obs: both deterministic, same sizes.
expect_exit 0 "prune gpt2-tiny --select score" -- "$EMBER" prune "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --calib-limit 8 \
  --ffn 0.3 --score wanda --recovery lsq --select score -o "$WORK/tiny_score.onnx"
[ "$(stat -c %s "$WORK/tiny_score.onnx")" = "$(stat -c %s "$WORK/tiny.onnx")" ] && pass || fail "the selections removed different counts"
# Quantized weights are no f32 layers: nothing to prune, and the message says what was looked for.
expect_exit 0 "make an INT8 model" -- "$EMBER" quantize "$S/digits-cnn.onnx" --weights int8 -o "$WORK/int8.onnx"
expect_exit 2 "no prunable group" -- "$EMBER" prune "$WORK/int8.onnx" --calib "$S/digits-calib.npz" --score magnitude -o "$WORK/bad.onnx"
expect_stderr_contains "no prunable FFN group"
[ -e "$WORK/bad.onnx" ] && fail "a failed run wrote a model" || pass
finish
