#!/usr/bin/env bash
# The search of `ember compress` under --target-latency and --target-energy on kjv-gpt2 (issue 16):
#   1. an impossible latency target records the latency table (every layer shape and precision
#      timed inside the model on this CPU) and prints the all-cheapest prediction;
#   2. a quick loose run reads the predictions of uniform INT4 b32 and FP32 from the same table;
#   3. the search with a latency target half way between the all-cheapest and uniform INT4 b32
#      predictions, on the recorded table (then again: the same model byte for byte);
#   4. the search with an energy target half way between the all-cheapest and FP32 estimates;
#   5. ember-rt bench of FP32, uniform INT8 (--scheme w8), uniform INT4 (--scheme int4-gptq)
#      and the chosen models, side by side in interleaved rounds (medians of medians).
#   bench/latency.sh [BUILD_DIR] [CALIB_ROWS] [THREADS]     prints markdown tables
# Needs ../shared. Timings on a shared machine are noisy: compare within one run only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ROWS=${2:-256}
THREADS=${3:-1}
M=$ROOT/../shared/models
D=$ROOT/../shared/data
OUT=$BUILD/latency-bench
rm -rf "$OUT"; mkdir -p "$OUT"
TABLE=$OUT/latency-table.json
COMMON=("$M/kjv-gpt2.onnx" --calib "$D/kjv-lm-calib.npy" --eval "$D/kjv-lm-eval.npy" --task lm --threads "$THREADS")
target() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["search"]["target"][sys.argv[2]])' "$1/manifest.json" "$2"; }

"$BUILD/ember" compress "${COMMON[@]}" --calib-limit 16 --target-latency 1us --latency-table "$TABLE" -o "$OUT/none" 2>"$OUT/refusal.log" || true
LOW_MS=$(python3 -c 'import re,sys; print(re.search(r"below the ([0-9.e+-]+) ms that", open(sys.argv[1]).read()).group(1))' "$OUT/refusal.log")
"$BUILD/ember" compress "${COMMON[@]}" --calib-limit 16 --eval-limit 8 --target-latency 10s --latency-table "$TABLE" -o "$OUT/loose" >/dev/null 2>&1
read -r INT4_MS FP32_MS < <(python3 - "$OUT/loose/manifest.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["search"]
int4 = [c for c in s["candidates"] if c["name"] == "uniform-int4-b32"][0]["predicted_latency_seconds"]
print(int4 * 1e3, s["target"]["fp32_predicted_latency_seconds"] * 1e3)
PY
)
MID_MS=$(python3 -c "print('%.3f' % (($LOW_MS + $INT4_MS) / 2))")
"$BUILD/ember" compress "${COMMON[@]}" --calib-limit 16 --target-energy 1uJ -o "$OUT/none" 2>"$OUT/refusal-energy.log" || true
LOW_MJ=$(python3 -c 'import re,sys; print(re.search(r"below the ([0-9.e+-]+) mJ that", open(sys.argv[1]).read()).group(1))' "$OUT/refusal-energy.log")
FP32_MJ=$(python3 -c "print($(target "$OUT/loose" fp32_energy_joules) * 1e3)")
MID_MJ=$(python3 -c "print('%.3f' % (($LOW_MJ + $FP32_MJ) / 2))")
echo "Predictions from the table: all-cheapest $LOW_MS ms, uniform INT4 b32 $INT4_MS ms, FP32 $FP32_MS ms; energy all-cheapest $LOW_MJ mJ, FP32 $FP32_MJ mJ"
echo

# run NAME FLAGS...: compress into $OUT/NAME (wall and CPU seconds from /usr/bin/time).
run() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$OUT/$name.time" "$BUILD/ember" compress "${COMMON[@]}" --calib-limit "$ROWS" "$@" -o "$OUT/$name" >"$OUT/$name.log" 2>&1 || true
}
run uniform-int8 --scheme w8
run uniform-int4-b32-gptq --scheme int4-gptq
run latency-mid --target-latency "${MID_MS}ms" --latency-table "$TABLE"
run latency-mid-again --target-latency "${MID_MS}ms" --latency-table "$TABLE"
run energy-mid --target-energy "${MID_MJ}mJ"
cmp -s "$OUT/latency-mid/model.onnx" "$OUT/latency-mid-again/model.onnx" && same=yes || same=NO
echo "latency-mid twice on the recorded table: model.onnx identical: $same"
echo

# ember-rt bench, interleaved rounds: the median of each model's per-round medians.
MODELS=(fp32:$M/kjv-gpt2.onnx uniform-int8:$OUT/uniform-int8/model.onnx uniform-int4-b32-gptq:$OUT/uniform-int4-b32-gptq/model.onnx
        latency-mid:$OUT/latency-mid/model.onnx energy-mid:$OUT/energy-mid/model.onnx)
for round in 1 2 3 4 5; do
  for entry in "${MODELS[@]}"; do
    name=${entry%%:*}; file=${entry#*:}
    "$BUILD/ember-rt" bench "$file" --input-shape input_ids=1x128 --threads "$THREADS" --runs 15 --json |
      grep -o '"median_ms": [0-9.e+-]*' | awk '{print $2}' >>"$OUT/$name.rt"
  done
done
echo "| model | flags | bits/byte | file MB | predicted latency ms | measured ember-rt ms [1,128], $THREADS thread(s) | estimated energy mJ (manifest) | wall s | CPU s |"
echo "|---|---|---|---|---|---|---|---|---|"
for entry in "${MODELS[@]}"; do
  name=${entry%%:*}
  python3 - "$OUT" "$name" "$MID_MS" "$MID_MJ" <<'PY'
import json, os, statistics, sys
out, name, mid_ms, mid_mj = sys.argv[1:5]
rt = statistics.median(float(x) for x in open(f"{out}/{name}.rt"))
if name == "fp32":
    m = json.load(open(f"{out}/latency-mid/manifest.json"))
    t = m["search"]["target"]
    print("| FP32 | | %.4f | %.2f | %.2f | %.2f | %.3f | | |" % (m["quality"]["fp32"], m["source_model"]["bytes"] / 1e6,
          t["fp32_predicted_latency_seconds"] * 1e3, rt, m["energy"]["fp32_microjoules"] / 1e3)); sys.exit()
m = json.load(open(f"{out}/{name}/manifest.json"))
flags = {"uniform-int8": "--scheme w8", "uniform-int4-b32-gptq": "--scheme int4-gptq",
         "latency-mid": f"--target-latency {mid_ms}ms", "energy-mid": f"--target-energy {mid_mj}mJ"}[name]
t = m.get("search", {}).get("target", {})
pred = "%.2f" % (t["predicted_latency_seconds"] * 1e3) if "predicted_latency_seconds" in t else "-"
if name == "energy-mid": pred = "energy %.3f mJ predicted" % (t["predicted_energy_joules"] * 1e3)
wall, user, system = (float(x) for x in open(f"{out}/{name}.time").read().split()[-3:])
print("| %s | `%s` | %.4f | %.2f | %s | %.2f | %.3f | %.0f | %.0f |" % (name, flags, m["quality"]["compressed"], m["model"]["bytes"] / 1e6,
      pred, rt, m["energy"]["compressed_microjoules"] / 1e3, wall, user + system))
PY
done
