#!/usr/bin/env bash
# Models chosen by `ember compress`'s search (issue 16: mixed INT8 / INT4 blocks 32-128,
# symmetric or with zero points, one quantize-weights pass per precision) run in
# onnxruntime-node with Ember's outputs, and onnxruntime's bits per byte on the eval rows
# agrees with the manifest's.
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/models.sh"
need_node
S=$ROOT/samples
expect_exit 0 "search gpt2-tiny under 600KB" -- "$EMBER" compress "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" \
  --calib-limit 8 --eval "$S/kjv-lm-eval.npy" --task lm --eval-limit 4 --target-size 600KB -o "$WORK/tiny"
# As quantized_ort.sh: the ONNX semantics (ember run --reference, onnxruntime unoptimized) within
# 5e-3, Ember's integer kernels within 3e-2 of them.
for cmp in "exact 5e-3 --reference" "fast 3e-2"; do
  read -r what tol flag <<<"$cmp"
  expect_exit 0 "searched gpt2-tiny matches ort ($what)" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
    "$WORK/tiny/model.onnx" --ember "$EMBER" ${flag:+--ember-flag "$flag"} --ort-optimization disabled --task lm \
    --data "$S/kjv-lm-eval.npy" --rows 4 --tol "$tol"
  cat "$WORK/out"
done
expect_exit 0 "ort bits per byte" -- node "$ROOT/bench/ort_eval.js" "$WORK/tiny/model.onnx" --task lm \
  --data "$S/kjv-lm-eval.npy" --limit 4
python3 - "$WORK/out" "$WORK/tiny/manifest.json" <<'PY' && pass || fail "onnxruntime's bits per byte differs from the manifest's"
import json, sys
ort = json.load(open(sys.argv[1]))["value"]
ember = json.load(open(sys.argv[2]))["quality"]["compressed"]
print("ember %.5f onnxruntime %.5f" % (ember, ort))
assert abs(ort - ember) <= 2e-3 * ember, (ort, ember)
PY
# Static INT8 activations chosen by the search (int8-a8-static: quantize-activations{mode=static}
# on the chosen layers' inputs) run in onnxruntime with Ember's outputs.
cat >"$WORK/static.json" <<'JSON'
{"schema": "ember.recipe/1", "actions": [{"kind": "fp32"}, {"kind": "int8", "activations": "static"}]}
JSON
expect_exit 0 "search gpt2-tiny with static INT8 activations" -- "$EMBER" compress "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" \
  --calib-limit 8 --eval "$S/kjv-lm-eval.npy" --task lm --eval-limit 4 --target-size 1500KB --recipe "$WORK/static.json" -o "$WORK/static"
grep -q 'quantize-activations{' "$WORK/static/manifest.json" && pass || fail "the search chose no static activations"
for cmp in "exact 5e-3 --reference" "fast 3e-2"; do
  read -r what tol flag <<<"$cmp"
  expect_exit 0 "static activations match ort ($what)" -- node "$ROOT/tests/interop/ort_check.js" match-ember \
    "$WORK/static/model.onnx" --ember "$EMBER" ${flag:+--ember-flag "$flag"} --ort-optimization disabled --task lm \
    --data "$S/kjv-lm-eval.npy" --rows 4 --tol "$tol"
done
finish
