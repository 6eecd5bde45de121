"""Reading a pathcheck conformance suite and writing result files, with NumPy.

Shared by path_numpy.py and path_torch.py. Everything here follows docs/conformance.md (the case
and result tensors, suite.json) and docs/file-format.md (safetensors); nothing is taken from the
C++ code.

Files are read and written with the `safetensors` package's NumPy API. NumPy has no bfloat16
dtype of its own: a BF16 tensor loads only when `ml_dtypes` is installed *and imported* before
the file is opened (safetensors then finds the dtype name `bfloat16`; without it the load fails
with "TypeError: data type 'bfloat16' not understood"). This module imports it first thing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys

import ml_dtypes  # noqa: F401  (registers numpy's 'bfloat16' dtype name: must precede any BF16 load)
import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)

# Output dtypes (docs/conformance.md, "Expected outputs"): o, dq, dk, dv and k_cache are returned
# in the input dtype, lse, dw, dbeta and dg in F32.
INPUT_DTYPE_OUTPUTS = ("o", "dq", "dk", "dv", "k_cache")
F32_OUTPUTS = ("lse", "dw", "dbeta", "dg")
GRADIENT_OUTPUTS = ("dq", "dk", "dv", "dw", "dbeta", "dg")

NUMPY_DTYPES = {"F32": np.dtype(np.float32), "F16": np.dtype(np.float16), "BF16": BFLOAT16}
CASE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class CaseError(Exception):
    """A problem with a suite, a case file or a results directory; the message names the file."""


@dataclasses.dataclass
class Case:
    """One conformance case: its inputs in float64 (exact widenings of what is stored) and metadata."""

    name: str
    path: str
    q: np.ndarray  # [B, T, HQ, D]
    k: np.ndarray  # [B, T, H, D]
    v: np.ndarray  # [B, T, H, Dv]
    w: np.ndarray  # [B, T, H, D]
    beta: np.ndarray  # [B, T, H]
    g: np.ndarray | None  # [B, T, HQ], log forget gate per step; None: no gate
    cu_seqlens: list[int] | None  # packed sequences (B = 1); None: B independent sequences
    do: np.ndarray | None  # [B, T, HQ, Dv]; present in gradient cases
    scale: float
    gate_convention: str  # "paper" or "fla"
    mode: str  # "prefill" or "decode"
    prefill_length: int  # decode cases
    gradients: bool
    input_dtype: str  # "BF16", "F16" or "F32"

    @property
    def outputs(self) -> list[str]:
        """The result tensors this case expects (docs/conformance.md)."""
        names = ["o", "lse"]
        if self.gradients:
            names += ["dq", "dk", "dv", "dw", "dbeta"] + (["dg"] if self.g is not None else [])
        if self.mode == "decode":
            names.append("k_cache")
        return names

    def sequences(self):
        """(batch row, first position, end position) of every sequence; no path crosses one."""
        B, T = self.q.shape[:2]
        if self.cu_seqlens is None:
            return [(b, 0, T) for b in range(B)]
        cu = self.cu_seqlens
        return [(0, cu[n], cu[n + 1]) for n in range(len(cu) - 1)]


def case_names(suite_dir: str) -> list[str]:
    """The suite's case list: suite.json's "cases", else every *.safetensors file, sorted."""
    if not os.path.isdir(suite_dir):
        raise CaseError(f"{suite_dir}: not a directory (expected a suite made by 'pathcheck gen')")
    manifest = os.path.join(suite_dir, "suite.json")
    if not os.path.exists(manifest):
        return sorted(f[: -len(".safetensors")] for f in os.listdir(suite_dir) if f.endswith(".safetensors"))
    try:
        with open(manifest, encoding="utf-8") as f:
            suite = json.load(f)
    except (OSError, ValueError) as e:
        raise CaseError(f"{manifest}: cannot read the suite manifest: {e}") from e
    if not isinstance(suite, dict) or not isinstance(suite.get("cases"), list):
        raise CaseError(f"{manifest}: no \"cases\" list (is this a pathcheck suite?)")
    names = suite["cases"]
    for n in names:
        if not isinstance(n, str) or not CASE_NAME.match(n) or n.startswith("."):
            raise CaseError(f"{manifest}: case name {n!r} is not a plain file name")
    return names


def _meta(path: str, meta: dict, key: str, allowed=None) -> str:
    if key not in meta:
        raise CaseError(f"{path}: metadata key '{key}' is missing (is this a pathcheck conformance case?)")
    value = meta[key]
    if allowed is not None and value not in allowed:
        raise CaseError(f"{path}: metadata '{key}' is {value!r}, expected one of {', '.join(allowed)}")
    return value


def _expect_shape(path: str, name: str, array: np.ndarray, shape: tuple, what: str) -> None:
    if tuple(array.shape) != tuple(shape):
        raise CaseError(f"{path}: tensor '{name}': shape {list(array.shape)}, expected {list(shape)} ({what})")


def read_case(suite_dir: str, name: str) -> Case:
    """Reads and checks one case file. Only the inputs are read, never the expected outputs."""
    path = os.path.join(suite_dir, name + ".safetensors")
    tensors = {}
    try:
        with safe_open(path, framework="np") as f:
            meta = f.metadata() or {}
            present = set(f.keys())
            for t in ("q", "k", "v", "w", "beta", "g", "cu_seqlens", "do"):
                if t in present:
                    tensors[t] = f.get_tensor(t)
    except FileNotFoundError as e:
        raise CaseError(f"{path}: case file not found (listed in suite.json)") from e
    except (SafetensorError, OSError, TypeError, ValueError) as e:
        raise CaseError(f"{path}: cannot read the case file: {e}") from e

    for t in ("q", "k", "v", "w", "beta"):
        if t not in tensors:
            raise CaseError(f"{path}: tensor '{t}' not found (the file has: {', '.join(sorted(present))})")
    input_dtype = _meta(path, meta, "input_dtype", NUMPY_DTYPES)
    mode = _meta(path, meta, "mode", ("prefill", "decode"))
    gradients = _meta(path, meta, "gradients", ("true", "false")) == "true"
    convention = _meta(path, meta, "gate_convention", ("paper", "fla"))
    try:
        scale = float(_meta(path, meta, "scale"))
    except ValueError as e:
        raise CaseError(f"{path}: metadata 'scale' is not a number: {meta['scale']!r}") from e
    if not math.isfinite(scale):
        raise CaseError(f"{path}: metadata 'scale' is {scale}, expected a finite number")

    x = {}
    for t, a in tensors.items():
        if a.dtype.kind not in "fiu" and a.dtype != BFLOAT16:
            raise CaseError(f"{path}: tensor '{t}': dtype {a.dtype} is not numeric")
        x[t] = a.astype(np.float64)  # exact for every stored dtype (bf16, f16, f32, f64, i64 <= 2^53)
        if t != "cu_seqlens" and not np.all(np.isfinite(x[t])):
            bad = np.argwhere(~np.isfinite(x[t]))[0]
            raise CaseError(f"{path}: tensor '{t}': non-finite value at index {list(map(int, bad))}")

    q, k, v = x["q"], x["k"], x["v"]
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise CaseError(f"{path}: q, k, v must be [B, T, heads, dim]; got {list(q.shape)}, {list(k.shape)}, {list(v.shape)}")
    B, T, HQ, D = q.shape
    H, Dv = k.shape[2], v.shape[3]
    _expect_shape(path, "k", k, (B, T, H, D), "[B, T, H, D] with q's B, T, D")
    _expect_shape(path, "v", v, (B, T, H, Dv), "[B, T, H, Dv] with k's B, T, H")
    _expect_shape(path, "w", x["w"], (B, T, H, D), "like k")
    _expect_shape(path, "beta", x["beta"], (B, T, H), "[B, T, H]")
    if H == 0 or HQ % H != 0:
        raise CaseError(f"{path}: tensor 'q': {HQ} query heads is not a multiple of k's {H} key/value heads")
    if tensors["q"].dtype != NUMPY_DTYPES[input_dtype]:
        raise CaseError(f"{path}: tensor 'q' is {tensors['q'].dtype} but metadata input_dtype is {input_dtype}")
    g = x.get("g")
    if g is not None:
        _expect_shape(path, "g", g, (B, T, HQ), "[B, T, HQ]")
    cu = None
    if "cu_seqlens" in x:
        c = x["cu_seqlens"]
        cu = [int(e) for e in c.reshape(-1)]
        if c.ndim != 1 or len(cu) < 1 or cu[0] != 0 or cu[-1] != T or any(b < a for a, b in zip(cu, cu[1:])):
            raise CaseError(f"{path}: tensor 'cu_seqlens' {cu}: must start at 0, not decrease and end at T = {T}")
        if B != 1:
            raise CaseError(f"{path}: tensor 'cu_seqlens' is present but B = {B} (packed sequences need B = 1)")
    do = x.get("do")
    if gradients:
        if do is None:
            raise CaseError(f"{path}: metadata gradients = true but tensor 'do' is missing")
        _expect_shape(path, "do", do, (B, T, HQ, Dv), "o's shape [B, T, HQ, Dv]")
    prefill = 0
    if mode == "decode":
        try:
            prefill = int(_meta(path, meta, "prefill_length"))
        except ValueError as e:
            raise CaseError(f"{path}: metadata 'prefill_length' is not an integer: {meta['prefill_length']!r}") from e
        if prefill < 0:
            raise CaseError(f"{path}: metadata 'prefill_length' is {prefill}, expected >= 0")
    return Case(name, path, q, k, v, x["w"], x["beta"], g, cu, do, scale, convention, mode, prefill, gradients,
                input_dtype)


def output_dtype(case: Case, output: str) -> np.dtype:
    """The dtype an output is returned in (docs/conformance.md)."""
    if output in F32_OUTPUTS:
        return np.dtype(np.float32)
    return NUMPY_DTYPES[case.input_dtype]


def round_output(case: Case, output: str, value: np.ndarray) -> np.ndarray:
    """Rounds a float64 result once, to nearest even, to the output dtype.

    NumPy rounds float64 to float32 and float16 directly, and ml_dtypes (0.7) rounds float64 to
    bfloat16 directly too (not through float32, which could round twice): tests check both."""
    return np.ascontiguousarray(np.asarray(value, dtype=np.float64).astype(output_dtype(case, output)))


def prepare_results_dir(results_dir: str, suite_dir: str) -> None:
    if os.path.realpath(results_dir) == os.path.realpath(suite_dir):
        raise CaseError(f"{results_dir}: the results directory is the suite itself; give another directory")
    try:
        os.makedirs(results_dir, exist_ok=True)
    except OSError as e:
        raise CaseError(f"{results_dir}: cannot create the results directory: {e}") from e


def write_result(results_dir: str, case: Case, outputs: dict[str, np.ndarray], producer: str, force: bool) -> str:
    """Writes <results>/<case>.safetensors with exactly the case's outputs, rounded to their dtypes."""
    missing = [n for n in case.outputs if n not in outputs]
    if missing:
        raise CaseError(f"{case.path}: internal error: outputs {missing} were not computed")
    path = os.path.join(results_dir, case.name + ".safetensors")
    if os.path.exists(path) and not force:
        raise CaseError(f"{path}: already exists; not overwritten (use --force, or an empty results directory)")
    tensors = {n: round_output(case, n, outputs[n]) for n in case.outputs}
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        save_file(tensors, tmp, metadata={"producer": producer, "case": case.name})
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise CaseError(f"{path}: cannot write the result file: {e}") from e
    return path


def fail(program: str, message: str, status: int = 1):
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(status)
