"""issue 8: an adjoint that recomputes a product the forward computed (``d = 1 * a * b`` for
``p = a * b`` under a sum seeded by one) reads the forward's ``p`` instead
(``rt.unit_product_known``, written by sct/optimize.py's ``known_products``): the same numbers bit
for bit, one pass fewer; not where the forward could change ``a``/``b`` or hand ``p`` on."""
import numpy as np
import pytest

import sct
import sct.compiler
from sct import dlarray, dlfeval, dlgradient
from sct.runtime import support

from gradcheck import check_grads

N = 5000          # above the runtime's in-place threshold (INTO_SIZE): the product is read back


def chain_grad(x):
    y = np.sum(np.sin(x) * np.exp(-x ** 2) + np.log1p(x ** 2))
    return y, dlgradient(y, x)


def chain_plain_grad(x):           # the same code, compiled without the pass (below)
    y = np.sum(np.sin(x) * np.exp(-x ** 2) + np.log1p(x ** 2))
    return y, dlgradient(y, x)


def scaled_grad(x, c):
    p = c * np.exp(x)
    y = np.sum(p)
    return y, dlgradient(y, x)


def returned_product_grad(x, c):   # p handed back to the caller: the gradient must not be p
    p = c * np.exp(x)
    y = np.sum(p)
    return y, p, dlgradient(y, x)


def written_operand_grad(x, c):    # the operand is written after the product: the pass stays out
    e = np.exp(x)
    p = c * e
    y = np.sum(p)
    e[0] = 0.0
    return y, dlgradient(y, x)


def viewed_product_grad(x, c):     # p handed to a function that may return a view of it
    p = c * np.exp(x)
    y = np.sum(p)
    q = np.reshape(p, (-1,))
    return y + q[0], dlgradient(y + q[0], x)


def _x(n=N, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


def test_chain_is_bit_identical_to_the_plain_code(monkeypatch):
    x = _x()
    assert "rt.unit_product_known(" in str(sct.source(chain_grad, dlarray(x)))
    y, g = dlfeval(chain_grad, dlarray(x))
    monkeypatch.setattr(sct.compiler, "known_products", lambda *args: None)
    assert "unit_product_known" not in str(sct.source(chain_plain_grad, dlarray(x)))
    y0, g0 = dlfeval(chain_plain_grad, dlarray(x))
    assert float(np.asarray(y.data)) == float(np.asarray(y0.data))
    assert np.array_equal(np.asarray(g.data), np.asarray(g0.data))
    expected = np.exp(-x ** 2) * (np.cos(x) - 2 * x * np.sin(x)) + 2 * x / (1 + x ** 2)
    np.testing.assert_allclose(np.asarray(g.data), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n", [N, 7])
def test_gradient_against_central_differences(n):
    x = _x(n, 1)
    c = _x(n, 2)
    _, g = dlfeval(scaled_grad, dlarray(x), dlarray(c))
    np.testing.assert_allclose(np.asarray(g.data), c * np.exp(x), rtol=0, atol=0)   # exactly c * exp(x)
    if n < 50:
        check_grads(lambda x: np.sum(c * np.exp(x)), x)


def test_returned_product_is_not_the_gradient():
    x, c = _x(N, 3), _x(N, 4)
    source = str(sct.source(returned_product_grad, dlarray(x), dlarray(c)))
    assert "unit_product_known" not in source
    y, p, g = dlfeval(returned_product_grad, dlarray(x), dlarray(c))
    p, g = np.asarray(p.data), np.asarray(g.data)
    assert not np.shares_memory(p, g)
    np.testing.assert_array_equal(g, c * np.exp(x))


def test_written_operand_and_views_keep_the_plain_code():
    x, c = _x(N, 5), _x(N, 6)
    for fun in (written_operand_grad, viewed_product_grad):
        try:
            source = str(sct.source(fun, dlarray(x), dlarray(c)))
        except sct.CompileError:
            continue                      # refused for its own reasons: nothing generated
        assert "unit_product_known" not in source, fun.__name__
    _, g = dlfeval(viewed_product_grad, dlarray(x), dlarray(c))
    expected = c * np.exp(x)
    expected[0] *= 2
    np.testing.assert_allclose(np.asarray(g.data), expected, rtol=1e-15, atol=0)


def test_runtime_falls_back_where_g_is_not_ones():
    a, b = _x(N, 7), _x(N, 8)
    ab = a * b
    ones = np.broadcast_to(np.float64(1.0), (N,))
    assert support.unit_product_known(ones, a, a, b, ab) is ab
    twos = np.broadcast_to(np.float64(2.0), (N,))
    np.testing.assert_array_equal(support.unit_product_known(twos, a, a, b, ab), support.unit_product(twos, a, a, b))
    small = np.broadcast_to(np.float64(1.0), (3,))
    out = support.unit_product_known(small, a[:3], a[:3], b[:3], ab[:3])
    assert out is not ab[:3]
    np.testing.assert_array_equal(out, ab[:3])
    f32 = a.astype(np.float32)
    np.testing.assert_array_equal(support.unit_product_known(ones, f32, f32, b, ab), support.unit_product(ones, f32, f32, b))


def test_read_back_as_the_plain_code():
    """Generated code differentiated again reads both helpers back as the code they stand for."""
    import gast
    from sct.emit import to_source
    from sct.optimize import expand_in_place
    code = ("def f(d_y_mul, y_sin, y_exp, y_mul, d_Z, d_Z_1, Z, Z_max):\n"
            "    d_y_neg = rt.unit_product_known(d_y_mul, y_sin, y_exp, y_exp, y_mul)\n"
            "    d_Z = rt.shift_free_max(d_Z, d_Z_1, Z, Z_max, 1)\n"
            "    return d_y_neg, d_Z\n")
    fdef = gast.parse(code).body[0]
    expand_in_place(fdef, {"rt"})
    source = to_source([fdef])
    assert "d_y_neg = rt.unbroadcast_product(d_y_mul, y_sin, y_exp) * y_exp" in source
    assert "d_Z = d_Z + rt.extremum_scaled(rt.unbroadcast((-d_Z_1), Z_max), Z, Z_max, 1, True)" in source
