"""Two `ember importance --json` reports of one network written two ways score alike.

Usage: same_scores.py A.json B.json REL_TOL NAME...
Both reports have no gradient cut and no unscored weight; each named weight's Taylor and Fisher
scores are positive and agree to REL_TOL (relative). Prints the pairs; exits 1 on a mismatch.
"""
import json
import sys

a_path, b_path, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
reports = [json.load(open(p)) for p in (a_path, b_path)]
for r in reports:
    assert not r.get("gradient_cuts") and not r.get("unscored_weights"), (r.get("gradient_cuts"), r.get("unscored_weights"))
a, b = ({t["name"]: t for t in r["tensors"]} for r in reports)
for name in sys.argv[4:]:
    for key in ["taylor", "fisher_sum"]:
        x, y = a[name][key], b[name][key]
        assert x > 0 and abs(x - y) <= tol * abs(y), (name, key, x, y)
        print(f"{name:4} {key:10} {x:.9g} {y:.9g}")
