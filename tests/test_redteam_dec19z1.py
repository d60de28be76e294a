"""Red team Z1: the numerical functions people differentiate (hand-written logsumexp, softplus,
norms, kinks, loops with convergence tests, linear algebra, complex numbers, float32), written
as in autograd/JAX examples, checked against plain Python and central differences."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient

V = np.array([0.3, -1.2, 0.5, 1.7])


def grad_of(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def check(f, x, rtol=1e-5, atol=1e-6):
    y, g = dlfeval(grad_of, f, dlarray(x))
    assert_close(np.asarray(y.data), f(x.copy()), what="value")
    expected = numerical_gradient(lambda z: f(z), [np.asarray(x, dtype=float)], 0)
    assert_close(np.asarray(g.data), expected, rtol=rtol, atol=atol, what="gradient")
    assert np.asarray(g.data).dtype == np.asarray(x).dtype


# A lambda whose body is a conditional expression (or `and`/`or`) has no one instruction
# spanning its body: it was refused as 'its source cannot be read'
ternary = lambda x: x[0] * 3 if 0 < x[0] < 1 else x[1]          # noqa: E731
ternary_and = lambda x: x[0] * 3 if (0 < x[0]) and (x[0] < 1) else x[1]   # noqa: E731
first, second = (lambda x: x[0] * 3 if x[0] > 0 else x[1]), (lambda x: x[1] * 5 if x[0] > 0 else x[2])  # noqa: E731
nested = lambda x: (lambda x: x[0] ** 2 if x[0] > 0 else x[1])(x) * 2 if x[1] < 0 else 0.0  # noqa: E731


@pytest.mark.parametrize("f, expected", [(ternary, [3, 0, 0, 0]), (ternary_and, [3, 0, 0, 0]),
                                         (first, [3, 0, 0, 0]), (second, [0, 5, 0, 0]),
                                         (nested, [1.2, 0, 0, 0])])
def test_lambda_with_conditional_body(f, expected):
    y, g = dlfeval(grad_of, f, dlarray(V))
    assert_close(np.asarray(y.data), f(V))
    assert_close(np.asarray(g.data), np.array(expected, dtype=float))
