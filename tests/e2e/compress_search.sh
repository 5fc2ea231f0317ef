#!/usr/bin/env bash
# ember compress's search on the bundled samples: --target-size is never exceeded on the written
# file, the manifest's pipeline replays the model byte for byte through `ember opt`, two runs are
# byte-identical, timings stay out of the manifest, and infeasible or contradictory targets are
# exit 2 before any calibration runs (no output written).
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples
TINY=(compress "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --eval "$S/kjv-lm-eval.npy" --task lm --eval-limit 4 --calib-limit 8)

expect_exit 0 "compress --target-size 600KB" -- "$EMBER" "${TINY[@]}" --target-size 600KB -o "$WORK/a"
size=$(stat -c %s "$WORK/a/model.onnx")
[ "$size" -le 600000 ] && pass || fail "model is $size bytes, over the 600KB target"
for key in '"search"' '"target"' '"size_bytes"' '"candidates"' '"stages"' '"sensitivity"'; do
  grep -q "$key" "$WORK/a/manifest.json" && pass || fail "manifest has no $key"
done
grep -q '"seconds"' "$WORK/a/manifest.json" && fail "the manifest carries timings" || pass
grep -q '"seconds"' "$WORK/a/timings.json" && pass || fail "timings.json has no seconds"

# The manifest's pipeline replays the chosen model exactly.
pipeline=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pipeline"])' "$WORK/a/manifest.json")
expect_exit 0 "ember opt replays the pipeline" -- "$EMBER" opt "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --calib-limit 8 --passes "$pipeline" -o "$WORK/replay.onnx"
cmp -s "$WORK/a/model.onnx" "$WORK/replay.onnx" && pass || fail "the replayed model differs from the compressed one"

expect_exit 0 "the same search again" -- "$EMBER" "${TINY[@]}" --target-size 600KB -o "$WORK/b"
for f in model.onnx manifest.json report.md; do cmp -s "$WORK/a/$f" "$WORK/b/$f" && pass || fail "$f differs between two runs"; done

expect_exit 0 "compress --target-bpw 5" -- "$EMBER" "${TINY[@]}" --target-bpw 5 --json -o "$WORK/c"
python3 - "$WORK/out" <<'PY' && pass || fail "--target-bpw 5 exceeded or --json lacks timings"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["search"]["target"]["achieved"] <= 5.0, m["search"]["target"]
assert "timings" in m and m["timings"]["stages"]
PY

# Pruning as a search action: the FFNs may lose neurons; the pipeline still replays exactly.
expect_exit 0 "compress --prune 0.1,0.25" -- "$EMBER" "${TINY[@]}" --budget 0.08 --prune 0.1,0.25 -o "$WORK/p"
grep -q '"prune_factor"' "$WORK/p/manifest.json" && pass || fail "the manifest has no prune_factor"
grep -q 'uniform-prune-0.10' "$WORK/p/manifest.json" && pass || fail "no pruning probe was measured"
pipeline=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pipeline"])' "$WORK/p/manifest.json")
expect_exit 0 "ember opt replays the pruning search's pipeline" -- "$EMBER" opt "$S/kjv-gpt2-tiny.onnx" --calib "$S/kjv-lm-calib.npy" --calib-limit 8 --passes "$pipeline" -o "$WORK/replay-p.onnx"
cmp -s "$WORK/p/model.onnx" "$WORK/replay-p.onnx" && pass || fail "the replayed pruned model differs from the compressed one"
expect_exit 2 "a prune ratio out of range" -- "$EMBER" "${TINY[@]}" --prune 1.5 -o "$WORK/bad"
expect_exit 2 "--prune with --scheme" -- "$EMBER" "${TINY[@]}" --prune 0.1 --scheme w8 -o "$WORK/bad"
expect_exit 2 "a head width out of range" -- "$EMBER" "${TINY[@]}" --head-width 0.97 -o "$WORK/bad"
expect_exit 2 "--head-width with --no-prune" -- "$EMBER" "${TINY[@]}" --head-width 0.5 --no-prune -o "$WORK/bad"
expect_exit 2 "--head-width under an energy target" -- "$EMBER" "${TINY[@]}" --head-width 0.5 --target-energy 1mJ -o "$WORK/bad"

# Infeasible and contradictory targets: exit 2, before any calibration, no output.
expect_exit 2 "a size below all-INT4" -- "$EMBER" "${TINY[@]}" --target-size 100KB -o "$WORK/bad"
expect_stderr_contains "smallest model"
[ -e "$WORK/bad/model.onnx" ] && fail "an infeasible target wrote a model" || pass
expect_exit 2 "a bpw below INT4" -- "$EMBER" "${TINY[@]}" --target-bpw 2 -o "$WORK/bad"
expect_stderr_contains "bits per weight"
expect_exit 2 "an unknown size unit" -- "$EMBER" "${TINY[@]}" --target-size 3XB -o "$WORK/bad"
expect_stderr_contains "unit"
expect_exit 2 "two targets" -- "$EMBER" "${TINY[@]}" --target-size 3MB --target-bpw 4.5 -o "$WORK/bad"
expect_exit 2 "a target with --scheme" -- "$EMBER" "${TINY[@]}" --target-size 3MB --scheme w8 -o "$WORK/bad"
finish
