#!/usr/bin/env bash
# The pruning back-off (passes/search/prune_backoff.h) on a real model: kjv-bert with the default,
# label-free KL budget. Its aggressive stage (every FFN and attention block pruned) breaks the
# budget; the back-off measures the same precisions without pruning, then adds the pruning back
# group by group, skipping the attention heads whose KL the prediction underestimates. The model
# kept prunes and is smaller than INT4 b128 everywhere (1,896,000 bytes, the floor without
# pruning), within the budget, and `ember opt` replays it byte for byte. Before the search every
# head was narrowed (passes/search/narrow_heads.h): 0.75 measures KL 0.002, within a quarter of
# the 0.01, and the model falls below a megabyte (1,470,112 bytes without the narrowing).
source "$(dirname "$0")/lib.sh"
need_shared
M=$SHARED/models/kjv-bert.onnx
D=$SHARED/data/kjv-cls-calib.npz
expect_exit 0 "compress kjv-bert, label-free" -- "$EMBER" compress "$M" --calib "$D" -o "$WORK/a"
python3 - "$WORK/a/manifest.json" >"$WORK/check" 2>&1 <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
s = m["search"]
names = [c["name"] for c in s["candidates"]]
chosen = [c for c in s["candidates"] if c["chosen"]][0]
problems = []
if "aggressive-backoff-unpruned" not in names: problems.append("no unpruned back-off state among %s" % names)
if not chosen["name"].startswith("aggressive-backoff-prune-") and not chosen["name"].startswith("fill-"):
    problems.append("chose %s" % chosen["name"])
if chosen["model_bytes"] >= 1896000: problems.append("%d bytes, not below INT4 b128 everywhere" % chosen["model_bytes"])
if not (chosen["quality"] <= s["budget"]["limit"]): problems.append("kl %g over %g" % (chosen["quality"], s["budget"]["limit"]))
if "prune-structured" not in m["pipeline"]: problems.append("the pipeline prunes nothing")
n = s["head_narrowing"]
if not n["head_width"] > 0: problems.append("no head narrowing kept: %s" % n)
if "prune-structured{ffn=0,head-width=%g," % n["head_width"] not in m["pipeline"]: problems.append("the pipeline does not start with the narrowing")
if chosen["model_bytes"] >= 1000000: problems.append("%d bytes, not below a megabyte with narrowed heads" % chosen["model_bytes"])
if problems: print("\n".join(problems))
PY
if [ -s "$WORK/check" ]; then fail "$(cat "$WORK/check")"; else pass; fi
# The search held back the last 32 of the 256 calibration rows: the replay calibrates on the rest.
pipeline=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pipeline"])' "$WORK/a/manifest.json")
expect_exit 0 "ember opt replays the pipeline" -- "$EMBER" opt "$M" --calib "$D" --calib-limit 224 --passes "$pipeline" -o "$WORK/replay.onnx"
cmp -s "$WORK/replay.onnx" "$WORK/a/model.onnx" && pass || fail "the replayed model differs from the search's"
finish
