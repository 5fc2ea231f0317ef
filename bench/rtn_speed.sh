#!/usr/bin/env bash
# RTN INT4 (block 32, clipping search) and INT8 per channel against reading the weights once
# (issue 19: RTN within 5x of one read, both within 10 s), measured side by side: each round
# reads the external data once (bench/read_once: read() into a reused buffer and mmap summed on
# both threads, warm page cache), then runs each quantizer, in turn; optionally a cold round
# (the model's data evicted from the page cache first, only that file). Medians over the rounds
# of wall and CPU seconds (user + system) and the ratios quantizer / read (to the read() and to
# the mapped sum, the way the quantizer reads), plus the load average:
# on a shared machine the CPU seconds are the figures to compare. An optional second binary
# (--baseline) runs in the same rounds and its outputs are compared byte for byte (each saved
# again through one `ember opt`, so the data files' tensor order does not matter).
#
#   bash bench/rtn_speed.sh [--build build] [--work DIR] [--size 1] [--rounds 3] [--cold]
#                           [--model M.onnx (instead of generating one)]
#                           [--baseline OTHER_EMBER]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build WORK=/tmp/ember-rtn-speed SIZE=1 ROUNDS=3 COLD=0 BASE="" MODEL=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --cold) COLD=1; shift ;;
    --baseline) BASE=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
EMBER=$BUILD/ember GEN=$BUILD/bench/gen_llama READ=$BUILD/bench/read_once
for b in "$EMBER" "$GEN" "$READ" ${BASE:+"$BASE"}; do
  [ -x "$b" ] || { echo "missing $b (build with -DEMBER_BUILD_BENCH=ON)" >&2; exit 2; }
done
mkdir -p "$WORK"
model=${MODEL:-$WORK/llama$SIZE.onnx}
[ -f "$model.data" ] || "$GEN" -o "$model" --params "$SIZE" | head -1 | sed "s/^/# /"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME CMD...: one JSON line with wall, CPU seconds and peak RSS of the command.
run() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$@" > /dev/null 2> "$WORK/err" || { echo "{\"step\": \"$name\", \"failed\": true}"; cat "$WORK/err" >&2; return 0; }
  read -r wall user sys kb < "$WORK/time"
  awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v kb="$kb" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN {printf "{\"step\": \"%s\", \"seconds\": %s, \"cpu_seconds\": %.2f, \"peak_rss_gb\": %.3f, \"load\": %s}\n", n, w, u + s, kb / 1048576, load}' 
}

# The quantizer's flags for each kind (INT4: block 32 and the clipping search are the defaults).
flags() { if [ "$1" = int4 ]; then echo "--weights int4 --method rtn"; else echo "--weights int8"; fi; }

# same_model A B: the same graph and tensors. Both are saved again by this build's `opt` (no
# pass changes them) so that their data files have one order: versions may order the tensors
# in the data file differently (the quantizer writes them as it makes them).
# Same file names in two folders: the model names its data file.
same_model() {
  mkdir -p "$WORK/canon1" "$WORK/canon2"
  "$EMBER" opt "$1" --passes dce --external-data -o "$WORK/canon1/m.onnx" > /dev/null &&
    "$EMBER" opt "$2" --passes dce --external-data -o "$WORK/canon2/m.onnx" > /dev/null &&
    cmp -s "$WORK/canon1/m.onnx" "$WORK/canon2/m.onnx" && cmp -s "$WORK/canon1/m.onnx.data" "$WORK/canon2/m.onnx.data"
}

lines=$WORK/lines.jsonl
: > "$lines"
for round in $(seq "$ROUNDS"); do
  "$READ" "$model.data" --runs 1 | sed "s/^{/{\"step\": \"read-once\", /" | tee -a "$lines"
  for kind in int4 int8; do
    run "$kind" "$EMBER" quantize "$model" $(flags $kind) -o "$WORK/new.onnx" | tee -a "$lines"
    if [ -n "$BASE" ]; then
      mkdir -p "$WORK/base"
      run "$kind-baseline" "$BASE" quantize "$model" $(flags $kind) -o "$WORK/base/new.onnx" | tee -a "$lines"
      same_model "$WORK/new.onnx" "$WORK/base/new.onnx" &&
        echo "{\"step\": \"$kind-compare\", \"identical\": true}" || echo "{\"step\": \"$kind-compare\", \"identical\": false}"
      rm -rf "$WORK"/base/new.onnx* "$WORK"/canon1 "$WORK"/canon2
    fi
    rm -f "$WORK"/new.onnx*
  done
  if [ "$COLD" = 1 ]; then
    "$READ" "$model.data" --runs 1 --cold | sed "s/^{/{\"step\": \"read-once-cold\", /" | tee -a "$lines"
    "$READ" "$model.data" --evict-only
    run int4-cold "$EMBER" quantize "$model" $(flags int4) -o "$WORK/new.onnx" | tee -a "$lines"
    rm -f "$WORK"/new.onnx*
  fi
done

# Medians and ratios (each quantizer's median over the read's median, wall and CPU).
python3 - "$lines" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(step, key, sub=None):
    v = [(r[sub] if sub else r)[key] for r in rows if r.get("step") == step and not r.get("failed")]
    return statistics.median(v) if v else None
read_wall, read_cpu = med("read-once", "seconds", "read"), med("read-once", "cpu_seconds", "read")
out = {"summary": True, "read_once": {"seconds": read_wall, "cpu_seconds": read_cpu,
       "mmap_sum_seconds": med("read-once", "seconds", "mmap_sum"), "mmap_sum_cpu_seconds": med("read-once", "cpu_seconds", "mmap_sum")}}
for step in ("int4", "int8", "int4-baseline", "int8-baseline", "int4-cold"):
    w = med(step, "seconds")
    if w is None: continue
    c, rss = med(step, "cpu_seconds"), med(step, "peak_rss_gb")
    ref_w = med("read-once-cold", "seconds", "read") if step.endswith("cold") else read_wall
    mmap_w, mmap_c = out["read_once"]["mmap_sum_seconds"], out["read_once"]["mmap_sum_cpu_seconds"]
    out[step] = {"seconds": w, "cpu_seconds": c, "peak_rss_gb": rss, "load": med(step, "load"),
                 "wall_ratio_to_read": round(w / ref_w, 2) if ref_w else None,
                 "cpu_ratio_to_read": round(c / read_cpu, 2) if read_cpu and not step.endswith("cold") else None,
                 "wall_ratio_to_mmap_sum": round(w / mmap_w, 2) if mmap_w and not step.endswith("cold") else None,
                 "cpu_ratio_to_mmap_sum": round(c / mmap_c, 2) if mmap_c and not step.endswith("cold") else None}
print(json.dumps(out))
EOF
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
