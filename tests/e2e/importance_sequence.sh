#!/usr/bin/env bash
# `ember importance` on a network whose weights reach the output only through sequence and
# optional values (issue 17: SequenceConstruct -> SequenceMap -> ConcatFromSequence, SplitToSequence ->
# SequenceAt, Optional -> OptionalGetElement): every weight is scored, nothing is cut off, and
# the Taylor and Fisher scores equal those of the same network written with Concat and Split.
# The same for a Loop carrying a sequence (SequenceInsert in the body, ConcatFromSequence after
# it) and reading a bias from an outer sequence, against the network unrolled, and for that Loop
# also carrying an optional and reading the bias from an outer optional.
# A sequence op given a tensor is exit 2 naming the node.
# Args: EMBER make_sequence_models.
source "$(dirname "$0")/lib.sh"
MAKE=${2:?usage: importance_sequence.sh EMBER make_sequence_models}
expect_exit 0 "write the fixtures" -- "$MAKE" "$WORK"

for net in sequence_net plain_net; do
  expect_exit 0 "importance $net" -- "$EMBER" importance "$WORK/$net.onnx" --data "$WORK/calib.npz" \
    --loss mse --grad-precision f32 -o "$WORK/$net.json"
done
python3 "$(dirname "$0")/same_scores.py" "$WORK/sequence_net.json" "$WORK/plain_net.json" 1e-6 W1 W2 Va Vb && pass ||
  fail "sequence_net: scores differ from the plain network's, or a weight was cut off"

for net in loop_sequence_net loop_optional_net loop_plain_net; do
  expect_exit 0 "importance $net" -- "$EMBER" importance "$WORK/$net.onnx" --data "$WORK/calib.npz" \
    --loss mse --grad-precision f32 -o "$WORK/$net.json"
done
for net in loop_sequence_net loop_optional_net; do
  python3 "$(dirname "$0")/same_scores.py" "$WORK/$net.json" "$WORK/loop_plain_net.json" 1e-5 W0 Wl bias Wd && pass ||
    fail "$net: scores differ from the unrolled network's, or a weight was cut off"
done

expect_exit 2 "importance of a model whose SequenceAt is given a tensor" -- "$EMBER" importance "$WORK/bad_sequence.onnx" \
  --data "$WORK/calib.npz" --loss mse
expect_stderr_contains "'at_first'"
finish
