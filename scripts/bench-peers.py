#!/usr/bin/env python3
"""Times our PaTH op against its peers in ONE run on the same GPU (issues 15-17).

Peers: our op (adapters/torch/path_attn.py over libpath_torch_kernels.so), PyTorch SDPA with the
cuDNN backend and with the FLASH_ATTENTION (FA2) backend (plain causal attention, no position
encoding: the floor PaTH is measured against), and flash-linear-attention's Triton
parallel_path_attn. Forward and forward+backward; bf16 and fp16; D = 64 and 128; B*T = 65536 tokens,
32 heads, T = 1K, 4K, 16K (and 64K forward-only if time allows). Then the decode step: ours
(PathDecodeCache.step) vs FLA's (rank-one update of the whole cache in PyTorch, torch.cat, then
fla.ops.attn.decoding.attn_decoding_one_step, as fla.layers.path_attn does) vs a device-to-device
copy-bandwidth floor (the bytes a step must move: read and write every cached key, read every value).

Method: warm-up (Triton autotuning included), then the median of --reps (default 20) timings with
CUDA events, each on fresh random inputs (never zeros; w normalized, beta in (0, 2)); peak extra
memory is torch.cuda.max_memory_allocated() above what the inputs hold. Our backward allocates its
workspace itself (stream-ordered, outside PyTorch's allocator): its size (backward_workspace_bytes)
is added to our peak and reported apart. Where a configuration would not fit the time budget
(predicted from the previous, shorter T: cost grows as T at fixed B*T) or memory, it is skipped and
the reason recorded; a peer that fails is recorded with its message. Everything goes to the JSON
(--out); a table with the ratios ours/cuDNN, ours/FA2 and FLA/ours is printed last.

Run on the GPU machine (plain python3 with PyTorch + Triton), e.g.
  PYTHONPATH=adapters/torch:.deps/fla PATH_TORCH_KERNELS_LIB=$PWD/build-torch/libpath_torch_kernels.so \\
    python3 scripts/bench-peers.py --budget 400 --out $OUT/bench-peers.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "adapters", "torch"))

DT = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Budget:
    def __init__(self, seconds):
        self.t0 = time.monotonic()
        self.seconds = seconds

    def used(self):
        return time.monotonic() - self.t0

    def left(self):
        return self.seconds - self.used()


def commit_of():
    for key in ("PATH_COMMIT",):
        if os.environ.get(key):
            return os.environ[key]
    lib = os.environ.get("PATH_TORCH_KERNELS_LIB")
    if lib:
        f = os.path.join(os.path.dirname(lib), "COMMIT")
        if os.path.exists(f):
            lines = open(f).read().split("\n")
            return lines[0].strip() + (" (+ uncommitted changes)" if any(x.strip() for x in lines[1:]) else "")
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except Exception:  # noqa: BLE001
        return "unknown"


def safe(fn):
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        return f"unavailable: {e}"


def short_error(e: BaseException) -> str:
    msg = f"{type(e).__name__}: {e}"
    return msg if len(msg) < 1500 else msg[:1500] + " ..."


def time_call(run, make, reps, warmup, max_seconds=None, min_reps=3):
    """Median over reps of run(make()) with CUDA events, the timings, the peak extra memory (MiB) and
    the reps really run: with max_seconds, reps shrink (not below min_reps) to what the last warm-up
    call's wall time says fits (the first call may include Triton's autotuning or torch.compile)."""
    t_call = None
    for i in range(warmup):
        args = make()
        torch.cuda.synchronize()
        t0 = time.monotonic()
        run(*args)
        torch.cuda.synchronize()
        t_call = time.monotonic() - t0
        del args
        if max_seconds is not None and i >= 1 and t_call * (warmup - 1 - i + reps) > max_seconds:
            break  # slow enough that more warm-up is time lost (the kernels have no autotuning)
    if max_seconds is not None and t_call:
        reps = int(max(min_reps, min(reps, max_seconds / max(t_call, 1e-9))))
    times = []
    peak = 0.0
    for _ in range(reps):
        args = make()
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = run(*args)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
        peak = max(peak, (torch.cuda.max_memory_allocated() - base) / 2**20)
        del out, args
    return statistics.median(times), times, peak, reps


def attn_flops(B, H, T, D, Dv, mode):
    """Plain causal attention's FLOPs (QK^T and PV over the causal half), the usual yardstick:
    forward 2 B H T^2 (D + Dv) / 2; forward+backward 3.5x that (backward = 2.5x forward)."""
    f = 2.0 * B * H * T * T * (D + Dv) / 2
    return f if mode == "fwd" else 3.5 * f


# ---------------------------------------------------------------------------------------------
# The peers: each returns (make, run) for one configuration
# ---------------------------------------------------------------------------------------------
def path_inputs(B, T, H, D, dtype, grad):
    q = torch.randn(B, T, H, D, device="cuda", dtype=dtype, requires_grad=grad)
    k = torch.randn(B, T, H, D, device="cuda", dtype=dtype, requires_grad=grad)
    v = torch.randn(B, T, H, D, device="cuda", dtype=dtype, requires_grad=grad)
    w = F.normalize(torch.randn(B, T, H, D, device="cuda", dtype=torch.float32), dim=-1).requires_grad_(grad)
    beta = (torch.rand(B, T, H, device="cuda", dtype=torch.float32) * 1.98 + 0.01).requires_grad_(grad)
    return q, k, v, w, beta


def peer_ours(B, T, H, D, dtype, mode):
    import path_attn as pa

    def make():
        t = path_inputs(B, T, H, D, dtype, mode == "fwdbwd")
        return (*t, torch.randn(B, T, H, D, device="cuda", dtype=dtype)) if mode == "fwdbwd" else t

    if mode == "fwd":
        def run(q, k, v, w, beta):
            return pa.path_attn(q, k, v, w, beta)[0]
    else:
        def run(q, k, v, w, beta, do):
            o = pa.path_attn(q, k, v, w, beta)[0]
            o.backward(do)
            return o
    return make, run


def peer_fla(B, T, H, D, dtype, mode):
    from fla.ops.path_attn.parallel import parallel_path_attn

    def make():
        t = path_inputs(B, T, H, D, dtype, mode == "fwdbwd")
        return (*t, torch.randn(B, T, H, D, device="cuda", dtype=dtype)) if mode == "fwdbwd" else t

    if mode == "fwd":
        def run(q, k, v, w, beta):
            return parallel_path_attn(q, k, v, w, beta)[0]
    else:
        def run(q, k, v, w, beta, do):
            o = parallel_path_attn(q, k, v, w, beta)[0]
            o.backward(do)
            return o
    return make, run


def peer_sdpa(backend_name):
    def peer(B, T, H, D, dtype, mode):
        from torch.nn.attention import SDPBackend, sdpa_kernel
        backend = getattr(SDPBackend, backend_name)

        def make():
            g = mode == "fwdbwd"
            t = [torch.randn(B, H, T, D, device="cuda", dtype=dtype, requires_grad=g) for _ in range(3)]
            return (*t, torch.randn(B, H, T, D, device="cuda", dtype=dtype)) if g else t

        if mode == "fwd":
            def run(q, k, v):
                with sdpa_kernel(backend):
                    return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            def run(q, k, v, do):
                with sdpa_kernel(backend):
                    o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                o.backward(do)
                return o
        return make, run
    return peer


PEERS = {"ours": peer_ours, "cudnn": peer_sdpa("CUDNN_ATTENTION"), "fa2": peer_sdpa("FLASH_ATTENTION"),
         "fla": peer_fla}


# ---------------------------------------------------------------------------------------------
# Decode
# ---------------------------------------------------------------------------------------------
def copy_bandwidth():
    """Device-to-device copy bandwidth, bytes/s (read + write counted), median of 20 copies of 1 GiB."""
    n = 2**30 // 2
    src = torch.randn(n, device="cuda", dtype=torch.float16)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    ts = []
    for _ in range(20):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        dst.copy_(src)
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e) / 1e3)
    del src, dst
    return 2 * n * 2 / statistics.median(ts)


def decode_ours(B, T, H, D, dtype, steps, warmup):
    import path_attn as pa
    cache = pa.PathDecodeCache(B, T + steps + warmup + 1, H, H, D, D, dtype)
    k, v = (torch.randn(B, T, H, D, device="cuda", dtype=dtype) for _ in range(2))
    w = F.normalize(torch.randn(B, T, H, D, device="cuda"), dim=-1)
    beta = torch.rand(B, T, H, device="cuda") * 1.98 + 0.01
    t0 = time.monotonic()
    cache.prefill(k, v, w, beta)
    torch.cuda.synchronize()
    prefill_s = time.monotonic() - t0
    del k, v, w, beta

    def make():
        q, k, v = (torch.randn(B, 1, H, D, device="cuda", dtype=dtype) for _ in range(3))
        w = F.normalize(torch.randn(B, 1, H, D, device="cuda"), dim=-1)
        beta = torch.rand(B, 1, H, device="cuda") * 1.98 + 0.01
        return q, k, v, w, beta

    def run(q, k, v, w, beta):
        return cache.step(q, k, v, w, beta)[0]
    med, ts, peak, _ = time_call(run, make, steps, warmup)
    del cache
    return med, ts, peak, {"prefill_s": prefill_s, "cache_length_after": T + steps + warmup}


def _rank_one_update(k, w, beta):
    """fla.layers.path_attn's rank_one_update (there under @torch.compile)."""
    original_dtype = k.dtype
    k = k.float()
    w = w.float()
    beta = beta.float()
    k = k - beta[..., None].float() * (k * w).sum(-1, keepdim=True) * w
    return k.to(original_dtype)


_RANK_ONE = {}


def decode_fla(B, T, H, D, dtype, steps, warmup, compiled):
    """What fla.layers.path_attn does per decoding step (its layer code, without the projections):
    past_k <- past_k - beta (past_k . w) w (in fp32, back to the cache dtype; torch.compile'd there),
    k = cat(past_k, k_new), v = cat(past_v, v_new), then attn_decoding_one_step over B sequences."""
    from fla.ops.attn.decoding import attn_decoding_one_step

    if compiled:
        if "compiled" not in _RANK_ONE:  # one compiled function for every configuration (recompiles once
            _RANK_ONE["compiled"] = torch.compile(_rank_one_update)  # for a new shape, then dynamic)
        upd = _RANK_ONE["compiled"]
    else:
        upd = _rank_one_update
    state = {"k": torch.randn(B, T, H, D, device="cuda", dtype=dtype),
             "v": torch.randn(B, T, H, D, device="cuda", dtype=dtype)}

    def make():
        q, k, v = (torch.randn(B, 1, H, D, device="cuda", dtype=dtype) for _ in range(3))
        w = F.normalize(torch.randn(B, 1, H, D, device="cuda"), dim=-1)
        beta = torch.rand(B, 1, H, device="cuda") * 1.98 + 0.01
        return q, k, v, w, beta

    def run(q, k, v, w, beta):
        past_k = upd(state["k"], w, beta)
        kk = torch.cat([past_k, k], dim=1)
        vv = torch.cat([state["v"], v], dim=1)
        L = kk.shape[1]
        cu = torch.arange(0, (B + 1) * L, L, device="cuda", dtype=torch.int64)
        o = attn_decoding_one_step(q.reshape(1, B, H, D), kk.reshape(1, B * L, H, D), vv.reshape(1, B * L, H, D),
                                   None, cu_seqlens=cu, do_gate_scale=True)
        # keep the cache length fixed at T + 1 between steps (FLA's grows by one per step; the
        # difference is one token in T): drop the oldest token so every timed step sees the same size
        state["k"], state["v"] = kk[:, 1:], vv[:, 1:]
        return o
    med, ts, peak, _ = time_call(run, make, steps, warmup)
    state.clear()
    return med, ts, peak, {"rank_one_update": "torch.compile" if compiled else "eager"}


# ---------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=float(os.environ.get("PATH_BENCH_BUDGET", 400)),
                    help="seconds for the whole run (the device allows 600 s per command); default 400")
    ap.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "bench-peers.json"))
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=65536, help="B*T")
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--dtypes", default="bf16,fp16")
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--Ts", default="1024,4096,16384")
    ap.add_argument("--T64k", action="store_true", default=True, help="forward at T = 64K last, if time allows")
    ap.add_argument("--no-T64k", dest="T64k", action="store_false")
    ap.add_argument("--peers", default="cudnn,fa2,fla,ours",
                    help="run in this order per configuration (ours last: a fault in our kernels, which "
                         "would poison the CUDA context, then costs no peer its number)")
    ap.add_argument("--modes", default="fwd,fwdbwd")
    ap.add_argument("--decode", default="64x4096x64,64x8192x64,16x16384x128",
                    help="decode configurations BxTxD (32 heads); empty: none")
    ap.add_argument("--decode-steps", type=int, default=50)
    ap.add_argument("--fla-decode-eager", action="store_true",
                    help="FLA's rank-one cache update in eager PyTorch (fla.layers.path_attn torch.compiles it; "
                         "compiling costs ~10-40 s of the budget the first time)")
    ap.add_argument("--decode-reserve", type=float, default=60,
                    help="seconds of the budget kept for the decode benchmark until it runs (at most 30%% of it)")
    ap.add_argument("--min-reps", type=int, default=3, help="fewest reps kept when the budget is short")
    args = ap.parse_args()

    budget = Budget(args.budget)
    if not torch.cuda.is_available():
        print("bench-peers: no CUDA device (torch.cuda.is_available() is False): nothing to time")
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    prop = torch.cuda.get_device_properties(0)
    meta = {"date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "gpu": prop.name,
            "gpu_memory_MiB": prop.total_memory // 2**20, "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": safe(torch.backends.cudnn.version), "python": platform.python_version(),
            "commit": commit_of(), "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
            "budget_s": args.budget, "reps": args.reps, "warmup": args.warmup, "tokens": args.tokens,
            "heads": args.heads, "gate": "none (g = None)", "scale": "1/sqrt(D)",
            "flops_note": "TFLOP/s counts plain causal attention's FLOPs (fwd 2BHT^2(D+Dv)/2, fwd+bwd 3.5x), "
                          "for every peer alike: PaTH's extra work is not counted"}
    try:
        import triton
        meta["triton"] = triton.__version__
    except Exception as e:  # noqa: BLE001
        meta["triton"] = f"unavailable: {e}"
    try:
        import fla
        meta["fla"] = getattr(fla, "__version__", "?")
    except Exception as e:  # noqa: BLE001
        meta["fla"] = f"unavailable: {short_error(e)}"
    try:
        import path_attn as pa
        pa.load_library()
        meta["ours_library"] = pa._lib_path
    except Exception as e:  # noqa: BLE001
        meta["ours_library"] = f"unavailable: {short_error(e)}"
    print(f"bench-peers: {meta['gpu']}, torch {meta['torch']}, triton {meta['triton']}, fla {meta['fla']}, "
          f"commit {meta['commit']}, budget {args.budget:.0f} s", flush=True)

    report = {"meta": meta, "results": [], "decode": [], "skipped": [], "notes": []}
    out_path = args.out

    def save():
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        with open(out_path, "w") as f:
            json.dump(report, f, indent=1)

    def skip(what, why):
        report["skipped"].append({"what": what, "why": why})
        print(f"SKIP {what}: {why}", flush=True)

    peers = [p for p in args.peers.split(",") if p]
    modes = [m for m in args.modes.split(",") if m]
    dtypes = [d for d in args.dtypes.split(",") if d]
    dims = [int(d) for d in args.dims.split(",") if d]
    Ts = [int(t) for t in args.Ts.split(",") if t]
    # The order matters when the budget is short: the headline (bf16, D = 64) first, then decode.
    plan = []
    for di, dt in enumerate(dtypes):
        for D in dims:
            for mode in modes:
                for T in Ts:
                    plan.append(("attn", dt, D, mode, T))
            if di == 0 and D == dims[0]:
                plan.append(("decode",))
    if ("decode",) not in plan:
        plan.append(("decode",))
    if args.T64k and "fwd" in modes:
        for dt in dtypes[:1]:
            for D in dims:
                plan.append(("attn", dt, D, "fwd", 65536))

    # Seconds kept for the decode benchmark until it has run (so the headline cannot starve it).
    reserve = {"decode": min(args.decode_reserve, 0.3 * args.budget) if args.decode else 0.0}
    last_ms = {}   # (peer, dtype, D, mode) -> (T, ms): to predict the next T's cost
    dead = {}      # peer -> reason (a CUDA fault poisons the context: stop using it)
    for item in plan:
        if item[0] == "decode":
            reserve["decode"] = 0.0
            run_decode(args, budget, report, skip, save)
            continue
        _, dt, D, mode, T = item
        B = max(1, args.tokens // T)
        H = args.heads
        for peer in peers:
            what = f"{peer} {mode} {dt} D={D} T={T} B={B} H={H}"
            if peer in dead:
                skip(what, f"peer disabled after an earlier failure: {dead[peer]}")
                continue
            prev = last_ms.get((peer, dt, D, mode))
            reps = args.reps
            if prev is not None:
                pred_ms = prev[1] * (T / prev[0]) * (B * T) / (max(1, args.tokens // prev[0]) * prev[0])
                left = budget.left() - reserve["decode"] - 5
                need = (args.warmup + args.min_reps) * pred_ms / 1e3
                if need > left:
                    skip(what, f"predicted {pred_ms / 1e3:.2f} s a call x {args.warmup + args.min_reps} does not fit "
                               f"the {max(left, 0):.0f} s left of the budget")
                    continue
                reps = int(max(args.min_reps, min(args.reps, (left * 0.25) / max(pred_ms / 1e3, 1e-6) - args.warmup)))
            elif budget.left() - reserve["decode"] < 10:
                skip(what, f"{budget.left():.0f} s left of the budget ({reserve['decode']:.0f} s kept for decode)")
                continue
            extra = 0
            if peer == "ours":
                try:
                    import path_attn as pa
                    # what our kernels allocate outside PyTorch's allocator (max_memory_allocated
                    # does not see it): the forward's scratch, and in fwdbwd the backward's workspace
                    # (the larger of the two: they are not live at once)
                    extra = pa.forward_workspace_bytes(DT[dt], B, T, H, H, D, D)
                    if mode == "fwdbwd":
                        extra = max(extra, pa.backward_workspace_bytes(B, T, H, H, D, D))
                        free, _ = torch.cuda.mem_get_info()
                        inputs = 12 * B * T * H * D * 4
                        if extra + inputs > 0.9 * free:
                            skip(what, f"the backward's workspace ({extra / 2**30:.1f} GiB, 3 packed causal arrays "
                                       f"per (sequence, head)) plus inputs exceeds 90% of the free memory "
                                       f"({free / 2**30:.1f} GiB)")
                            continue
                except Exception as e:  # noqa: BLE001
                    rec = {"peer": peer, "mode": mode, "dtype": dt, "D": D, "T": T, "B": B, "H": H,
                           "error": short_error(e)}
                    report["results"].append(rec)
                    print(f"FAIL {what}: {rec['error']}", flush=True)
                    save()
                    continue
            rec = {"peer": peer, "mode": mode, "dtype": dt, "D": D, "T": T, "B": B, "H": H}
            t0 = time.monotonic()
            try:
                make, run = PEERS[peer](B, T, H, D, DT[dt], mode)
                med, ts, peak, reps = time_call(run, make, reps, args.warmup,
                                                max_seconds=max(5.0, 0.25 * (budget.left() - reserve["decode"])), min_reps=args.min_reps)
                rec.update({"ms": med, "ms_all": ts, "reps": reps, "warmup": args.warmup,
                            "peak_extra_MiB": peak + extra / 2**20,
                            "library_workspace_MiB": extra / 2**20,
                            "tflops_attn_equiv": attn_flops(B, H, T, D, D, mode) / (med * 1e-3) / 1e12})
                last_ms[(peer, dt, D, mode)] = (T, med)
                print(f"ROW {what}: {med:.3f} ms (median of {reps}), peak +{rec['peak_extra_MiB']:.0f} MiB, "
                      f"{rec['tflops_attn_equiv']:.1f} TFLOP/s attn-equiv", flush=True)
            except Exception as e:  # noqa: BLE001
                rec["error"] = short_error(e)
                rec["traceback"] = traceback.format_exc()[-3000:]
                print(f"FAIL {what}: {rec['error']}", flush=True)
                if "CUDA error" in str(e) and "illegal" in str(e).lower():
                    dead[peer] = rec["error"]
            finally:
                rec["wall_s"] = time.monotonic() - t0
                torch.cuda.empty_cache()
            report["results"].append(rec)
            save()
    report["meta"]["wall_s"] = budget.used()
    save()
    print_table(report)
    print(f"bench-peers: wrote {out_path} ({budget.used():.0f} s of {args.budget:.0f})")
    return 0


def run_decode(args, budget, report, skip, save):
    if not args.decode:
        return
    try:
        bw = copy_bandwidth()
    except Exception as e:  # noqa: BLE001
        report["notes"].append(f"copy bandwidth not measured: {short_error(e)}")
        bw = None
    report["meta"]["copy_bandwidth_GBs"] = bw / 1e9 if bw else None
    if bw:
        print(f"ROW copy bandwidth (D2D, read + write): {bw / 1e9:.0f} GB/s", flush=True)
    for cfg in args.decode.split(","):
        B, T, D = (int(x) for x in cfg.split("x"))
        H = args.heads
        for dt in ["bf16"]:
            dtype = DT[dt]
            # a step must at least read and write every cached key and read every value
            bytes_needed = (2 * B * T * H * D + B * T * H * D) * 2
            floor_ms = bytes_needed / bw * 1e3 if bw else None
            base = {"B": B, "T": T, "H": H, "D": D, "dtype": dt, "bytes_needed": bytes_needed, "floor_ms": floor_ms}
            for peer in ("fla", "ours"):
                what = f"decode {peer} {dt} B={B} T={T} H={H} D={D}"
                if budget.left() < 20:
                    skip(what, f"{budget.left():.0f} s left of the budget")
                    continue
                rec = dict(base, peer=peer)
                t0 = time.monotonic()
                try:
                    if peer == "ours":
                        med, ts, peak, info = decode_ours(B, T, H, D, dtype, args.decode_steps, args.warmup)
                    else:
                        try:
                            if args.fla_decode_eager:
                                raise RuntimeError("--fla-decode-eager")
                            med, ts, peak, info = decode_fla(B, T, H, D, dtype, args.decode_steps, args.warmup, True)
                        except Exception as e:  # noqa: BLE001 - torch.compile may be unavailable there
                            if not args.fla_decode_eager:
                                report["notes"].append(f"FLA decode with torch.compile failed ({short_error(e)}); eager")
                            med, ts, peak, info = decode_fla(B, T, H, D, dtype, args.decode_steps, args.warmup, False)
                    rec.update({"ms": med, "ms_all": ts, "reps": args.decode_steps, "peak_extra_MiB": peak, **info})
                    if floor_ms:
                        rec["fraction_of_copy_bw"] = floor_ms / med
                    print(f"ROW {what}: {med:.3f} ms a step, floor {floor_ms or float('nan'):.3f} ms "
                          f"({100 * rec.get('fraction_of_copy_bw', float('nan')):.0f}% of copy bandwidth)", flush=True)
                except Exception as e:  # noqa: BLE001
                    rec["error"] = short_error(e)
                    rec["traceback"] = traceback.format_exc()[-3000:]
                    print(f"FAIL {what}: {rec['error']}", flush=True)
                finally:
                    rec["wall_s"] = time.monotonic() - t0
                    torch.cuda.empty_cache()
                report["decode"].append(rec)
                save()


def print_table(report):
    rows = {}
    for r in report["results"]:
        key = (r["mode"], r["dtype"], r["D"], r["T"])
        rows.setdefault(key, {})[r["peer"]] = r.get("ms") if "ms" in r else ("ERR" if "error" in r else None)
    skipped = {s["what"] for s in report["skipped"]}

    def cell(x):
        return f"{x:9.3f}" if isinstance(x, float) else f"{(x or '-'):>9}"

    def ratio(a, b):
        return f"{a / b:8.2f}" if isinstance(a, float) and isinstance(b, float) and b > 0 else f"{'-':>8}"
    print()
    print(f"{'mode':7} {'dtype':5} {'D':>4} {'T':>6} | {'ours':>9} {'cuDNN':>9} {'FA2':>9} {'FLA':>9} | "
          f"{'ours/cuDNN':>10} {'ours/FA2':>8} {'FLA/ours':>8}   (ms, median)")
    for key in sorted(rows, key=lambda k: (k[0], k[1], k[2], k[3])):
        r = rows[key]
        o, c, f2, fl = (r.get(p) for p in ("ours", "cudnn", "fa2", "fla"))
        print(f"{key[0]:7} {key[1]:5} {key[2]:4d} {key[3]:6d} | {cell(o)} {cell(c)} {cell(f2)} {cell(fl)} | "
              f"{ratio(o, c):>10} {ratio(o, f2)} {ratio(fl, o)}")
    if report["decode"]:
        print()
        print(f"{'decode':6} {'B':>3} {'T':>6} {'D':>4} | {'ours ms':>8} {'FLA ms':>8} {'floor ms':>8} | "
              f"{'ours %bw':>8} {'FLA %bw':>8} {'FLA/ours':>8}")
        dec = {}
        for r in report["decode"]:
            dec.setdefault((r["B"], r["T"], r["D"]), {})[r["peer"]] = r
        for (B, T, D), d in dec.items():
            o, f = d.get("ours", {}), d.get("fla", {})
            om, fm = o.get("ms"), f.get("ms")
            floor = (o or f).get("floor_ms")
            pct = lambda r: f"{100 * r['fraction_of_copy_bw']:7.0f}%" if "fraction_of_copy_bw" in r else f"{'-':>8}"  # noqa: E731
            print(f"{'':6} {B:3d} {T:6d} {D:4d} | {cell(om)[1:]} {cell(fm)[1:]} {cell(floor)[1:]} | "
                  f"{pct(o)} {pct(f)} {ratio(fm, om)}")
    if report["skipped"]:
        print(f"\n{len(report['skipped'])} skipped (reasons in the JSON):")
        for s in report["skipped"]:
            print(f"  {s['what']}: {s['why']}")
    fails = [r for r in report["results"] + report["decode"] if "error" in r]
    if fails:
        print(f"\n{len(fails)} failed:")
        for r in fails:
            print(f"  {r['peer']} {r.get('mode', 'decode')} {r['dtype']} D={r['D']} T={r['T']}: {r['error'][:300]}")


if __name__ == "__main__":
    sys.exit(main())
