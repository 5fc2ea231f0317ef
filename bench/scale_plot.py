#!/usr/bin/env python3
"""The plot of bench/scale.sh's output (issue 19: how the costs grow with the parameter count).

    bash bench/scale.sh --sizes "0.1 0.5 1 2" > scale.jsonl
    python3 bench/scale_plot.py scale.jsonl bench/scale.svg

Two log-log panels against the parameter count: wall seconds of RTN INT4, INT8, GPTQ INT4 and of
reading the weights once; peak resident memory of the three quantizers beside the INT4 output's
size. A straight line of slope 1 is linear growth; a flat one is a bound independent of the size.
Standard library only (no numpy or matplotlib on the target machine).
"""
import json
import math
import sys

SERIES = [("rtn4", "RTN INT4 b32", "#1f77b4"), ("int8", "INT8 per channel", "#2ca02c"),
          ("gptq4", "GPTQ INT4, 512 tokens", "#d62728"), ("read-once", "read the weights once", "#7f7f7f")]
W, H, PAD = 360, 300, 56


def load(path):
    times, rss, out_gb = {}, {}, {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "int4_bytes" in r:
            out_gb[r["size_b"]] = r["int4_bytes"] / 1e9
        step = r.get("step", "")
        if "seconds" not in r or "-" not in step:
            continue
        kind, size = step.rsplit("-", 1)
        times.setdefault(kind, {})[float(size)] = r["seconds"]
        rss.setdefault(kind, {})[float(size)] = r["peak_rss_gb"]
    return times, rss, out_gb


def panel(x0, title, ylabel, series, xs_all):
    ys_all = [y for _, _, _, pts in series for y in pts.values() if y > 0]
    lx0, lx1 = math.log10(min(xs_all)), math.log10(max(xs_all))
    ly0, ly1 = math.floor(math.log10(min(ys_all))), math.ceil(math.log10(max(ys_all)))
    px = lambda x: x0 + PAD + (math.log10(x) - lx0) / max(lx1 - lx0, 1e-9) * (W - PAD - 10)
    py = lambda y: H - PAD + 10 - (math.log10(y) - ly0) / max(ly1 - ly0, 1e-9) * (H - PAD - 10)
    out = [f'<text x="{x0 + W / 2}" y="14" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<text x="{x0 + 12}" y="{H / 2}" transform="rotate(-90 {x0 + 12} {H / 2})" text-anchor="middle">{ylabel}</text>',
           f'<text x="{x0 + W / 2 + PAD / 2}" y="{H + 4}" text-anchor="middle">parameters (billions)</text>']
    for e in range(ly0, ly1 + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{x0 + PAD}" x2="{x0 + W - 10}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + PAD - 4}" y="{y + 4}" text-anchor="end">{10 ** e:g}</text>')
    for x in xs_all:
        out.append(f'<text x="{px(x)}" y="{H - PAD + 26}" text-anchor="middle">{x:g}</text>')
    for i, (_, label, color, pts) in enumerate(series):
        xs = sorted(x for x in pts if pts[x] > 0)
        path = " ".join(f"{px(x):.1f},{py(pts[x]):.1f}" for x in xs)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{px(x):.1f}" cy="{py(pts[x]):.1f}" r="3" fill="{color}"/>' for x in xs]
        out.append(f'<text x="{x0 + PAD + 6}" y="{30 + 14 * i}" fill="{color}">{label}</text>')
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: scale_plot.py SCALE.jsonl OUT.svg")
    times, rss, out_gb = load(sys.argv[1])
    xs = sorted({x for pts in times.values() for x in pts})
    if not xs:
        sys.exit("scale_plot.py: no timed steps in " + sys.argv[1])
    t = [(k, label, color, times[k]) for k, label, color in SERIES if k in times]
    m = [(k, label + " peak", color, rss[k]) for k, label, color in SERIES[:3] if k in rss]
    m.append(("out", "INT4 output size", "#9467bd", out_gb))
    body = panel(0, "time", "wall seconds", t, xs) + panel(W + 20, "peak memory", "GB", m, xs)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W + 20}" height="{H + 10}" '
           'font-family="sans-serif" font-size="11">'] + body + ["</svg>"]
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
