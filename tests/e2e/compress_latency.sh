#!/usr/bin/env bash
# ember compress under --target-latency and --target-energy (issue 16) on the bundled tiny GPT-2:
# the predicted value never exceeds the target, the latency table is written, reused (a run on
# a complete table measures nothing and gives the same model byte for byte), the manifest reports
# the predicted and the measured end-to-end latency, and bad targets or tables exit 2 before any
# calibration runs (no output written). Never asserts a speed.
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples
TINY=(compress "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --eval "$S/kjv-lm-eval.npy" --task lm --eval-limit 4 --calib-limit 8 --threads 1)
TABLE=$WORK/latency.json
# The number of milliseconds or millijoules in "... below the X ms that the cheapest ..." of $WORK/err.
cheapest() { python3 -c 'import re,sys; print(re.search(r"below the ([0-9.e+-]+) m[sJ] that", open(sys.argv[1]).read()).group(1))' "$WORK/err"; }

# Infeasible: below what every layer's cheapest action predicts; the timings are kept.
expect_exit 2 "a latency below the all-cheapest prediction" -- "$EMBER" "${TINY[@]}" --target-latency 1us --latency-table "$TABLE" -o "$WORK/bad"
expect_stderr_contains "cheapest allowed action"
[ -e "$WORK/bad/model.onnx" ] && fail "an infeasible target wrote a model" || pass
[ -s "$TABLE" ] && pass || fail "the latency table was not written"
LOW_MS=$(cheapest)
expect_exit 2 "an energy below the all-cheapest prediction" -- "$EMBER" "${TINY[@]}" --target-energy 1uJ -o "$WORK/bad"
expect_stderr_contains "energy target"
LOW_MJ=$(cheapest)
expect_exit 2 "two targets" -- "$EMBER" "${TINY[@]}" --target-latency 5ms --target-energy 1mJ -o "$WORK/bad"
expect_exit 2 "a latency without a unit we know" -- "$EMBER" "${TINY[@]}" --target-latency 5parsecs -o "$WORK/bad"
expect_exit 2 "a negative latency" -- "$EMBER" "${TINY[@]}" --target-latency -5ms -o "$WORK/bad"
expect_exit 2 "--latency-table without a latency target" -- "$EMBER" "${TINY[@]}" --target-bpw 6 --latency-table "$TABLE" -o "$WORK/bad"
echo '{"format": "something else"}' >"$WORK/not-a-table.json"
expect_exit 2 "a latency table that is not one" -- "$EMBER" "${TINY[@]}" --target-latency 5ms --latency-table "$WORK/not-a-table.json" -o "$WORK/bad"
expect_stderr_contains "not-a-table.json"
[ -e "$WORK/bad" ] && fail "a bad request left an output folder" || pass

# A generous target: the FP32 prediction; then one half way to the all-cheapest one.
expect_exit 0 "--target-latency 10s" -- "$EMBER" "${TINY[@]}" --target-latency 10s --latency-table "$TABLE" -o "$WORK/loose"
HIGH_MS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["search"]["target"]["fp32_predicted_latency_seconds"] * 1e3)' "$WORK/loose/manifest.json")
MID_MS=$(python3 -c "print('%.6f' % (($LOW_MS + $HIGH_MS) / 2))")
before=$(sha256sum "$TABLE")
expect_exit 0 "--target-latency ${MID_MS}ms" -- "$EMBER" "${TINY[@]}" --target-latency "${MID_MS}ms" --latency-table "$TABLE" --json -o "$WORK/a"
python3 - "$WORK/out" "$MID_MS" <<'PY' && pass || fail "the latency target was exceeded or its figures are missing"
import json, sys
m = json.load(open(sys.argv[1])); target = float(sys.argv[2]) / 1e3
t = m["search"]["target"]
assert t["kind"] == "latency_seconds" and t["achieved"] <= target, t
assert t["predicted_latency_seconds"] == t["achieved"] and t["measured_latency_seconds"] > 0 and t["fp32_measured_latency_seconds"] > 0, t
assert len(t["latency_table"]["sha256"]) == 64 and t["latency_table"]["entries"] > 0, t
assert all("predicted_latency_seconds" in l for l in m["search"]["layers"])
assert m["timings"]["latency"]["table_measured"] == 0 and m["timings"]["latency"]["table_reused"] > 0, m["timings"]
PY
[ "$(sha256sum "$TABLE")" = "$before" ] && pass || fail "a complete latency table was measured again"
grep -q "measured end to end" "$WORK/a/report.md" && pass || fail "report.md lacks the measured latency"
# ember-rt checks the manifest against schemas/manifest.schema.json before it runs the model.
RT=$(dirname "$EMBER")/ember-rt
if [ -x "$RT" ]; then
  expect_exit 0 "ember-rt takes the latency target's manifest" -- "$RT" bench "$WORK/a/model.onnx" --manifest "$WORK/a/manifest.json" --input-shape input_ids=1x16 --runs 1
else
  echo "SKIP: no ember-rt beside $EMBER (the manifest schema check)"
fi
expect_exit 0 "the same latency target on the recorded table" -- "$EMBER" "${TINY[@]}" --target-latency "${MID_MS}ms" --latency-table "$TABLE" -o "$WORK/b"
cmp -s "$WORK/a/model.onnx" "$WORK/b/model.onnx" && pass || fail "the recorded table did not reproduce the model"

# Energy: deterministic, so two runs give the same files; the prediction stays under the target.
expect_exit 0 "--target-energy 1J" -- "$EMBER" "${TINY[@]}" --target-energy 1J -o "$WORK/eloose"
HIGH_MJ=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["search"]["target"]["fp32_energy_joules"] * 1e3)' "$WORK/eloose/manifest.json")
MID_MJ=$(python3 -c "print('%.6f' % (($LOW_MJ + $HIGH_MJ) / 2))")
expect_exit 0 "--target-energy ${MID_MJ}mJ" -- "$EMBER" "${TINY[@]}" --target-energy "${MID_MJ}mJ" -o "$WORK/e1"
python3 - "$WORK/e1/manifest.json" "$MID_MJ" <<'PY' && pass || fail "the energy target was exceeded"
import json, sys
m = json.load(open(sys.argv[1])); target = float(sys.argv[2]) / 1e3
t = m["search"]["target"]
assert t["kind"] == "energy_joules" and t["achieved"] <= target and t["predicted_energy_joules"] == t["achieved"], t
assert "measured_latency_seconds" not in t, t
PY
expect_exit 0 "the same energy target again" -- "$EMBER" "${TINY[@]}" --target-energy "${MID_MJ}mJ" -o "$WORK/e2"
for f in model.onnx manifest.json report.md; do cmp -s "$WORK/e1/$f" "$WORK/e2/$f" && pass || fail "$f differs between two energy runs"; done
finish
