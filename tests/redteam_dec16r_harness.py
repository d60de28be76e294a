"""Red team R's harness: a corpus function run through sct (dlfeval, dlaccelerate, jvp) against plain
Python (value) and central differences (gradient)."""
import copy
import dataclasses
import traceback

import numpy as np

import sct
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata


def mapleaves(fn, v):
    if isinstance(v, tuple):
        return tuple(mapleaves(fn, e) for e in v)
    if isinstance(v, list):
        return [mapleaves(fn, e) for e in v]
    if isinstance(v, dict):
        return {k: mapleaves(fn, e) for k, e in v.items()}
    if dataclasses.is_dataclass(v):
        return dataclasses.replace(v, **{f.name: mapleaves(fn, getattr(v, f.name))
                                         for f in dataclasses.fields(v)})
    return fn(v)


def leaves(v):
    out = []
    mapleaves(out.append, v)
    return out


def rebuild(template, flat):
    it = iter(flat)
    return mapleaves(lambda _: next(it), template)


def total(out):
    """sum over every output leaf (plain numpy)."""
    return float(sum(np.sum(np.asarray(extractdata(o) if type(o).__name__ == "dlarray" else o))
                     for o in leaves(out)))


def loss_one(fn, xs, cs):
    out = fn(*xs, *cs)
    y = np.sum(out)
    return out, dlgradient(y, xs)


def loss_two(fn, xs, cs):
    out = fn(*xs, *cs)
    y = np.sum(out[0]) + np.sum(out[1])
    return out, dlgradient(y, xs)


def to_dl(v):
    return dlarray(np.array(v, dtype=float))


def plain(v):
    return float(v) if np.ndim(v) == 0 else np.array(v, dtype=float)


def reference(fn, xs, cs):
    return fn(*mapleaves(plain, copy.deepcopy(xs)), *cs)


def numeric_grads(fn, xs, cs):
    flat = [np.array(v, dtype=float) for v in leaves(xs)]

    def f(*vals):
        return total(fn(*rebuild(xs, [plain(v.copy()) for v in vals]), *cs))
    return [numerical_gradient(f, flat, k) for k in range(len(flat))]


def close(a, b, rtol, atol):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def close_value(got, ref):
    g, r = leaves(got), leaves(ref)
    if len(g) != len(r):
        return False
    for a, b in zip(g, r):
        a = np.asarray(extractdata(a) if type(a).__name__ == "dlarray" else a, dtype=float)
        b = np.asarray(b, dtype=float)
        if a.shape != b.shape and not (a.size == 1 and b.size == 1):
            return False
        if not np.allclose(a.reshape(b.shape), b, rtol=1e-12, atol=1e-14, equal_nan=True):
            return False
    return True


def run(fn, xs, cs, mode):
    """'pass', ('plain-raises', ...) or raises AssertionError for wrong; exceptions propagate."""
    try:
        ref = reference(fn, xs, cs)
    except Exception as e:            # plain Python refuses it too (an array in `if`)
        return "plain-raises", e
    two = isinstance(ref, tuple)
    dxs = mapleaves(to_dl, xs)
    if mode == "rev":
        out, g = dlfeval(loss_two if two else loss_one, fn, dxs, cs)
    elif mode == "acc":
        acc = sct.dlaccelerate(fn)
        v = acc(*mapleaves(to_dl, xs), *cs)
        assert close_value(v, ref), f"accelerated value {v} != {ref}"
        out, g = dlfeval(loss_two if two else loss_one, acc, dxs, cs)
    elif mode in ("wrap", "wrapacc"):
        import redteam_dec16r_corpus as C
        w = getattr(C, "rev_" + fn.__name__)
        if mode == "wrapacc":
            w = sct.dlaccelerate(w)
        out, g = dlfeval(w, *dxs, *cs)
        if len(xs) == 1:
            g = [g]
    elif mode == "wrap3":
        import redteam_dec16r_corpus as C
        if len(xs) != 1 or isinstance(xs[0], (tuple, list, dict)) or dataclasses.is_dataclass(xs[0]):
            return "n/a", None
        w1, w2, w3 = (getattr(C, p + fn.__name__) for p in ("rev_", "rev2_", "rev3_"))
        x = np.array(xs[0], dtype=float)
        _, g1 = dlfeval(w1, to_dl(x), *cs)
        _, h1 = dlfeval(w2, to_dl(x), *cs)
        if max(np.max(np.abs(np.asarray(extractdata(e), dtype=float))) for e in (g1, h1)) > 30:
            return "n/a", None        # cos of a large second derivative: central differences are meaningless

        def w_of(a):
            _, h = dlfeval(w2, to_dl(a), *cs)
            return float(np.sum(np.cos(np.asarray(extractdata(h), dtype=float))))
        w, g = dlfeval(w3, to_dl(x), *cs)
        assert np.isclose(float(extractdata(w)), w_of(x), rtol=1e-10, atol=1e-12), "third-order value"
        num = numerical_gradient(w_of, [x.copy()], 0)
        g = np.asarray(extractdata(g), dtype=float)
        assert close(g.reshape(num.shape), num, 1e-3, 1e-5), f"third-order gradient {g} != {num}"
        return "pass", None
    elif mode in ("wrap2", "hvp"):
        import redteam_dec16r_corpus as C
        if any(isinstance(v, (dict, list)) or dataclasses.is_dataclass(v) for v in xs):
            return "n/a", None
        w1 = getattr(C, "rev_" + fn.__name__)
        w2 = getattr(C, "rev2_" + fn.__name__)

        def z_of(*vals):
            _, g1 = dlfeval(w1, *[mapleaves(to_dl, v) for v in rebuild(xs, list(vals))], *cs)
            g1 = [g1] if len(xs) == 1 else g1
            return sum(float(np.sum(np.sin(np.asarray(extractdata(e), dtype=float)))) for e in leaves(g1))
        flat = [np.array(v, dtype=float) for v in leaves(xs)]
        if mode == "hvp":
            if len(flat) != 1 or isinstance(reference(fn, xs, cs), tuple):
                return "n/a", None
            tgt = jvp_target(fn, 1, cs)
            v = np.random.default_rng(5).standard_normal(flat[0].shape)

            def gdot(a):
                _, g1 = dlfeval(w1, to_dl(a), *cs)
                return float(np.sum(np.asarray(extractdata(g1)) * v))
            got = np.asarray(sct.hvp(lambda a: np.sum(tgt(a)), flat[0], v), dtype=float)
            want = numerical_gradient(gdot, [flat[0]], 0)
            assert close(got.reshape(want.shape), want, 1e-4, 1e-5 * max(1.0, np.max(np.abs(want)))), \
                f"hvp {got} != {want}"
            return "pass", None
        _, g1 = dlfeval(w1, *dxs, *cs)
        if max(np.max(np.abs(np.asarray(extractdata(e), dtype=float))) for e in leaves(g1)) > 100:
            return "n/a", None        # sin of a large gradient: central differences are meaningless
        z, g = dlfeval(w2, *dxs, *cs)
        g = [g] if len(xs) == 1 else g
        zr = z_of(*flat)
        assert np.isclose(float(extractdata(z)), zr, rtol=1e-10, atol=1e-12), f"second-order value {z} != {zr}"
        num = [numerical_gradient(z_of, flat, k) for k in range(len(flat))]
        gl = leaves(g)
        assert len(gl) == len(num), f"second-order gradient structure {g}"
        for k, (a, b) in enumerate(zip(gl, num)):
            a = np.asarray(extractdata(a), dtype=float)
            assert close(a.reshape(b.shape) if a.size == b.size else a, b, 1e-4, 1e-5), \
                f"second-order gradient {k}: {a} != {b}"
        return "pass", None
    elif mode == "jvp":
        flat = leaves(xs)
        rng = np.random.default_rng(3)
        tans = [rng.standard_normal(np.shape(v)) for v in flat]
        prim = [np.array(v, dtype=float) for v in flat]
        if any(isinstance(v, (tuple, list, dict)) or dataclasses.is_dataclass(v) for v in xs) or len(xs) > 3:
            return "n/a", None
        f = jvp_target(fn, len(xs), cs)
        out, dot = sct.jvp(f, tuple(prim), tuple(tans))
        assert close_value(out, ref), f"jvp value {out} != {ref}"
        num = numeric_grads(fn, xs, cs)
        want = sum(float(np.sum(n * t)) for n, t in zip(num, tans))
        got = total(dot)
        assert np.isclose(got, want, rtol=1e-5, atol=1e-6), f"jvp {got} != {want}"
        return "pass", None
    assert close_value(out, ref), f"value {out} != {ref}"
    num = numeric_grads(fn, xs, cs)
    gl = leaves(g)
    assert len(gl) == len(num), f"gradient structure {g}"
    for k, (a, b) in enumerate(zip(gl, num)):
        a = np.asarray(extractdata(a), dtype=float)
        assert close(a.reshape(b.shape) if a.size == b.size else a, b, 1e-5, 1e-6), \
            f"gradient {k}: {a} != {b}"
    return "pass", None


def jvp_target(fn, n, cs):
    """fn with its constants bound, as a user writes it for jvp."""
    if not cs:
        return fn
    if n == 1:
        return lambda a: fn(a, *cs)
    if n == 2:
        return lambda a, b: fn(a, b, *cs)
    return lambda a, b, c: fn(a, b, c, *cs)


def classify(fn, xs, cs, mode):
    try:
        r = run(fn, xs, cs, mode)
    except AssertionError as e:
        return "WRONG", str(e)[:300]
    except sct.SctError as e:
        msg = str(e)
        named = "redteam_dec16r" in msg and "line" in msg
        return ("refused" if named else "refused-unnamed"), msg.splitlines()[0][:300]
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        where = [f"{t.filename.split('/')[-1]}:{t.lineno}" for t in tb[-3:]]
        return "CRASH", f"{type(e).__name__}: {str(e)[:200]} @ {where}"
    if r[0] == "plain-raises":
        try:                          # sct must raise too, never give a value
            if mode == "jvp":
                sct.jvp(jvp_target(fn, len(xs), cs),
                        tuple(np.array(v, dtype=float) for v in leaves(xs)),
                        tuple(np.ones(np.shape(v)) for v in leaves(xs)))
            else:
                dlfeval(loss_one, fn, mapleaves(to_dl, xs), cs)
        except Exception as e:
            return "both-raise", f"{repr(r[1])[:80]} / sct: {type(e).__name__}: {str(e).splitlines()[0][:150]}"
        return "WRONG", f"plain Python raises {r[1]!r} but sct gave a value"
    if r[0] == "n/a":
        return "n/a", ""
    return "pass", ""
