"""numpy's flat iterator read for its values (``M.flat[i]``, ``M.flat[1:4]``, ``for v in M.flat``,
``sum(M.flat)``) of a traced array: read as ``M.flatten()`` (was refused: "M.flat is not
differentiated").  Writes through ``.flat`` stay refused.  Values against plain Python, gradients
against central differences."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import numerical_gradient

M0 = np.array([[0.5, -1.0, 2.0], [0.3, 0.1, -0.7]])


def indexed(M):
    s = 0.0
    for i in range(M.size):
        s = s + M.flat[i] ** 2 * (i + 1)
    return s + np.sum(np.sin(M.flat[1:4])) + M.flat[-1] * M.flat[0]


def slice_written(M):
    t = M.flat[1:4]
    t[0] = 9.0                  # flat's slices are copies: M is unchanged
    return np.sum(np.sin(t)) + np.sum(M ** 2)


def walked(M):
    return sum(M.flat) + sum(v * v for v in M.T.flat) + np.sum(np.array(list(M.flat)) * np.arange(6.0)) + \
        max(M.flat) + sum(i * v for i, v in enumerate(M.flat))


def loop(M):
    acc = 0.0
    for v in M.flat:
        acc = acc * 0.5 + np.tanh(v)
    return acc


@pytest.mark.parametrize("plain", [indexed, slice_written, walked, loop], ids=lambda f: f.__name__)
def test_flat_reads(plain):
    def under_sct(M):
        y = plain(M)
        return y, dlgradient(y, M)
    y, g = dlfeval(under_sct, dlarray(M0))
    assert float(extractdata(y)) == pytest.approx(plain(M0.copy()), rel=1e-13)
    np.testing.assert_allclose(extractdata(g), numerical_gradient(plain, [M0.copy()], 0), rtol=1e-6, atol=1e-8)


def test_flat_float32_keeps_dtype():
    def f(M):
        y = M.flat[2] * 3.0 + sum(M.flat)
        return y, dlgradient(y, M)
    y, g = dlfeval(f, dlarray(M0.astype(np.float32)))
    assert extractdata(g).dtype == np.float32
    expected = np.ones_like(M0)
    expected.flat[2] += 3.0
    np.testing.assert_allclose(extractdata(g), expected)


def test_writes_through_flat_are_refused():
    def f(M):
        M.flat[0] = 2.0
        y = np.sum(M ** 2)
        return y, dlgradient(y, M)

    def g(M):
        it = M.flat
        y = it[0] * 2.0
        return y, dlgradient(y, M)
    for fun in (f, g):
        with pytest.raises(sct.CompileError):
            dlfeval(fun, dlarray(M0.copy()))


class Grid:
    """A user's object with an attribute named ``flat`` (a list): read as it is."""
    def __init__(self):
        self.flat = [0.5, 2.0, -1.0]


def test_an_object_attribute_named_flat_is_read_as_it_is():
    grid = Grid()

    def f(M):
        y = np.sum(M) * grid.flat[1] + sum(grid.flat)
        return y, dlgradient(y, M)
    y, g = dlfeval(f, dlarray(M0))
    assert float(extractdata(y)) == pytest.approx(np.sum(M0) * 2.0 + 1.5, rel=1e-14)
    np.testing.assert_allclose(extractdata(g), np.full(M0.shape, 2.0))


def test_flat_of_a_scalar_and_second_order():
    def f(M):
        s = np.sum(M ** 2)
        y = s.flat[0] * 2.0 + M[0].flat[1] ** 3
        g = dlgradient(y, M, EnableHigherDerivatives=True)
        z = np.sum(g.flat[:3] ** 2)
        return z, dlgradient(z, M)

    def z_of(M):
        g = 4.0 * M
        g[0, 1] += 3 * M[0, 1] ** 2
        return np.sum(g.flatten()[:3] ** 2)
    z, gz = dlfeval(f, dlarray(M0))
    assert float(extractdata(z)) == pytest.approx(z_of(M0.copy()), rel=1e-13)
    np.testing.assert_allclose(extractdata(gz), numerical_gradient(z_of, [M0.copy()], 0), rtol=1e-6, atol=1e-8)
