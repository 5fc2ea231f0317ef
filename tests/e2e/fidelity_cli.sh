#!/usr/bin/env bash
# The label-free budget (issue 16): `ember compress MODEL --calib SET -o DIR` with no eval set
# and no task compresses any model against its own FP32 outputs on held-back calibration rows;
# the manifest says which metric and how many rows; bad budget requests are exit 2 before any
# calibration runs and leave no output behind.
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples
RT=$(dirname "$EMBER")/ember-rt
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to write the test's .npz"; exit 77; }

manifest_field() {  # manifest_field FILE KEY: the quality section's KEY
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["quality"][sys.argv[2]])' "$1" "$2"
}

# A classifier: auto picks kl for its Gemm logits; 32 of the 64 rows are held back.
expect_exit 0 "label-free compress digits" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" -o "$WORK/digits"
for f in model.onnx manifest.json report.md; do [ -s "$WORK/digits/$f" ] && pass || fail "label-free compress wrote no $f"; done
[ "$(manifest_field "$WORK/digits/manifest.json" metric)" = kl ] && pass || fail "digits: metric is not kl"
[ "$(manifest_field "$WORK/digits/manifest.json" holdout_rows)" = 32 ] && pass || fail "digits: holdout_rows is not 32"
[ "$(manifest_field "$WORK/digits/manifest.json" label_free)" = True ] && pass || fail "digits: label_free is not true"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(m["calibration"]["rows"] != 32)' "$WORK/digits/manifest.json" \
  && pass || fail "digits: the manifest counts held-back rows as calibration rows"
grep -q "kl on digits-calib.npz" "$WORK/digits/report.md" && pass || fail "report.md does not name the kl metric and its rows"
# ember-rt checks the manifest against the schema (which knows the new fields).
expect_exit 0 "ember-rt check label-free manifest" -- "$RT" check "$WORK/digits/model.onnx" --manifest "$WORK/digits/manifest.json"
# Deterministic.
expect_exit 0 "label-free compress digits again" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" -o "$WORK/digits2"
for f in model.onnx manifest.json report.md; do
  cmp -s "$WORK/digits/$f" "$WORK/digits2/$f" && pass || fail "$f differs between two identical label-free runs"
done
# The compressed model still classifies (measured afterwards on the labelled set).
expect_exit 0 "eval label-free digits" -- "$EMBER" eval "$WORK/digits/model.onnx" --task classify --data "$S/digits-eval.npz" --json
acc=$(grep -o '"value": [0-9.]*' "$WORK/out" | awk '{print $2}')
awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' && pass || fail "label-free digits accuracy $acc < 0.97"

# Each fidelity metric by name, with a budget in its own terms.
for spec in "top1 0.05" "sqnr 15" "cosine 0.01" "expected-accuracy 0.02"; do
  set -- $spec
  expect_exit 0 "label-free digits --budget-metric $1" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" \
    --budget-metric "$1" --budget "$2" --holdout-rows 16 --scheme w8 -o "$WORK/digits-$1"
  [ "$(manifest_field "$WORK/digits-$1/manifest.json" metric)" = "$1" ] && pass || fail "metric $1 not recorded"
  [ "$(manifest_field "$WORK/digits-$1/manifest.json" holdout_rows)" = 16 ] && pass || fail "--holdout-rows 16 not recorded"
done

# An LM: the tiny GPT-2 with its calibration rows only (kl over every token's next-byte distribution).
expect_exit 0 "label-free compress gpt2-tiny" -- "$EMBER" compress "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --calib-limit 40 \
  --holdout-rows 8 --scheme int4-mixed -o "$WORK/tiny"
[ "$(manifest_field "$WORK/tiny/manifest.json" metric)" = kl ] && pass || fail "gpt2-tiny: metric is not kl"
# A budget nobody can meet: the best effort is written, exit 1.
expect_exit 1 "label-free budget missed" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" \
  --budget-metric sqnr --budget 199 --scheme w8 -o "$WORK/missed"
[ -s "$WORK/missed/model.onnx" ] && pass || fail "a missed label-free budget wrote no best-effort model"

# Bad budget requests: exit 2 naming the problem, nothing written.
bad() {  # bad DESCRIPTION EXPECTED_TEXT compress-arguments...
  local what=$1 text=$2; shift 2
  expect_exit 2 "$what" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" -o "$WORK/bad" "$@"
  expect_stderr_contains "$text"
  [ -e "$WORK/bad" ] && fail "$what left $WORK/bad behind" || pass
}
bad "negative budget" "never a gain" --budget -0.1
bad "NaN budget" "finite" --budget nan
bad "negative kl budget" "never a gain" --budget-metric kl --budget -1
bad "label-free budget without its metric" "--budget-metric" --budget 0.05
bad "top1 budget of 1" "below 1" --budget-metric top1 --budget 1
bad "cosine budget above 1" "below 1" --budget-metric cosine --budget 1.5
bad "expected-accuracy budget of 1" "below 1" --budget-metric expected-accuracy --budget 1
bad "sqnr floor above the cap" "200" --budget-metric sqnr --budget 500
bad "unknown metric" "unknown budget metric" --budget-metric perplexity
bad "task metric without an eval set" "fidelity" --budget-metric accuracy
bad "task without an eval set" "--eval" --task classify
bad "eval set without a task" "--task" --eval "$S/digits-eval.npz"
bad "bits_per_byte for a classifier" "does not fit the task" --eval "$S/digits-eval.npz" --task classify --budget-metric bits_per_byte
bad "accuracy budget of 1" "below 1" --eval "$S/digits-eval.npz" --task classify --budget 1
bad "every row held back" "--holdout-rows" --holdout-rows 64
# A classify eval set without labels: refused, suggesting the fidelity budget.
python3 - "$S/digits-eval.npz" "$WORK/nolabels.npz" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, zipfile.ZipFile(sys.argv[2], "w") as dst:
    for name in src.namelist():
        if name != "labels.npy":
            dst.writestr(name, src.read(name))
EOF
bad "classify eval set without labels" "fidelity budget" --eval "$WORK/nolabels.npz" --task classify
# The held-back rows come from the rows left after --calib-limit.
bad "holdout after calib-limit" "leaves none" --calib-limit 10 --holdout-rows 10

# A regression head (y = x W, one value per row; built with protoc): auto picks sqnr, and a
# metric over rows (kl, top1, cosine) does not fit its output.
PROTO=/usr/include/onnx/onnx.proto
if command -v protoc >/dev/null && [ -f $PROTO ]; then
  weights=$(for i in $(seq 0 63); do printf 'float_data: %s ' "$(( (i * 7) % 9 - 4 ))"; done)
  protoc --encode=onnx.ModelProto -I/usr/include $PROTO >"$WORK/head.onnx" <<EOF
ir_version: 8
opset_import { domain: "" version: 17 }
graph { name: "regression_head"
  node { op_type: "MatMul" name: "head" input: "x" input: "w" output: "y" }
  initializer { name: "w" dims: 64 dims: 1 data_type: 1 $weights }
  input { name: "x" type { tensor_type { elem_type: 1 shape { dim { dim_param: "n" } dim { dim_value: 64 } } } } }
  output { name: "y" type { tensor_type { elem_type: 1 shape { dim { dim_param: "n" } dim { dim_value: 1 } } } } } }
EOF
  python3 - "$WORK/head.npy" <<'EOF'
import struct, sys
rows, cols = 48, 64
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
header += " " * (63 - (10 + len(header)) % 64) + "\n"
values = [((i * 37) % 101) / 50.0 - 1.0 for i in range(rows * cols)]
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
    f.write(struct.pack("<%df" % len(values), *values))
EOF
  expect_exit 0 "label-free regression head" -- "$EMBER" compress "$WORK/head.onnx" --calib "$WORK/head.npy" --scheme w8 -o "$WORK/head"
  [ "$(manifest_field "$WORK/head/manifest.json" metric)" = sqnr ] && pass || fail "regression head: auto did not pick sqnr"
  for metric in kl top1 cosine expected-accuracy; do
    expect_exit 2 "$metric on a regression head" -- "$EMBER" compress "$WORK/head.onnx" --calib "$WORK/head.npy" --scheme w8 --budget-metric $metric -o "$WORK/bad"
    expect_stderr_contains "output 'y'"
    [ -e "$WORK/bad" ] && fail "$metric on a regression head left output behind" || pass
  done
else
  echo "note: protoc or $PROTO is absent, the regression-head cases are skipped"
fi
finish
