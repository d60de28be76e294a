"""Findings of red-team stop 44 on 224ddff (self-contained sweeps recompute from the last statement
binding their roots, sct/sweeps.py ``Sweeps.region``): each test fails before its fix."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import numerical_gradient


def _plain(w, c):
    # L = sum(sin(c p^2)) at p = w, g = dL/dp = 2 c p cos(c p^2), out = sum(g^2)
    return np.sum((2 * c * w * np.cos(c * w ** 2)) ** 2)


def _consume_sum(it):
    return sum(it)


def _consume_max(it):
    return max(it)


def _consume_list(it):
    return np.sum(list(it))


def _made(consume):
    def f(w):
        it = iter([1.5, 2.5])
        p = w * 1.0
        c = consume(it)
        h = p * c
        g = dlgradient(np.sum(np.sin(h * p)), p, EnableHigherDerivatives=True)
        out = np.sum(g ** 2)
        return out, dlgradient(out, w)
    return f


@pytest.mark.parametrize("consume, c", [(_consume_sum, 4.0), (_consume_max, 2.5), (_consume_list, 4.0)])
def test_an_iterator_made_before_the_recomputed_part_is_made_again(consume, c):
    # was (since 224ddff): refused when it ran ("it is a one-shot iterator ... read by the code before
    # a dlgradient that a later dlgradient differentiates again"): the sweep recomputed only from
    # `p = w * 1.0` on, taking the iterator the function made (and the part had used up) as a
    # parameter; before 224ddff it recomputed from the arguments, making the iterator again
    w = np.random.default_rng(0).normal(size=3)
    for run in (dlfeval, lambda f, *a: sct.accelerate(f)(*a)):
        v, g = run(_made(consume), dlarray(w))
        np.testing.assert_allclose(np.asarray(v.data), _plain(w, c), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(g.data), numerical_gradient(lambda w_: _plain(w_, c), [w], 0),
                                   rtol=1e-6, atol=1e-8)
