#!/usr/bin/env bash
# Installs Ember's build and test dependencies from Debian 12 packages.
# Idempotent: when every package is already present it only runs dpkg queries (well under a second).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config ccache
  libonnx-dev libprotobuf-dev protobuf-compiler
  libcli11-dev libfmt-dev nlohmann-json3-dev doctest-dev libzip-dev
  libonnx-testdata
  clang-14 libfuzzer-14-dev python3
  libcpp-httplib-dev
  libopenblas-dev  # bench/ (-DEMBER_BUILD_BENCH=ON): bench_sgemm's reference
  chromium  # tests/e2e/report_html.sh: report.html checked in a real headless browser
  time bc  # bench/ scripts: CPU time per inference (bench/prune_speed.sh) and ratios
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Node.js and npm are only needed by the interop tests and benchmarks (onnxruntime-node).
# Some images ship a Node.js whose own npm conflicts with Debian's npm package: only install when absent.
if ! command -v npm >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || echo "install-deps: npm unavailable; interop tests will skip"
fi
