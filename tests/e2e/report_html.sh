#!/usr/bin/env bash
# report.html in a real headless browser (Debian's chromium), with no network: the page of a
# real `ember compress` run on the samples, and the page of a hand-written manifest with a full
# search section and hostile names (tests/report/search_manifest.json). Checks that each SVG
# plot lays out with visible marks, that no markup from a name became an element, that the
# page's own Content-Security-Policy refuses nothing (it loads nothing), and that the page is
# byte-identical across two runs. Skips (exit 77) when chromium is absent.
source "$(dirname "$0")/lib.sh"
S=$ROOT/samples
RENDER=${EMBER_BUILD_DIR:-$(dirname "$EMBER")}/tests/render_report_html
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then echo "SKIP: chromium is not installed (scripts/install-deps.sh installs it)"; exit 77; fi
# No network at all when a network namespace can be made; the flags below refuse it anyway.
NONET=()
unshare -n true 2>/dev/null && NONET=(unshare -n)

browser() {  # browser OUTFILE ARGS... : headless chromium, offline, its own profile, bounded in time
  local out=$1; shift
  timeout 120 "${NONET[@]}" "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" --enable-logging=stderr --v=0 "$@" \
    >"$out" 2>"$WORK/browser.log"
}

# A copy of the page with a checker appended (the page itself has no script, and its CSP
# would refuse one): counts the plots, their marks with a non-empty layout box, and elements.
cat >"$WORK/checker.js" <<'JS'
<script>
(function () {
  var out = [];
  var svgs = document.querySelectorAll('svg.plot');
  out.push('plots=' + svgs.length);
  svgs.forEach(function (s) {
    var box = s.getBoundingClientRect();
    var marks = s.querySelectorAll('circle, rect.bar, rect.strip, polyline, line.limit');
    var visible = 0;
    marks.forEach(function (m) { var r = m.getBoundingClientRect(); if (r.width > 0 || r.height > 0) visible++; });
    out.push('plot ' + s.id + ' ' + Math.round(box.width) + 'x' + Math.round(box.height) + ' marks=' + marks.length + ' visible=' + visible);
  });
  out.push('scripts=' + document.scripts.length + ' images=' + document.images.length +
           ' bold=' + document.querySelectorAll('b').length + ' tables=' + document.querySelectorAll('table').length);
  var pre = document.createElement('pre');
  pre.id = 'ember-check';
  pre.textContent = out.join('\n');
  document.body.appendChild(pre);
})();
</script>
JS

# check_page HTML PLOTS: renders the checking copy and the page itself.
check_page() {
  local page=$1 plots=$2 name
  name=$(basename "$page" .html)
  grep -v 'Content-Security-Policy' "$page" | sed 's#</body>##' >"$WORK/$name-check.html"
  cat "$WORK/checker.js" >>"$WORK/$name-check.html"
  echo '</body>' >>"$WORK/$name-check.html"
  browser "$WORK/$name-dom.html" --dump-dom "file://$WORK/$name-check.html" && pass || fail "$name: chromium --dump-dom failed"
  sed -n '/<pre id="ember-check">/,/<\/pre>/p' "$WORK/$name-dom.html" >"$WORK/$name-result"
  sed 's/^/    /' "$WORK/$name-result"
  grep -q "plots=$plots\$" "$WORK/$name-result" && pass || fail "$name: expected $plots plots"
  grep -q "scripts=1 images=0 bold=0 tables=" "$WORK/$name-result" && pass || fail "$name: markup from the manifest became elements"
  local bad
  bad=$(grep '^plot ' "$WORK/$name-result" | awk '{ split($4, m, "="); split($5, v, "="); split($3, d, "x");
          if (m[2] == 0 || m[2] != v[2] || d[1] < 100 || d[2] < 100) print }')
  [ -z "$bad" ] && pass || fail "$name: a plot without visible marks: $bad"
  # The page as shipped: a screenshot, and nothing refused or failing in the console.
  browser "$WORK/$name-shot.log" --screenshot="$WORK/$name.png" --window-size=1000,2000 "file://$page" && pass || fail "$name: screenshot failed"
  [ "$(stat -c %s "$WORK/$name.png" 2>/dev/null || echo 0)" -gt 20000 ] && pass || fail "$name: the screenshot is empty"
  if grep -E "CONSOLE|Refused to|Uncaught" "$WORK/browser.log"; then fail "$name: console errors"; else pass; fi
}

expect_exit 0 "compress digits" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" --task classify -o "$WORK/digits"
expect_stdout_contains "report.html"
expect_exit 0 "compress digits again" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" --task classify -o "$WORK/digits2"
cmp -s "$WORK/digits/report.html" "$WORK/digits2/report.html" && pass || fail "report.html differs between two identical runs"
check_page "$WORK/digits/report.html" 3  # the search's manifest: sensitivity, Pareto front, bits histogram
grep -q "no &#39;search&#39; section" "$WORK/digits/report.html" && fail "the search's page says its search section is absent" || pass
# A uniform recipe (--scheme) writes no search section: the page draws what it has and says so.
expect_exit 0 "compress digits with a uniform scheme" -- "$EMBER" compress "$S/digits-cnn.onnx" --calib "$S/digits-calib.npz" --eval "$S/digits-eval.npz" --task classify --scheme w8 -o "$WORK/uniform"
check_page "$WORK/uniform/report.html" 2
grep -q "no &#39;search&#39; section" "$WORK/uniform/report.html" && pass || fail "the page does not say the search section is absent"

expect_exit 0 "render the search manifest" -- "$RENDER" "$ROOT/tests/report/search_manifest.json" "$WORK/search.html"
check_page "$WORK/search.html" 3
grep -q "&lt;/svg&gt;&lt;script&gt;" "$WORK/search-dom.html" && pass || fail "the hostile layer name is not shown as text"
finish
