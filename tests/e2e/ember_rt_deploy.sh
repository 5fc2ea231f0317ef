#!/usr/bin/env bash
# ember-rt for deployment: check, option validation, and serve (health, metadata, infer, bad
# requests, priorities, /metrics, thermal gating from a sensor file, idle CPU, SIGTERM).
source "$(dirname "$0")/lib.sh"
RT=$(dirname "$EMBER")/ember-rt
S=$ROOT/samples
MODEL=$S/digits-cnn.onnx
command -v curl >/dev/null || { echo "SKIP: curl is absent"; exit 77; }

# A manifest for the sample model, written by hand (the fields ember compress writes).
manifest() {  # manifest FILE SHA BUDGET_MET DEPLOYMENT_JSON
  cat > "$1" <<JSON
{"schema": "ember.manifest/1", "tool": {"name": "ember", "version": "0.1.0"},
 "model": {"file": "digits-cnn.onnx", "sha256": "$2", "bytes": $(stat -c %s "$MODEL")}, "pipeline": "dce",
 "calibration": {"source": "x", "hash": "sha256:$(printf 'a%.0s' {1..64})", "rows": 1},
 "quality": {"metric": "accuracy", "fp32": 0.98, "compressed": 0.97, "budget": 0.01, "budget_met": $3},
 "tensors": [], "op_counts": {}, "energy": {"fp32_microjoules": 1, "compressed_microjoules": 1},
 "runtime": {"ops": ["Conv", "Relu", "MaxPool", "Gemm"], "weight_dtypes": ["f32"], "isa": {"minimum": "x86-64"}},
 "deployment": $4}
JSON
}
SHA=$(sha256sum "$MODEL" | cut -d' ' -f1)
CORES=$(nproc)
manifest "$WORK/good.json" "$SHA" true '{"threads": 1000, "scheduler": {"max_batch": 4}}'
manifest "$WORK/nobudget.json" "$SHA" false '{}'
manifest "$WORK/wronghash.json" "$(printf '0%.0s' {1..64})" true '{}'
manifest "$WORK/badschema.json" "$SHA" true '{"scheduler": {"max_batch": 0}}'

expect_exit 0 "check good manifest" -- "$RT" check "$MODEL" --manifest "$WORK/good.json"
expect_stdout_contains "runnable"
expect_stdout_contains "1000 threads asked"
expect_exit 0 "check --json" -- "$RT" check "$MODEL" --manifest "$WORK/good.json" --json
expect_stdout_contains "\"threads\": $CORES"
expect_exit 0 "check budget missed" -- "$RT" check "$MODEL" --manifest "$WORK/nobudget.json"
expect_stdout_contains "NOT met"
expect_exit 2 "check wrong hash" -- "$RT" check "$MODEL" --manifest "$WORK/wronghash.json"
expect_stderr_contains "sha256"
sed 's/"bytes": [0-9]*/"bytes": 7/' "$WORK/good.json" > "$WORK/wrongsize.json"
expect_exit 2 "check wrong model.bytes" -- "$RT" check "$MODEL" --manifest "$WORK/wrongsize.json"
expect_stderr_contains "describes a model of 7 bytes"
expect_exit 2 "check bad schema" -- "$RT" check "$MODEL" --manifest "$WORK/badschema.json"
expect_stderr_contains "/deployment/scheduler/max_batch"
expect_exit 0 "bench reports the threads used" -- "$RT" bench "$MODEL" --manifest "$WORK/good.json" --input-shape image=1x1x8x8 --runs 2 --json
expect_stdout_contains "\"threads\": $CORES"
expect_stdout_contains '"energy": "estimated"'
expect_stderr_contains "warning: threads"

# ember compress writes the deployment section from its --deploy-* options; ember-rt obeys it.
expect_exit 0 "compress with deployment options" -- "$EMBER" compress "$MODEL" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" \
  --task classify -o "$WORK/dig" --calib-limit 32 --eval-limit 64 --deploy-max-batch 4 --deploy-thermal-threshold 70
expect_exit 0 "check the compressed model" -- "$RT" check "$WORK/dig/model.onnx" --manifest "$WORK/dig/manifest.json" --json
expect_stdout_contains '"max_batch": 4'
expect_stdout_contains '"threshold_c": 70'
expect_exit 2 "compress refuses a bad deployment option" -- "$EMBER" compress "$MODEL" --calib "$S/digits-calib.npz" \
  --eval "$S/digits-eval.npz" --task classify -o "$WORK/dig2" --deploy-max-batch 0

# ember-rt's own options, validated up front: exit 2 and a message, never a crash.
expect_exit 2 "--warmup -1" -- "$RT" bench "$MODEL" --input-shape image=1x1x8x8 --warmup -1
expect_stderr_contains "--warmup"
expect_exit 2 "--threads huge" -- "$RT" bench "$MODEL" --input-shape image=1x1x8x8 --threads 100000
expect_exit 2 "absurd --input-shape" -- "$RT" bench "$MODEL" --input-shape image=1x99999999999x8x8
expect_exit 2 "non-numeric --input-shape" -- "$RT" bench "$MODEL" --input-shape image=1x1x8x8abc
truncate -s 65M "$WORK/huge.json"
expect_exit 2 "huge manifest" -- "$RT" run "$MODEL" --manifest "$WORK/huge.json"
expect_stderr_contains "more than the"
expect_exit 2 "manifest is a directory" -- "$RT" check "$MODEL" --manifest "$WORK"
expect_exit 2 "manifest is a device" -- "$RT" check "$MODEL" --manifest /dev/zero
expect_stderr_contains "not a regular file"
expect_exit 2 "serve refuses a manifest that fails validation" -- "$RT" serve "$MODEL" --manifest "$WORK/badschema.json" --port 0

# serve
echo 40000 > "$WORK/temp"
"$RT" serve "$MODEL" --port 0 --name digits --thermal-sensor "$WORK/temp" --thermal-threshold 80 --poll-ms 100 \
  --max-body-bytes 4096 >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/listening/{print $2}' "$WORK/serve.out")
[ -n "$PORT" ] && pass || { fail "serve did not start"; cat "$WORK/serve.err"; kill $PID; finish; exit 1; }
URL=http://127.0.0.1:$PORT
ss -ltn 2>/dev/null | grep -q "127.0.0.1:$PORT" && pass || { command -v ss >/dev/null && fail "not listening on 127.0.0.1 only"; }
IMG=$(seq -s, 1 64 | sed 's/[0-9]*/0.5/g')
GOOD="{\"id\": \"r1\", \"inputs\": [{\"name\": \"image\", \"shape\": [1,1,8,8], \"datatype\": \"FP32\", \"data\": [$IMG]}]}"
status() {  # status EXPECTED DESCRIPTION curl-args...: checks the HTTP code; the body lands in $WORK/body
  local want=$1 what=$2; shift 2
  local got; got=$(curl -s -o "$WORK/body" -w '%{http_code}' "$@")
  if [ "$got" = "$want" ]; then pass; else fail "$what: HTTP $got, expected $want"; head -c 300 "$WORK/body"; echo; fi
}
body_contains() { if grep -q -- "$1" "$WORK/body"; then pass; else fail "body lacks '$1'"; head -c 300 "$WORK/body"; echo; fi; }
status 200 "live" "$URL/v2/health/live"
status 200 "ready" "$URL/v2/health/ready"
status 200 "metadata" "$URL/v2/models/digits"; body_contains '"name":"image"'
status 200 "infer" -X POST "$URL/v2/models/digits/infer" -d "$GOOD"; body_contains '"shape":\[1,10\]'; body_contains '"id":"r1"'
status 200 "infer urgent by header" -X POST -H "X-Ember-Priority: urgent" "$URL/v2/models/digits/infer" -d "$GOOD"; body_contains '"priority":"urgent"'
status 200 "infer low by parameter" -X POST "$URL/v2/models/digits/infer" -d "${GOOD%\}}, \"parameters\": {\"priority\": \"low\"}}"
body_contains '"priority":"low"'
status 400 "malformed JSON" -X POST "$URL/v2/models/digits/infer" -d '{"inputs": [' ; body_contains '"error"'
status 400 "wrong shape" -X POST "$URL/v2/models/digits/infer" -d '{"inputs": [{"name": "image", "shape": [1,1,8,7], "datatype": "FP32", "data": [1]}]}'
body_contains "input 'image'"
status 400 "wrong dtype" -X POST "$URL/v2/models/digits/infer" -d "${GOOD/FP32/INT64}"; body_contains "INT64"
status 400 "unknown input" -X POST "$URL/v2/models/digits/infer" -d '{"inputs": [{"name": "pixels", "shape": [1], "datatype": "FP32", "data": [1]}]}'
body_contains "pixels"
status 400 "bad priority" -X POST -H "X-Ember-Priority: asap" "$URL/v2/models/digits/infer" -d "$GOOD"; body_contains "asap"
status 404 "unknown model" -X POST "$URL/v2/models/nosuch/infer" -d "$GOOD"; body_contains "nosuch"
head -c 10000 /dev/zero | tr '\0' ' ' > "$WORK/big.json"
status 413 "body over the limit" -X POST "$URL/v2/models/digits/infer" --data-binary @"$WORK/big.json"; body_contains "size limit"
status 200 "still serving after bad requests" -X POST "$URL/v2/models/digits/infer" -d "$GOOD"
status 200 "metrics" "$URL/metrics"
for m in 'ember_request_latency_seconds_bucket{tier="urgent"' ember_queue_time_seconds_count ember_batch_size_bucket \
         'ember_energy_joules_total{measured="false"' ember_energy_average_watts ember_thermal_throttled; do body_contains "$m"; done

# Thermal: the sensor crosses the threshold, the server throttles within a poll interval (plus
# slack for a loaded machine), pauses the low tier, still serves urgent, and recovers.
echo 90000 > "$WORK/temp"; sleep 0.5
status 200 "state" "$URL/ember/state"; body_contains '"throttled":true'
status 200 "urgent while throttled" -X POST -H "X-Ember-Priority: urgent" "$URL/v2/models/digits/infer" -d "$GOOD"
curl -s -o "$WORK/low.json" -w '%{http_code}' -X POST -H "X-Ember-Priority: low" "$URL/v2/models/digits/infer" -d "$GOOD" > "$WORK/low.code" &
LOWPID=$!
sleep 0.5
status 200 "state" "$URL/ember/state"; body_contains '"low":1'
echo 70000 > "$WORK/temp"
wait $LOWPID
[ "$(cat "$WORK/low.code")" = 200 ] && pass || fail "the paused low request was not served after cooling"
status 200 "state" "$URL/ember/state"; body_contains '"throttled":false'

# Idle: CPU time of the whole server over 3 s is under 1% of a core.
TICKS=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
before=$(cpu); sleep 3; after=$(cpu)
used=$((after - before))
if [ $((used * 100)) -lt $((3 * TICKS)) ]; then pass; else fail "idle server used $used ticks of $((3 * TICKS)) in 3 s"; fi
echo "idle CPU: $used ticks in 3 s ($TICKS per second)"

# SIGTERM with requests queued (low tier, paused by a hot sensor): they are answered, exit 0.
echo 90000 > "$WORK/temp"; sleep 0.5
for i in $(seq 4); do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "X-Ember-Priority: low" "$URL/v2/models/digits/infer" -d "$GOOD" >> "$WORK/codes" &
done
sleep 0.5
status 200 "state" "$URL/ember/state"; body_contains '"low":4'
kill -TERM $PID
wait $PID; code=$?
[ "$code" = 0 ] && pass || fail "serve exited $code after SIGTERM"
wait
[ "$(grep -c '^200$' "$WORK/codes")" = 4 ] && pass || fail "queued requests at SIGTERM got $(sort "$WORK/codes" | tr '\n' ' ')"
grep -q "finishing the queued requests" "$WORK/serve.err" && pass || fail "no shutdown message"
finish
