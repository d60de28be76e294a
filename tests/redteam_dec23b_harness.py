"""Red team B (Dec 23): run a ported peer program through sct and compare with plain Python (value)
and central differences (gradients), first and second order."""
from __future__ import annotations

import copy
import traceback

import numpy as np

import sct
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata


def leaves(v):
    if isinstance(v, (list, tuple)):
        return [e for x in v for e in leaves(x)]
    if isinstance(v, dict):
        return [e for x in v.values() for e in leaves(x)]
    return [v]


def rebuild(template, flat):
    it = iter(flat)

    def go(v):
        if isinstance(v, tuple):
            return tuple(go(e) for e in v)
        if isinstance(v, list):
            return [go(e) for e in v]
        if isinstance(v, dict):
            return {k: go(e) for k, e in v.items()}
        return next(it)
    return go(template)


def D(v):
    return np.asarray(v.data) if type(v).__name__ == "dlarray" else np.asarray(v)


def first(fn, xs, cs):
    out = fn(*xs, *cs)
    y = np.sum(out)
    return out, dlgradient(y, xs)


def second1(fn, a, cs):
    y = np.sum(fn(a, *cs))
    g = dlgradient(y, a, EnableHigherDerivatives=True)
    z = np.sum(np.sin(g))
    return z, dlgradient(z, a)


def second2(fn, a, b, cs):
    y = np.sum(fn(a, b, *cs))
    ga, gb = dlgradient(y, a, b, EnableHigherDerivatives=True)
    z = np.sum(np.sin(ga)) + np.sum(np.sin(gb))
    return z, dlgradient(z, a, b)


def as_dl(xs):
    return rebuild(xs, [dlarray(np.array(v, dtype=np.result_type(v, np.float64))) for v in leaves(xs)])


def value_of(fn, plain, xs, cs):
    f = plain or fn
    return float(np.real(np.sum(f(*copy.deepcopy(xs), *cs))))


def check_first(name, fn, xs, cs, plain, accelerate=False, rtol=1e-5, atol=1e-6):
    ref = value_of(fn, plain, xs, cs)
    target = sct.dlaccelerate(fn) if accelerate else fn
    out, g = dlfeval(first, target, as_dl(xs), cs)
    got = float(np.real(np.sum(D(out)))) if not isinstance(out, (list, tuple, dict)) else \
        float(sum(np.real(np.sum(D(o))) for o in leaves(out)))
    assert np.isclose(got, ref, rtol=1e-10, atol=1e-12), f"{name}: value {got} != {ref}"
    flat = [np.array(v, dtype=np.result_type(v, np.float64)) for v in leaves(xs)]

    def f(*vals):
        return value_of(fn, plain, rebuild(xs, [v.copy() for v in vals]), cs)
    gl = leaves(g)
    assert len(gl) == len(flat), f"{name}: gradient structure {len(gl)} != {len(flat)}"
    for k, (a, v) in enumerate(zip(gl, flat)):
        want = numerical_gradient(f, flat, k)
        a = D(a)
        assert a.shape == want.shape, f"{name}: gradient {k} shape {a.shape} != {want.shape}"
        np.testing.assert_allclose(a, want, rtol=rtol, atol=atol, err_msg=f"{name}: gradient {k}")
    return True


def check_second(name, fn, xs, cs, rtol=1e-4, atol=1e-5):
    """z = sum(sin(dy/dx)) and its gradient, for flat xs of one or two arrays."""
    flat = [np.array(v, dtype=np.result_type(v, np.float64)) for v in xs]
    if len(flat) == 1:
        def z_of(a):
            _, g = dlfeval(first, fn, [dlarray(a.copy())], cs)
            return float(np.sum(np.sin(D(g[0]))))
        z, g = dlfeval(second1, fn, dlarray(flat[0]), cs)
        g = [g]
    else:
        def z_of(a, b):
            _, g = dlfeval(first, fn, [dlarray(a.copy()), dlarray(b.copy())], cs)
            return float(np.sum(np.sin(D(g[0]))) + np.sum(np.sin(D(g[1]))))
        z, g = dlfeval(second2, fn, dlarray(flat[0]), dlarray(flat[1]), cs)
    assert np.isclose(float(D(z)), z_of(*flat), rtol=1e-10, atol=1e-12), f"{name}: second-order value"
    for k in range(len(flat)):
        want = numerical_gradient(z_of, [v.copy() for v in flat], k)
        np.testing.assert_allclose(D(g[k]), want, rtol=rtol, atol=atol, err_msg=f"{name}: 2nd gradient {k}")
    return True


def classify(name, call, userfile="redteam_dec23b"):
    try:
        call()
    except AssertionError as e:
        return "WRONG", str(e)[:400]
    except sct.SctError as e:
        msg = str(e)
        named = userfile in msg and "line" in msg
        return ("refused" if named else "refused-unnamed"), msg.splitlines()[0][:300]
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        where = [f"{t.filename.split('/')[-1]}:{t.lineno}" for t in tb[-3:]]
        return "CRASH", f"{type(e).__name__}: {str(e)[:200]} @ {where}"
    return "pass", ""


def check_jvp(name, fn, xs, cs, rtol=1e-5, atol=1e-6):
    """Forward mode: sct.jvp of fn in its flat arguments against central differences."""
    flat = [np.array(v, dtype=np.result_type(v, np.float64)) for v in xs]
    rng = np.random.RandomState(11)
    tans = [rng.randn(*v.shape) if not np.iscomplexobj(v) else rng.randn(*v.shape) + 0j for v in flat]
    g = lambda *a: fn(*a, *cs)
    out, dot = sct.jvp(g, tuple(v.copy() for v in flat), tuple(tans))
    ref = float(np.real(np.sum(fn(*[v.copy() for v in flat], *cs))))
    assert np.isclose(float(np.real(np.sum(D(out)))), ref, rtol=1e-10, atol=1e-12), f"{name}: jvp value"
    e = 1e-6
    up = float(np.real(np.sum(fn(*[v + e * t for v, t in zip(flat, tans)], *cs))))
    down = float(np.real(np.sum(fn(*[v - e * t for v, t in zip(flat, tans)], *cs))))
    want = (up - down) / (2 * e)
    got = float(np.real(np.sum(D(dot))))
    assert np.isclose(got, want, rtol=rtol, atol=atol), f"{name}: jvp {got} != {want}"
    return True


def check_hvp(name, fn, xs, cs, rtol=1e-4, atol=1e-5):
    """sct.hvp of a one-array function against central differences of sct's gradient."""
    x = np.array(xs[0], dtype=np.result_type(xs[0], np.float64))
    v = np.random.RandomState(5).randn(*x.shape)
    got = D(sct.hvp(lambda a: np.sum(fn(a, *cs)), x.copy(), v))

    def gdot(a):
        _, g = dlfeval(first, fn, [dlarray(a.copy())], cs)
        return float(np.sum(D(g[0]) * v))
    want = numerical_gradient(gdot, [x.copy()], 0)
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=rtol,
                               atol=atol * max(1.0, float(np.max(np.abs(want)))), err_msg=f"{name}: hvp")
    return True
