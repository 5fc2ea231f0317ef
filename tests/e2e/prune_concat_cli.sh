#!/usr/bin/env bash
# `ember prune --channels` through Concat (issue 15) on a SqueezeNet-shaped CNN that
# tests/fixtures/make_fire_cnn writes (fire-module Concats tied by a bypass Add, and a
# Resize + Concat fusion): the Concat groups are pruned jointly and say so, the file shrinks,
# the pruned model runs (and matches onnxruntime-node when it is installed), runs are
# deterministic, and a channel shuffle after a Concat leaves its branches alone with the reason.
source "$(dirname "$0")/lib.sh"
MAKE_FIRE=${2:?usage: prune_concat_cli.sh EMBER MAKE_FIRE_CNN}
"$MAKE_FIRE" "$WORK" || { echo "FAIL: make_fire_cnn"; exit 1; }

prune() { "$EMBER" prune "$WORK/$1" --calib "$WORK/calib.npy" --channels 0.5 --ranking uniform "${@:2}"; }
expect_exit 0 "prune the fire CNN (lsq)" -- prune fire.onnx --score taylor --recovery lsq -o "$WORK/p.onnx"
cat "$WORK/out"
for word in "fire1.expand1+fire1.expand3+fire2.expand1+fire2.expand3" "32->16" "down+side" \
  "channels pruned jointly: fire1.expand1+fire1.expand3+fire2.expand1+fire2.expand3: Concat 'fire1.cat' joins 2 inputs" \
  "channels pruned jointly: down+side: Concat 'fuse' joins 2 inputs" wrote; do
  expect_stdout_contains "$word"
done
grep -q "left alone" "$WORK/out" && fail "a group of the fire CNN was left alone" || pass
[ "$(stat -c %s "$WORK/p.onnx")" -lt "$(stat -c %s "$WORK/fire.onnx")" ] && pass || fail "the pruned file is not smaller"
expect_exit 0 "the pruned fire CNN runs" -- "$EMBER" eval "$WORK/p.onnx" --task classify --data "$WORK/eval.npz"
expect_stdout_contains "accuracy"
expect_exit 0 "prune again" -- prune fire.onnx --score taylor --recovery lsq -o "$WORK/p2.onnx"
cmp -s "$WORK/p.onnx" "$WORK/p2.onnx" && pass || fail "two prune runs differ"
for rec in none bias lsq-seq; do
  expect_exit 0 "prune the fire CNN ($rec, fluctuation)" -- prune fire.onnx --score fluctuation --recovery $rec -o "$WORK/p-$rec.onnx"
done
expect_exit 0 "prune --json" -- prune fire.onnx --score magnitude --json -o "$WORK/pj.onnx"
for key in '"remark": "Concat '"'"'fuse'"'"' joins 2 inputs at their channel offsets"' '"producers": "down+side"'; do
  expect_stdout_contains "$key"
done
if node -e "require('onnxruntime-node'); require('adm-zip')" 2>/dev/null; then
  for f in p p-none p-bias; do
    expect_exit 0 "the pruned fire CNN ($f) matches onnxruntime" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
      "$WORK/$f.onnx" --ember "$EMBER" --task classify --data "$WORK/eval.npz" --rows 16 --tol 1e-4
    cat "$WORK/out"
  done
else
  echo "note: onnxruntime-node is not installed (scripts/test.sh installs it with npm): the comparison with it is skipped"
fi

# A channel shuffle (Reshape, Transpose, Reshape) after fire1's Concat interleaves its branches:
# those groups are left alone, named, and the others are still pruned.
expect_exit 0 "prune the shuffled fire CNN" -- prune fire_shuffled.onnx --score magnitude --recovery lsq -o "$WORK/s.onnx"
cat "$WORK/out"
for word in "channels left alone: fire1.expand1: Reshape node 'shuffle.split'" \
  "channels left alone: fire2.expand1+fire2.expand3: the channels reach Reshape node 'shuffle.merge'" \
  "channels pruned jointly: down+side"; do
  expect_stdout_contains "$word"
done
finish
