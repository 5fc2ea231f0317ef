#!/usr/bin/env bash
# The layering check passes on this tree, and fails, naming the file, on a copy of it with a
# deliberately wrong include (runtime including passes) and on one where the tiny runtime
# includes calibration.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bash "$here/check_layers.sh" "$root"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ember-layering.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
for case in "runtime/kernels/matmul.cc:passes/pass.h" "tools/ember-rt/main.cc:calibration/dataset.h" \
    "tools/common/cli_checks.cc:deploy/session.h"; do
  file=${case%%:*}
  header=${case#*:}
  rm -rf "$scratch/tree" && mkdir -p "$scratch/tree"
  for d in ir formats runtime calibration passes deploy tools; do [ -d "$root/$d" ] && cp -r "$root/$d" "$scratch/tree/"; done
  printf '#include "%s"\n' "$header" >> "$scratch/tree/$file"
  if out=$(bash "$here/check_layers.sh" "$scratch/tree" 2>&1); then
    echo "FAIL: the check accepted $file including $header"
    exit 1
  fi
  grep -q "$file:.* may not include $header" <<<"$out" || { echo "FAIL: no message naming $file: $out"; exit 1; }
  echo "rejected as it should be: $(grep "$file" <<<"$out")"
done
echo "layering test passed"
