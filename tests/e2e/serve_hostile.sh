#!/usr/bin/env bash
# Hostile HTTP requests against a running `ember-rt serve` on 127.0.0.1 (issue 20): malformed,
# oversized and hostile requests get 4xx answers with a JSON error, never a crash, a 5xx or a
# hang, and the server keeps serving (tests/e2e/serve_hostile.py sends them over raw sockets).
# Bounded: about a hundred requests, each with a 10 s deadline; the whole test has 120 s.
source "$(dirname "$0")/lib.sh"
RT=$(dirname "$EMBER")/ember-rt
command -v python3 >/dev/null || { echo "SKIP: python3 is absent"; exit 77; }
MAX_BODY=65536
"$RT" serve "$ROOT/samples/digits-cnn.onnx" --port 0 --name digits --workers 2 --max-body-bytes $MAX_BODY \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/listening/{print $2}' "$WORK/serve.out")
[ -n "$PORT" ] && pass || { fail "serve did not start"; cat "$WORK/serve.err"; kill $PID; finish; exit 1; }
if timeout 120 python3 "$ROOT/tests/e2e/serve_hostile.py" "$PORT" digits $MAX_BODY > "$WORK/hostile.log" 2>&1; then
  pass
else
  fail "hostile requests (exit $?)"
fi
cat "$WORK/hostile.log"
kill -0 $PID 2>/dev/null && pass || fail "the server died"
kill -TERM $PID
wait $PID; code=$?
[ "$code" = 0 ] && pass || { fail "serve exited $code after SIGTERM"; tail -20 "$WORK/serve.err"; }
finish
