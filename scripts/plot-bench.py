#!/usr/bin/env python3
"""bench-peers.py's JSON -> PNG plots and the markdown for docs/performance-gpu.md.

Runs here, in the project's .venv with matplotlib added
(`.venv/bin/pip install -r adapters/python/requirements-report.txt`; the tests do not need it):
  .venv/bin/python scripts/plot-bench.py bench-peers.json --png-dir docs/img --markdown perf.md

Plots, one PNG per (mode, dtype): time (ms, log) vs T, and attention-equivalent TFLOP/s vs T, one line
per peer and head dim; a decode PNG (ms a step and % of the copy bandwidth). The markdown has the
run's date, GPU, commit and command, the table of medians with the ratios ours/cuDNN, ours/FA2 and
FLA/ours, peak extra memory, the decode table, and every skip and failure with its reason.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

PEERS = [("ours", "ours (PaTH, this library)"), ("cudnn", "SDPA cuDNN (no PE)"), ("fa2", "SDPA FA2 (no PE)"),
         ("fla", "FLA 0.6.0 PaTH (Triton)")]


def fmt(x, nd=3):
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, (int, float)) else str(x))


def ratio(a, b):
    return f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0 else "-"


def index(report):
    rows = {}
    for r in report.get("results", []):
        rows.setdefault((r["mode"], r["dtype"], r["D"], r["T"]), {})[r["peer"]] = r
    return rows


def markdown(report, json_name, png_names):
    m = report["meta"]
    out = []
    out.append(f"### {m.get('date_utc', '?')} UTC, {m.get('gpu', '?')}, commit {m.get('commit', '?')}")
    out.append("")
    out.append(f"torch {m.get('torch')}, CUDA {m.get('cuda')}, cuDNN {m.get('cudnn')}, triton {m.get('triton')}, "
               f"fla {m.get('fla')}; B*T = {m.get('tokens')}, {m.get('heads')} heads, gate: {m.get('gate')}, "
               f"median of up to {m.get('reps')} runs after {m.get('warmup')} warm-up, fresh random inputs each. "
               f"Command: `{m.get('command')}`; JSON: `{json_name}`; run time {fmt(m.get('wall_s'), 0)} s of a "
               f"{fmt(m.get('budget_s'), 0)} s budget.")
    out.append("")
    out.append("| mode | dtype | D | T | ours ms | cuDNN ms | FA2 ms | FLA ms | ours/cuDNN | ours/FA2 | FLA/ours | "
               "ours peak MiB | FLA peak MiB | reps (ours) |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = index(report)
    for key in sorted(rows):
        r = rows[key]
        ms = {p: (r[p].get("ms") if p in r else None) for p, _ in PEERS}
        err = {p: ("fail" if p in r and "error" in r[p] else None) for p, _ in PEERS}
        c = {p: fmt(ms[p]) if ms[p] is not None else (err[p] or "-") for p, _ in PEERS}
        out.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {c['ours']} | {c['cudnn']} | {c['fa2']} | "
                   f"{c['fla']} | {ratio(ms['ours'], ms['cudnn'])} | {ratio(ms['ours'], ms['fa2'])} | "
                   f"{ratio(ms['fla'], ms['ours'])} | {fmt(r.get('ours', {}).get('peak_extra_MiB'), 0)} | "
                   f"{fmt(r.get('fla', {}).get('peak_extra_MiB'), 0)} | {fmt(r.get('ours', {}).get('reps'), 0)} |")
    dec = report.get("decode", [])
    if dec:
        bw = m.get("copy_bandwidth_GBs")
        out.append("")
        out.append(f"Decode step (bf16, one token per sequence; floor = the bytes a step must move (read and write "
                   f"every cached key, read every value) at the measured D2D copy bandwidth, "
                   f"{fmt(bw, 0)} GB/s):")
        out.append("")
        out.append("| B | T | D | ours ms | FLA ms | floor ms | ours % of copy bw | FLA % of copy bw | FLA/ours |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        by = {}
        for r in dec:
            by.setdefault((r["B"], r["T"], r["D"]), {})[r["peer"]] = r
        for (B, T, D), d in by.items():
            o, f = d.get("ours", {}), d.get("fla", {})
            pct = lambda r: f"{100 * r['fraction_of_copy_bw']:.0f}%" if "fraction_of_copy_bw" in r else \
                ("fail" if "error" in r else "-")  # noqa: E731
            out.append(f"| {B} | {T} | {D} | {fmt(o.get('ms')) if 'ms' in o else pct(o)} | "
                       f"{fmt(f.get('ms')) if 'ms' in f else pct(f)} | {fmt((o or f).get('floor_ms'))} | {pct(o)} | "
                       f"{pct(f)} | {ratio(f.get('ms'), o.get('ms'))} |")
    skips = report.get("skipped", [])
    fails = [r for r in report.get("results", []) + dec if "error" in r]
    if skips or fails:
        out.append("")
        out.append("Not measured:")
        out.append("")
        for s in skips:
            out.append(f"- skipped, {s['what']}: {s['why']}")
        for r in fails:
            out.append(f"- failed, {r['peer']} {r.get('mode', 'decode')} {r['dtype']} D={r['D']} T={r['T']}: "
                       f"`{r['error'][:400]}`")
    for n in report.get("notes", []):
        out.append(f"- note: {n}")
    if png_names:
        out.append("")
        for p in png_names:
            out.append(f"![{os.path.basename(p)}]({p})")
    out.append("")
    return "\n".join(out)


def plots(report, png_dir, rel_to):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = index(report)
    made = []
    groups = sorted({(k[0], k[1]) for k in rows})
    styles = {"ours": "o-", "cudnn": "s--", "fa2": "^--", "fla": "d-"}
    for mode, dt in groups:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        for D in sorted({k[2] for k in rows if k[0] == mode and k[1] == dt}):
            Ts = sorted({k[3] for k in rows if k[:3] == (mode, dt, D)})
            for p, label in PEERS:
                pts = [(T, rows[(mode, dt, D, T)][p]) for T in Ts if p in rows[(mode, dt, D, T)]
                       and "ms" in rows[(mode, dt, D, T)][p]]
                if not pts:
                    continue
                x = [t for t, _ in pts]
                ax1.plot(x, [r["ms"] for _, r in pts], styles[p], label=f"{label}, D={D}",
                         alpha=1.0 if D == 64 else 0.6)
                ax2.plot(x, [r["tflops_attn_equiv"] for _, r in pts], styles[p], label=f"{label}, D={D}",
                         alpha=1.0 if D == 64 else 0.6)
        for ax, yl in ((ax1, "time (ms, median)"), (ax2, "TFLOP/s (plain attention's FLOPs)")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("T (B*T fixed)")
            ax.set_ylabel(yl)
            ax.grid(True, which="both", alpha=0.3)
        ax1.set_yscale("log")
        ax2.legend(fontsize=7)
        m = report["meta"]
        fig.suptitle(f"PaTH {mode} {dt}: {m.get('gpu')}, B*T={m.get('tokens')}, {m.get('heads')} heads, "
                     f"commit {m.get('commit')}", fontsize=10)
        fig.tight_layout()
        path = os.path.join(png_dir, f"bench-{mode}-{dt}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    dec = [r for r in report.get("decode", []) if "ms" in r]
    if dec:
        fig, ax = plt.subplots(figsize=(7, 4))
        cfgs = sorted({(r["B"], r["T"], r["D"]) for r in dec}, key=lambda c: (c[2], c[1]))
        xs = range(len(cfgs))
        for i, p in enumerate(("ours", "fla")):
            vals = [next((r["ms"] for r in dec if (r["B"], r["T"], r["D"]) == c and r["peer"] == p), 0) for c in cfgs]
            ax.bar([x + 0.3 * (i - 0.5) for x in xs], vals, width=0.3, label=p)
        floors = [next((r.get("floor_ms") or 0 for r in dec if (r["B"], r["T"], r["D"]) == c), 0) for c in cfgs]
        ax.plot(list(xs), floors, "k_", markersize=30, label="copy-bandwidth floor")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([f"B={b} T={t} D={d}" for b, t, d in cfgs], fontsize=8)
        ax.set_ylabel("ms a step (median)")
        ax.legend()
        ax.set_title("PaTH decode step, bf16, 32 heads", fontsize=10)
        fig.tight_layout()
        path = os.path.join(png_dir, "bench-decode.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    return [os.path.relpath(p, rel_to) for p in made]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json")
    ap.add_argument("--png-dir", default="docs/img")
    ap.add_argument("--markdown", default="-", help="file to write the markdown section to (- : stdout)")
    ap.add_argument("--no-png", action="store_true")
    args = ap.parse_args()
    with open(args.json) as f:
        report = json.load(f)
    pngs = []
    md_dir = os.path.dirname(os.path.abspath(args.markdown)) if args.markdown != "-" else os.getcwd()
    if not args.no_png:
        os.makedirs(args.png_dir, exist_ok=True)
        pngs = plots(report, args.png_dir, md_dir)
    md = markdown(report, os.path.basename(args.json), pngs)
    if args.markdown == "-":
        sys.stdout.write(md)
    else:
        with open(args.markdown, "w") as f:
            f.write(md)
        print(f"plot-bench: wrote {args.markdown}" + (f" and {len(pngs)} PNGs in {args.png_dir}" if pngs else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
