#!/usr/bin/env python3
"""FLA's decode drift on the problem path_gpu_drift dumped (issue 17; docs/decode.md section 7).

    python3 adapters/fla/decode_drift.py DUMP.safetensors [--out fla-drift.csv] [--dtypes bf16,fp16]
        [--window 1024] [--device cuda]

DUMP is what `path_gpu_drift --dump DUMP` writes on the GPU machine: per input dtype the rounded
q, k, v ("bf16.q", ...), the exact o of every token ("bf16.o", float64, [B, T, HQ, Dv]) and the exact
key cache after L tokens ("bf16.k_cache.L", float64, [B, L, H, D]) for each checkpoint L; w, beta (and
g) in fp32; metadata scale, gate, seed. For each dtype and checkpoint L this runs FLA's decode the way
fla.layers.path_attn does (adapters/fla/run_fla.py's run_decode: the first token by
parallel_path_attn(use_cache=True), then per token the rank-one update of the whole cache in fp32
rounded back to the cache dtype, the new key appended, attn_decoding_one_step) on the first L
tokens, and compares its cache and outputs with the exact ones exactly as path_gpu_drift compares
ours (gpu/tools/drift_stats.hpp: the statistics below are the same definitions), so both CSVs go
into one plot (`scripts/plot-drift.py path.csv fla.csv out.png`). FLA's cache is in the input dtype
(it has no fp32-cache option), so the configs are the input dtypes.

Run on the GPU machine, after path_gpu_drift, in the same call (the dump is hundreds of MB):
    path_gpu_drift --configs bf16,fp16 --dump /tmp/drift.safetensors --out $OUT/path-drift.csv
    PYTHONPATH=/tmp/fla-site python3 adapters/fla/decode_drift.py /tmp/drift.safetensors --out $OUT/fla-drift.csv
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# The columns of gpu/tools/drift_stats.hpp's csv_header(), in its order (plot-drift.py reads them by name).
CSV_HEADER = ("impl,config,input_dtype,cache_dtype,gate,B,T,H,HQ,D,seed,checkpoint,steps,"
              "cache_rel_l2,cache_max_rel,cache_floor_rel_l2,cache_floor_max_rel,cache_ratio_l2,cache_ratio_max,"
              "window_first,window_steps,o_window_rel_l2,o_window_floor_rel_l2,o_window_ratio,"
              "o_all_rel_l2,o_all_floor_rel_l2,o_all_ratio,decode_s")


# ---- the statistics (drift_stats.hpp, the same definitions) -------------------------------------

def compare(got: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """(||got - exact|| / ||exact||, max |got - exact| / max |exact|); NaN if any difference is not
    finite or there are no elements; an exact of norm 0: 0 when got is exact too, else infinity."""
    got = np.asarray(got, dtype=np.float64).ravel()
    exact = np.asarray(exact, dtype=np.float64).ravel()
    if got.size == 0 or got.size != exact.size:
        return math.nan, math.nan
    d = got - exact
    if not np.all(np.isfinite(d)):
        return math.nan, math.nan
    diff2, ref2 = float(np.dot(d, d)), float(np.dot(exact, exact))
    dmax, rmax = float(np.max(np.abs(d))), float(np.max(np.abs(exact)))
    l2 = math.sqrt(diff2 / ref2) if ref2 > 0 else (0.0 if diff2 == 0 else math.inf)
    mx = dmax / rmax if rmax > 0 else (0.0 if dmax == 0 else math.inf)
    return l2, mx


def rounded(exact: np.ndarray, dtype: str) -> np.ndarray:
    """The exact values stored in dtype (bf16, fp16, fp32): round to nearest even, straight from float64."""
    import ml_dtypes  # noqa: F401  (numpy's bfloat16)
    np_dtype = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16, "fp32": np.float32}[dtype]
    return np.asarray(exact, dtype=np.float64).astype(np_dtype).astype(np.float64)


def ratio(error: float, floor: float) -> float:
    if math.isnan(error) or math.isnan(floor):
        return math.nan
    if floor > 0:
        return error / floor
    return 0.0 if error == 0 else math.inf


def step_rows(L: int, window: int) -> tuple[range, range]:
    """One prefilled token (row 0 has no step output), then a step per token: at checkpoint L the
    window is rows max(1, L - window) .. L-1, all steps rows 1 .. L-1."""
    return range(max(1, L - window), L), range(1, L)


def checkpoint_row(info: dict, L: int, window: int, cache, exact_cache, o, exact_o, dtype: str, seconds: float) -> str:
    """One CSV row. o and exact_o: [B, L or more, HQ, Dv] (token axis 1); cache and exact_cache [B, L, H, D]."""
    c = compare(cache, exact_cache)
    cf = compare(rounded(exact_cache, dtype), exact_cache)
    win, allr = step_rows(L, window)

    def rows(a, r):
        return np.asarray(a)[:, r.start:r.stop]

    ow = compare(rows(o, win), rows(exact_o, win))
    owf = compare(rounded(rows(exact_o, win), dtype), rows(exact_o, win))
    oa = compare(rows(o, allr), rows(exact_o, allr))
    oaf = compare(rounded(rows(exact_o, allr), dtype), rows(exact_o, allr))
    fields = [info["impl"], dtype, dtype, dtype, info["gate"]] + [str(info[k]) for k in ("B", "T", "H", "HQ", "D", "seed")]
    fields += [str(L), str(L - 1)]
    nums = [c[0], c[1], cf[0], cf[1], ratio(c[0], cf[0]), ratio(c[1], cf[1])]
    tail = [ow[0], owf[0], ratio(ow[0], owf[0]), oa[0], oaf[0], ratio(oa[0], oaf[0]), seconds]
    return ",".join(fields + [f"{x:.6e}" for x in nums] + [str(win.start), str(len(win))] + [f"{x:.6e}" for x in tail])


# ---- FLA's decode on a prefix ------------------------------------------------------------------

def fla_decode_prefix(torch, ops, tensors: dict, meta: dict, dtype: str, L: int, device: str):
    """run_fla.run_decode on the first L tokens: o [B, L, HQ, Dv] and the cache [B, L, H, D] (float64)."""
    import run_fla  # adapters/fla/run_fla.py (imports pathcase for its helpers; no suite is read)

    tdt = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]

    def take(name, dt):
        return tensors[name][:, :L].to(device=device, dtype=dt).contiguous()

    scale = float(meta["scale"])
    x = types.SimpleNamespace(dtype=tdt, q=take(f"{dtype}.q", tdt), k=take(f"{dtype}.k", tdt), v=take(f"{dtype}.v", tdt),
                              w=take("w", torch.float32), beta=take("beta", torch.float32), g_fla=None)
    if "g" in tensors:  # FLA's convention: g_fla = g for 'fla', g / scale for 'paper' (run_fla.Inputs)
        g = tensors["g"][:, :L].to(torch.float64)
        x.g_fla = (g if meta.get("gate") == "fla" else g / scale).to(device=device, dtype=torch.float32).contiguous()
    B = x.q.shape[0]
    case = types.SimpleNamespace(prefill_length=1, scale=scale, sequences=lambda: [(b, 0, L) for b in range(B)])
    out = run_fla.run_decode(torch, ops, case, x, [])
    return out["o"].double().cpu().numpy(), out["k_cache"].double().cpu().numpy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--out", default="fla-drift.csv")
    ap.add_argument("--dtypes", default="", help="input dtypes to run (default: every one in the dump)")
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args(argv)
    try:
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file
        from fla.ops.attn.decoding import attn_decoding_one_step
        from fla.ops.path_attn.parallel import parallel_path_attn
    except Exception as e:  # noqa: BLE001
        print(f"decode_drift.py: cannot import torch, safetensors or FLA: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    ops = {"parallel_path_attn": parallel_path_attn, "attn_decoding_one_step": attn_decoding_one_step}
    with safe_open(args.dump, framework="pt") as f:
        meta = dict(f.metadata() or {})
    tensors = load_file(args.dump)
    dtypes = [d for d in ("bf16", "fp16", "fp32") if f"{d}.q" in tensors]
    if args.dtypes:
        wanted = args.dtypes.split(",")
        missing = [d for d in wanted if d not in dtypes]
        if missing:
            print(f"decode_drift.py: {args.dump}: no inputs for {','.join(missing)} (it has {','.join(dtypes)})", file=sys.stderr)
            return 2
        dtypes = wanted
    B, T, HQ, D = tensors[f"{dtypes[0]}.q"].shape
    H = tensors[f"{dtypes[0]}.k"].shape[2]
    info = {"impl": "fla", "gate": meta.get("gate", "none"), "B": B, "T": T, "H": H, "HQ": HQ, "D": D,
            "seed": meta.get("seed", "")}
    with open(args.out, "w", encoding="utf-8") as csv:
        csv.write(CSV_HEADER + "\n")
        for dt in dtypes:
            lengths = sorted(int(k.rsplit(".", 1)[1]) for k in tensors if k.startswith(f"{dt}.k_cache."))
            exact_o = tensors[f"{dt}.o"].double().numpy()
            for L in lengths:
                t0 = time.perf_counter()
                o, cache = fla_decode_prefix(torch, ops, tensors, meta, dt, L, args.device)
                seconds = time.perf_counter() - t0
                row = checkpoint_row(info, L, args.window, cache, tensors[f"{dt}.k_cache.{L}"].double().numpy(), o,
                                     exact_o[:, :L], dt, seconds)
                csv.write(row + "\n")
                csv.flush()
                f = row.split(",")
                print(f"fla {dt:5s} L={L:6d}: cache rel L2 {f[13]} (ratio {f[17]}), o last {args.window} {f[21]} "
                      f"(ratio {f[23]}), {seconds:.1f} s", flush=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
