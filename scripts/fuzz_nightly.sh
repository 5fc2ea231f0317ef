#!/usr/bin/env bash
# Longer fuzzing than the test suite's 60 s per target: SECONDS per target (default 1800),
# same clang build (build-fuzz), same seeds, one target at a time on all cores' worth of time.
# New crash inputs land in fuzz/artifacts/; fix them, then keep them in fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 \
  -DEMBER_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_all
ctest --test-dir build-fuzz -L fuzz --output-on-failure --verbose | grep -E "executions in|FAILED|tests passed|tests failed"
