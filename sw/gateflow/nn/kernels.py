"""Fast logic-layer kernels on the feature-major layout.

A logic layer computes, for every neuron ``j`` and sample ``s``,
``y[j, s] = c0[j] + c1[j]*x[a[j], s] + c2[j]*x[b[j], s] + c3[j]*x[a[j], s]*x[b[j], s]``
with per-neuron coefficients ``c`` ([out, 4], from the 16 gate logits; see
:mod:`gateflow.nn.logic`). Activations are kept *feature-major*, ``x`` is
[features, batch], so the wiring gathers ``x[a[j]]`` copy contiguous rows.

:func:`logic_layer_fm` is one fused autograd function: the forward writes ``y``
and nothing else; the backward computes, by hand,

* ``dc0 = sum_s g``, ``dc1 = sum_s g*xa``, ``dc2 = sum_s g*xb``, ``dc3 = sum_s g*xa*xb``
* ``dx[a[j]] += g*(c1 + c3*xb)`` and ``dx[b[j]] += g*(c2 + c3*xa)``

Two backends compute it:

* ``native``: a small C++/OpenMP library compiled with the system C++ compiler at
  first use (no torch headers, a second or two) and cached; CPU float32 only.
  It runs on torch's own OpenMP runtime (the same ``libgomp.so.1``), so the
  torch thread count applies. The forward is parallel over neurons, the backward
  over batch slices (race-free scatter into ``dx``, per-thread partial sums of
  ``dc`` added in a fixed order: results are deterministic for a thread count).
* ``torch``: the same maths in plain tensor ops (any device and dtype); the
  fallback when no compiler is found, and the path on CUDA.

``GATEFLOW_KERNEL=torch`` (or ``native``) forces a backend; the default ``auto``
uses ``native`` where it applies and ``torch`` elsewhere. The readable
batch-major :meth:`gateflow.nn.LogicLayer.forward` stays the specification;
tests check both backends against it.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import torch

from gateflow.errors import GateflowError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "native", "torch")

_SOURCE = r"""
#include <cstdint>
#include <cstring>
#include <omp.h>

extern "C" {

int gf_abi_version() { return 1; }

// y[j, :] = c0 + xa*(c1 + c3*xb) + c2*xb, parallel over neurons.
void gf_forward(const float* x, int64_t batch, const int64_t* a, const int64_t* b,
                const float* c, int64_t out, float* y, int threads) {
  #pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t j = 0; j < out; ++j) {
    const float* __restrict__ xa = x + a[j] * batch;
    const float* __restrict__ xb = x + b[j] * batch;
    float* __restrict__ yj = y + j * batch;
    const float c0 = c[4 * j], c1 = c[4 * j + 1], c2 = c[4 * j + 2], c3 = c[4 * j + 3];
    #pragma omp simd
    for (int64_t s = 0; s < batch; ++s) {
      const float p = xa[s], q = xb[s];
      yj[s] = c0 + p * (c1 + c3 * q) + c2 * q;
    }
  }
}

// dc [out, 4] and, when dx is not null, dx [in, batch] (zeroed here).
// Parallel over batch slices; partial[t] holds thread t's dc sums.
void gf_backward(const float* x, int64_t in_dim, int64_t batch, const int64_t* a,
                 const int64_t* b, const float* c, int64_t out, const float* g, float* dx,
                 float* dc, float* partial, int threads) {
  if (threads < 1) threads = 1;
  int64_t chunk = (batch + threads - 1) / threads;
  chunk = ((chunk + 15) / 16) * 16;  // whole cache lines per thread
  int used = (int)((batch + chunk - 1) / chunk);
  if (used < 1) used = 1;
  #pragma omp parallel num_threads(used)
  {
    const int t = omp_get_thread_num();
    const int64_t lo = t * chunk;
    const int64_t hi = lo + chunk < batch ? lo + chunk : batch;
    float* __restrict__ acc = partial + (int64_t)t * out * 4;
    if (dx != nullptr && lo < hi) {
      for (int64_t i = 0; i < in_dim; ++i)
        std::memset(dx + i * batch + lo, 0, (hi - lo) * sizeof(float));
    }
    for (int64_t j = 0; j < out; ++j) {
      const float* xa = x + a[j] * batch;
      const float* xb = x + b[j] * batch;
      const float* gj = g + j * batch;
      const float c1 = c[4 * j + 1], c2 = c[4 * j + 2], c3 = c[4 * j + 3];
      float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
      #pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int64_t s = lo; s < hi; ++s) {
        const float gv = gj[s], p = xa[s], q = xb[s];
        const float gp = gv * p;
        s0 += gv;
        s1 += gp;
        s2 += gv * q;
        s3 += gp * q;
      }
      acc[4 * j] = s0;
      acc[4 * j + 1] = s1;
      acc[4 * j + 2] = s2;
      acc[4 * j + 3] = s3;
      if (dx != nullptr) {
        float* da = dx + a[j] * batch;
        float* db = dx + b[j] * batch;
        if (a[j] == b[j]) {
          #pragma omp simd
          for (int64_t s = lo; s < hi; ++s) {
            const float gv = gj[s], p = xa[s];
            da[s] += gv * (c1 + c2 + 2.f * c3 * p);
          }
        } else {
          #pragma omp simd
          for (int64_t s = lo; s < hi; ++s) {
            const float gv = gj[s], p = xa[s], q = xb[s];
            da[s] += gv * (c1 + c3 * q);
            db[s] += gv * (c2 + c3 * p);
          }
        }
      }
    }
  }
  for (int64_t k = 0; k < out * 4; ++k) {
    float sum = 0.f;
    for (int t = 0; t < used; ++t) sum += partial[(int64_t)t * out * 4 + k];
    dc[k] = sum;
  }
}

}  // extern "C"
"""

_FLAGS = ["-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-std=c++17"]
_lib: ctypes.CDLL | None = None
_lib_error: str | None = None
_lock = threading.Lock()


class KernelError(GateflowError, RuntimeError):
    """The native kernel was asked for but cannot be built or loaded."""


def cache_dir() -> Path:
    """Where built kernels live: ``kernels/`` in :func:`gateflow.paths.cache_dir`."""
    from gateflow.paths import cache_dir

    return cache_dir() / "kernels"


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "g++"))


def _cpu_id() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _build(cxx: str) -> Path:
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256(
        "\n".join([_SOURCE, " ".join(_FLAGS), version, platform.machine(), _cpu_id()]).encode()
    ).hexdigest()[:16]
    target = cache_dir() / f"gf_logic_{key}.so"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / "gf_logic.cpp"
        src.write_text(_SOURCE)
        out = Path(tmp) / target.name
        proc = subprocess.run(
            [cxx, *_FLAGS, str(src), "-o", str(out)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise KernelError(f"{cxx} failed: {proc.stderr.strip()[-2000:]}")
        os.replace(out, target)  # atomic: concurrent builders agree on the result
    log.info("built the native logic kernel: %s", target)
    return target


def _load() -> ctypes.CDLL | None:
    """The native library, built on first use; None (with the reason kept) if impossible."""
    global _lib, _lib_error
    if _lib is not None or _lib_error is not None:
        return _lib
    with _lock:
        if _lib is not None or _lib_error is not None:
            return _lib
        cxx = _compiler()
        if cxx is None:
            _lib_error = "no C++ compiler (set CXX or install g++)"
        else:
            try:
                lib = ctypes.CDLL(str(_build(cxx)))
                vp = ctypes.c_void_p
                lib.gf_forward.argtypes = [vp, ctypes.c_int64, vp, vp, vp, ctypes.c_int64, vp]
                lib.gf_forward.argtypes += [ctypes.c_int]
                lib.gf_backward.argtypes = [vp, ctypes.c_int64, ctypes.c_int64, vp, vp, vp]
                lib.gf_backward.argtypes += [ctypes.c_int64, vp, vp, vp, vp, ctypes.c_int]
                lib.gf_forward.restype = lib.gf_backward.restype = None
                if lib.gf_abi_version() != 1:
                    raise KernelError("native kernel ABI mismatch")
                _lib = lib
            except (KernelError, OSError, subprocess.SubprocessError) as exc:
                _lib_error = str(exc)
        if _lib_error is not None:
            log.warning("native logic kernel unavailable, using torch ops: %s", _lib_error)
        return _lib


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
_allocator_tuned = False


def tune_allocator() -> bool:
    """Keep freed activation memory in the process (glibc only; True if applied).

    A training step allocates and frees the same few-MiB activation tensors every
    step. glibc serves blocks above 128 KiB with fresh ``mmap`` pages and returns
    freed heap tops to the kernel, so every step pays page faults on every
    activation (measured: about half of a CPU training step). Raising the mmap
    threshold to its 32 MiB maximum and the trim threshold to 1 GiB keeps that
    memory mapped; the process keeps its peak heap instead of shrinking. Applied
    once per process, by :func:`gateflow.train.logic.train` and the benchmarks.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1 and ok
    except (OSError, AttributeError):
        return False
    _allocator_tuned = ok
    return ok


def native_available() -> bool:
    """True when the native CPU kernel is built and loaded (builds it if needed)."""
    return _load() is not None


def default_backend() -> str:
    backend = os.environ.get("GATEFLOW_KERNEL", "auto")
    if backend not in BACKENDS:
        raise KernelError(f"GATEFLOW_KERNEL must be one of {BACKENDS}, got {backend!r}")
    return backend


def resolve_backend(x: torch.Tensor, backend: str | None = None) -> str:
    """``native`` or ``torch`` for input ``x`` (``backend`` None: :func:`default_backend`)."""
    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise KernelError(f"backend must be one of {BACKENDS}, got {backend!r}")
    fits = x.device.type == "cpu" and x.dtype == torch.float32
    if backend == "native":
        if not fits:
            raise KernelError("the native kernel needs float32 CPU tensors")
        if _load() is None:
            raise KernelError(f"native kernel unavailable: {_lib_error}")
        return "native"
    if backend == "auto" and fits and _load() is not None:
        return "native"
    return "torch"


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


# ------------------------------------------------------------------ torch ops
def _forward_torch(x: torch.Tensor, c: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    xa = x.index_select(0, a)
    xb = x.index_select(0, b)
    c0, c1, c2, c3 = (c[:, k : k + 1] for k in range(4))
    y = torch.addcmul(c1, c3, xb).mul_(xa).addcmul_(c2, xb).add_(c0)
    return y, xa, xb


def _backward_torch(
    g: torch.Tensor,
    xa: torch.Tensor,
    xb: torch.Tensor,
    c: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    in_dim: int,
    need_dx: bool,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    c1, c2, c3 = (c[:, k : k + 1] for k in range(1, 4))
    gxa = g * xa
    gxb = g * xb
    dc = torch.stack([g.sum(1), gxa.sum(1), gxb.sum(1), torch.linalg.vecdot(gxa, xb, dim=1)], dim=1)
    dx = None
    if need_dx:
        dxa = torch.addcmul(g * c1, gxb, c3)
        dxb = torch.addcmul(g * c2, gxa, c3)
        dx = g.new_zeros(in_dim, g.shape[1])
        dx.index_add_(0, a, dxa).index_add_(0, b, dxb)
    return dx, dc


# --------------------------------------------------------------- native ops
def _forward_native(x: torch.Tensor, c: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    lib = _lib
    assert lib is not None
    out = a.shape[0]
    y = x.new_empty(out, x.shape[1])
    lib.gf_forward(
        _ptr(x), x.shape[1], _ptr(a), _ptr(b), _ptr(c), out, _ptr(y), torch.get_num_threads()
    )
    return y


def _backward_native(
    g: torch.Tensor,
    x: torch.Tensor,
    c: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    need_dx: bool,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    lib = _lib
    assert lib is not None
    threads = max(1, torch.get_num_threads())
    out, batch = a.shape[0], x.shape[1]
    dc = c.new_empty(out, 4)
    partial = c.new_empty(threads, out, 4)
    dx = x.new_empty(x.shape) if need_dx else None
    lib.gf_backward(
        _ptr(x), x.shape[0], batch, _ptr(a), _ptr(b), _ptr(c), out, _ptr(g),
        _ptr(dx) if dx is not None else None, _ptr(dc), _ptr(partial), threads,
    )  # fmt: skip
    return dx, dc


class _LogicFM(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x, c, a, b, backend):  # type: ignore[override]
        ctx.backend = backend
        ctx.in_dim = x.shape[0]
        if backend == "native":
            y = _forward_native(x, c, a, b)
            ctx.save_for_backward(x, c, a, b)
        else:
            y, xa, xb = _forward_torch(x, c, a, b)
            ctx.save_for_backward(xa, xb, c, a, b)
        return y

    @staticmethod
    def backward(ctx: Any, g):  # type: ignore[override]
        need_dx = bool(ctx.needs_input_grad[0])
        g = g.contiguous()
        if ctx.backend == "native":
            x, c, a, b = ctx.saved_tensors
            dx, dc = _backward_native(g, x, c, a, b, need_dx)
        else:
            xa, xb, c, a, b = ctx.saved_tensors
            dx, dc = _backward_torch(g, xa, xb, c, a, b, ctx.in_dim, need_dx)
        return dx, dc if ctx.needs_input_grad[1] else None, None, None, None


def logic_layer_fm(
    x: torch.Tensor,
    c: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    backend: str | None = None,
) -> torch.Tensor:
    """One logic layer on feature-major activations.

    ``x``: [in_dim, batch]; ``c``: coefficients [out, 4]; ``a``, ``b``: int64 wiring
    [out]. Returns [out, batch]. Differentiable in ``x`` and ``c``.
    """
    which = resolve_backend(x, backend)
    x = x.contiguous()
    c = c.to(x.dtype).contiguous()
    a = a.contiguous()
    b = b.contiguous()
    if not (x.requires_grad or c.requires_grad) or not torch.is_grad_enabled():
        if which == "native":
            return _forward_native(x, c, a, b)
        return _forward_torch(x, c, a, b)[0]
    return _LogicFM.apply(x, c, a, b, which)
