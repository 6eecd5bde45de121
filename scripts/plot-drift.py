#!/usr/bin/env python3
"""path_gpu_drift's CSV -> one PNG: the decode's drift against the exact decode vs decode steps.

  path_gpu_drift --out drift.csv && python3 scripts/plot-drift.py drift.csv drift.png
  python3 scripts/plot-drift.py drift.csv fla-drift.csv drift.png   # several CSVs (same columns) in one plot

Needs matplotlib (`.venv/bin/pip install -r adapters/python/requirements-report.txt`). Three panels,
one line per (implementation, config), steps on a log axis (docs/decode.md section 7):
  1. the key cache's relative L2 error, with its rounding floor (the error of rounding the exact cache
     to the cache's dtype) dotted in the same colour;
  2. o's relative L2 error over the last `window` steps before each checkpoint, floor dotted
     (the exact o rounded to the input dtype);
  3. error / floor for both (solid: cache, dashed: o over the window): a drift that grows with the
     steps climbs here, an error that stays at the storage's rounding stays near 1.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys


def read_rows(paths):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                r["_file"] = p
                rows.append(r)
    return rows


def num(r, key):
    try:
        return float(r[key])
    except (KeyError, ValueError):
        return math.nan


def series(rows):
    """{(impl, config): rows sorted by steps}, in the order the configs first appear."""
    out = {}
    for r in rows:
        out.setdefault((r.get("impl", "path"), r["config"]), []).append(r)
    for key in out:
        out[key].sort(key=lambda r: num(r, "steps"))
    return out


def title(rows):
    first = rows[0]
    keys = ("T", "B", "H", "HQ", "D", "gate", "seed")
    common = [f"{k}={first.get(k)}" for k in keys if all(r.get(k) == first.get(k) for r in rows)]
    return "PaTH decode drift vs the exact (fp64) decode: " + ", ".join(common)


def plot(rows, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    windows = sorted({r.get("window_steps") for r in rows})
    for i, ((impl, config), rs) in enumerate(series(rows).items()):
        c = colours[i % len(colours)]
        label = f"{impl} {config}"
        x = [num(r, "steps") for r in rs]
        ax1.plot(x, [num(r, "cache_rel_l2") for r in rs], "o-", color=c, label=label)
        ax1.plot(x, [num(r, "cache_floor_rel_l2") for r in rs], ":", color=c)
        ax2.plot(x, [num(r, "o_window_rel_l2") for r in rs], "o-", color=c, label=label)
        ax2.plot(x, [num(r, "o_window_floor_rel_l2") for r in rs], ":", color=c)
        ax3.plot(x, [num(r, "cache_ratio_l2") for r in rs], "o-", color=c, label=f"{label}: cache")
        ax3.plot(x, [num(r, "o_window_ratio") for r in rs], "s--", color=c, label=f"{label}: o")
    window = max((int(w) for w in windows if w and w.isdigit()), default=0)
    ax1.set_title("key cache", fontsize=10)
    ax2.set_title(f"o, the last {window} steps before each checkpoint", fontsize=10)
    ax3.set_title("error / rounding floor (solid: cache, dashed: o)", fontsize=10)
    ax1.set_ylabel("relative L2 error (dotted: rounding floor)")
    ax2.set_ylabel("relative L2 error (dotted: rounding floor)")
    ax3.set_ylabel("error / floor")
    for ax in (ax1, ax2, ax3):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("decode steps")
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7)
    ax3.legend(fontsize=6)
    fig.suptitle(title(rows), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", nargs="+", help="path_gpu_drift CSVs (or any with the same columns)")
    ap.add_argument("png", help="the PNG to write")
    args = ap.parse_args()
    rows = read_rows(args.csv)
    if not rows:
        print("plot-drift: no rows in " + ", ".join(args.csv), file=sys.stderr)
        return 1
    plot(rows, args.png)
    print(f"plot-drift: wrote {args.png} ({len(rows)} rows, {len(series(rows))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
