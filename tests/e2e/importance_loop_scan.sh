#!/usr/bin/env bash
# `ember importance` on an RNN written as a Scan whose weights (W, U, b, V) the body reads from
# the outer scope (issue 17, gradients through Loop and Scan): every weight is scored, nothing
# is cut off, and the Taylor and Fisher scores equal those of the same network unrolled into
# plain nodes, scanning forward and in reverse; a Loop's outer weights are scored too.
# Args: EMBER make_loop_scan_models.
source "$(dirname "$0")/lib.sh"
MAKE=${2:?usage: importance_loop_scan.sh EMBER make_loop_scan_models}
expect_exit 0 "write the fixtures" -- "$MAKE" "$WORK"

for suffix in "" _reverse; do
  for net in scan unrolled; do
    expect_exit 0 "importance rnn_$net$suffix" -- "$EMBER" importance "$WORK/rnn_$net$suffix.onnx" --data "$WORK/calib.npz" \
      --loss mse --grad-precision f32 -o "$WORK/$net$suffix.json"
  done
  python3 "$(dirname "$0")/same_scores.py" "$WORK/scan$suffix.json" "$WORK/unrolled$suffix.json" 1e-3 W U b V && pass ||
    fail "rnn_scan$suffix: scores differ from the unrolled network's"
done

# A Loop whose body reads W and V from the outer scope (4 of at most 6 iterations): both scored.
expect_exit 0 "importance rnn_loop" -- "$EMBER" importance "$WORK/rnn_loop.onnx" --data "$WORK/loop_calib.npz" --loss mse --json
python3 - "$WORK/out" <<'PY' && pass || fail "rnn_loop: W or V got no score"
import json, sys
r = json.load(open(sys.argv[1]))
assert not r.get("gradient_cuts") and not r.get("unscored_weights"), (r.get("gradient_cuts"), r.get("unscored_weights"))
scores = {t["name"]: t["taylor"] for t in r["tensors"]}
assert scores.get("W", 0) > 0 and scores.get("V", 0) > 0, scores
PY

# The iteration caps hold while gradients are computed: exit 2 naming the node and the cap.
expect_exit 2 "importance rnn_loop over --max-loop-iterations" -- "$EMBER" --max-loop-iterations 3 importance "$WORK/rnn_loop.onnx" \
  --data "$WORK/loop_calib.npz" --loss mse
expect_stderr_contains "'loop'"
expect_stderr_contains "above the cap of 3"
expect_exit 2 "importance rnn_scan over --max-sequence-length" -- "$EMBER" --max-sequence-length 4 importance "$WORK/rnn_scan.onnx" \
  --data "$WORK/calib.npz" --loss mse
expect_stderr_contains "'rnn'"
expect_stderr_contains "above the cap of 4"
finish
