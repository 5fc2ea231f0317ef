#!/usr/bin/env bash
# CPU time of the search against one uniform GPTQ run, side by side (issue 16's time target:
# kjv-gpt2, 512 calibration rows, 2 cores: <= 3 minutes, <= 3x one uniform GPTQ run).
# Each round runs, one after the other:
#   search     ember compress --target-size <uniform INT4 b32 bytes>   (the search)
#   compress   ember compress --scheme int4-gptq                       (uniform, measured like a candidate)
#   quantize   ember quantize --weights int4 --method gptq             (uniform, no measurement at all)
# and records CPU seconds (user + system) and wall seconds from /usr/bin/time -v. Prints the
# medians over the rounds, the ratios of the medians and the load average before and after: on
# a shared machine CPU time is the comparable figure, wall time says more about the neighbours.
#   bench/search_time.sh [BUILD_DIR] [ROUNDS] [-- extra search flags]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
ROUNDS=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
[ "${1:-}" = "--" ] && shift
M=$ROOT/../shared/models
D=$ROOT/../shared/data
OUT=$BUILD/search-time
mkdir -p "$OUT"
CALIB=(--calib "$D/kjv-lm-calib.npy" --calib-limit 512)
EVAL=(--eval "$D/kjv-lm-eval.npy" --task lm)
TARGET=7413392  # bytes of the uniform INT4 b32 GPTQ model (bench/search.sh's first row)

# timed NAME CMD...: one run, appends "NAME cpu wall" to $OUT/times.txt
timed() {
  local name=$1; shift
  /usr/bin/time -v -o "$OUT/$name.timev" "$@" >"$OUT/$name.log" 2>&1
  python3 - "$OUT/$name.timev" "$name" >>"$OUT/times.txt" <<'PY'
import sys
t = open(sys.argv[1]).read()
get = lambda key: [l for l in t.splitlines() if key in l][0].split(": ")[-1].strip()
wall = get("Elapsed (wall clock) time")
parts = [float(p) for p in wall.split(":")]
seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
print(sys.argv[2], float(get("User time")) + float(get("System time")), seconds)
PY
}

: >"$OUT/times.txt"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  timed search "$BUILD/ember" compress "$M/kjv-gpt2.onnx" "${CALIB[@]}" "${EVAL[@]}" --threads 2 --target-size $TARGET "$@" -o "$OUT/search"
  timed compress "$BUILD/ember" compress "$M/kjv-gpt2.onnx" "${CALIB[@]}" "${EVAL[@]}" --threads 2 --scheme int4-gptq -o "$OUT/compress"
  timed quantize "$BUILD/ember" quantize "$M/kjv-gpt2.onnx" "${CALIB[@]}" --weights int4 --method gptq --threads 2 -o "$OUT/quantize.onnx"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT/times.txt" "$OUT/search/manifest.json" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, cpu, wall = line.split()
    runs.setdefault(name, []).append((float(cpu), float(wall)))
med = {n: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for n, v in runs.items()}
print("| run | rounds | CPU s (median) | wall s (median) | CPU s, every round |")
print("|---|---|---|---|---|")
for n in ("search", "compress", "quantize"):
    print("| %s | %d | %.1f | %.1f | %s |" % (n, len(runs[n]), med[n][0], med[n][1], ", ".join("%.1f" % c for c, _ in runs[n])))
print("search / compress --scheme int4-gptq: CPU %.2fx, wall %.2fx" % (med["search"][0] / med["compress"][0], med["search"][1] / med["compress"][1]))
print("search / quantize --method gptq:      CPU %.2fx, wall %.2fx" % (med["search"][0] / med["quantize"][0], med["search"][1] / med["quantize"][1]))
m = json.load(open(sys.argv[2]))
print("search (last round): %.4f bits/byte, %d bytes, %d candidates" % (m["quality"]["compressed"], m["model"]["bytes"], len(m["search"]["candidates"])))
PY
