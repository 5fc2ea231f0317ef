#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time and prints its figures:
#   run_fuzzer.sh FUZZER SECONDS SEED_DIR REGRESSION_DIR
# The corpus grows in a scratch copy (the seeds stay as built). A crash writes its input to
# fuzz/artifacts/ and fails the test: fix it, then move the input to REGRESSION_DIR, where the
# fuzz_replay_<target> test of the ordinary builds replays it from then on.
set -u
fuzzer=$1 seconds=$2 seeds=$3 regressions=$4
name=$(basename "$fuzzer")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$root/fuzz/artifacts"
inputs=("$work/corpus" "$seeds")
[ -d "$regressions" ] && inputs+=("$regressions")
# -rss_limit_mb well above the targets' own memory caps (fuzz_support.h); a slow input
# (-timeout) counts as a hang. One job: CI has two cores and other tests run beside it.
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len=262144 -print_final_stats=1 \
  -artifact_prefix="$root/fuzz/artifacts/$name-" "${inputs[@]}" >"$work/log" 2>&1
status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
corpus=$(grep -o 'corp: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
if [ -z "$runs" ]; then  # stopped early (a crash): the last status line has the count
  runs=$(grep -o '^#[0-9]*' "$work/log" | tail -1 | tr -d '#')
  seconds="<$seconds"
fi
echo "$name: ${runs:-?} executions in ${seconds} s (${speed:-?} exec/s), coverage ${cov:-?} edges, ${ft:-?} features, corpus ${corpus:-?} inputs"
if [ "$status" != 0 ]; then
  echo "$name: FAILED (exit $status); the input is in $root/fuzz/artifacts/"
  grep -E "ERROR|SUMMARY|runtime error|#[0-9]+ 0x" "$work/log" | head -30
  exit 1
fi
