"""Red team (Dec 6a): programs written the way users write them -- parameters in dicts, lists of dicts,
objects, dataclasses (frozen and not), NamedTuples; layers calling layers (``__call__``, inheritance,
``super()``); closures and factories; lambdas stored in dicts; default arguments; in-place writes;
globals changed between calls; recursion; generators; several outputs; gradients with respect to
nested structures; nested dlfeval; dlaccelerate; second derivatives.  The programs live in
tests/redteam_dec6a_progs.py.  For each: sct's value equals plain Python's (the same function run on
numpy arrays), the gradient with respect to every float leaf of the parameter structure matches
central differences (tests/gradcheck.py), and the Hessian along a direction (nested dlgradient)
matches the central difference of sct's checked gradient.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import numerical_gradient

import redteam_dec6a_progs as P
from redteam_dec6a_tree import leaves, mirror, paired_leaves, replace_leaves, tmap


@pytest.fixture(autouse=True)
def fresh():
    sct.clear_cache()
    yield
    sct.clear_cache()


def _k1(f, params, *consts):
    y = f(params, *consts)
    return y, dlgradient(y, params)


def _k2(f, vs, params, *consts):
    y = f(params, *consts)
    g = dlgradient(y, params, EnableHigherDerivatives=True)
    return dlgradient(P.vdot(g, vs), params)


def _dl(params):
    return tmap(lambda a: dlarray(np.array(a, copy=True)), copy.deepcopy(params))


def _data(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


def sct_value_grad(f, params, consts):
    y, g = dlfeval(_k1, f, _dl(params), *copy.deepcopy(consts))
    return float(_data(y)), [_data(v) for v in paired_leaves(params, g)]


def plain_value(f, params, consts):
    return float(np.real(f(copy.deepcopy(params), *copy.deepcopy(consts))))


def numeric_grads(f, params, consts, step=1e-6):
    flat = [np.array(v, dtype=np.float64) for v in leaves(params)]

    def at(*vs):
        return plain_value(f, replace_leaves(params, [np.asarray(v, dtype=np.asarray(o).dtype) if np.ndim(o)
                                                      else type(o)(v) for v, o in zip(vs, leaves(params))]),
                           consts)
    return [numerical_gradient(at, flat, k, step) for k in range(len(flat))]


def check_first(name):
    f, build, opts = P.CASES[name]
    params, consts = build()
    want = plain_value(f, params, consts)
    got, grads = sct_value_grad(f, params, consts)
    np.testing.assert_allclose(got, want, rtol=opts.get("rtol", 1e-10), atol=1e-12, err_msg=f"{name}: value")
    num = numeric_grads(f, params, consts, opts.get("step", 1e-6))
    assert len(grads) == len(num), f"{name}: {len(grads)} gradient leaves, {len(num)} parameters"
    for k, (g, n) in enumerate(zip(grads, num)):
        assert g.shape == n.shape, f"{name}: leaf {k} shape {g.shape} != {n.shape}"
        np.testing.assert_allclose(g, n, rtol=opts.get("grtol", 1e-5), atol=opts.get("gatol", 1e-6),
                                   err_msg=f"{name}: gradient leaf {k}")
    # the cached code, again with other values
    params2 = tmap(lambda a: (a * 0.9 + 0.05).astype(np.asarray(a).dtype) if np.ndim(a)
                   else type(a)(a * 0.9 + 0.05), params)
    got2, _ = sct_value_grad(f, params2, consts)
    np.testing.assert_allclose(got2, plain_value(f, params2, consts), rtol=opts.get("rtol", 1e-10), atol=1e-12,
                               err_msg=f"{name}: value, second call")


def check_second(name):
    f, build, opts = P.CASES[name]
    params, consts = build()
    rng = np.random.default_rng(7)
    vs = [rng.standard_normal(np.shape(v)) for v in leaves(params)]
    h = dlfeval(_k2, f, mirror(params, vs), _dl(params), *copy.deepcopy(consts))
    got = [_data(v) for v in paired_leaves(params, h)]
    eps = 1e-5

    def moved(sign):
        return replace_leaves(params, [np.asarray(a + sign * eps * v) if np.ndim(a) else type(a)(a + sign * eps * v)
                                       for a, v in zip(leaves(params), vs)])
    up = sct_value_grad(f, moved(1), consts)[1]
    down = sct_value_grad(f, moved(-1), consts)[1]
    for k, (g, u, d) in enumerate(zip(got, up, down)):
        np.testing.assert_allclose(g, (u - d) / (2 * eps), rtol=1e-4, atol=1e-4, err_msg=f"{name}: Hv leaf {k}")


FIRST = sorted(n for n, (_, _, o) in P.CASES.items() if "refused" not in o)
SECOND = sorted(n for n in FIRST if P.CASES[n][2].get("second", True))
REFUSED = sorted(n for n, (_, _, o) in P.CASES.items() if "refused" in o)


@pytest.mark.parametrize("name", FIRST)
def test_value_and_gradient(name):
    check_first(name)


@pytest.mark.parametrize("name", SECOND)
def test_hessian_vector(name):
    check_second(name)


def _line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return next(start + i for i, line in enumerate(lines) if text in line and not line.lstrip().startswith("@"))


@pytest.mark.parametrize("name", REFUSED)
def test_refused_at_the_users_line(name):
    f, build, opts = P.CASES[name]
    params, consts = build()
    fn, text = opts["refused"]
    fn = fn or f
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        sct_value_grad(f, params, consts)
    assert info.value.filename == P.__file__, str(info.value)
    assert info.value.lineno == _line_of(fn, text), str(info.value)
    assert "positionally" not in str(info.value) and "rt." not in str(info.value), str(info.value)
