#!/usr/bin/env bash
# Weights used inside Loop and Scan bodies (issue 17): `ember inspect` counts them, `ember
# quantize --weights int8|int4` quantizes them (read from the outer scope, kept in the body as an
# initializer or as a Constant), `ember importance` gives them INT8/INT4 predictions, and `ember
# compress` lists them as layers, chooses an action for each and writes a model that runs. The
# quantized and compressed models are checked against onnxruntime-node when it is installed
# (SQNR against FP32, Ember = onnxruntime); without it that part is skipped with a message.
# Args: EMBER make_loop_scan_models.
source "$(dirname "$0")/lib.sh"
MAKE=${2:?usage: body_weights.sh EMBER make_loop_scan_models}
expect_exit 0 "write the fixtures" -- "$MAKE" "$WORK" 6 64 48   # 6 steps, hidden 64, 48 rows

ORT=1
if ! node -e "require('onnxruntime-node'); require('adm-zip')" 2>/dev/null; then
  echo "SKIP (onnxruntime part): onnxruntime-node is not installed (scripts/test.sh installs it with npm)"; ORT=0
fi
# Ember (`ember run --reference`, bodies included) against onnxruntime without optimizations
# within 1e-4 of the output's range, and the SQNR of both runtimes' default paths against FP32.
ort_check() {  # FP32 QUANT DATA [min SQNR]
  [ "$ORT" = 1 ] || return 0
  if node "$ROOT/tests/interop/body_quant_ort.js" "$1" "$2" "$3" --ember "$EMBER" --min-sqnr "${4:-10}" --tol 1e-4 \
    >"$WORK/ort.out" 2>&1; then
    pass; echo "  $(cat "$WORK/ort.out")"
  else
    fail "onnxruntime check of $(basename "$2")"; sed 's/^/    /' "$WORK/ort.out" | head -5
  fi
}

# inspect: the body's U (a Constant) and W (an initializer) count as parameters in subgraphs.
expect_exit 0 "inspect rnn_scan_body" -- "$EMBER" inspect "$WORK/rnn_scan_body.onnx" --json
python3 - "$WORK/out" <<'PY' && pass || fail "inspect does not count the body's weights"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["parameters_in_subgraphs"] == 3 * 64 + 64 * 64, j["parameters_in_subgraphs"]
assert j["parameters"] >= 3 * 64 + 64 * 64 + 64 + 64 * 4, j["parameters"]
PY

# quantize: every MatMul weight of the bodies over quantize's min-size, wherever it sits (U: outer,
# or a Constant of the body; the Loop's W: outer); the smaller ones are skipped for their size only.
for case in "rnn_scan calib U" "rnn_scan_body calib U" "rnn_loop loop_calib W"; do
  read -r model data weights <<<"$case"
  for scheme in int8 int4; do
    flags=(--weights "$scheme"); [ "$scheme" = int4 ] && flags+=(--block 32)
    out="$WORK/$model-$scheme.onnx"
    expect_exit 0 "quantize $model $scheme" -- "$EMBER" quantize "$WORK/$model.onnx" "${flags[@]}" --json -o "$out"
    python3 - "$WORK/out" "$weights" "$scheme" <<'PY' && pass || fail "quantize $model $scheme: a body weight stayed float"
import json, sys
passes = [p for p in json.load(open(sys.argv[1]))["passes"] if p["name"] == "quantize-weights"]
done = {t["name"]: t for t in passes[0]["result"]["tensors"]}
for w in sys.argv[2].split(","):
    assert w in done, (w, sorted(done))
    assert done[w]["bits"] == (8 if sys.argv[3] == "int8" else 4), done[w]
for s in passes[0]["result"]["skipped"]:
    assert "min-size" in s["reason"], s
PY
    expect_exit 0 "run $model $scheme in ember" -- "$EMBER" run "$out" --input "h0=$WORK/${data}_h0.npy" --input "x=$WORK/${data}_x.npy" -o "$WORK/run"
    ort_check "$WORK/$model.onnx" "$out" "$WORK/$data.npz" "$([ "$scheme" = int8 ] && echo 25 || echo 10)"
  done
done

# GPTQ in a body: the statistics of U's input over every Scan step give its Hessian (whole-model
# run and the block stream alike), and the output error beats round to nearest.
for seq in off fp32; do
  expect_exit 0 "quantize rnn_scan_body gptq sequential=$seq" -- "$EMBER" quantize "$WORK/rnn_scan_body.onnx" --weights int4 --block 32 \
    --method gptq --sequential "$seq" --calib "$WORK/calib.npz" --json -o "$WORK/gptq-$seq.onnx"
  python3 - "$WORK/out" <<'PY' && pass || fail "gptq sequential=$seq: the body's U was not quantized with GPTQ"
import json, sys
passes = [p for p in json.load(open(sys.argv[1]))["passes"] if p["name"] == "quantize-weights"]
u = [t for t in passes[0]["result"]["tensors"] if t["name"] == "U"][0]
assert u["method"] == "gptq" and u["bits"] == 4 and 0 < u["output_error"] < 1, u
print(f"  U: gptq, relative output error {u['output_error']:.4f}")
PY
  ort_check "$WORK/rnn_scan_body.onnx" "$WORK/gptq-$seq.onnx" "$WORK/calib.npz" 10
done

# importance: the Scan body's W and U get INT8 and INT4 predictions.
expect_exit 0 "importance rnn_scan_body" -- "$EMBER" importance "$WORK/rnn_scan_body.onnx" --data "$WORK/calib.npz" --loss mse -o "$WORK/imp.json"
python3 - "$WORK/imp.json" <<'PY' && pass || fail "importance: a body weight has no INT8/INT4 prediction"
import json, sys
t = {x["name"]: x for x in json.load(open(sys.argv[1]))["tensors"]}
for w in ["W", "U"]:
    c = {(p["precision"], p["block"]): p["predicted_loss_increase"] for p in t[w]["candidates"]}
    assert ("int8", 0) in c and ("int4", 32) in c and c[("int4", 32)] > c[("int8", 0)] > 0, (w, c)
    print(f"  {w}: int8 {c[('int8', 0)]:.3g}, int4 b32 {c[('int4', 32)]:.3g}")
PY

# compress under a bits-per-weight target: the body's layer U is searched and quantized (W and V
# are under the search's min-size). Exit 0, or 1 when the label-free budget is missed (the
# best-effort model is still written).
for model in rnn_scan rnn_scan_body; do
  dir="$WORK/c-$model"
  "$EMBER" compress "$WORK/$model.onnx" --calib "$WORK/calib.npz" --holdout-rows 16 --target-bpw 6 --no-prune -o "$dir" \
    >"$WORK/out" 2>"$WORK/err"
  rc=$?
  if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then pass; else fail "compress $model: exit $rc"; sed 's/^/    /' "$WORK/err" | tail -5; fi
  python3 - "$dir/manifest.json" <<'PY' && pass || fail "compress $model: the body layer U was not searched"
import json, sys
m = json.load(open(sys.argv[1]))
layers = {l["weight"]: l for l in m["search"]["layers"]}
assert "U" in layers and layers["U"]["action"] != "fp32", layers
for w, l in layers.items():
    print(f"  {w}: {l['action']} (predicted {l.get('predicted_loss'):.3g})")
PY
  expect_exit 0 "run compressed $model in ember" -- "$EMBER" run "$dir/model.onnx" --input "h0=$WORK/calib_h0.npy" --input "x=$WORK/calib_x.npy" -o "$WORK/run"
  ort_check "$WORK/$model.onnx" "$dir/model.onnx" "$WORK/calib.npz" 10
done
finish
