"""Check one fuzz2 program: sct's values against plain Python, gradients against central differences.

Outcomes: PASSED, SKIPPED (plain Python raises / is not finite / central differences unstable at two
steps: a kink), REFUSED (CompileError/EvaluationError naming the program's file), and the findings:
WRONG (value, gradient, structure, dtype), CRASHED (any other exception, a timeout), UNLOCATED (a
refusal not naming the user's file) and INTERNAL (a refusal that wraps a Python error inside
generated code, or says "internal error").
"""
from __future__ import annotations

import copy
import importlib.util
import os
import re
import signal
import sys
import traceback
import warnings

import numpy as np

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from gradcheck import numerical_gradient  # noqa: E402

VALUE_RTOL, VALUE_ATOL = 1e-11, 1e-12
RTOL, ATOL = 1e-4, 1e-6
RTOL2, ATOL2 = 2e-3, 1e-5
NAMES = ["a", "B", "c"]


class Mismatch(Exception):
    def __init__(self, kind, msg):
        super().__init__(msg)
        self.kind = kind


class Unreliable(Exception):
    pass


class _Timeout(BaseException):
    pass


def load(path, name=None):
    name = name or "fuzz2_" + re.sub(r"\W", "_", os.path.basename(path)[:-3]) + f"_{os.getpid()}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def data(v):
    return np.asarray(v.data) if type(v).__name__ == "dlarray" else np.asarray(v)


def plain(mod, args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            v = mod.f(*copy.deepcopy(args))
        except Exception as exc:  # the reference is unusable
            raise Unreliable(f"plain Python raises {type(exc).__name__}: {exc}")
    v = np.asarray(v)
    if v.shape != () or not np.isfinite(v) or abs(float(v)) > 1e6:
        raise Unreliable(f"plain value {v!r}")
    return float(v)


def fd_grad(fun, args, index, what="FD"):
    """Central differences at two steps; Unreliable where they disagree (a kink nearby)."""
    args = [np.array(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in args]

    def one(x):  # only the differentiated argument is perturbed (numerical_gradient makes arrays of all)
        xs = list(args)
        xs[index] = x
        return fun(*copy.deepcopy(xs))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            g1 = numerical_gradient(one, [args[index]], 0, 1e-6)
            g2 = numerical_gradient(one, [args[index]], 0, 1e-5)
        except Exception as exc:
            raise Unreliable(f"{what}: plain Python raises near the point: {type(exc).__name__}")
    if not (np.all(np.isfinite(g1)) and np.allclose(g1, g2, rtol=1e-4, atol=1e-6)):
        raise Unreliable(f"{what}: central differences unstable for arg {index}")
    if np.max(np.abs(g1), initial=0) > 1e5:
        raise Unreliable("gradient too large")
    return g1


def close(got, exp, rtol, atol, kind, what):
    got, exp = np.asarray(got), np.asarray(exp)
    if got.shape != exp.shape:
        raise Mismatch("structure", f"{what}: shape {got.shape} != {exp.shape}")
    if not np.allclose(got, exp, rtol=rtol, atol=atol, equal_nan=False):
        raise Mismatch(kind, f"{what}: got {np.array2string(got, precision=12)} expected "
                             f"{np.array2string(exp, precision=12)}")


def dl(args):
    from sct import dlarray
    return [dlarray(a) if isinstance(a, np.ndarray) else a for a in args]


def first_order(fun, mod, args):
    """sct's value and gradient w.r.t. WRT (dict name -> array) through dlfeval(fun, ...)."""
    from sct import dlfeval
    y, grads = dlfeval(fun, *dl(args))
    wrt = mod.WRT
    if len(wrt) == 1:
        grads = (grads,)
    if not isinstance(grads, tuple) or len(grads) != len(wrt):
        raise Mismatch("structure", f"gradients {type(grads).__name__} of length {len(grads)}")
    return y, dict(zip(wrt, grads))


def check_first(mod, args, fun=None, value_tol=(VALUE_RTOL, VALUE_ATOL), grad_tol=(RTOL, ATOL), ref_args=None,
                label=""):
    ref_args = ref_args or args
    v = plain(mod, args)
    y, grads = first_order(fun or mod.g, mod, args)
    close(data(y), v, *value_tol, "value", f"{label}value")
    f = lambda *xs: float(mod.f(*xs))  # noqa: E731
    for name, g in grads.items():
        i = NAMES.index(name)
        gd = data(g)
        if gd.dtype != args[i].dtype:
            raise Mismatch("dtype", f"{label}d/d{name} dtype {gd.dtype} != {args[i].dtype}")
        exp = fd_grad(f, ref_args, i)
        close(gd, exp, *grad_tol, "gradient", f"{label}d/d{name}")
    return grads


def run_driver(mod):
    from sct import dlaccelerate, dlarray, dlfeval, hvp, jvp
    args = list(mod.make_args(0))
    drv = mod.DRIVER
    if drv in ("first", "inline"):
        check_first(mod, args)
    elif drv == "float32":
        args64 = [np.asarray(a, np.float64) if isinstance(a, np.ndarray) else a for a in args]
        v32 = plain(mod, args)
        y, grads = first_order(mod.g, mod, args)
        close(data(y), v32, 2e-4, 1e-4, "value", "float32 value")
        f = lambda *xs: float(mod.f(*xs))  # noqa: E731
        for name, g in grads.items():
            i = NAMES.index(name)
            gd = data(g)
            if gd.dtype != np.float32:
                raise Mismatch("dtype", f"float32 d/d{name} dtype {gd.dtype}")
            exp = fd_grad(f, args64, i)
            close(gd, exp, 3e-3, 3e-3, "gradient", f"float32 d/d{name}")
    elif drv in ("dict", "list"):
        v = plain(mod, args)
        a, B, c, k = args
        if drv == "dict":
            y, grads = dlfeval(mod.g, {"a": dlarray(a), "B": dlarray(B)}, dlarray(c), k)
            if not isinstance(grads, dict) or set(grads) != {"a", "B"}:
                raise Mismatch("structure", f"dict gradient {grads!r}"[:200])
            ga, gB = grads["a"], grads["B"]
        else:
            y, grads = dlfeval(mod.g, [dlarray(a), dlarray(B)], dlarray(c), k)
            if not isinstance(grads, list) or len(grads) != 2:
                raise Mismatch("structure", f"list gradient {grads!r}"[:200])
            ga, gB = grads
        close(data(y), v, VALUE_RTOL, VALUE_ATOL, "value", "value")
        f = lambda *xs: float(mod.f(*xs))  # noqa: E731
        close(data(ga), fd_grad(f, args, 0), RTOL, ATOL, "gradient", f"{drv} d/da")
        close(data(gB), fd_grad(f, args, 1), RTOL, ATOL, "gradient", f"{drv} d/dB")
    elif drv == "second":
        from sct import dlfeval as fe
        mod.WRT = ("a",)
        g_first = check_first(mod, args)["a"]
        W = mod.W
        z, h = fe(mod.g2, *dl(args), W)
        close(data(z), np.sum(data(g_first) * W), 1e-10, 1e-12, "value", "second: z = <grad, w>")

        def zfun(*xs):
            _, ga = first_order(mod.g, mod, list(xs))
            return float(np.sum(data(ga["a"]) * W))
        exp = fd_grad_steps(zfun, args, 0)
        close(data(h), exp, RTOL2, ATOL2, "gradient2", "second d/da <grad, w>")
    elif drv in ("jvp", "hvp"):
        mod.WRT = ("a",)
        a, B, c, k = args
        mod.B0, mod.C0, mod.K0 = B, c, k
        fa = lambda x: float(mod.f(x, B, c, k))  # noqa: E731
        rng = np.random.default_rng(mod.SEED)
        t = rng.standard_normal(3)
        if drv == "jvp":
            v = plain(mod, args)
            y, jv = jvp(mod.fa, a, t)
            close(data(y), v, VALUE_RTOL, VALUE_ATOL, "value", "jvp value")
            exp = float(np.dot(fd_grad(fa, [a], 0), t))
            close(data(jv), exp, RTOL, ATOL, "gradient", "jvp J t")
        else:
            g_first = check_first(mod, args)["a"]

            def gfun(x):
                _, ga = first_order(mod.g, mod, [x, B, c, k])
                return data(ga["a"])
            with np.errstate(all="ignore"):
                e1 = (gfun(a + 1e-5 * t) - gfun(a - 1e-5 * t)) / 2e-5
                e2 = (gfun(a + 1e-4 * t) - gfun(a - 1e-4 * t)) / 2e-4
            if not np.allclose(e1, e2, rtol=1e-3, atol=1e-5):
                raise Unreliable("hvp reference unstable")
            got = hvp(mod.fa, a, t)
            close(data(got), e1, RTOL2, ATOL2, "gradient2", "hvp")
            del g_first
    elif drv == "accel":
        acc = dlaccelerate(mod.g)
        check_first(mod, args, fun=acc, label="accel call 1: ")
        args1 = list(mod.make_args(1))
        check_first(mod, args1, fun=acc, label="accel call 2 (other values): ")
        args2 = [a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in mod.make_args(2)]
        args2_64 = [np.asarray(a, np.float64) if isinstance(a, np.ndarray) else a for a in args2]
        check_first(mod, args2, fun=acc, value_tol=(2e-4, 1e-4), grad_tol=(3e-3, 3e-3), ref_args=args2_64,
                    label="accel call 3 (float32): ")
        check_first(mod, args, fun=acc, label="accel call 4 (first values again): ")
    else:
        raise ValueError(drv)


def fd_grad_steps(fun, args, index):
    x = np.array(args[index], dtype=np.float64)
    out = []
    for h in (1e-5, 1e-4):
        g = np.zeros_like(x)
        for j in range(x.size):
            up = [*args]
            dn = [*args]
            xu = x.copy().reshape(-1)
            xd = x.copy().reshape(-1)
            xu[j] += h
            xd[j] -= h
            up[index] = xu.reshape(x.shape)
            dn[index] = xd.reshape(x.shape)
            g.reshape(-1)[j] = (fun(*up) - fun(*dn)) / (2 * h)
        out.append(g)
    if not np.allclose(out[0], out[1], rtol=1e-3, atol=1e-5):
        raise Unreliable("second-order reference unstable")
    return out[0]


_LOCATED = re.compile(r"\b\w+(Error|Exception|Warning) while (evaluating|computing the gradient of) `")


def classify_refusal(exc, path):
    text = str(exc)
    if "internal error" in text or _LOCATED.search(text):
        return "INTERNAL"
    fn = getattr(exc, "filename", None) or ""
    base = os.path.basename(path)
    if os.path.basename(str(fn)) != base and base not in text:
        return "UNLOCATED"
    return "REFUSED"


def check_file(path, timeout=30.0, driver=None):
    """(status, kind, reason, detail) for the program in ``path``, run by ``driver`` (this tester's
    run_driver unless given: tests/fuzz3 passes its own)."""
    from sct import CompileError, EvaluationError
    old = None
    if timeout and hasattr(signal, "SIGVTALRM"):
        def on_alarm(signum, frame):
            raise _Timeout()
        old = signal.signal(signal.SIGVTALRM, on_alarm)
        signal.setitimer(signal.ITIMER_VIRTUAL, timeout)
    name = None
    try:
        mod = load(path)
        name = mod.__name__
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (driver or run_driver)(mod)
        return "PASSED", "", "", ""
    except Unreliable as exc:
        return "SKIPPED", "", str(exc).splitlines()[0][:200], ""
    except Mismatch as exc:
        return "WRONG", exc.kind, str(exc)[:600], traceback.format_exc()
    except (CompileError, EvaluationError) as exc:
        status = classify_refusal(exc, path)
        return status, type(exc).__name__, str(exc).splitlines()[0][:300] if str(exc) else "", str(exc)
    except _Timeout:
        return "CRASHED", "timeout", f"no result after {timeout} s CPU", ""
    except Exception as exc:
        return "CRASHED", type(exc).__name__, f"{type(exc).__name__}: {str(exc)[:300]}", traceback.format_exc()
    finally:
        if old is not None:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, old)
        if name:
            sys.modules.pop(name, None)


FINDINGS = ("WRONG", "CRASHED", "UNLOCATED", "INTERNAL")

REPRO_FOOTER = '''

if __name__ == "__main__":
    import os as _os
    import sys as _sys
    _sys.path.insert(0, {tests!r})
    from fuzz2.runner import check_file as _check
    print(_check(_os.path.abspath(__file__))[:3])
'''


def repro_text(source, status, kind, reason):
    head = f"# fuzz2 repro: {status} ({kind})\n" + "".join(f"# {l}\n" for l in reason.splitlines()[:6])
    return head + source + REPRO_FOOTER.format(tests=_TESTS)
