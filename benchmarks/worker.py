"""Time one (case, implementation) pair; run in a fresh process by run.py.

    python benchmarks/worker.py CASE IMPL [--target SECONDS] [--samples N]

Prints one line ``RESULT {json}`` on stdout.  Steps: build the inputs, make the
implementation's callable, time the first call (compilation for sct and
jax.jit), check value and gradients against the hand-written numpy reference
(numpy.testing.assert_allclose), warm up, pick the number of calls per sample
timeit-style (1, 2, 5, 10, ... until a sample takes at least ``--target``
seconds), then take ``--samples`` samples and report the median per call.
With ``BENCH_CPU`` set (run.py sets it), the process is pinned to that CPU.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import sys
import time
import traceback


def _pin_to_one_core() -> None:
    """Pin this process to one CPU (``BENCH_CPU``, set by run.py) before any
    library starts its thread pools.  JAX/XLA sizes and runs its CPU pools by
    the affinity mask and has no reliable flag for one thread; pinning keeps
    every implementation to one core whatever threads it starts."""
    cpu = os.environ.get("BENCH_CPU")
    if cpu not in (None, "", "none") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu)})


_pin_to_one_core()

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (ROOT, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

# implementation -> (module, name of its factory, modules it needs)
IMPLEMENTATIONS = {
    "numpy": ("cases_numpy", "make", ("numpy",)),
    "sct": ("cases_sct", "make", ("sct",)),
    "sct_fused": ("cases_sct", "make_fused", ("sct", "numexpr")),
    "autograd": ("cases_autograd", "make", ("autograd",)),
    "jax": ("cases_jax", "make", ("jax", "jaxlib")),
    "jax.jit": ("cases_jax", "make_jit", ("jax", "jaxlib")),
    "torch": ("cases_torch", "make", ("torch",)),
}

RTOL = 1e-7     # default; cases_data.TOLERANCES has the float32 cases' own


def _short(exc: BaseException, limit: int = 160) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check(value, grads, ref_value, ref_grads, rtol=RTOL, atol=1e-12):
    """Assert that value and gradients agree with the numpy reference.

    ``atol`` is relative to the largest entry of each reference gradient.  A
    case whose reference has no value (the Hessian-vector products) checks the
    gradients only.
    """
    import numpy as np
    if ref_value is not None:
        np.testing.assert_allclose(value, ref_value, rtol=rtol, err_msg="value")
    if len(grads) != len(ref_grads):
        raise AssertionError(f"{len(grads)} gradients, expected {len(ref_grads)}")
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        g = np.asarray(g)
        if g.shape != r.shape:
            raise AssertionError(f"gradient {i} has shape {g.shape}, expected {r.shape}")
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol * max(scale, 1.0),
                                   err_msg=f"gradient {i}")


def measure(call, target: float, samples: int, warmup: float):
    """timeit-style: per-call times of ``samples`` samples of ``number`` calls.

    Also returns process CPU time over wall time while sampling: about 1.0 when
    the implementation really ran on one thread.
    """
    perf = time.perf_counter
    # warm up: at least 3 calls and at least `warmup` seconds
    t_end = perf() + warmup
    n = 0
    while n < 3 or perf() < t_end:
        call()
        n += 1
    # autorange, as timeit.Timer.autorange: 1, 2, 5, 10, 20, 50, ... calls
    # per sample until one sample takes at least `target` seconds
    number, base = 1, 1
    while True:
        for step in (1, 2, 5):
            number = base * step
            t0 = perf()
            for _ in range(number):
                call()
            if perf() - t0 >= target:
                break
        else:
            base *= 10
            continue
        break
    times = []
    cpu = wall = 0.0
    faults0 = _minor_faults()
    for _ in range(samples):
        gc.collect()
        c0 = time.process_time()
        t0 = perf()
        for _ in range(number):
            call()
        dt = perf() - t0
        cpu += time.process_time() - c0
        wall += dt
        times.append(dt / number)
    faults = (_minor_faults() - faults0) / (samples * number)
    return number, times, cpu / wall, faults


def _minor_faults() -> int:
    """Minor page faults of this process so far (fresh pages mapped by the kernel)."""
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except (ImportError, OSError):
        return 0


def run(case: str, impl: str, target: float, samples: int, warmup: float) -> dict:
    out = {"case": case, "impl": impl}
    module_name, factory, needs = IMPLEMENTATIONS[impl]
    for mod in needs:
        if importlib.util.find_spec(mod) is None:
            out["status"] = "not installed"
            return out
    import cases_data
    import cases_numpy
    import numpy as np

    inputs = cases_data.make_inputs(case)
    ref_call, ref_result = cases_numpy.make(case, inputs)
    ref_value, ref_grads = ref_result(ref_call())

    t0 = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        out["status"] = "not installed"
        out["error"] = _short(exc)
        return out
    out["import_s"] = time.perf_counter() - t0
    try:
        call, result = getattr(module, factory)(case, inputs)
    except NotImplementedError as exc:   # the library has no counterpart of this case
        out["status"] = "n/a"
        out["error"] = str(exc)
        return out
    except Exception as exc:
        out["status"] = "error"
        out["error"] = _short(exc)
        out["traceback"] = traceback.format_exc()
        return out
    try:
        t0 = time.perf_counter()
        first = call()
        out["first_call_s"] = time.perf_counter() - t0
        value, grads = result(first)
    except Exception as exc:  # the implementation failed on this case
        out["status"] = "error"
        out["error"] = _short(exc)
        out["traceback"] = traceback.format_exc()
        return out
    out["grad_dtypes"] = [str(np.asarray(g).dtype) for g in grads]
    out["ref_dtypes"] = [str(r.dtype) for r in ref_grads]
    out["malloc"] = "fixed" if os.environ.get("MALLOC_MMAP_THRESHOLD_") else "system"
    try:
        check(value, grads, ref_value, ref_grads, *cases_data.TOLERANCES.get(case, cases_data.DEFAULT_TOLERANCE))
    except AssertionError as exc:
        out["status"] = "wrong"
        out["error"] = " ".join(str(exc).split())[:300]
        return out
    out["checked"] = True
    try:
        number, times, cpu_per_wall, faults = measure(call, target, samples, warmup)
    except Exception as exc:
        out["status"] = "error"
        out["error"] = _short(exc)
        out["traceback"] = traceback.format_exc()
        return out
    out.update(status="ok", number=number, samples=times, median_s=statistics.median(times),
               min_s=min(times), cpu_per_wall=cpu_per_wall, page_faults_per_call=faults)
    return out


def versions() -> dict:
    """Versions of python, numpy and whichever peers are importable."""
    import platform
    from importlib import metadata
    info = {"python": platform.python_version()}
    for dist in ("numpy", "autograd", "jax", "jaxlib", "torch"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = None
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?")
    ap.add_argument("impl", nargs="?", choices=sorted(IMPLEMENTATIONS))
    ap.add_argument("--target", type=float, default=0.2, help="seconds per sample (default 0.2)")
    ap.add_argument("--samples", type=int, default=7, help="number of samples (default 7)")
    ap.add_argument("--warmup", type=float, default=0.2, help="seconds of warm-up (default 0.2)")
    ap.add_argument("--versions", action="store_true", help="print package versions and exit")
    args = ap.parse_args(argv)
    if args.versions:
        print("RESULT " + json.dumps(versions()))
        return 0
    if not args.case or not args.impl:
        ap.error("CASE and IMPL are required")
    res = run(args.case, args.impl, args.target, args.samples, args.warmup)
    sys.stdout.flush()
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
