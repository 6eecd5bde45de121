#!/usr/bin/env python3
"""flash-linear-attention's Triton PaTH, run through a pathcheck conformance suite.

    python3 adapters/fla/run_fla.py --suite SUITE_DIR --results RESULTS_DIR [options]

For every case of the suite (read with adapters/python/pathcase.py) this builds the inputs as
torch tensors on the GPU in the dtypes the case stores, calls the peer, and writes
RESULTS/<case>.safetensors with what the peer returned, under the names `pathcheck validate`
judges (docs/conformance.md):

- prefill cases: `fla.ops.path_attn.parallel.parallel_path_attn(q, k, v, w, beta, g, scale,
  cu_seqlens)` -> o; gradient cases: torch.autograd.grad(o, inputs, grad_outputs=do) through
  FLA's own backward -> dq, dk, dv, dw, dbeta, dg;
- decode cases: what fla.layers.path_attn.PaTHAttention does with a cache: prefill of the first
  P tokens of every sequence with parallel_path_attn(..., use_cache=True) (packed, cu_seqlens in
  int32 as the layer's unpad_input makes them), then one step per later token: the layer's
  rank-one update of every cached key in fp32, rounded back to the key dtype, the new key
  appended, then fla.ops.attn.decoding.attn_decoding_one_step(q, k, v, g, cu_seqlens,
  do_gate_scale=True) -> o of that token; k_cache = each sequence's cache after its last token.

What the peer does not return is not written (never made up): parallel_path_attn and
attn_decoding_one_step return no lse. `--lse internal` reads FLA's internal log-sum-exp of the
prefill forward instead (the tensor L its backward saves, base 2, converted to natural log): an
undocumented internal, a diagnostic (decode cases still have no lse then; `pathcheck fuzz
--outputs o,...` no longer needs it). Judge the suite with `--outputs o,dq,dk,dv,dw,dbeta,dg,k_cache` so lse is
reported as not judged.

Gate conventions: FLA computes scale * (k_j^T ... q_i + G_i - G_j) (`fla`). A `paper` case
(logit + G_i - G_j, the gate term unscaled) is rewritten exactly: FLA gets g_fla = g / scale
(one fp32 rounding of the exact quotient; exact when scale is a power of two, D = 16 or 64), and
the gradient returned is dg = dg_fla / scale (computed in float64 from FLA's fp32 dg, stored in
float64, so no rounding is added to what FLA returned).

A case the peer cannot run (an assertion, an exception, an unsupported shape or dtype, a launch
failure) gets no result file -- so `pathcheck validate` fails it ("cannot open") -- and a sidecar
RESULTS/<case>.fla.json with the exception, its message and traceback; the program still exits 0
(a non-zero exit would fail every case), and prints the failures last on stderr, whose tail
pathcheck quotes under each failed case. Every case gets a sidecar (status "ok", "failed", or
"started" for a case the program died in). After a CUDA error that leaves the context unusable
the program re-executes itself (`--resume`) for the cases left, so one launch failure does not
take the others down. `--serve SOCKET` keeps torch and FLA loaded and runs the command lines that
`--server SOCKET` clients send (pathcheck fuzz starts the program once per batch of cases; a client
with no server answering runs the cases itself). With RUN_FLA_ERROR_LOG=FILE each failure is also appended to FILE as a JSON
line (pathcheck fuzz deletes its results folders). RESULTS/fla-run.json records the environment (versions, GPU,
TRITON_F32_DEFAULT).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import pathcase  # noqa: E402  (adapters/python/pathcase.py: reads suites and cases, checks them)

PROGRAM = "run_fla.py"
LN2 = math.log(2.0)
SIDECAR = ".fla.json"
ERROR_FILE = ".error.txt"  # the per-case failure pathcheck reads
RUN_INFO = "fla-run.json"
MAX_RESTARTS = 20


class PeerMissing(Exception):
    """A result the peer did not produce (e.g. a None gradient): recorded, not made up."""


def now() -> float:
    return time.perf_counter()


# ---- building inputs --------------------------------------------------------------------

class Inputs:
    """The case's inputs as torch tensors in the dtypes the case stores (exact: float64 -> stored dtype)."""

    def __init__(self, torch, case: pathcase.Case, device: str):
        self.torch = torch
        dt = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}[case.input_dtype]
        self.dtype = dt

        def t(a, dtype):
            return None if a is None else torch.from_numpy(a).to(device=device, dtype=dtype).contiguous()

        self.q, self.k, self.v = t(case.q, dt), t(case.k, dt), t(case.v, dt)
        self.w, self.beta = t(case.w, torch.float32), t(case.beta, torch.float32)
        self.do = t(case.do, dt)
        self.g_fla = None
        if case.g is not None:
            g = case.g if case.gate_convention == "fla" else case.g / case.scale  # exact quotient in float64
            self.g_fla = t(g, torch.float32)  # one rounding to fp32 (none for fla, none for a power-of-two scale)
        self.cu = None if case.cu_seqlens is None else torch.tensor(case.cu_seqlens, dtype=torch.int64, device=device)


# ---- prefill cases ------------------------------------------------------------------------

def internal_lse(torch, o, shape):
    """FLA's internal log-sum-exp (base 2) of the forward, saved for its backward, in natural log."""
    fn = o.grad_fn
    if fn is None:
        raise PeerMissing("--lse internal: the output has no autograd node (no input requires grad)")
    saved = fn.saved_tensors  # (q, k, v, w, g_cumsum, o, beta, L, A) in fla-core 0.6.0
    if len(saved) < 8 or saved[7] is None or tuple(saved[7].shape) != tuple(shape):
        raise PeerMissing(f"--lse internal: the saved tensors of {type(fn).__name__} are not those of fla-core 0.6.0 "
                          f"(expected L [B, T, HQ] = {list(shape)} at index 7)")
    return saved[7].detach().double() * LN2


def run_prefill(torch, fla_ops, case, x: Inputs, lse_mode: str, notes: list):
    parallel_path_attn = fla_ops["parallel_path_attn"]
    leaves = {"q": x.q, "k": x.k, "v": x.v, "w": x.w, "beta": x.beta}
    if x.g_fla is not None:
        leaves["g"] = x.g_fla
    need_graph = case.gradients or lse_mode == "internal"
    if case.gradients:
        for t in leaves.values():
            t.requires_grad_(True)
    elif lse_mode == "internal":
        x.q.requires_grad_(True)  # only so that the forward keeps its saved tensors
    out = {}
    with torch.set_grad_enabled(need_graph):
        o, k_cache = parallel_path_attn(x.q, x.k, x.v, x.w, x.beta, g=x.g_fla, scale=case.scale,
                                        cu_seqlens=x.cu, use_cache=False)
        out["o"] = o.detach()
        if lse_mode == "internal":
            try:  # a diagnostic: its absence must not fail the case's real outputs
                out["lse"] = internal_lse(torch, o, o.shape[:3])
                notes.append("lse: FLA's internal L (base 2) of the forward, times ln 2")
            except PeerMissing as e:
                notes.append(f"lse not written: {e}")
        if case.gradients:
            names = list(leaves)
            grads = torch.autograd.grad(o, [leaves[n] for n in names], grad_outputs=x.do, allow_unused=True)
            for n, gr in zip(names, grads):
                if gr is None:
                    notes.append(f"d{n}: FLA's backward returned None (not written)")
                    continue
                gr = gr.detach()
                if n == "g" and case.gate_convention == "paper":
                    gr = gr.double() / case.scale  # dg = dg_fla / scale (g_fla = g / scale)
                out["d" + n] = gr
    return out


# ---- decode cases (fla.layers.path_attn's cache path) -------------------------------------

def rank_one_update(torch, k, w, beta):
    """fla.layers.path_attn's rank_one_update: H_t on every cached key, in fp32, back to k's dtype.

    (The layer wraps it in torch.compile; this is the same arithmetic in eager mode.)"""
    original_dtype = k.dtype
    k = k.float()
    w = w.float()
    beta = beta.float()
    k = k - beta[..., None].float() * (k * w).sum(-1, keepdim=True) * w
    return k.to(original_dtype)


def run_decode(torch, fla_ops, case, x: Inputs, notes: list):
    parallel_path_attn = fla_ops["parallel_path_attn"]
    attn_decoding_one_step = fla_ops["attn_decoding_one_step"]
    device = x.q.device
    B, T, HQ, D = x.q.shape
    H, Dv = x.k.shape[2], x.v.shape[3]
    P = case.prefill_length
    seqs = [s for s in case.sequences() if s[2] > s[1]]  # empty sequences have nothing to run
    o_out = torch.full((B, T, HQ, Dv), float("nan"), dtype=x.dtype, device=device)
    kc_out = torch.full((B, T, H, D), float("nan"), dtype=x.dtype, device=device)
    caches = {}
    # Prefill: the first min(P, n) tokens of every sequence, packed as the layer's unpad_input does.
    parts = [(i, b, s, min(e, s + P)) for i, (b, s, e) in enumerate(seqs) if min(e, s + P) > s]
    if parts:
        def pack(t):
            return None if t is None else torch.cat([t[b, s:p] for _, b, s, p in parts])[None].contiguous()
        lens = [p - s for _, _, s, p in parts]
        cu = torch.tensor([0] + list(_cumsum(lens)), dtype=torch.int32, device=device)
        with torch.no_grad():
            o_p, kc_p = parallel_path_attn(pack(x.q), pack(x.k), pack(x.v), pack(x.w), pack(x.beta), g=pack(x.g_fla),
                                           scale=case.scale, cu_seqlens=cu, use_cache=True)
        if kc_p is None:
            raise PeerMissing("parallel_path_attn(use_cache=True) returned no k_cache")
        offsets = [0] + list(_cumsum(lens))
        for (i, b, s, p), a, z in zip(parts, offsets, offsets[1:]):
            o_out[b, s:p] = o_p[0, a:z]
            caches[i] = [kc_p[0, a:z], x.v[b, s:p], None if x.g_fla is None else x.g_fla[b, s:p]]
    for i, (b, s, e) in enumerate(seqs):
        if i not in caches:
            caches[i] = [x.k[b, s:s], x.v[b, s:s], None if x.g_fla is None else x.g_fla[b, s:s]]
    # Decode: one token of every sequence that still has tokens per step, batched as the layer does.
    step = 0
    with torch.no_grad():
        while True:
            active = [(i, b, s + min(P, e - s) + step) for i, (b, s, e) in enumerate(seqs) if s + min(P, e - s) + step < e]
            if not active:
                break
            for i, b, t in active:
                kc, vc, gc = caches[i]
                kc = rank_one_update(torch, kc, x.w[b, t], x.beta[b, t])
                caches[i] = [torch.cat([kc, x.k[b, t:t + 1]]), torch.cat([vc, x.v[b, t:t + 1]]),
                             None if gc is None else torch.cat([gc, x.g_fla[b, t:t + 1]])]
            q_d = torch.stack([x.q[b, t] for _, b, t in active])[None].contiguous()  # [1, N, HQ, D]
            k_d = torch.cat([caches[i][0] for i, _, _ in active])[None].contiguous()
            v_d = torch.cat([caches[i][1] for i, _, _ in active])[None].contiguous()
            g_d = None if x.g_fla is None else torch.cat([caches[i][2] for i, _, _ in active])[None].contiguous()
            cu = torch.tensor([0] + list(_cumsum([caches[i][0].shape[0] for i, _, _ in active])), dtype=torch.int32,
                              device=device)
            o_d = attn_decoding_one_step(q_d, k_d, v_d, g_d, scale=case.scale, cu_seqlens=cu, do_gate_scale=True)
            for n, (_, b, t) in enumerate(active):
                o_out[b, t] = o_d[0, n]
            step += 1
    for i, (b, s, e) in enumerate(seqs):
        kc_out[b, s:e] = caches[i][0]
    notes.append("decode: prefill parallel_path_attn(use_cache=True), steps rank_one_update + attn_decoding_one_step; "
                 "no lse (neither returns one)")
    # Positions of empty sequences do not exist; every written row came from the peer.
    return {"o": o_out, "k_cache": kc_out}


def _cumsum(xs):
    total = 0
    for v in xs:
        total += v
        yield total


# ---- results ------------------------------------------------------------------------------

def write_error_file(results: str, name: str, message: str) -> None:
    """RESULTS/<case>.error.txt: pathcheck fails the case with this message (docs/conformance.md,
    "Reporting a failed case") instead of "cannot open <case>.safetensors"."""
    with open(os.path.join(results, name + ERROR_FILE), "w", encoding="utf-8") as f:
        f.write(message + "\n")


def write_json(path: str, obj) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def write_result(torch, save_file, results_dir: str, case, outputs: dict, force: bool) -> list:
    path = os.path.join(results_dir, case.name + ".safetensors")
    if os.path.exists(path) and not force:
        raise pathcase.CaseError(f"{path}: already exists; not overwritten (use --force, or an empty results directory)")
    wanted = [n for n in case.outputs if n in outputs]
    tensors = {n: outputs[n].detach().to("cpu").contiguous() for n in wanted}
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        save_file(tensors, tmp, metadata={"producer": PROGRAM, "case": case.name, "peer": "flash-linear-attention"})
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise pathcase.CaseError(f"{path}: cannot write the result file: {e}") from e
    return wanted


def environment(torch, fla, device: str) -> dict:
    info = {
        "program": PROGRAM, "python": sys.version.split()[0], "platform": platform.platform(),
        "torch": getattr(torch, "__version__", "?"), "fla": getattr(fla, "__version__", "?"),
        "fla_file": getattr(fla, "__file__", "?"),
        "TRITON_F32_DEFAULT": os.environ.get("TRITON_F32_DEFAULT"),
        "TRITON_CACHE_DIR": os.environ.get("TRITON_CACHE_DIR"),
    }
    try:
        import triton
        info["triton"] = triton.__version__
    except Exception as e:  # noqa: BLE001  (the fake FLA of the tests runs without Triton)
        info["triton"] = f"not importable: {e}"
    if device.startswith("cuda"):
        try:
            info["gpu"] = torch.cuda.get_device_name(device)
            info["cuda"] = torch.version.cuda
        except Exception as e:  # noqa: BLE001
            info["gpu"] = f"unknown: {e}"
    return info


def cuda_usable(torch, device: str) -> bool:
    if not device.startswith("cuda"):
        return True
    try:
        torch.cuda.synchronize(device)
        torch.ones(1, device=device).add_(1).item()
        return True
    except Exception:  # noqa: BLE001
        return False


def describe(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    return " ".join(text.split())  # one line


# ---- main ---------------------------------------------------------------------------------

class ContextLost(Exception):
    """The CUDA context is unusable (server mode: the client reruns the cases left directly)."""


def make_parser():
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", help="a suite directory made by pathcheck gen (or by pathcheck fuzz)")
    parser.add_argument("--results", help="where RESULTS/<case>.safetensors go")
    parser.add_argument("--device", default="cuda", help="torch device (default cuda; the CPU tests use a fake FLA)")
    parser.add_argument("--lse", choices=("none", "internal"), default="none",
                        help="none (default): FLA's API returns no lse, none is written; internal: FLA's internal "
                             "forward log-sum-exp (a diagnostic)")
    parser.add_argument("--only", default="", help="only the cases whose name contains one of A,B,...")
    parser.add_argument("--force", action="store_true", help="overwrite existing result files")
    parser.add_argument("--resume", action="store_true", help="skip cases that already have a sidecar (after a restart)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (on stdout)")
    parser.add_argument("--workers", type=int, default=1,
                        help="run the cases in N processes at once (each its own CUDA context; Triton compiles in "
                             "parallel); a worker that dies is restarted for its cases left")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)  # K/N: this process's share
    parser.add_argument("--serve", metavar="SOCKET",
                        help="stay up and run suites sent over this Unix socket (torch and FLA imported once: for "
                             "pathcheck fuzz, which starts the program once per batch)")
    parser.add_argument("--server", metavar="SOCKET",
                        help="send this run to a --serve process on SOCKET; when none answers, run here")
    return parser


def load_peer():
    try:
        import torch
        from safetensors.torch import save_file
        import fla
        from fla.ops.path_attn.parallel import parallel_path_attn
        from fla.ops.attn.decoding import attn_decoding_one_step
    except Exception as e:  # noqa: BLE001  (nothing can run: every case fails with this, via the exit status)
        pathcase.fail(PROGRAM, f"cannot import the peer: {describe(e)} (python {sys.executable}; "
                               f"PYTHONPATH={os.environ.get('PYTHONPATH', '')})")
    return {"torch": torch, "save_file": save_file, "fla": fla,
            "ops": {"parallel_path_attn": parallel_path_attn, "attn_decoding_one_step": attn_decoding_one_step}}


def main(argv=None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    argv_list = list(argv if argv is not None else sys.argv[1:])
    if args.serve:
        return serve(args)
    if not args.suite or not args.results:
        parser.error("--suite and --results are required")
    if args.server:
        argv_list = strip_option(argv_list, "--server")
        rc = ask_server(args.server, argv_list)
        if rc is not None:
            return rc
        # No server, or it died or lost its CUDA context: the cases it did not finish run here.
        args.resume = True
        argv_list = argv_list + ["--resume"]
    if args.workers > 1 and not args.worker:
        return run_workers(args, argv_list)
    peer = load_peer()
    return run_suite(args, argv_list, peer)


def strip_option(argv_list, option):
    out, skip = [], False
    for a in argv_list:
        if skip:
            skip = False
        elif a == option:
            skip = True
        elif not a.startswith(option + "="):
            out.append(a)
    return out


def run_suite(args, argv_list, peer, server=False) -> int:
    torch, save_file, fla, fla_ops = peer["torch"], peer["save_file"], peer["fla"], peer["ops"]
    try:
        names = pathcase.case_names(args.suite)
        if args.only:
            keys = [k for k in args.only.split(",") if k]
            names = [n for n in names if any(k in n for k in keys)]
        pathcase.prepare_results_dir(args.results, args.suite)
    except pathcase.CaseError as e:
        pathcase.fail(PROGRAM, str(e))
    total = len(names)
    if args.worker:
        k, n = (int(x) for x in args.worker.split("/"))
        names = names[k::n]
    try:
        torch.zeros(1, device=args.device)
    except Exception as e:  # noqa: BLE001
        pathcase.fail(PROGRAM, f"--device {args.device}: {describe(e)}")

    info_path = os.path.join(args.results, RUN_INFO)
    info = environment(torch, fla, args.device)
    info.update({"suite": os.path.abspath(args.suite), "lse": args.lse, "cases": total, "workers": args.workers,
                 "server": server})
    if not args.resume or not os.path.exists(info_path):
        write_json(info_path, info)

    failures = []
    restarts = int(os.environ.get("RUN_FLA_RESTARTS", "0"))
    for index, name in enumerate(names):
        sidecar = os.path.join(args.results, name + SIDECAR)
        if args.resume and os.path.exists(sidecar):
            with open(sidecar, encoding="utf-8") as f:
                previous = json.load(f)
            if previous.get("status") == "failed":
                failures.append((name, previous.get("error", "")))
            elif previous.get("status") == "started":  # the process died in it (the restart came from there)
                died = os.environ.get("RUN_FLA_DIED", "")
                previous.update(status="failed", error=previous.get("error") or
                                f"the process died while running it{' (' + died + ')' if died else ''}")
                write_json(sidecar, previous)
                failures.append((name, previous["error"]))
            continue
        record = {"case": name, "status": "started", "lse": args.lse}
        write_json(sidecar, record)
        start = now()
        try:
            case = pathcase.read_case(args.suite, name)
        except pathcase.CaseError as e:
            pathcase.fail(PROGRAM, str(e))  # a broken suite is the harness's problem, not the peer's
        record.update(mode=case.mode, gradients=case.gradients, gate_convention=case.gate_convention,
                      gated=case.g is not None, input_dtype=case.input_dtype,
                      shape=dict(zip(("B", "T", "HQ", "D"), map(int, case.q.shape)), H=int(case.k.shape[2]),
                                 Dv=int(case.v.shape[3])))
        notes = []
        try:
            x = Inputs(torch, case, args.device)
            if case.mode == "decode":
                out = run_decode(torch, fla_ops, case, x, notes)
            else:
                out = run_prefill(torch, fla_ops, case, x, args.lse, notes)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize(args.device)
            written = write_result(torch, save_file, args.results, case, out, args.force)
            record.update(status="ok", written=written, not_written=[n for n in case.outputs if n not in written])
        except pathcase.CaseError as e:
            pathcase.fail(PROGRAM, str(e))
        except Exception as e:  # noqa: BLE001  (the peer's failure: an assertion, an exception, a launch failure)
            record.update(status="failed", error=describe(e), exception=type(e).__name__,
                          traceback=traceback.format_exc(limit=12)[-6000:])
            failures.append((name, describe(e)))
            write_error_file(args.results, name, describe(e))
            if os.environ.get("RUN_FLA_ERROR_LOG"):  # fuzz campaigns: their results folders are temporary
                try:
                    with open(os.environ["RUN_FLA_ERROR_LOG"], "a", encoding="utf-8") as f:
                        f.write(json.dumps({"suite": os.path.abspath(args.suite), "case": name, "error": describe(e)}) + "\n")
                except OSError:
                    pass
        record.update(seconds=round(now() - start, 3), notes=notes)
        write_json(sidecar, record)
        if not args.quiet:
            print(f"{PROGRAM}: [{index + 1}/{len(names)}] {name}: {record['status']}"
                  f"{': ' + record['error'][:200] if record['status'] == 'failed' else ''} ({record['seconds']} s)",
                  flush=True)
        if record["status"] == "failed" and not cuda_usable(torch, args.device):
            if server:
                raise ContextLost(name)
            if restarts >= MAX_RESTARTS:
                pathcase.fail(PROGRAM, f"the CUDA context is unusable after case {name} and {restarts} restarts; stopping")
            print(f"{PROGRAM}: the CUDA context is unusable after {name}; restarting for the cases left", file=sys.stderr,
                  flush=True)
            os.environ["RUN_FLA_RESTARTS"] = str(restarts + 1)
            argv_new = [sys.executable, os.path.abspath(__file__)] + [a for a in argv_list if a != "--resume"] + ["--resume"]
            sys.stdout.flush()
            os.execv(sys.executable, argv_new)

    if failures and not args.worker:
        print_failures(failures, total)
    return 0


# ---- server mode (pathcheck fuzz starts the program once per batch of cases) ------------------

def serve(args) -> int:
    """Imports torch and FLA once, then runs each request (a run_fla.py command line) as main would,
    one at a time; the reply carries the exit status and what the run printed on stderr. Exits
    when the CUDA context is lost (the client then runs the cases left itself)."""
    import contextlib
    import io
    import socket

    peer = load_peer()
    peer["torch"].zeros(1, device=args.device)
    path = args.serve
    if os.path.exists(path):
        os.remove(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(8)

    def stop(signum, frame):  # noqa: ARG001
        try:
            os.remove(path)
        finally:
            os._exit(0)

    import signal
    signal.signal(signal.SIGTERM, stop)
    print(f"{PROGRAM}: serving on {path} (pid {os.getpid()})", flush=True)
    parser = make_parser()
    while True:
        conn, _ = sock.accept()
        with conn:
            try:
                request = json.loads(_read_line(conn))
                req_args = parser.parse_args(request["argv"])
            except (ValueError, KeyError, SystemExit) as e:
                _reply(conn, {"rc": 2, "stderr": f"{PROGRAM}: bad request to the server: {e}\n"})
                continue
            err = io.StringIO()
            lost = None
            rc = 0
            with contextlib.redirect_stderr(err):
                try:
                    rc = run_suite(req_args, request["argv"], peer, server=True)
                except SystemExit as e:  # pathcase.fail: a harness error, already printed
                    rc = e.code if isinstance(e.code, int) else 1
                except ContextLost as e:
                    lost = str(e)
                    rc = 75
                except Exception as e:  # noqa: BLE001
                    print(f"{PROGRAM}: server error: {describe(e)}", file=sys.stderr)
                    rc = 1
            _reply(conn, {"rc": rc, "stderr": err.getvalue(), "context_lost": lost})
        if lost is not None:
            print(f"{PROGRAM}: the CUDA context is unusable after {lost}; the server stops", flush=True)
            sock.close()
            os.remove(path)
            return 1


def _read_line(conn) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8")


def _reply(conn, obj) -> None:
    try:
        conn.sendall((json.dumps(obj) + "\n").encode("utf-8"))
    except OSError:
        pass


def ask_server(path: str, argv_list) -> int | None:
    """Runs the request on the server; None when no server answers (then the caller runs it here)."""
    import socket

    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
    except OSError:
        return None
    with sock:
        try:
            sock.sendall((json.dumps({"argv": argv_list}) + "\n").encode("utf-8"))
            reply = json.loads(_read_line(sock))
        except (OSError, ValueError):
            return None  # the server died mid-request: run here (--resume keeps what it finished)
    sys.stderr.write(reply.get("stderr", ""))
    if reply.get("rc") == 75:  # the server lost its CUDA context: the cases left run here
        return None
    return int(reply.get("rc", 1))


def print_failures(failures, total):
    # Last on stderr: pathcheck quotes its last 2000 bytes under every failed case.
    lines = [f"{PROGRAM}: the peer failed on {len(failures)} of {total} cases (no result file written; "
             f"details in RESULTS/<case>{SIDECAR}):"]
    budget = 1700 // max(1, len(failures))
    for name, message in failures:
        lines.append(f"  {name}: {message[:max(60, budget)]}")
    print("\n".join(lines), file=sys.stderr)


def run_workers(args, argv_list) -> int:
    """--workers N: this process starts N copies of itself (--worker K/N), restarts one that dies
    (--resume: its case in flight is marked failed, the rest run), and prints the failures last."""
    import subprocess

    try:
        names = pathcase.case_names(args.suite)
        pathcase.prepare_results_dir(args.results, args.suite)
    except pathcase.CaseError as e:
        pathcase.fail(PROGRAM, str(e))
    base = [sys.executable, os.path.abspath(__file__)] + [a for a in argv_list if a != "--resume"]
    # drop --workers N / --workers=N from the children's arguments
    child = []
    skip = False
    for a in base:
        if skip:
            skip = False
            continue
        if a == "--workers":
            skip = True
            continue
        if a.startswith("--workers="):
            continue
        child.append(a)
    n = args.workers
    procs = {k: subprocess.Popen(child + [f"--worker={k}/{n}"] + (["--resume"] if args.resume else [])) for k in range(n)}
    restarts = {k: 0 for k in range(n)}
    while procs:
        for k, p in list(procs.items()):
            rc = p.poll()
            if rc is None:
                continue
            del procs[k]
            if rc != 0 and restarts[k] < 3:
                restarts[k] += 1
                print(f"{PROGRAM}: worker {k}/{n} ended with status {rc}; restarting it for its cases left", file=sys.stderr,
                      flush=True)
                how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
                try:
                    import signal
                    how = f"killed by {signal.Signals(-rc).name}" if rc < 0 else how
                except ValueError:
                    pass
                procs[k] = subprocess.Popen(child + [f"--worker={k}/{n}", "--resume"], env=dict(os.environ, RUN_FLA_DIED=how))
            elif rc != 0:
                print(f"{PROGRAM}: worker {k}/{n} ended with status {rc} after 3 restarts; its cases left have no results",
                      file=sys.stderr, flush=True)
        time.sleep(0.05)
    failures = []
    keys = [x for x in args.only.split(",") if x]
    for name in names:
        if keys and not any(x in name for x in keys):
            continue
        try:
            with open(os.path.join(args.results, name + SIDECAR), encoding="utf-8") as f:
                rec = json.load(f)
        except (OSError, ValueError):
            failures.append((name, "no sidecar: its worker did not reach it"))
            continue
        if rec.get("status") != "ok":
            failures.append((name, rec.get("error") or f"status {rec.get('status')}: the worker died in it"))
    if failures:
        print_failures(failures, len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
