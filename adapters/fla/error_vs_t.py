#!/usr/bin/env python3
"""Error in o against T (1 ... 16K) per dtype: FLA, the same-precision baseline, our CUDA kernels.

    python3 adapters/fla/error_vs_t.py --out DIR [--dtypes bf16,fp16,fp32] [--Ts 1,16,...,16384]
                                       [--gpu-long PATH] [--check-suite SUITE_DIR] [--seconds S]

Per dtype and T, on one draw of inputs (B = 1, HQ = 2 query heads on H = 1 key/value head,
D = Dv = 64, `paper` gate; the shape path_gpu_long uses): q, k, v ~ N(0, 1) rounded to the dtype,
w a random unit vector, beta ~ U(0, 2), g = log sigmoid(N(0, 1) + 2), all fp32 (the suites'
`standard` distribution, drawn here with torch's generator, seed printed), it measures
max |o - o_ref| of
  - FLA: parallel_path_attn (gate rewritten to FLA's convention, g / scale, as run_fla.py does);
  - baseline: the same-precision emulation's definition (docs/tolerance.md; path::emulate_forward,
    as gpu/tools/long_check.cpp states it) transcribed to PyTorch: the sweep x <- H_j x and the
    logits in fp32, G summed in fp32, p = exp(s - max) in fp32 summed in fp32 and rounded to the
    input type before the fp32 P V product, o = round(acc / l);
against o_ref, the naive sweep in float64 on the GPU (O(T^2 D), exact algebra, no factorization).
`--check-suite` first runs both on the case files of a pathcheck suite (forward cases, T <= 257):
the fp64 reference must agree with the mp100 expected o to 1e-9, and the emulated baseline's error
is printed beside the stored baseline_error (same order of magnitude expected; the summation order
of fp32 sums differs).
`--gpu-long PATH`: our CUDA kernels' error, and the C++ baseline's, from `path_gpu_long --check
forward` at the same shape, dtype and T -- on that tool's own draw of the same distribution (it
does not take inputs), so those two points are one draw and FLA's another; the report says so.
Writes DIR/curve.json (every point, with the seed) and prints one line per point.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))


def naive_sweep(torch, q, k, w, beta, dtype):
    """r[g, i, j] = k_j^T H_{j+1} ... H_i q_i for j <= i (else 0), q [G, T, D], k, w [T, D], beta [T]."""
    G, T, D = q.shape
    x = q.to(dtype).clone()
    k, w, beta = k.to(dtype), w.to(dtype), beta.to(dtype)
    r = torch.zeros(G, T, T, dtype=dtype, device=q.device)
    for j in range(T - 1, -1, -1):
        xs = x[:, j:]
        r[:, j:, j] = xs @ k[j]
        xs -= beta[j] * (xs @ w[j])[..., None] * w[j]
    return r


def attention(torch, r, G, scale, v, dtype, round_to=None):
    """Causal softmax of s = scale r + (G_i - G_j) (paper gate), then P V."""
    T = r.shape[-1]
    s = scale * r + (G[:, :, None] - G[:, None, :])
    causal = torch.ones(T, T, dtype=torch.bool, device=r.device).tril()
    s = s.masked_fill(~causal, float("-inf"))
    m = s.max(dim=-1, keepdim=True).values
    p = torch.exp(s - m)
    l = p.sum(dim=-1, keepdim=True)
    if round_to is not None:
        p = p.to(round_to).to(dtype)
    return (p @ v.to(dtype)) / l


def reference_o(torch, q, k, v, w, beta, g, scale):
    """fp64 o [T, HQ, Dv] for one sequence, H = 1 (every query head reads kv head 0)."""
    qh = q.permute(1, 0, 2).double()
    r = naive_sweep(torch, qh, k.double(), w.double(), beta.double(), torch.float64)
    G = torch.cumsum(g.double().T, dim=-1)
    return attention(torch, r, G, scale, v, torch.float64).permute(1, 0, 2)


def baseline_o(torch, q, k, v, w, beta, g, scale, in_dtype):
    """The same-precision emulation's o (fp32 arithmetic, p rounded to the input type), rounded."""
    qh = q.permute(1, 0, 2).float()
    r = naive_sweep(torch, qh, k.float(), w.float(), beta.float(), torch.float32)
    G = torch.cumsum(g.float().T, dim=-1)
    o = attention(torch, r, G, torch.tensor(scale, dtype=torch.float32).item(), v, torch.float32, round_to=in_dtype)
    return o.to(in_dtype).permute(1, 0, 2)


def draw(torch, T, HQ, D, Dv, dtype, seed, device):
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def n(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    q, k, v = n(T, HQ, D).to(dtype), n(T, 1, D).to(dtype), n(T, 1, Dv).to(dtype)
    w = n(T, 1, D)
    w = (w / w.norm(dim=-1, keepdim=True)).float()
    beta = (2 * torch.rand(T, 1, generator=gen, dtype=torch.float64)).float()
    g = torch.nn.functional.logsigmoid(n(T, HQ) + 2).float()
    return [t.to(device) for t in (q, k, v, w, beta, g)]


def fla_o(torch, fla_attn, q, k, v, w, beta, g, scale):
    g_fla = (g.double() / scale).float()
    with torch.no_grad():
        o, _ = fla_attn(q[None], k[None], v[None], w[None], beta[None], g=g_fla[None], scale=scale)
    return o[0]


def gpu_long(path, T, dtype, seed, timeout):
    """Our kernels' and the C++ baseline's error in o, from path_gpu_long's judge table."""
    cmd = [path, "--check", "forward", "--T", str(T), "--HQ", "2", "--H", "1", "--D", "64", "--Dv", "64",
           "--dtype", dtype, "--gate", "paper", "--seed", str(seed)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": f"{type(e).__name__}: {e}", "command": " ".join(cmd)}
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) >= 7 and f[1] == "o" and f[-1] in ("PASS", "FAIL"):
            try:
                return {"ours": float(f[2]), "baseline_cpp": float(f[3]), "tolerance": float(f[4]), "ratio": float(f[5]),
                        "verdict": f[-1], "command": " ".join(cmd)}
            except ValueError:
                pass
    return {"error": f"no o row in its output (exit {p.returncode}): {(p.stdout + p.stderr)[-300:]}", "command": " ".join(cmd)}


def check_suite(torch, suite, device, limit_T=257):
    """The fp64 reference against the suite's mp100 o, and the emulated baseline against the stored one."""
    import pathcase
    from safetensors import safe_open

    rows = []
    for name in pathcase.case_names(suite):
        c = pathcase.read_case(suite, name)
        B, T, HQ, D = c.q.shape
        if c.mode != "prefill" or c.cu_seqlens is not None or B != 1 or c.k.shape[2] != 1 or T > limit_T:
            continue
        if c.g is not None and c.gate_convention != "paper":
            continue
        with safe_open(c.path, framework="np") as f:
            expected = f.get_tensor("o").astype("float64")
            tol = json.loads(f.metadata()["tolerances"])["o"]
        t = {n: torch.from_numpy(getattr(c, n)[0]).to(device) for n in ("q", "k", "v", "w", "beta")}
        g = torch.from_numpy(c.g[0]).to(device) if c.g is not None else torch.zeros(T, HQ, dtype=torch.float64, device=device)
        in_dtype = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}[c.input_dtype]
        ref = reference_o(torch, t["q"], t["k"][:, 0], t["v"][:, 0], t["w"][:, 0], t["beta"][:, 0], g, c.scale)
        exp = torch.from_numpy(expected[0]).to(device)
        base = baseline_o(torch, t["q"].to(in_dtype), t["k"][:, 0], t["v"][:, 0], t["w"][:, 0], t["beta"][:, 0], g.float(),
                          c.scale, in_dtype)
        rows.append({"case": name, "T": T, "ref_vs_mp100": float((ref - exp).abs().max()),
                     "baseline_error_emulated": float((base.double() - exp).abs().max()),
                     "baseline_error_stored": float(tol["baseline_error"])})
        print(f"check {name}: fp64 reference vs mp100 {rows[-1]['ref_vs_mp100']:.3g}; baseline error emulated "
              f"{rows[-1]['baseline_error_emulated']:.4g}, stored {rows[-1]['baseline_error_stored']:.4g}", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="error_vs_t.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtypes", default="bf16,fp16,fp32")
    ap.add_argument("--Ts", default="1,16,64,256,1024,4096,16384")
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--gpu-long", default="")
    ap.add_argument("--check-suite", default="")
    ap.add_argument("--seconds", type=float, default=1e9, help="stop starting new points after this")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args(argv)
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False  # the references are plain fp64/fp32
    start = time.time()
    os.makedirs(args.out, exist_ok=True)
    result = {"shape": {"B": 1, "HQ": 2, "H": 1, "D": 64, "Dv": 64, "gate": "paper"}, "seed": args.seed,
              "TRITON_F32_DEFAULT": os.environ.get("TRITON_F32_DEFAULT"), "points": [], "check": []}
    path = os.path.join(args.out, "curve.json")

    def save():
        with open(path, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)

    if args.check_suite:
        try:
            result["check"] = check_suite(torch, args.check_suite, args.device)
        except Exception as e:  # noqa: BLE001
            result["check_error"] = f"{type(e).__name__}: {e}"
            print("check failed:", result["check_error"], flush=True)
        save()
    try:
        from fla.ops.path_attn.parallel import parallel_path_attn
    except Exception as e:  # noqa: BLE001
        parallel_path_attn = None
        result["fla_error"] = f"cannot import FLA: {type(e).__name__}: {e}"
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    scale = float(torch.tensor(64 ** -0.5, dtype=torch.float32))
    for T in [int(t) for t in args.Ts.split(",")]:
        for name in args.dtypes.split(","):
            if time.time() - start > args.seconds:
                result.setdefault("not_run", []).append({"T": T, "dtype": name, "why": "time budget"})
                continue
            dt = dtypes[name]
            seed = args.seed + T
            q, k, v, w, beta, g = draw(torch, T, 2, 64, 64, dt, seed, args.device)
            point = {"T": T, "dtype": name, "seed": seed}
            t0 = time.time()
            ref = reference_o(torch, q, k[:, 0], v[:, 0], w[:, 0], beta[:, 0], g, scale)
            point["ref_seconds"] = round(time.time() - t0, 3)
            base = baseline_o(torch, q, k[:, 0], v[:, 0], w[:, 0], beta[:, 0], g, scale, dt)
            point["baseline"] = float((base.double() - ref).abs().max())
            point["max_abs_o"] = float(ref.abs().max())
            if parallel_path_attn is not None:
                try:
                    o = fla_o(torch, parallel_path_attn, q, k, v, w, beta, g, scale)
                    point["fla"] = float((o.double() - ref).abs().max())
                except Exception as e:  # noqa: BLE001
                    point["fla_error"] = f"{type(e).__name__}: {e}"[:300]
            del ref, base
            if args.gpu_long:
                point["gpu_long"] = gpu_long(args.gpu_long, T, name, seed, max(10, args.seconds - (time.time() - start)))
            result["points"].append(point)
            save()
            gl = point.get("gpu_long", {})
            print(f"T={T} {name}: fla {point.get('fla', point.get('fla_error'))}, baseline {point['baseline']:.4g}, "
                  f"ours {gl.get('ours', gl.get('error', '-'))}, C++ baseline {gl.get('baseline_cpp', '-')}", flush=True)
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    save()
    print(f"error_vs_t: {len(result['points'])} points in {time.time() - start:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
