# Shared helpers for the end-to-end test scripts. Each script gets the ember binary as $1.
set -u
EMBER=${1:?usage: script EMBER_BINARY}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED=${EMBER_SHARED_DIR:-$ROOT/../shared}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
checks=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }

# expect_exit CODE DESCRIPTION -- command...: runs the command, checks its exit code and
# that stderr names something (the message must not be empty on failure).
expect_exit() {
  local want=$1 what=$2; shift 3
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    fail "$what: exit $got, expected $want"; sed 's/^/    /' "$WORK/err" | head -5
  elif [ "$want" != 0 ] && ! grep -q . "$WORK/err"; then
    fail "$what: exit $got but no message on stderr"
  else
    pass
  fi
}

expect_stderr_contains() {
  if grep -q -- "$1" "$WORK/err"; then pass; else fail "stderr does not mention '$1'"; sed 's/^/    /' "$WORK/err" | head -3; fi
}
expect_stdout_contains() {
  if grep -q -- "$1" "$WORK/out"; then pass; else fail "stdout does not mention '$1'"; head -5 "$WORK/out" | sed 's/^/    /'; fi
}

need_shared() {
  if [ ! -d "$SHARED/models" ]; then echo "SKIP: $SHARED/models is absent"; exit 77; fi
}

finish() {
  echo "$checks checks passed, $failures failed"
  [ "$failures" = 0 ]
}
