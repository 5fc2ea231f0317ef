#!/usr/bin/env bash
# Runs Ember's whole test suite: installs dependencies, builds a sanitizer build
# (AddressSanitizer + UBSan) and a Release build, installs the peer runtime for the interop
# tests, then runs ctest on both. Tests that need ../shared skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

# onnxruntime-node is the peer runtime for the interop tests; they skip when npm is unreachable.
if [ ! -d build/node/node_modules/onnxruntime-node ] || [ ! -d build/node/node_modules/adm-zip ]; then
  mkdir -p build/node
  (cd build/node && timeout 600 npm install --ignore-scripts --no-audit --no-fund --loglevel=error onnxruntime-node adm-zip) \
    || echo "test.sh: npm install failed; interop tests will skip"
fi

jobs=$(nproc)
# The sanitizer build compiles at -O1 (CMakeLists.txt: half the build time of -O2, still quick
# to run) and only what its tests use.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs" --target ember ember-rt ember_tests c_api_test ember_rt_example
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"

echo "== sanitizer build (ASan + UBSan): the unit suite, CLI, importance and compress tests =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L sanitize --output-on-failure -j "$jobs"
echo "== release build: every test =="
ctest --test-dir build --output-on-failure -j "$jobs"
