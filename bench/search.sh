#!/usr/bin/env bash
# The search of `ember compress` against the uniform recipe on kjv-gpt2 (issue 16's targets):
#   1. the uniform INT4 b32 GPTQ recipe (`--scheme int4-gptq`): its size, quality and time;
#   2. the search at that size (`--target-size <uniform bytes>`);
#   3. the search with a +1% bits-per-byte budget and no target (the smallest model within it;
#      the default action set prunes FFN neurons and attention heads at 5-50% too);
#   4. the search with `--target-bpw 4.25`;
#   5. the search with a +1% budget and precisions only (`--no-prune`, the floor without pruning).
# Each row: ember's bits per byte, onnxruntime-node's on the same file (bench/ort_eval.js), file
# bytes, mean bits per weight of the searched layers, wall and CPU seconds (user + system, from
# /usr/bin/time: on a shared machine wall time says more about the neighbours than the tool),
# candidates measured.
#   bench/search.sh [BUILD_DIR] [CALIB_ROWS]     prints a markdown table
# Needs ../shared and onnxruntime-node (build/node/node_modules, as scripts/test.sh installs it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ROWS=${2:-512}
M=$ROOT/../shared/models
D=$ROOT/../shared/data
OUT=$BUILD/search-bench
export NODE_PATH=${NODE_PATH:-$ROOT/build/node/node_modules}
mkdir -p "$OUT"
COMMON=("$M/kjv-gpt2.onnx" --calib "$D/kjv-lm-calib.npy" --calib-limit "$ROWS" --eval "$D/kjv-lm-eval.npy" --task lm --threads 2)

# run NAME FLAGS...: compress into $OUT/NAME, print a table row.
run() {
  local name=$1; shift
  local code=0
  /usr/bin/time -f "%e %U %S" -o "$OUT/$name.time" "$BUILD/ember" compress "${COMMON[@]}" "$@" -o "$OUT/$name" \
    >"$OUT/$name.log" 2>&1 || code=$?
  local ort="n/a"
  if [ -d "$NODE_PATH/onnxruntime-node" ]; then
    ort=$(node "$ROOT/bench/ort_eval.js" "$OUT/$name/model.onnx" --task lm --data "$D/kjv-lm-eval.npy" |
          python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["value"])')
  fi
  python3 - "$OUT/$name/manifest.json" "$name" "$ort" "$OUT/$name.time" "$code" "$*" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
name, ort, timing, code, flags = sys.argv[2:7]
wall, user, system = (float(x) for x in open(timing).read().split()[-3:])
q = m["quality"]
s = m.get("search")
bpw = "%.3f" % s["target"]["achieved"] if s and s["target"]["kind"] == "bits_per_weight" else \
      ("%.3f" % [c for c in s["candidates"] if c["chosen"]][0]["bits_per_weight"] if s else "-")
cands = len(s["candidates"]) if s else len(q.get("candidates", []))
print("| %s | `%s` | %.4f | %s | %d (%.2f MB) | %s | %.0f | %.0f | %d | %s |" % (
    name, flags, q["compressed"], ort, m["model"]["bytes"], m["model"]["bytes"] / 1e6, bpw,
    wall, user + system, cands, "met" if q["budget_met"] else "missed (exit %s)" % code))
PY
}

echo "| case | flags | ember bits/byte | onnxruntime bits/byte | file bytes | bits/weight | wall s | CPU s | candidates | budget |"
echo "|---|---|---|---|---|---|---|---|---|---|"
run uniform-int4-b32-gptq --scheme int4-gptq
UNIFORM_BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"]["bytes"])' "$OUT/uniform-int4-b32-gptq/manifest.json")
run search-size-of-uniform --target-size "$UNIFORM_BYTES"
run search-budget-1pct --budget 0.01
run search-bpw-4.25 --target-bpw 4.25
run search-budget-1pct-no-prune --budget 0.01 --no-prune
