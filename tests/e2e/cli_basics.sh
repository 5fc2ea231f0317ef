#!/usr/bin/env bash
# The CLI's everyday paths and its answers to bad input (exit 2, a message, no output file).
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples

expect_exit 0 "--version" -- "$EMBER" --version
expect_stdout_contains "ember "
expect_exit 0 "--help" -- "$EMBER" --help
for sub in inspect passes opt run eval; do
  expect_exit 0 "$sub --help" -- "$EMBER" "$sub" --help
done
expect_exit 2 "no subcommand" -- "$EMBER"

expect_exit 0 "inspect gpt2-tiny" -- "$EMBER" inspect "$S/kjv-gpt2-tiny.onnx"
expect_stdout_contains "Gemm"
expect_stdout_contains "input_ids"
expect_stdout_contains "largest tensors"
expect_exit 0 "inspect --json" -- "$EMBER" inspect "$S/digits-cnn.onnx" --json
expect_stdout_contains '"Conv": 2'
expect_exit 0 "passes" -- "$EMBER" passes
expect_stdout_contains "dedupe-initializers"

out=$WORK/opt.onnx
expect_exit 0 "opt cleanup" -- "$EMBER" opt "$S/kjv-gpt2-tiny.onnx" --passes "dce,remove-identity,dedupe-initializers" -o "$out"
[ -s "$out" ] && pass || fail "opt wrote no model"
expect_exit 0 "inspect opt output" -- "$EMBER" inspect "$out"
expect_exit 0 "opt --external-data" -- "$EMBER" opt "$S/digits-cnn.onnx" --passes dce --external-data -o "$WORK/ext.onnx"
[ -s "$WORK/ext.onnx.data" ] && pass || fail "--external-data wrote no .data file"
expect_exit 0 "inspect external" -- "$EMBER" inspect "$WORK/ext.onnx"
expect_stdout_contains "external data: [0-9]* tensors"
expect_exit 0 "run external-data model" -- "$EMBER" eval "$WORK/ext.onnx" --task classify --data "$S/digits-eval.npz" --limit 32

# Bad input: each exits 2, names the problem, and leaves no output behind.
: > "$WORK/empty.onnx"
head -c 4096 /dev/urandom > "$WORK/random.onnx"
head -c 100000 "$S/kjv-gpt2-tiny.onnx" > "$WORK/truncated.onnx"
for bad in empty random truncated; do
  expect_exit 2 "inspect $bad file" -- "$EMBER" inspect "$WORK/$bad.onnx"
  expect_stderr_contains "$bad.onnx"
done
expect_exit 2 "inspect a directory" -- "$EMBER" inspect "$WORK"
expect_exit 2 "inspect a missing file" -- "$EMBER" inspect "$WORK/nope.onnx"
expect_stderr_contains "nope.onnx"
rm -f "$WORK/ext.onnx.data"
expect_exit 2 "missing external data" -- "$EMBER" inspect "$WORK/ext.onnx"
expect_stderr_contains "ext.onnx.data"
expect_exit 2 "unknown pass" -- "$EMBER" opt "$S/digits-cnn.onnx" --passes "dce,frobnicate" -o "$WORK/x.onnx"
expect_stderr_contains "frobnicate"
expect_exit 2 "bad pass option" -- "$EMBER" opt "$S/digits-cnn.onnx" --passes "dce{bits=4}" -o "$WORK/x.onnx"
expect_stderr_contains "bits"
expect_exit 2 "malformed pipeline" -- "$EMBER" opt "$S/digits-cnn.onnx" --passes "dce{" -o "$WORK/x.onnx"
[ -e "$WORK/x.onnx" ] && fail "a failed opt left $WORK/x.onnx" || pass
expect_exit 2 "unwritable output" -- "$EMBER" opt "$S/digits-cnn.onnx" --passes dce -o /proc/ember-nope/x.onnx
expect_exit 2 "output into a missing directory" -- "$EMBER" opt "$S/digits-cnn.onnx" --passes dce -o "$WORK/no/such/dir/x.onnx"
ls "$WORK"/no 2>/dev/null && fail "partial output directory" || pass
ls "$WORK" | grep -q '\.tmp' && fail "temporary file left behind" || pass

# A recipe that quantizes nothing: exit 2 with the reason, and no output file.
expect_exit 2 "quantize with every layer excluded" -- "$EMBER" quantize "$S/digits-cnn.onnx" --exclude '.*' -o "$WORK/none.onnx"
expect_stderr_contains "nothing to quantize"
[ -e "$WORK/none.onnx" ] && fail "quantize wrote a model that quantized nothing" || pass

finish
