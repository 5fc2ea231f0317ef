#!/usr/bin/env bash
# `ember importance` on an RNN written as a Scan whose weights (W, U, b, V) the body reads from
# the outer scope (issue 17, gradients through Loop and Scan): every weight is scored, nothing
# is cut off, and the Taylor and Fisher scores equal those of the same network unrolled into
# plain nodes, scanning forward and in reverse. Args: EMBER make_loop_scan_models.
source "$(dirname "$0")/lib.sh"
MAKE=${2:?usage: importance_loop_scan.sh EMBER make_loop_scan_models}
expect_exit 0 "write the fixtures" -- "$MAKE" "$WORK"

for suffix in "" _reverse; do
  for net in scan unrolled; do
    expect_exit 0 "importance rnn_$net$suffix" -- "$EMBER" importance "$WORK/rnn_$net$suffix.onnx" --data "$WORK/calib.npz" \
      --loss mse --grad-precision f32 -o "$WORK/$net$suffix.json"
  done
  python3 - "$WORK/scan$suffix.json" "$WORK/unrolled$suffix.json" <<'PY' && pass || fail "rnn_scan$suffix: scores differ from the unrolled network's"
import json, sys
scan, unrolled = (json.load(open(p)) for p in sys.argv[1:3])
assert not scan.get("gradient_cuts") and not scan.get("unscored_weights"), (scan.get("gradient_cuts"), scan.get("unscored_weights"))
a = {t["name"]: t for t in scan["tensors"]}
b = {t["name"]: t for t in unrolled["tensors"]}
for name in ["W", "U", "b", "V"]:
    for key in ["taylor", "fisher_sum"]:
        x, y = a[name][key], b[name][key]
        assert x > 0 and abs(x - y) <= 1e-3 * abs(y), (name, key, x, y)
        print(f"{name:2} {key:10} scan {x:.6g} unrolled {y:.6g}")
PY
done
finish
