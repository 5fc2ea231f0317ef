#!/usr/bin/env bash
# Layering check (../shared/DESIGN.md): a folder includes only the folders below it.
#   ir <- formats <- runtime <- calibration <- passes <- tools/ember
#   runtime depends on ir only; deploy on ir, formats, runtime; the tiny runtime (tools/ember-rt)
#   on ir, formats, runtime and deploy, never passes or calibration. tools/common (option checks
#   both CLIs share) sits on ir, formats and runtime.
# Usage: check_layers.sh [ROOT]   (default: the repository). Prints each violation as
# FILE:LINE: FOLDER may not include HEADER, and exits 1 when there is any.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

allowed_for() {
  case "$1" in
    ir) echo "ir" ;;
    formats) echo "ir formats" ;;
    runtime) echo "ir runtime" ;;
    calibration) echo "ir formats runtime calibration" ;;
    passes) echo "ir formats runtime calibration passes" ;;
    deploy) echo "ir formats runtime deploy" ;;
    tools/common) echo "ir formats runtime tools/common" ;;
    tools/ember-rt) echo "ir formats runtime deploy tools/common tools/ember-rt" ;;
    tools/ember) echo "ir formats runtime calibration passes deploy tools/common tools/ember" ;;
  esac
}

violations=0
for folder in ir formats runtime calibration passes deploy tools/common tools/ember tools/ember-rt; do
  [ -d "$folder" ] || continue
  allowed=" $(allowed_for "$folder") "
  # Every project include: #include "top/..." where top is a project folder.
  while IFS=: read -r file line text; do
    header=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$text")
    top=${header%%/*}
    [ "$top" = tools ] && top=$(cut -d/ -f1-2 <<<"$header")
    case "$top" in ir | formats | runtime | calibration | passes | deploy | tools/common | tools/ember | tools/ember-rt) ;; *) continue ;; esac
    if [[ "$allowed" != *" $top "* ]]; then
      echo "$file:$line: $folder may not include $header"
      violations=$((violations + 1))
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' --include='*.h' --include='*.cc' --include='*.c' "$folder" || true)
done
if [ "$violations" -gt 0 ]; then
  echo "layering: $violations include(s) point up the layers"
  exit 1
fi
echo "layering: every include points down the layers"
