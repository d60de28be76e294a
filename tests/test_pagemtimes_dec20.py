"""MATLAB's pagemtimes and dlmtimes (runtime/dlfun.py): the matrices on the first two dimensions,
the pages on the others (MATLAB's layout), values against np.einsum, gradients against finite
differences, the documented examples' sizes, expansion of pages and 2-D operands, transposes."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import D, check_grads
from sct import dlarray, dlmtimes, pagemtimes

rng = np.random.default_rng(0)


def test_documented_sizes():
    # MATLAB's dlmtimes page: rand(3,4,8,2) times rand(4,5,8,2) is 3x5x8x2; rand(15,20,3,128) times rand(20,15)
    a, b = rng.random((3, 4, 8, 2)), rng.random((4, 5, 8, 2))
    c = dlmtimes(dlarray(a), dlarray(b))
    assert np.shape(c) == (3, 5, 8, 2)
    np.testing.assert_allclose(D(c), np.einsum("ijab,jkab->ikab", a, b), rtol=1e-13)
    assert np.shape(dlmtimes(dlarray(rng.random((15, 20, 3, 4))), rng.random((20, 15)))) == (15, 15, 3, 4)


def test_values():
    x, y = rng.random((2, 3, 4)), rng.random((3, 5, 4))
    np.testing.assert_allclose(pagemtimes(x, y), np.einsum("ijp,jkp->ikp", x, y), rtol=1e-13)
    np.testing.assert_allclose(pagemtimes(x, "transpose", x, "none"), np.einsum("jip,jkp->ikp", x, x), rtol=1e-13)
    z = x + 1j * rng.random((2, 3, 4))
    np.testing.assert_allclose(pagemtimes(z, "ctranspose", z, "none"), np.einsum("jip,jkp->ikp", np.conj(z), z),
                               rtol=1e-13)
    # pages of size 1 expand; missing trailing page dimensions are 1
    p, q = rng.random((3, 4, 2, 1)), rng.random((4, 5, 1, 3))
    np.testing.assert_allclose(pagemtimes(p, q), np.einsum("ijab,jkab->ikab", np.broadcast_to(p, (3, 4, 2, 3)),
                                                           np.broadcast_to(q, (4, 5, 2, 3))), rtol=1e-13)
    r = rng.random((4, 5, 2))
    assert pagemtimes(rng.random((3, 4, 2, 3)), r).shape == (3, 5, 2, 3)
    assert dlmtimes(2.0, x).shape == x.shape
    with pytest.raises(ValueError, match="transpX"):
        pagemtimes(x, "T", y, "none")


def batch(a, b):
    return np.sum(np.sin(dlmtimes(a, b)))


def transposed(a, b):
    return np.sum(np.sin(pagemtimes(a, "transpose", b, "none")))


def expanded(a, b):
    return np.sum(np.cos(pagemtimes(a, b)))


def conjugate_transposed(a, b):
    return np.sum(np.abs(pagemtimes(a, "ctranspose", b, "transpose")) ** 2)


@pytest.mark.parametrize("case, shapes", [
    (batch, ((3, 4, 2, 2), (4, 5, 2, 2))),
    (transposed, ((4, 3, 2), (4, 5, 2))),
    (expanded, ((3, 4, 2, 1), (4, 5, 1, 3))),
    (expanded, ((3, 4, 2, 3), (4, 5, 2))),
    (batch, ((3, 4, 2), (4, 5))),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_gradients(case, shapes):
    check_grads(case, *[rng.random(s) for s in shapes])


def test_complex_gradient():
    check_grads(conjugate_transposed, rng.random((4, 3, 2)) + 1j * rng.random((4, 3, 2)), rng.random((5, 4, 2)))


def test_second_order():
    x, v = rng.random(3), np.array([1.0, -0.5, 0.25])
    f = lambda a: np.sum(np.sin(dlmtimes(np.reshape(a, (1, 3, 1)), np.ones((3, 2, 4)) * 0.7)))
    eps = 1e-5
    from gradcheck import numerical_gradient
    want = (numerical_gradient(f, [x + eps * v], 0) - numerical_gradient(f, [x - eps * v], 0)) / (2 * eps)
    np.testing.assert_allclose(D(sct.hvp(f, x, v)), want, rtol=1e-4, atol=1e-7)
