"""Forward mode: ``xs * n`` with ``xs`` a list or tuple and ``n`` a count from a helper (the
repetition's tangent is the tangent list repeated; the count has none).  Was differentiated as a
product, ``xs * dot_n``: a TypeError (can't multiply sequence by non-int of type 'float').
Tangents are checked against central differences of the function."""
import numpy as np
import pytest

import sct
from sct import dlarray, extractdata


def _count(v):
    return 2


def _scale(v):
    return 1.5


def list_times_helper_count(x):
    xs = [x[0], x[1]]
    n = _count(x)
    ys = xs * n
    return sum(y * (i + 1) for i, y in enumerate(ys))


def count_times_tuple(x):
    t = (x[0], x[1] * x[0])
    ys = _count(x) * t
    return sum(y * (i + 2) for i, y in enumerate(ys))


def list_literal_times_int(x):
    ys = [x[0], np.sin(x[1])] * 3
    return sum(y * (i + 1) for i, y in enumerate(ys))


def array_times_helper_scalar(x):
    s = _scale(x)
    return np.sum((x * s) ** 2)


@pytest.mark.parametrize("f", [list_times_helper_count, count_times_tuple, list_literal_times_int,
                               array_times_helper_scalar], ids=lambda f: f.__name__)
def test_jvp_of_a_repetition(f):
    x, v = np.array([0.5, 0.3]), np.array([1.0, -2.0])
    y, t = sct.jvp(f, dlarray(x), dlarray(v))
    h = 1e-6
    assert np.allclose(extractdata(y), f(x))
    assert np.allclose(extractdata(t), (f(x + h * v) - f(x - h * v)) / (2 * h), rtol=1e-6, atol=1e-8)
