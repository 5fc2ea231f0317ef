#!/usr/bin/env bash
# Load test of `ember-rt serve` (issue 18): loopback only, bounded in count and time (about 3 minutes).
#   bash bench/serve_load.sh [BUILD_DIR]   (needs -DEMBER_BUILD_BENCH=ON for build/bench/serve_load)
# 1. kjv-gpt2 INT8 (made with `ember quantize --weights int8`): capacity measured closed-loop with
#    the mixed trace (10% urgent, 60% normal, 30% low; 70% short [1,16], 30% long [1,128]), then
#    open-loop Poisson at 0.5x, 1x, 2x that capacity: per-tier p50/p99, throughput, rejections,
#    energy per request, and a text plot.
# 2. Batching, short requests: kjv-gpt2 INT8 after the free-batch pass (its export fixes the batch
#    to 1 inside the graph), batching off against max batch 8 (2 ms and no queue delay): closed-loop
#    saturation throughput and the server's CPU time per answered request, medians of interleaved
#    rounds (ROUNDS=5, SHORT_LEN=16); then open loop at 1x and 1.3x the capacity without batching.
# 3. A simulated thermal event: the sensor file crosses the threshold under load; time to throttle
#    and to recover, the low tier paused, urgent still served.
# 4. The same 2x trace against --policy fifo (one order, no reservation): what the tiers buy.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
RT=$BUILD/ember-rt EMBER=$BUILD/ember LOAD=$BUILD/bench/serve_load
SHARED=${EMBER_SHARED_DIR:-$ROOT/../shared}
OUT=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null; rm -rf "$OUT"' EXIT
SERVER=
[ -x "$LOAD" ] || { echo "build serve_load first: cmake -DEMBER_BUILD_BENCH=ON && cmake --build build --target serve_load"; exit 2; }
[ -f "$SHARED/models/kjv-gpt2.onnx" ] || { echo "SKIP: $SHARED/models/kjv-gpt2.onnx is absent"; exit 77; }
"$EMBER" quantize "$SHARED/models/kjv-gpt2.onnx" --weights int8 -o "$OUT/kjv-gpt2-int8.onnx" >/dev/null || exit 1

start_server() {  # start_server MODEL NAME extra-args...
  local model=$1 name=$2; shift 2
  rm -f "$OUT/serve.out"  # else the wait below may read the previous server's port before the new one truncates the file
  "$RT" serve "$model" --port 0 --name "$name" --thermal-sensor "$OUT/temp" --thermal-threshold 80 --poll-ms 100 "$@" \
    >"$OUT/serve.out" 2>"$OUT/serve.err" &
  SERVER=$!
  for _ in $(seq 200); do grep -q listening "$OUT/serve.out" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/listening/{print $2}' "$OUT/serve.out")
  head -1 "$OUT/serve.err"
}
stop_server() { kill -TERM "$SERVER"; wait "$SERVER"; echo "server exit code $? after SIGTERM"; SERVER=; }
energy() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ember_energy_joules_total/{print $2} /^ember_energy_measured /{m=$2} END{}'; }
measured() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ember_energy_measured /{print ($2 == 1 ? "measured" : "estimated")}'; }

PARTS=${PARTS:-1 2 3 4}  # e.g. PARTS=1 runs only the mixed trace
echo 40000 > "$OUT/temp"
if [[ " $PARTS " == *" 1 "* ]]; then
echo "== 1. kjv-gpt2 INT8, mixed trace"
start_server "$OUT/kjv-gpt2-int8.onnx" gpt2
"$LOAD" --port "$PORT" --model gpt2 --closed 4 --seconds 10 --max-requests 3000 --seed 7 > "$OUT/capacity.json"
CAP=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).throughput_per_s.toFixed(2))' "$OUT/capacity.json")
echo "capacity (closed loop, 4 clients): $CAP requests/s"
for x in 0.5 1 2; do
  rate=$(node -e "console.log(($CAP * $x).toFixed(3))")
  e0=$(energy)
  "$LOAD" --port "$PORT" --model gpt2 --rate "$rate" --seconds 20 --max-requests 4000 --seed 11 > "$OUT/load-$x.json"
  e1=$(energy)
  node -e 'const fs=require("fs"); const j=JSON.parse(fs.readFileSync(process.argv[1])); j.load=process.argv[2]; j.joules=Number(process.argv[4])-Number(process.argv[3]); j.energy=process.argv[5]; fs.writeFileSync(process.argv[1], JSON.stringify(j));' \
    "$OUT/load-$x.json" "$x" "$e0" "$e1" "$(measured)"
done
stop_server
node "$ROOT/bench/serve_load_report.js" "$OUT"/load-0.5.json "$OUT"/load-1.json "$OUT"/load-2.json
fi

if [[ " $PARTS " == *" 2 "* ]]; then
# Batching pays only when the model batches: kjv-gpt2's export fixes its batch to 1 inside the
# graph, so `ember opt --passes free-batch` frees it first (each row equals its batch-1 run).
ROUNDS=${ROUNDS:-5} SHORT=${SHORT_LEN:-16} CLIENTS=16 KEEP_ALIVE=${KEEP_ALIVE:-1}
echo
echo "== 2. batching, short requests (kjv-gpt2 INT8 after free-batch, input_ids [1,$SHORT], normal tier;"
echo "      closed loop, $CLIENTS clients (keep-alive $KEEP_ALIVE), 8 s per run; $ROUNDS interleaved rounds of: off, max batch 8 with 2 ms delay,"
echo "      max batch 8 with none; the load generator shares the machine's cores, so the server's CPU per request is the steadier figure)"
"$EMBER" opt "$SHARED/models/kjv-gpt2.onnx" --passes free-batch -o "$OUT/kjv-gpt2-free.onnx" >/dev/null || exit 1
"$EMBER" quantize "$OUT/kjv-gpt2-free.onnx" --weights int8 -o "$OUT/kjv-gpt2-free-int8.onnx" >/dev/null || exit 1
# The server's CPU ticks (user + system) and voluntary context switches so far.
counters() {
  local ticks ctx=0 t
  ticks=$(awk '{print $14 + $15}' "/proc/$SERVER/stat")
  for t in /proc/$SERVER/task/*/status; do ctx=$((ctx + $(awk '/^voluntary_ctxt_switches/{print $2}' "$t" 2>/dev/null || echo 0))); done
  echo "$ticks $ctx"
}
# batch_run FILE MAXBATCH DELAY LOADARGS...: one server, a warm-up, the measured load, its counters.
batch_run() {
  local file=$1 mb=$2 delay=$3; shift 3
  start_server "$OUT/kjv-gpt2-free-int8.onnx" gpt2 --max-batch "$mb" --max-queue-delay-us "$delay" --reserved-share 0 --workers 2 >/dev/null
  "$LOAD" --port "$PORT" --model gpt2 --closed 2 --seconds 1 --max-requests 50 --long-share 0 --short-len "$SHORT" --urgent 0 --normal 1 >/dev/null
  read -r t0 c0 < <(counters)
  "$LOAD" --port "$PORT" --model gpt2 --long-share 0 --short-len "$SHORT" --urgent 0 --normal 1 --seed 3 "$@" > "$file"
  read -r t1 c1 < <(counters)
  local mean
  mean=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ember_batch_size_sum/{s=$2} /^ember_batch_size_count/{c=$2} END{printf "%.2f", c ? s / c : 0}')
  node -e 'const fs=require("fs"); const j=JSON.parse(fs.readFileSync(process.argv[1])); const a=process.argv.slice(2).map(Number);
    Object.assign(j, {max_batch: a[0], delay_us: a[1], cpu_s: (a[3] - a[2]) / a[6], ctx: a[5] - a[4], mean_batch: a[7]}); fs.writeFileSync(process.argv[1], JSON.stringify(j));' \
    "$file" "$mb" "$delay" "$t0" "$t1" "$c0" "$c1" "$(getconf CLK_TCK)" "$mean"
  stop_server > "$OUT/stopped.txt"
  local stopped
  stopped=$(cat "$OUT/stopped.txt")
  node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1])); const v=j.tiers.normal;
    if (v.error + v.lost) console.log(`  warning: ${process.argv[1]}: ${v.error} errors, ${v.lost} lost; first error: ${j.first_error}`)' "$file"
  [[ "$stopped" == *"code 0 "* ]] || { echo "  warning: $stopped"; tail -3 "$OUT/serve.err"; }
}
for round in $(seq "$ROUNDS"); do
  for variant in "1 0" "8 2000" "8 0"; do
    set -- $variant
    batch_run "$OUT/batch-$round-$1-$2.json" "$1" "$2" --closed "$CLIENTS" --seconds 8 --max-requests 20000 --keep-alive "$KEEP_ALIVE"
  done
done
node "$ROOT/bench/serve_load_batching.js" closed "$OUT"/batch-*.json | tee "$OUT/batch-summary.txt"
# Open loop at 1x the capacity measured with batching off (its median), and at 1.3x it.
CAP_OFF=$(awk '/^capacity-off/{print $2}' "$OUT/batch-summary.txt")
for x in 1 1.3; do
  rate=$(node -e "console.log(($CAP_OFF * $x).toFixed(2))")
  for variant in "1 0" "8 2000"; do
    set -- $variant
    batch_run "$OUT/open-$x-$1-$2.json" "$1" "$2" --rate "$rate" --seconds 10 --max-requests 20000
  done
done
node "$ROOT/bench/serve_load_batching.js" open "$OUT"/open-*.json
fi

if [[ " $PARTS " == *" 3 "* ]]; then
[ -n "${CAP:-}" ] || CAP=100
echo
echo "== 3. thermal event under load (kjv-gpt2 INT8, 1x load, poll interval 100 ms)"
start_server "$OUT/kjv-gpt2-int8.onnx" gpt2
"$LOAD" --port "$PORT" --model gpt2 --rate "$CAP" --seconds 9 --max-requests 2000 --seed 5 > "$OUT/thermal-load.json" &
LOADPID=$!
sleep 3
state() { curl -s "http://127.0.0.1:$PORT/ember/state"; }
t0=$(date +%s%N); echo 90000 > "$OUT/temp"
until state | grep -q '"throttled":true'; do sleep 0.01; done
t1=$(date +%s%N)
echo "throttled state seen by a client polling /ember/state $(( (t1 - t0) / 1000000 )) ms after the sensor crossed the threshold"
sleep 0.3
echo "while hot: $(state)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Ember-Priority: urgent' -X POST "http://127.0.0.1:$PORT/v2/models/gpt2/infer" \
  -d '{"inputs":[{"name":"input_ids","shape":[1,4],"datatype":"INT64","data":[65,66,67,68]}]}')
echo "urgent request while throttled: HTTP $code"
sleep 2
t0=$(date +%s%N); echo 40000 > "$OUT/temp"
until state | grep -q '"throttled":false'; do sleep 0.01; done
t1=$(date +%s%N)
echo "recovery seen by the client $(( (t1 - t0) / 1000000 )) ms after the sensor cooled"
echo "the server's own account (from the sensor file's mtime; poll interval 100 ms):"
grep "ember-rt: thermal" "$OUT/serve.err" | sed 's/^/  /'
wait $LOADPID
node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1])); for (const [t,v] of Object.entries(j.tiers)) console.log(`  ${t}: sent ${v.sent} ok ${v.ok} rejected ${v.rejected} timeout ${v.timeout} error ${v.error} lost ${v.lost} p99 ${v.p99_ms} ms`)' "$OUT/thermal-load.json"
stop_server
fi

if [[ " $PARTS " == *" 4 "* ]]; then
[ -n "${CAP:-}" ] || CAP=100
echo
echo "== 4. 2x load, priority scheduler against fifo (kjv-gpt2 INT8, same trace and seed)"
for policy in priority fifo; do
  start_server "$OUT/kjv-gpt2-int8.onnx" gpt2 --policy $policy
  rate=$(node -e "console.log(($CAP * 2).toFixed(3))")
  "$LOAD" --port "$PORT" --model gpt2 --rate "$rate" --seconds 20 --max-requests 4000 --seed 11 > "$OUT/policy-$policy.json"
  stop_server
  node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1])); for (const [t,v] of Object.entries(j.tiers))
    console.log(`  ${process.argv[2].padEnd(8)} ${t.padEnd(6)} ok ${v.ok} rejected ${v.rejected} timeout ${v.timeout} lost ${v.lost} p50 ${v.p50_ms} ms p99 ${v.p99_ms} ms`)' \
    "$OUT/policy-$policy.json" $policy
done
fi
