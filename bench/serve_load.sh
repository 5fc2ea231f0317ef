#!/usr/bin/env bash
# Load test of `ember-rt serve` (issue 18): loopback only, bounded in count and time (about 3 minutes).
#   bash bench/serve_load.sh [BUILD_DIR]   (needs -DEMBER_BUILD_BENCH=ON for build/bench/serve_load)
# 1. kjv-gpt2 INT8 (made with `ember quantize --weights int8`): capacity measured closed-loop with
#    the mixed trace (10% urgent, 60% normal, 30% low; 70% short [1,16], 30% long [1,128]), then
#    open-loop Poisson at 0.5x, 1x, 2x that capacity: per-tier p50/p99, throughput, rejections,
#    energy per request, and a text plot.
# 2. Batching, short requests: kjv-gpt2's graph fixes its batch to 1 (a GatherND in the mask path),
#    so batching is measured on digits-cnn (batch dimension free): saturation throughput with
#    --max-batch 8 against --max-batch 1.
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
echo
echo "== 2. batching, short requests (digits-cnn, saturation, 8 clients, 10 s each)"
for variant in "1 0" "8 2000" "8 0"; do
  set -- $variant
  start_server "$ROOT/samples/digits-cnn.onnx" digits --max-batch $1 --max-queue-delay-us $2
  "$LOAD" --port "$PORT" --model digits --image 1 --closed 8 --seconds 10 --max-requests 20000 --long-share 0 --urgent 0 --normal 1 \
    --seed 3 > "$OUT/batch-$1-$2.json"
  curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ember_batch_size_(sum|count)/{printf "  %s %s", $1, $2} END{print ""}'
  # Where the time goes: the server's CPU time and voluntary context switches per answered request.
  node -e 'const fs=require("fs"); const n=JSON.parse(fs.readFileSync(process.argv[1])).tiers.normal.ok;
    const st=fs.readFileSync(`/proc/${process.argv[2]}/stat`,"utf8").split(") ")[1].split(" ");
    let ctx=0; for (const t of fs.readdirSync(`/proc/${process.argv[2]}/task`))
      ctx+=Number((fs.readFileSync(`/proc/${process.argv[2]}/task/${t}/status`,"utf8").match(/^voluntary_ctxt_switches:\s+(\d+)/m)||[0,0])[1]);
    const cpu=(Number(st[11])+Number(st[12]))/Number(process.argv[3]);
    console.log(`  server: ${(cpu*1e6/n).toFixed(0)} us of CPU and ${(ctx/n).toFixed(1)} context switches per request (${n} answered)`)' \
    "$OUT/batch-$1-$2.json" "$SERVER" "$(getconf CLK_TCK)"
  stop_server
done
node -e 'const f=(p)=>JSON.parse(require("fs").readFileSync(p)).throughput_per_s; const a=f(process.argv[1]);
  for (const [name, p] of [["max batch 8, max queue delay 2000 us", process.argv[2]], ["max batch 8, max queue delay 0", process.argv[3]]])
    console.log(`throughput: batching off ${a.toFixed(1)}/s, ${name} ${f(p).toFixed(1)}/s: ${(f(p)/a).toFixed(2)}x (target >= 1.3x)`)' \
  "$OUT/batch-1-0.json" "$OUT/batch-8-2000.json" "$OUT/batch-8-0.json"
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
