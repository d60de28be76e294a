"""Stale results of sct's cache: the second or later call of a function whose globals, closures,
objects, classes or argument kinds changed since its first call must compute what plain Python
computes now (values against plain Python, gradients against finite differences), or refuse."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient

from gradcheck import D, assert_close, numerical_gradient

X = np.array([0.3, -0.7, 1.1])


def fd(f, x):
    return numerical_gradient(lambda v: float(f(v)), [np.asarray(x, float)], 0)


def value_and_grad(step, plain, *extra, x=X):
    """``dlfeval(step, dlarray(x), *extra)`` against plain Python's ``plain(x, *extra)`` and its FD."""
    y, g = dlfeval(step, dlarray(x), *extra)
    assert_close(D(y), plain(x, *extra), rtol=1e-10, atol=1e-12)
    assert_close(D(g), fd(lambda v: plain(v, *extra), x), rtol=1e-5, atol=1e-7)


# --- a method read in place (it sets its object's attributes), bound to a class under another name ---

def _set_k(self, v):
    self.k = v


class Gain:
    """``setk`` is a function whose __name__ is not the attribute it is read as."""
    setk = _set_k

    def __init__(self):
        self.k = 2.0

    def f(self, z):
        return np.sum(self.k * z ** 2)


def gain_step(x, net):
    net.setk(3.0)
    y = net.f(x)
    return y, dlgradient(y, x)


def gain_plain(x, net):
    net.setk(3.0)
    return net.f(x)


def test_method_read_in_place_under_another_name():
    # was: "_set_k() of Gain was read in place here ... it is now another" on the first call
    value_and_grad(gain_step, gain_plain, Gain())


def test_method_read_in_place_replaced_on_class_by_another_function():
    class Net:
        def __init__(self):
            self.k = 2.0

        def setk(self, v):
            self.k = v

        def f(self, z):
            return np.sum(self.k * z ** 2)

    value_and_grad(gain_step, gain_plain, Net())

    def tenfold(self, v):          # a notebook cell patching the class: Net.setk = tenfold
        self.k = 10 * v

    Net.setk = tenfold
    # was: "tenfold() of Net was read in place here ... it is now another"
    value_and_grad(gain_step, gain_plain, Net())
    y, _ = dlfeval(gain_step, dlarray(X), Net())
    assert_close(D(y), 30.0 * np.sum(X ** 2))

    def plus_one(self, v):
        self.k = v + 1.0

    tenfold.__code__ = plus_one.__code__     # autoreload replacing the function's code
    value_and_grad(gain_step, gain_plain, Net())
    y, _ = dlfeval(gain_step, dlarray(X), Net())
    assert_close(D(y), 4.0 * np.sum(X ** 2))
