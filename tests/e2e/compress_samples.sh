#!/usr/bin/env bash
# The main job on the bundled samples: ember compress writes model.onnx, manifest.json and
# report.md; the same inputs give byte-identical outputs; ember-rt runs the result and refuses
# a manifest that does not match the model.
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples
RT=$(dirname "$EMBER")/ember-rt

expect_exit 0 "compress digits" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" --task classify -o "$WORK/digits"
for f in model.onnx manifest.json report.md; do [ -s "$WORK/digits/$f" ] && pass || fail "compress wrote no $f"; done
grep -q '"schema": "ember.manifest/1"' "$WORK/digits/manifest.json" && pass || fail "manifest has no schema tag"
grep -q "| layer |" "$WORK/digits/report.md" && pass || fail "report has no layer table"
expect_exit 0 "compress digits again" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" --task classify -o "$WORK/digits2"
for f in model.onnx manifest.json report.md; do
  cmp -s "$WORK/digits/$f" "$WORK/digits2/$f" && pass || fail "$f differs between two identical runs"
done
expect_exit 0 "eval compressed digits" -- "$EMBER" eval "$WORK/digits/model.onnx" --task classify --data "$S/digits-eval.npz" --json
acc=$(grep -o '"value": [0-9.]*' "$WORK/out" | awk '{print $2}')
awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' && pass || fail "compressed digits accuracy $acc < 0.97"

expect_exit 0 "compress gpt2-tiny" -- "$EMBER" compress "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --eval "$S/kjv-lm-eval.npy" --task lm --eval-limit 4 -o "$WORK/tiny"
[ -s "$WORK/tiny/model.onnx" ] && pass || fail "compress gpt2-tiny wrote no model"

# ember-rt: runs the compressed model with its manifest; refuses a mismatching manifest.
expect_exit 0 "ember-rt bench with manifest" -- "$RT" bench "$WORK/digits/model.onnx" --manifest "$WORK/digits/manifest.json" --input-shape image=8x1x8x8 --runs 3
expect_exit 2 "ember-rt with another model's manifest" -- "$RT" bench "$S/digits-cnn.onnx" --manifest "$WORK/digits/manifest.json" --input-shape image=8x1x8x8 --runs 1
expect_stderr_contains "sha256"

# Bad input to compress: exit 2 with a message naming the problem, no output directory content.
expect_exit 2 "calib of the wrong model" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/kjv-lm-calib.npy" --eval "$S/digits-eval.npz" --task classify -o "$WORK/bad"
expect_stderr_contains "image"
[ -e "$WORK/bad/model.onnx" ] && fail "a failed compress wrote a model" || pass
expect_exit 2 "missing calibration file" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$WORK/none.npz" --eval "$S/digits-eval.npz" --task classify -o "$WORK/bad"
finish
