#!/usr/bin/env bash
# The deployment side's layering (DESIGN.md): deploy/ includes only ir/, formats/, runtime/ and
# itself; ember-rt's sources include no passes/ or calibration/, and its binary holds none of
# their code; deploy/ember_rt.h is plain C.
source "$(dirname "$0")/lib.sh"
RT=$(dirname "$EMBER")/ember-rt
bad=$(grep -rhoE '#include "[a-z_]+/' "$ROOT/deploy" | sort -u | grep -vE '"(deploy|ir|formats|runtime)/')
[ -z "$bad" ] && pass || fail "deploy/ includes $bad"
bad=$(grep -rhoE '#include "[a-z_]+/' "$ROOT/tools/ember-rt" | sort -u | grep -vE '"(deploy|ir|formats|runtime|tools)/')
[ -z "$bad" ] && pass || fail "tools/ember-rt includes $bad"
if command -v nm >/dev/null; then
  n=$(nm -C "$RT" | grep -cE 'ember::(passes|calibration)::')
  [ "$n" = 0 ] && pass || fail "ember-rt contains $n symbols of passes/ or calibration/"
fi
grep -qE '^#include <(iostream|string|vector|map)>' "$ROOT/deploy/ember_rt.h" && fail "ember_rt.h includes a C++ header" || pass
finish
