"""A call ``h(*before, x1, x2, *after)`` whose starred names are parameters of known length (their
kinds) links its arguments position by position (sct/call_tree.py ``_unpacked``), so
``jvp(..., mode="transpose")`` of a function of two arrays taking ``dljacobian``/``dlgradient`` of
one of them runs (was refused, naming sct/forward.py).  A starred value whose length the kinds do
not give still links every pair."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, dljacobian, CompileError


def jac(x, w):
    u = np.sin(x) * w
    return dljacobian(u, x, 0)


def grad_in(x, w):
    y = np.sum(np.sin(x) * w ** 2)
    return dlgradient(y, x)


def plain_jac(x, w):
    d = np.cos(x) * w
    return np.stack([np.diag(row) for row in d])


def plain_grad(x, w):
    return np.cos(x) * w ** 2


@pytest.mark.parametrize("fun, plain", [(jac, plain_jac), (grad_in, plain_grad)])
def test_transpose_jvp_of_two_primals(fun, plain):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    v, t = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    eps = 1e-6
    want = (plain(x + eps * v, w + eps * t) - plain(x - eps * v, w - eps * t)) / (2 * eps)
    for mode in ("transpose", "forward"):
        y, jv = sct.jvp(fun, (x, w), (v, t), mode=mode)
        np.testing.assert_allclose(np.asarray(y.data), plain(x, w), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(np.asarray(jv.data), want, rtol=1e-6, atol=1e-8)


def joint(a, b):
    y = np.sum(a * b)
    return dlgradient(y, a)


def test_star_of_a_local_tuple_still_links_every_pair():
    def f(x):
        args = (x, x * 2.0)
        return joint(*args)
    with pytest.raises(CompileError, match="computed from"):
        dlfeval(f, dlarray(np.array([1.0, 2.0])))


def test_star_of_a_parameter_bound_again_still_links_every_pair():
    def f(x, args):
        args = (x, x * 2.0)
        return joint(*args)
    with pytest.raises(CompileError, match="computed from"):
        dlfeval(f, dlarray(np.array([1.0, 2.0])), ())
