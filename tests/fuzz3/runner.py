"""Check one fuzz3 program: sct's value against plain Python, its derivatives against central differences.

Outcomes are those of tests/fuzz2 (its Mismatch/Unreliable/refusal classes are reused): PASSED, SKIPPED
(the reference is unusable: plain Python raises, is not finite, or central differences at two steps
disagree -- a kink or a branch flip nearby), REFUSED (a CompileError/EvaluationError naming the
program's file) and the findings WRONG, CRASHED, UNLOCATED, INTERNAL.

Drivers: first (dlgradient w.r.t. a subset of x, M, T through a call of f), inline (f's body inside
the dlfeval'd function), dict (the arrays in one dict argument), second (the gradient of <grad, w>),
jvp (forward mode), hvp, jac (dljacobian of f applied to each row of a
matrix: each row's gradient), accel (one dlaccelerate'd function called with other values, float32, and the
first values again: the data-dependent branches and trip counts change between calls).
"""
from __future__ import annotations

import copy
import os
import sys
import warnings

import numpy as np

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from fuzz2.runner import (FINDINGS, Mismatch, Unreliable, _Timeout, classify_refusal, close,  # noqa: E402,F401
                          data, load)
from fuzz2.runner import check_file as _check_file  # noqa: E402

VALUE_RTOL, VALUE_ATOL = 1e-9, 1e-11
RTOL, ATOL = 1e-4, 1e-6
RTOL2, ATOL2 = 2e-3, 1e-5
NAMES = ["x", "M", "T"]


def plain(mod, args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            v = mod.f(*copy.deepcopy(args))
        except Exception as exc:
            raise Unreliable(f"plain Python raises {type(exc).__name__}: {exc}")
    v = np.asarray(v)
    if v.shape != () or v.dtype.kind not in "fiub" or not np.isfinite(v) or abs(float(v)) > 1e6:
        raise Unreliable(f"plain value {v!r}")
    return float(v)


def _central(fun, args, index, h, direction):
    x0 = np.array(args[index], dtype=np.float64)
    a_up, a_dn = list(args), list(args)
    a_up[index], a_dn[index] = x0 + h * direction, x0 - h * direction
    return (fun(*copy.deepcopy(a_up)) - fun(*copy.deepcopy(a_dn))) / (2 * h)


def fd_dir(fun, args, index, direction, steps=(1e-6, 1e-5, 1e-7), rtol=1e-4, atol=1e-6):
    """The central difference of the scalar fun along direction (in args[index]): two steps that
    agree, else Unreliable (a kink or a branch flip nearby)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            ds = [_central(fun, args, index, steps[0], direction), _central(fun, args, index, steps[1], direction)]
            ok = np.isfinite(ds[0]) and np.isclose(ds[0], ds[1], rtol=rtol, atol=atol)
            if not ok and len(steps) > 2:
                ds.append(_central(fun, args, index, steps[2], direction))
                ok = np.isfinite(ds[0]) and np.isclose(ds[0], ds[2], rtol=rtol, atol=atol)
        except Exception as exc:
            raise Unreliable(f"plain Python raises near the point: {type(exc).__name__}")
    if not ok:
        raise Unreliable(f"central differences unstable for {NAMES[index] if index < 3 else index}")
    if abs(ds[0]) > 1e5:
        raise Unreliable("derivative too large")
    return float(ds[0])


def directions(seed, shape, k=2):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(k)]


def check_grad(got, fun, args, index, rtol, atol, what, seed=0):
    """got (sct's gradient w.r.t. args[index]) against central differences along random directions."""
    shape = np.shape(args[index])
    if np.shape(got) != shape:
        raise Mismatch("structure", f"{what}: shape {np.shape(got)} != {shape}")
    for j, v in enumerate(directions(seed * 7 + index, shape)):
        exp = fd_dir(fun, args, index, v)
        close(np.sum(np.asarray(got, np.float64) * v), exp, rtol, atol, "gradient", f"{what} along direction {j}")


def dl(args):
    from sct import dlarray
    return [dlarray(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]


def first_order(fun, mod, args):
    from sct import dlfeval
    y, grads = dlfeval(fun, *dl(args))
    wrt = mod.WRT
    if len(wrt) == 1:
        grads = (grads,)
    if not isinstance(grads, tuple) or len(grads) != len(wrt):
        raise Mismatch("structure", f"gradients {type(grads).__name__} of length {len(grads)}")
    return y, dict(zip(wrt, grads))


def fscalar(mod):
    return lambda *xs: float(mod.f(*xs))


def check_first(mod, args, fun=None, value_tol=(VALUE_RTOL, VALUE_ATOL), grad_tol=(RTOL, ATOL), ref_args=None,
                label=""):
    ref_args = ref_args or args
    v = plain(mod, args)
    y, grads = first_order(fun or mod.g, mod, args)
    close(data(y), v, *value_tol, "value", f"{label}value")
    for name, g in grads.items():
        i = NAMES.index(name)
        gd = data(g)
        if gd.dtype != args[i].dtype:
            raise Mismatch("dtype", f"{label}d/d{name} dtype {gd.dtype} != {args[i].dtype}")
        check_grad(gd, fscalar(mod), ref_args, i, *grad_tol, f"{label}d/d{name}", mod.SEED)
    return grads


def run_driver(mod):
    from sct import dlaccelerate, dlarray, dlfeval, hvp, jvp
    args = list(mod.make_args(0))
    drv = mod.DRIVER
    if drv in ("first", "inline"):
        check_first(mod, args)
    elif drv == "dict":
        v = plain(mod, args)
        x, M, T, s, n, idx, opts = args
        y, grads = dlfeval(mod.g, {"x": dlarray(x), "M": dlarray(M), "T": dlarray(T)}, s, n, idx, opts)
        if not isinstance(grads, dict) or set(grads) != {"x", "M", "T"}:
            raise Mismatch("structure", f"dict gradient {grads!r}"[:200])
        close(data(y), v, VALUE_RTOL, VALUE_ATOL, "value", "value")
        for i, name in enumerate(NAMES):
            check_grad(data(grads[name]), fscalar(mod), args, i, RTOL, ATOL, f"dict d/d{name}", mod.SEED)
    elif drv == "second":
        mod.WRT = ("x",)
        gx = check_first(mod, args)["x"]
        w = np.random.default_rng(mod.SEED).standard_normal(args[0].shape)
        z, h = dlfeval(mod.g2, *dl(args), w)
        close(data(z), np.sum(data(gx) * w), 1e-9, 1e-11, "value", "second: z = <grad, w>")

        def zfun(*xs):
            _, ga = first_order(mod.g, mod, list(xs))
            return float(np.sum(data(ga["x"]) * w))
        for j, v in enumerate(directions(mod.SEED + 1, args[0].shape)):
            exp = fd_dir(zfun, args, 0, v, steps=(1e-5, 1e-4, 1e-6), rtol=1e-3, atol=1e-5)
            close(np.sum(data(h) * v), exp, RTOL2, ATOL2, "gradient2", f"second d/dx <grad, w> along direction {j}")
    elif drv in ("jvp", "hvp"):
        mod.WRT = ("x",)
        x = args[0]
        mod.REST = tuple(args[1:])
        t = np.random.default_rng(mod.SEED).standard_normal(x.shape)
        if drv == "jvp":
            v = plain(mod, args)
            y, jv = jvp(mod.fx, x, t)
            close(data(y), v, VALUE_RTOL, VALUE_ATOL, "value", "jvp value")
            exp = fd_dir(fscalar(mod), args, 0, t)
            close(data(jv), exp, RTOL, ATOL, "gradient", "jvp J t")
        else:
            check_first(mod, args)

            def gfun(xx):
                _, ga = first_order(mod.g, mod, [xx] + list(args[1:]))
                return data(ga["x"])
            with np.errstate(all="ignore"):
                e1 = (gfun(x + 1e-5 * t) - gfun(x - 1e-5 * t)) / 2e-5
                e2 = (gfun(x + 1e-4 * t) - gfun(x - 1e-4 * t)) / 2e-4
            if not np.allclose(e1, e2, rtol=1e-3, atol=1e-5):
                raise Unreliable("hvp reference unstable")
            close(data(hvp(mod.fx, x, t)), e1, RTOL2, ATOL2, "gradient2", "hvp")
    elif drv == "jac":
        rows = [args[0], mod.make_args(1)[0], mod.make_args(2)[0]]
        vals = []
        for r in rows:
            try:
                vals.append((r, plain(mod, [r] + args[1:])))
            except Unreliable:
                pass
        if not vals:
            raise Unreliable("no usable row")
        X = np.stack([r for r, _ in vals])
        u, J = dlfeval(mod.gj, dlarray(X), *dl(args[1:]))
        close(data(u), np.array([v for _, v in vals]), VALUE_RTOL, VALUE_ATOL, "value", "jac u")
        J = data(J)
        if J.shape != X.shape:
            raise Mismatch("structure", f"dljacobian shape {J.shape} != {X.shape}")
        for b, (r, _) in enumerate(vals):
            check_grad(J[b], fscalar(mod), [r] + args[1:], 0, RTOL, ATOL, f"dljacobian row {b}", mod.SEED + b)
    elif drv == "accel":
        acc = dlaccelerate(mod.g)
        check_first(mod, args, fun=acc, label="accel call 1: ")
        for variant in (1, 2):
            try:
                check_first(mod, list(mod.make_args(variant)), fun=acc, label=f"accel call (values {variant}): ")
            except Unreliable:
                pass
        a32 = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
               for a in mod.make_args(3)]
        a64 = [np.asarray(a, np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in a32]
        try:
            check_first(mod, a32, fun=acc, value_tol=(2e-4, 1e-4), grad_tol=(3e-3, 3e-3), ref_args=a64,
                        label="accel call (float32): ")
        except Unreliable:
            pass
        check_first(mod, args, fun=acc, label="accel call (first values again): ")
    else:
        raise ValueError(drv)


def check_file(path, timeout=40.0):
    """(status, kind, reason, detail) for the program in ``path``: fuzz2's harness with this driver."""
    return _check_file(path, timeout, driver=run_driver)


REPRO_FOOTER = '''

if __name__ == "__main__":
    import os as _os
    import sys as _sys
    _sys.path.insert(0, {tests!r})
    from fuzz3.runner import check_file as _check
    print(_check(_os.path.abspath(__file__))[:3])
'''


def repro_text(source, status, kind, reason):
    head = f"# fuzz3 repro: {status} ({kind})\n" + "".join(f"# {l}\n" for l in reason.splitlines()[:6])
    return head + source + REPRO_FOOTER.format(tests=_TESTS)
