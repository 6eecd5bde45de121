#!/usr/bin/env python3
"""Turns what scripts/fla-validate.sh brought back from the GPU machine into docs/validation/fla.md.

    .venv/bin/python scripts/fla-report.py --from OUT_DIR_OR_TARBALL [--doc docs/validation/fla.md]
        [--cases docs/validation/fla-cases] [--plot docs/validation/fla-error-vs-T.png]
        [--gpu-command TEXT] [--max-case-bytes N] [--force]

Reads fla-validation.tar.gz (or the folder it unpacks to): the pathcheck JSON reports of the suite
runs (suite-LABEL.json, judged on o, the gradients and k_cache) and of the internal-lse check
(lse-LABEL.json), the adapter's sidecars (the peer's messages for the cases it could not run),
env.txt, the fuzz reports and reproducers, and curve/curve.json. Writes
  - the report (verdict summary, environment, the commands, every failure with its reproducer and
    replay command, the per-case verdict tables, the fuzz campaigns, the error-against-T plot);
  - the reproducers: every failing suite case as a one-case suite folder CASES/LABEL/CASE/
    (the case file and a suite.json with its SHA-256, so `pathcheck run` takes it), and every fuzz
    reproducer folder as CASES/fuzz-DTYPE-failure-K/. When the failing cases of a run weigh more than
    --max-case-bytes (default 2 MiB) in all, the smallest case of each kind of failure (the same
    failing outputs, or the same peer message) is kept and the others are named with the command that
    regenerates them byte for byte (pathcheck gen --seed ... --only NAME);
  - the PNG plot (matplotlib: adapters/python/requirements-report.txt).
Nothing here needs a GPU. Existing reproducer folders are replaced only with --force.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile

LABELS = ("bf16", "fp16", "fp32", "fp32-ieee")
OUTPUT_COLUMNS = ("o", "dq", "dk", "dv", "dw", "dbeta", "dg", "k_cache")
JUDGED = "o,dq,dk,dv,dw,dbeta,dg,k_cache"
ADAPTER = "python3 adapters/fla/run_fla.py --suite {suite} --results {results}"
ADAPTER_LSE = "python3 adapters/fla/run_fla.py --lse internal --suite {suite} --results {results}"


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def unpack(source: str) -> str:
    """The fla-validation folder of a tarball, an $OUT folder holding it, or the folder itself."""
    if os.path.isdir(source) and os.path.exists(os.path.join(source, "fla-validation.tar.gz")):
        source = os.path.join(source, "fla-validation.tar.gz")
    if os.path.isfile(source):
        tmp = tempfile.mkdtemp(prefix="fla-report-")
        with tarfile.open(source) as t:
            t.extractall(tmp, filter="data")
        return os.path.join(tmp, "fla-validation")
    if os.path.isdir(os.path.join(source, "fla-validation")):
        return os.path.join(source, "fla-validation")
    return source


def fmt(x, digits=3):
    if x is None:
        return "-"
    if isinstance(x, float):
        if x == 0:
            return "0"
        return f"{x:.{digits}g}"
    return str(x)


def env_value(env_text: str, key: str) -> str:
    for line in env_text.splitlines():
        if line.startswith(key + ":"):
            return line[len(key) + 1:].strip()
    return "?"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_one_case_suite(case_file: str, dest: str, suite_meta: dict) -> None:
    os.makedirs(dest, exist_ok=True)
    name = os.path.basename(case_file)[: -len(".safetensors")]
    shutil.copy(case_file, os.path.join(dest, name + ".safetensors"))
    manifest = {"format": "pathcheck-conformance-suite", "format_version": 2, "suite": suite_meta.get("suite", "standard"),
                "dtype": suite_meta.get("dtype", ""), "outputs": "all", "cases": [name],
                "sha256": {name: sha256(case_file)}}
    if isinstance(suite_meta.get("seed"), int):
        manifest["seed"] = suite_meta["seed"]
    with open(os.path.join(dest, "suite.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


def signature(case: dict, sidecar: dict | None) -> str:
    if sidecar and sidecar.get("status") == "failed":
        msg = re.sub(r"\d+", "N", sidecar.get("error", ""))[:80]
        return "peer error: " + msg
    if case.get("problem") and not case.get("outputs"):
        return "no result: " + re.sub(r"/\S+", "FILE", case["problem"])[:60]
    failing = [o["output"] for o in case.get("outputs", []) if o.get("verdict") != "PASS"]
    return "outside the tolerance in " + ",".join(failing)


# What happened to a case, one of:
#   pass          every judged output within tolerance, and the run ended normally
#   outside       a judged output outside the tolerance (a numerical failure of the peer)
#   peer error    the peer raised (its message is in the adapter's sidecar): a user gets an exception
#   no result     no result file: the adapter died in the case, or the run was stopped before it
#   cut, outputs pass   every judged output within tolerance, but the run as a whole did not end
#                 normally (pathcheck fails every case of such a run: its time limit, a crash); the
#                 outputs say nothing wrong about the peer, the verdict is the run's
# The report must never count a case of the last two kinds as evidence either way.
CASE_KINDS = ("pass", "outside", "peer error", "no result", "cut, outputs pass")


def case_kind(case: dict, sidecar: dict | None) -> str:
    outs = case.get("outputs", [])
    if sidecar and sidecar.get("status") == "failed":
        return "peer error"
    if not outs or all(o.get("ratio") is None for o in outs):
        return "no result"
    if any(o.get("verdict") != "PASS" for o in outs):
        return "outside"
    return "pass" if case.get("verdict") == "PASS" else "cut, outputs pass"


def failing_outputs_text(case: dict) -> str:
    parts = []
    for o in case.get("outputs", []):
        if o.get("verdict") == "PASS":
            continue
        w = o.get("worst") or {}
        where = f" at {w.get('index')}: got {fmt(w.get('got'), 6)}, expected {fmt(w.get('expected'), 6)}" if w else ""
        parts.append(f"{o['output']} ratio {fmt(o.get('ratio'))} (error {fmt(o.get('error'))}, tolerance "
                     f"{fmt(o.get('tolerance'))}{where}){'; ' + o['problem'] if o.get('problem') and not w else ''}")
    return "; ".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="fla-report.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="sources", action="append", required=True,
                    help="$OUT of fla-validate.sh, or fla-validation.tar.gz; repeat it for several calls (say, one with"
                         " the suites, one with --stages fuzz,curve): each later one adds or replaces files")
    ap.add_argument("--doc", default="docs/validation/fla.md")
    ap.add_argument("--cases", default="docs/validation/fla-cases")
    ap.add_argument("--plot", default="docs/validation/fla-error-vs-T.png")
    ap.add_argument("--gpu-command", default="", help="the device call that ran fla-validate.sh, quoted in the report")
    ap.add_argument("--max-case-bytes", type=int, default=2 << 20,
                    help="per run: past this the smallest failing case of each kind is kept (default 2 MiB)")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    src = tempfile.mkdtemp(prefix="fla-report-merged-")
    env_texts = []
    for source in args.sources:
        one = unpack(source)
        if not os.path.isdir(one):
            sys.exit(f"fla-report.py: {source}: no fla-validation folder or tarball there")
        shutil.copytree(one, src, dirs_exist_ok=True)
        e = os.path.join(one, "env.txt")
        env_texts.append(open(e, encoding="utf-8").read() if os.path.exists(e) else "")
    env_text = open(os.path.join(src, "env.txt"), encoding="utf-8").read() if os.path.exists(os.path.join(src, "env.txt")) else ""
    seed = env_value(env_text, "seed") if "seed:" in env_text else "?"
    m = re.search(r"suite: (\w+); seed: (\d+)", env_text)
    suite_name, seed = (m.group(1), int(m.group(2))) if m else ("standard", None)
    doc_dir = os.path.dirname(args.doc)
    os.makedirs(doc_dir, exist_ok=True)
    if os.path.exists(args.cases):
        if not args.force:
            sys.exit(f"fla-report.py: {args.cases} exists; --force replaces it")
        shutil.rmtree(args.cases)
    os.makedirs(args.cases)

    out = []
    w = out.append
    runs = {}
    for label in LABELS:
        rep = load_json(os.path.join(src, "reports", f"suite-{label}.json"))
        if rep is None:
            continue
        lse = load_json(os.path.join(src, "reports", f"lse-{label}.json"))
        side_dir = os.path.join(src, "results", f"{label}-sidecars")
        sidecars = {}
        if os.path.isdir(side_dir):
            for f in os.listdir(side_dir):
                if f.endswith(".fla.json"):
                    sidecars[f[: -len(".fla.json")]] = load_json(os.path.join(side_dir, f))
        run_info = load_json(os.path.join(side_dir, "fla-run.json")) or {}
        runs[label] = {"report": rep, "lse": lse, "sidecars": sidecars, "info": run_info}

    # ---- reproducers ----------------------------------------------------------------------
    repro = {}  # (label, case) -> folder, or None with the regeneration command
    for label, r in runs.items():
        dtype = label.split("-")[0]
        failing = [c for c in r["report"]["cases"] if c.get("verdict") != "PASS"]
        files = {c["case"]: os.path.join(src, "cases", label, c["case"] + ".safetensors") for c in failing}
        present = {n: p for n, p in files.items() if os.path.exists(p)}
        total = sum(os.path.getsize(p) for p in present.values())
        keep = set(present)
        if total > args.max_case_bytes:
            best = {}
            for c in failing:
                if c["case"] not in present:
                    continue
                sig = signature(c, r["sidecars"].get(c["case"]))
                if sig not in best or os.path.getsize(present[c["case"]]) < os.path.getsize(present[best[sig]]):
                    best[sig] = c["case"]
            keep = set(best.values())
        for c in failing:
            name = c["case"]
            if label == "fp32-ieee" and repro.get(("fp32", name)):
                repro[(label, name)] = repro[("fp32", name)]  # the same case file: replayed with the variable set
            elif name in keep:
                dest = os.path.join(args.cases, label, name)
                write_one_case_suite(present[name], dest, {"suite": suite_name, "dtype": dtype, "seed": seed})
                repro[(label, name)] = dest
            else:
                repro[(label, name)] = None

    def replay(label, folder):
        env = "PYTHONPATH=/tmp/fla-site " + ("TRITON_F32_DEFAULT=ieee " if label == "fp32-ieee" else "")
        return f"{env}pathcheck run --impl-cmd '{ADAPTER}' --suite {folder} --outputs {JUDGED}"

    def regen(label, name):
        d = label.split("-")[0]
        return f"pathcheck gen --suite {suite_name} --dtype {d} --seed {seed} --only {name} --out /tmp/fla-{label}-{name}"

    # ---- fuzz -----------------------------------------------------------------------------
    fuzz = {}
    for d in ("bf16", "fp16", "fp32"):
        rep = load_json(os.path.join(src, "reports", f"fuzz-{d}.json"))
        log = os.path.join(src, "logs", f"fuzz-{d}.txt")
        fuzz[d] = {"report": rep, "log": open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else None,
                   "repro": [], "peer_errors": {}}
        elog = os.path.join(src, "logs", f"fuzz-{d}-peer-errors.jsonl")
        if os.path.exists(elog):
            for line in open(elog, encoding="utf-8", errors="replace"):
                try:
                    m = json.loads(line).get("error", "")[:200]
                except ValueError:
                    continue
                fuzz[d]["peer_errors"][m] = fuzz[d]["peer_errors"].get(m, 0) + 1
        if rep:
            for k, f in enumerate(rep.get("failures", []), 1):
                folder = os.path.join(src, "fuzz", d, f"failure-{k}")
                if os.path.isdir(folder):
                    dest = os.path.join(args.cases, f"fuzz-{d}-failure-{k}")
                    shutil.copytree(folder, dest)
                    fuzz[d]["repro"].append(dest)

    # ---- plot -----------------------------------------------------------------------------
    curve = load_json(os.path.join(src, "curve", "curve.json"))
    ieee = load_json(os.path.join(src, "curve-ieee", "curve.json"))
    if curve and ieee:
        by = {(p["dtype"], p["T"]): p for p in curve.get("points", [])}
        for p in ieee.get("points", []):
            if (p["dtype"], p["T"]) in by and "fla" in p:
                by[(p["dtype"], p["T"])]["fla_ieee"] = p["fla"]
    plot_ok = False
    if curve and curve.get("points"):
        try:
            plot_ok = make_plot(curve, args.plot)
        except Exception as e:  # noqa: BLE001
            print(f"fla-report.py: no plot: {type(e).__name__}: {e}", file=sys.stderr)

    # ---- the document ---------------------------------------------------------------------
    date = env_value(env_text, "date")
    commit = env_value(env_text, "commit")
    w("# flash-linear-attention's Triton PaTH, validated (issue #18)\n")
    w(f"Generated by `scripts/fla-report.py` from the GPU run of {date} (commit {commit}); do not edit by hand:"
      " rerun the two commands below. The peer: `fla.ops.path_attn.parallel.parallel_path_attn` (forward, its"
      " autograd backward, `use_cache`) and the decode path of `fla.layers.path_attn` (rank-one cache update,"
      " `fla.ops.attn.decoding.attn_decoding_one_step`), run by `adapters/fla/run_fla.py` on pathcheck's"
      f" `{suite_name}` suite and judged by `pathcheck run --impl-cmd` against the mp100 oracle with the"
      " tolerance model of docs/tolerance.md (an output passes when its error is at most 2x the same-precision"
      " baseline's, plus a floor of 2 units of the output type).\n")

    w("## Verdict\n")
    w("| run | cases | pass | outside the tolerance | peer raised | no result | outputs pass, run cut short |"
      " worst ratio | outputs outside the tolerance (cases) | internal lse (diagnostic) |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for label, r in runs.items():
        rep = r["report"]
        ratios = [o["ratio"] for c in rep["cases"] for o in c.get("outputs", []) if isinstance(o.get("ratio"), (int, float))]
        kinds = {k: 0 for k in CASE_KINDS}
        counts = {}
        for c in rep["cases"]:
            kinds[case_kind(c, r["sidecars"].get(c["case"]))] += 1
            for o in c.get("outputs", []):
                if o.get("verdict") != "PASS" and o.get("ratio") is not None:
                    counts[o["output"]] = counts.get(o["output"], 0) + 1
        lse_text = "-"
        if r["lse"]:
            lcases = [c for c in r["lse"]["cases"] if "decode" not in c["case"]]
            lp = sum(1 for c in lcases if c.get("verdict") == "PASS")
            lse_text = f"{lp} of {len(lcases)} prefill cases pass"
        w(f"| {label} | {len(rep['cases'])} | {kinds['pass']} | {kinds['outside']} | {kinds['peer error']} |"
          f" {kinds['no result']} | {kinds['cut, outputs pass']} | {fmt(max(ratios)) if ratios else '-'} |"
          f" {', '.join(f'{k} ({v})' for k, v in sorted(counts.items())) or 'none'} | {lse_text} |")
    for d, f in fuzz.items():
        rep = f["report"]
        if rep:
            fl = rep.get("failures", [])
            w(f"| fuzz {d} | {rep.get('cases', '?')} generated | | {len(fl)} failure(s) | | "
              f"{'; '.join(x.get('property', '') + ' at ' + str(x.get('minimal_shape')) + ': ' + x.get('failure', '')[:100] for x in fl) or 'none'} | |")
        elif f["log"] is not None:
            w(f"| fuzz {d} | no report (see below) | | | | | |")
    w("")
    w("`fp32` uses Triton's default fp32 dot precision (TF32 on this GPU); `fp32-ieee` the same suite with"
      " `TRITON_F32_DEFAULT=ieee`. The ratio is error / (baseline error + floor / 2); pass iff ratio <= 2."
      " `no result`: the peer wrote nothing for the case (the adapter died in it, or the run reached its time"
      " limit first): no statement about the peer. `outputs pass, run cut short`: every judged output is within"
      " the tolerance, but the run as a whole was stopped (pathcheck then fails every case of the run): evidence"
      " for the peer on those outputs, not a pass of the run.\n")

    w("## The peer and the environment\n")
    for k, text in enumerate(env_texts):
        if len(env_texts) > 1:
            w(f"GPU call {k + 1} of {len(env_texts)}:\n")
        w("```")
        w(text.strip())
        w("```\n")
    infos = [r["info"] for r in runs.values() if r["info"]]
    if infos:
        i = infos[0]
        w(f"From the adapter (`fla-run.json`): fla {i.get('fla')} at `{i.get('fla_file')}`, torch {i.get('torch')},"
          f" triton {i.get('triton')}, GPU {i.get('gpu')}, CUDA {i.get('cuda')}, python {i.get('python')}.\n")

    w("## Reproduce\n")
    w("On the GPU machine (the carried wheels in `.deps/wheels`, a pathcheck built for it):\n")
    w("```")
    w(args.gpu_command or "bash scripts/fla-validate.sh --pathcheck build-gpu-prebuilt/pathcheck [--gpu-long build-gpu-prebuilt/path_gpu_long]")
    w("```\n")
    w("then here: `.venv/bin/python scripts/fla-report.py --from OUT --force` (OUT: the folder the device"
      " returned, holding `fla-validation.tar.gz`). Any case below replays alone with its own command"
      " (install the wheels first: `pip install --no-deps --target /tmp/fla-site .deps/wheels/fla*.whl`).\n")

    w("## What is judged, and what FLA's API does not give\n")
    w("- `parallel_path_attn(q, k, v, w, beta, g=None, scale=None, cu_seqlens=None, use_cache=False)` returns"
      " `(o, k_cache)`: **no lse**. `attn_decoding_one_step` returns o only. So lse is not judged"
      " (`--outputs " + JUDGED + "`; the tables list it as not judged). As a diagnostic, the adapter also"
      " stores FLA's internal forward log-sum-exp (the tensor `L`, base 2, that the forward saves for its"
      " backward; times ln 2) and the `internal lse` column judges it separately: prefill cases only (decode"
      " has none).")
    w("- Inputs: q, k, v in the suite dtype, w, beta, g in fp32 (FLA asserts fp32 for them), layout"
      " [B, T, H, D]; varlen with `cu_seqlens` (B = 1); head dims D, Dv in {16, 32, 64, 128} (asserted).")
    w("- Gate: FLA computes scale * (k^T ... q + G_i - G_j) (`fla`). A `paper` case is given g / scale"
      " (fp32) and its dg is FLA's dg / scale (float64): exact algebra, one fp32 rounding of the input.")
    w("- Gradients: `torch.autograd.grad(o, (q, k, v, w, beta, g), do)` through FLA's backward.")
    w("- Decode (as `fla.layers.path_attn` does with a cache): prefill of the first P tokens with"
      " `use_cache=True` (packed, int32 cu_seqlens), then per token the layer's rank-one update of every"
      " cached key in fp32 rounded back to the key dtype (eager; the layer wraps it in torch.compile), the key"
      " appended, `attn_decoding_one_step(..., do_gate_scale=True)`. k_cache = the cache after the last token.\n")

    w("## Failures\n")
    any_fail = False
    for label, r in runs.items():
        failing = [c for c in r["report"]["cases"] if c.get("verdict") != "PASS"]
        if not failing:
            w(f"### {label}: none\n")
            continue
        any_fail = True
        w(f"### {label}: {len(failing)} failing case(s)\n")
        for c in failing:
            name = c["case"]
            side = r["sidecars"].get(name) or {}
            w(f"- **{name}**")
            if side.get("status") == "failed":
                w(f"  - the peer raised: `{side.get('error', '')[:400]}`")
            elif side.get("status") == "started":
                w("  - the adapter died in this case (a crash or a time-out of the whole run)")
            elif c.get("problem") and not c.get("outputs"):
                w(f"  - no result: {c['problem'][:300]}")
            if case_kind(c, side) == "cut, outputs pass":
                w("  - every judged output is within the tolerance (" +
                  ", ".join(f"{o['output']} {fmt(o['ratio'])}" for o in c.get("outputs", [])) +
                  "); the case fails only because the run as a whole was stopped: " + c.get("problem", "")[:160])
            text = failing_outputs_text(c)
            if text:
                w(f"  - {text}")
            folder = repro.get((label, name))
            if folder:
                w(f"  - reproducer: `{folder}/`; replay: `{replay(label, folder)}`")
            else:
                w(f"  - reproducer: regenerate it byte for byte with `{regen(label, name)}`, then"
                  f" `{replay(label, '/tmp/fla-' + label + '-' + name)}` (the smallest case of the same kind"
                  " is kept in the repository)")
        w("")
    if not any_fail:
        w("No suite case failed.\n")

    w("## What the failures mean for a user of FLA\n")
    w(interpretation(runs, fuzz))
    w("")

    w("## Fuzzing\n")
    for d, f in fuzz.items():
        rep = f["report"]
        if rep is None:
            if f["log"] is not None:
                tail = "\n".join(f["log"].strip().splitlines()[-6:])
                w(f"### {d}: no report (the campaign was stopped or failed); its log ended with\n\n```\n{tail}\n```\n")
            continue
        w(f"### {d}\n")
        props = rep.get("properties")
        if isinstance(props, list):
            props = ", ".join(f"{p.get('name')} ({p.get('cases')} judged, {p.get('failures')} failed, {p.get('discarded')} discarded)"
                              for p in props if isinstance(p, dict))
        w(f"{rep.get('cases', '?')} cases in {fmt(rep.get('seconds'))} s ({fmt(rep.get('cases_per_second'))}/s),"
          f" seed {rep.get('seed', '?')}; properties: {props}; outputs o, lse (FLA's internal"
          " lse: `--lse internal`) and the gradients (decode is not fuzzed: FLA's decode has no lse and"
          " `pathcheck fuzz` judges lse always).\n")
        for k, x in enumerate(rep.get("failures", []), 1):
            folder = f["repro"][k - 1] if k <= len(f["repro"]) else None
            w(f"- failure {k}: property `{x.get('property')}`, {x.get('failure')}; generated {x.get('generated_shape')},"
              f" minimal **{x.get('minimal_shape')}** ({x.get('shrink_steps')} shrink steps); {x.get('reproduction', '')}")
            if folder:
                w(f"  - reproducer: `{folder}/`; replay: `PYTHONPATH=/tmp/fla-site pathcheck run --impl-cmd"
                  f" '{ADAPTER_LSE}' --suite {folder}`")
        if f.get("peer_errors"):
            w("- messages of the peer during the campaign (the adapter's log; shrinking repeats them): " +
              "; ".join(f"`{m}` ({n}x)" for m, n in sorted(f["peer_errors"].items(), key=lambda x: -x[1])[:6]))
        if not rep.get("failures"):
            w("No failure found.")
        w("")

    w("## Error against T\n")
    if curve and curve.get("points"):
        if plot_ok:
            w(f"![error of o against T]({os.path.relpath(args.plot, doc_dir)})\n")
        shape = curve.get("shape", {})
        w(f"max |o - o_ref| on one draw per (dtype, T): B = 1, HQ = {shape.get('HQ')}, H = {shape.get('H')},"
          f" D = Dv = {shape.get('D')}, `paper` gate, the suites' standard distribution; o_ref: the naive sweep in"
          " float64 on the GPU (`adapters/fla/error_vs_t.py`), checked against the mp100 expected o of the suite's"
          " cases first. `baseline`: the same-precision emulation's definition in PyTorch on the same inputs."
          " `ours` and `C++ baseline`: `path_gpu_long --check forward` (our CUDA forward kernel, judged against the"
          " fp64 GPU oracle) on that tool's own draw of the same distribution and shape. `FLA, ieee`: FLA's fp32"
          " once more with `TRITON_F32_DEFAULT=ieee` on the same inputs (fp32 rows only).\n")
        chk = curve.get("check") or []
        if chk:
            worst = max(c["ref_vs_mp100"] for c in chk)
            rel = [c["baseline_error_emulated"] / c["baseline_error_stored"] for c in chk if c["baseline_error_stored"] > 0]
            w(f"Check on {len(chk)} suite cases: fp64 reference vs mp100 at most {fmt(worst)}; emulated / stored"
              f" baseline error {fmt(min(rel)) if rel else '-'} ... {fmt(max(rel)) if rel else '-'}.\n")
        w("| dtype | T | FLA | baseline | FLA / baseline | ours | C++ baseline | ours / C++ baseline | FLA, ieee |")
        w("|---|---|---|---|---|---|---|---|---|")
        for p in sorted(curve["points"], key=lambda p: (p["dtype"], p["T"])):
            gl = p.get("gpu_long") or {}
            fl = p.get("fla")
            ratio = fl / p["baseline"] if isinstance(fl, float) and p.get("baseline") else None
            ours = gl.get("ours")
            r2 = ours / gl["baseline_cpp"] if isinstance(ours, float) and gl.get("baseline_cpp") else None
            w(f"| {p['dtype']} | {p['T']} | {fmt(fl) if fl is not None else p.get('fla_error', '-')[:60]} | {fmt(p.get('baseline'))} |"
              f" {fmt(ratio)} | {fmt(ours) if ours is not None else ('-' if not gl else gl.get('error', '-')[:40])} |"
              f" {fmt(gl.get('baseline_cpp'))} | {fmt(r2)} | {fmt(p.get('fla_ieee'))} |")
        if curve.get("not_run"):
            w(f"\nNot run (time budget): {', '.join(str(x['dtype']) + ' T=' + str(x['T']) for x in curve['not_run'])}.")
        w("")
    else:
        w("Not run in this GPU run.\n")

    w("## Verdict tables\n")
    w("Per case, the ratio of each judged output (pass iff <= 2; **bold**: fails); `lse*`: FLA's internal lse,"
      " a diagnostic, not part of the verdict; `-`: the case has no such output; `x`: no result (the peer"
      " raised, or its result is missing).\n")
    for label, r in runs.items():
        lse = {c["case"]: c for c in (r["lse"] or {}).get("cases", [])}
        w(f"### {label}\n")
        w("| case | " + " | ".join(OUTPUT_COLUMNS) + " | lse* | verdict |")
        w("|---|" + "---|" * (len(OUTPUT_COLUMNS) + 2))
        for c in r["report"]["cases"]:
            outs = {o["output"]: o for o in c.get("outputs", [])}
            cells = []
            for n in OUTPUT_COLUMNS:
                o = outs.get(n)
                if o is None:
                    cells.append("x" if (c.get("problem") and not outs and n in expected_outputs(c["case"], n)) else "-")
                elif o.get("ratio") is None:
                    cells.append("**x**")
                else:
                    cells.append(fmt(o["ratio"]) if o.get("verdict") == "PASS" else f"**{fmt(o['ratio'])}**")
            lo = next((o for o in lse.get(c["case"], {}).get("outputs", []) if o["output"] == "lse"), None)
            cells.append("-" if lo is None or lo.get("ratio") is None else
                         fmt(lo["ratio"]) if lo.get("verdict") == "PASS" else f"**{fmt(lo['ratio'])}**")
            w(f"| {c['case']} | " + " | ".join(cells) + f" | {c.get('verdict')} |")
        w("")
    with open(args.doc, "w", encoding="utf-8") as f:
        f.write("\n".join(out).rstrip() + "\n")
    print(f"fla-report.py: wrote {args.doc}, {args.cases}/" + (f", {args.plot}" if plot_ok else ""))
    return 0


def expected_outputs(name: str, output: str) -> str:
    """Which outputs a case name implies (for the x marks of a case with no result)."""
    if "decode" in name:
        return ("o", "k_cache")
    if name.endswith("_grad"):
        return ("o", "dq", "dk", "dv", "dw", "dbeta") + (() if "nogate" in name else ("dg",))
    return ("o",)


def interpretation(runs: dict, fuzz: dict) -> str:
    """Plain statements derived from the numbers (what failed, where, by how much) and from FLA's source."""
    lines = []
    for label, r in runs.items():
        cases = r["report"]["cases"]
        errs = [c for c in cases if (r["sidecars"].get(c["case"]) or {}).get("status") == "failed"]
        bad = {}
        for c in cases:
            for o in c.get("outputs", []):
                if o.get("verdict") != "PASS" and isinstance(o.get("ratio"), (int, float)):
                    bad.setdefault(o["output"], []).append((o["ratio"], c["case"]))
        kinds = [case_kind(c, r["sidecars"].get(c["case"])) for c in cases]
        unjudged = kinds.count("no result")
        judged_ok = kinds.count("pass") + kinds.count("cut, outputs pass")
        if not errs and not bad and unjudged == 0:
            lines.append(f"- **{label}**: every case passes on every judged output: within 2x the same-precision"
                         " baseline (o, gradients, key cache), so FLA is as accurate as a correct kernel of that precision"
                         " on these shapes.")
            continue
        parts = []
        if unjudged:
            parts.append(f"{unjudged} of {len(cases)} case(s) have no result (the run was stopped at its time limit"
                         " before the peer wrote them): nothing is claimed about them")
        if judged_ok:
            parts.append(f"{judged_ok} case(s) are within the tolerance on every judged output")
        if errs:
            msgs = sorted({(r["sidecars"][c["case"]].get("error") or "")[:120] for c in errs})
            parts.append(f"{len(errs)} case(s) cannot be run at all (the peer raised: " + "; ".join(f"`{m}`" for m in msgs[:4]) +
                         (" ..." if len(msgs) > 4 else "") + "): a user with these shapes gets an exception, not a result")
        for out, items in sorted(bad.items()):
            items.sort(reverse=True)
            parts.append(f"{out} fails in {len(items)} case(s), ratio up to {fmt(items[0][0])} (pass: <= 2; worst:"
                         f" {items[0][1]})")
        lines.append(f"- **{label}**: " + "; ".join(parts) + ".")
    lines.append("")
    lines.append("Facts from FLA's source (fla-core 0.6.0) that bear on these numbers: the forward casts w and the"
                 " WY factor to fp16 for its inter-chunk products (`parallel.py`: `w_fp16 = w.to(torch.float16)`,"
                 " `w2_fp16`), and so does the backward (`w.to(torch.float16)`, `h.to(torch.float16)`), whatever the"
                 " input dtype: an fp32 user gets fp16-rounded Householder vectors inside, so fp32 results cannot be"
                 " better than about fp16's unit roundoff (2^-11 ~ 4.9e-4) relative to the size of those terms."
                 " The decode step rounds q * scale to the input dtype before the dot products"
                 " (`decoding.py`: `b_q = (b_q * scale).to(b_q.dtype)`), exact only when scale is a power of two"
                 " (D = 16, 64). The layer's decode keeps the key cache in the input dtype and rounds it after every"
                 " rank-one update, so k_cache accumulates one rounding per decoded token.")
    return "\n".join(lines)


def make_plot(curve: dict, path: str) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = [d for d in ("bf16", "fp16", "fp32") if any(p["dtype"] == d for p in curve["points"])]
    fig, axes = plt.subplots(1, len(dtypes), figsize=(5 * len(dtypes), 4), squeeze=False)
    for ax, d in zip(axes[0], dtypes):
        pts = sorted((p for p in curve["points"] if p["dtype"] == d), key=lambda p: p["T"])

        def series(get):
            xs, ys = [], []
            for p in pts:
                y = get(p)
                if isinstance(y, (int, float)) and y > 0:
                    xs.append(p["T"])
                    ys.append(y)
            return xs, ys

        for label, get, style in (
                ("FLA", lambda p: p.get("fla"), "o-"),
                ("FLA, TRITON_F32_DEFAULT=ieee", lambda p: p.get("fla_ieee"), "o:"),
                ("baseline (same inputs as FLA)", lambda p: p.get("baseline"), "s--"),
                ("2 x baseline", lambda p: 2 * p["baseline"] if p.get("baseline") else None, ":"),
                ("ours (CUDA, path_gpu_long)", lambda p: (p.get("gpu_long") or {}).get("ours"), "^-"),
                ("C++ baseline (path_gpu_long's inputs)", lambda p: (p.get("gpu_long") or {}).get("baseline_cpp"), "v--")):
            xs, ys = series(get)
            if xs:
                ax.plot(xs, ys, style, label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"{d}: max |o - o_ref| (fp64 reference)")
        ax.set_xlabel("T")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


if __name__ == "__main__":
    sys.exit(main())
