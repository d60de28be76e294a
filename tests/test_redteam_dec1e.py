"""Red team (Dec 1, e): regressions for what the attack on the call tree, NO_ADJOINT, the hvp
path and the compile-time speedups found.  Values against plain Python, gradients against
central differences (tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np

from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

X0 = np.array([0.5, -1.0, 2.0])


# --- normalize: a repeated d[k] / o.a in one statement is read again after a call ------------------
def bump(d):
    d["k"] = d["k"] + 1.0
    return 1.0


class Holder:
    pass


def triple(s):
    s.k = s.k * 3.0
    return s.k


def dict_read_twice(x):
    d = {"k": 1.0}
    return np.sum(x * d["k"] + bump(d) * x * d["k"])        # the second d["k"] is 2.0


def attribute_read_twice(x):
    s = Holder()
    s.k = 2.0
    return np.sum((x * s.k) + triple(s) + (x * s.k))          # the second s.k is 6.0


def dict_read_around_ifexp(x):
    d = {"k": 1.0}
    return np.sum(x * d["k"] + (bump(d) if x[0] > 0 else 0.0) * x * d["k"])


def dict_read_twice_grad(x):
    y = dict_read_twice(x)
    return y, dlgradient(y, x)


def attribute_read_twice_grad(x):
    y = attribute_read_twice(x)
    return y, dlgradient(y, x)


def dict_read_around_ifexp_grad(x):
    y = dict_read_around_ifexp(x)
    return y, dlgradient(y, x)


def dict_inline_grad(x):
    d = {"k": 1.0}
    y = np.sum(x * d["k"] + bump(d) * x * d["k"])
    return y, dlgradient(y, x)


def test_subscript_read_again_after_a_call_that_changes_it():
    for plain, compiled in ((dict_read_twice, dict_read_twice_grad),
                            (attribute_read_twice, attribute_read_twice_grad),
                            (dict_read_around_ifexp, dict_read_around_ifexp_grad),
                            (dict_read_twice, dict_inline_grad)):
        value, grad = dlfeval(compiled, dlarray(X0))
        assert_close(extractdata(value), plain(X0), what=compiled.__name__)
        assert_close(extractdata(grad), numerical_gradient(plain, [X0], 0), what=compiled.__name__)
    # without a gradient too (the value alone was 3.0 for 4.5)
    assert_close(extractdata(dlfeval(dict_read_twice, dlarray(X0))), 4.5)


# --- a callable object called as obj(x): its class's __call__, never an instance attribute ----------
class Scaler:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return self.k * x


SHADOWED = Scaler(2.0)
SHADOWED.__call__ = lambda x: x * 100.0      # obj(x) ignores it (Python looks __call__ up on the class)


def call_shadowed(x):
    y = np.sum(SHADOWED(x) * x)
    return y, dlgradient(y, x)


def call_shadowed_argument(c, x):
    y = np.sum(c(x) * x)
    return y, dlgradient(y, x)


def test_callable_object_with_an_instance_call_attribute():
    plain = lambda x: np.sum(SHADOWED(x) * x)      # noqa: E731
    assert_close(plain(X0), np.sum(2.0 * X0 * X0))
    for _ in range(2):                               # the compiled call and the cached one
        value, grad = dlfeval(call_shadowed, dlarray(X0))
        assert_close(extractdata(value), plain(X0))
        assert_close(extractdata(grad), numerical_gradient(plain, [X0], 0))
        value, grad = dlfeval(call_shadowed_argument, SHADOWED, dlarray(X0))
        assert_close(extractdata(value), plain(X0))
        assert_close(extractdata(grad), 4.0 * X0)


# --- hvp of a function returning a tuple: a clear refusal, not numpy's ValueError -------------------
def value_and_temporary(x):
    t = x * 2.0
    return np.sum(t * x), t


def test_hvp_of_a_function_returning_a_tuple_is_refused():
    import pytest
    from sct import SctError, hvp
    with pytest.raises(SctError, match="real scalar"):
        hvp(value_and_temporary, np.ones(3), np.ones(3))


# --- call tree: the kind of A @ v predicted with numpy's ranks (3-D @ 1-D is 2-D) -------------------
def last_axis_energy(a):
    return np.sum(a * a, axis=-1)


def stacked_matvec(A, v):
    y = A @ v
    z = np.sum(last_axis_energy(y))
    return z, dlgradient(z, v)


def test_matmul_rank_predicted_for_the_call_tree():
    import sct
    from sct.api import _entry
    A = np.random.default_rng(0).standard_normal((2, 3, 4))
    v = np.array([0.3, -0.1, 0.7, 0.2])
    sct.clear_cache()
    compiled = _entry(stacked_matvec, (dlarray(A), dlarray(v)))
    (record,) = [r for r in compiled.calls if r.label == "last_axis_energy"]
    assert record.resolved
    value, grad = dlfeval(stacked_matvec, dlarray(A), dlarray(v))
    assert record.site.misses == 0                 # the code made at compile time is what ran
    plain = lambda v: np.sum(last_axis_energy(A @ v))      # noqa: E731
    assert_close(extractdata(value), plain(v))
    assert_close(extractdata(grad), numerical_gradient(plain, [v], 0))


# --- hvp: an integer temporary divided (true division makes floats: not written into it) ----------
N_INT = 3000            # above runtime.support.INTO_SIZE: the temporary is reused in place


def weighted_by_integer_ratio(x):
    k = np.arange(N_INT) * 2
    s = k / 3
    return np.sum(np.sin(x) * s)


def test_hvp_with_an_integer_temporary_divided():
    from sct import hvp
    x = np.linspace(-1.0, 1.0, N_INT)
    v = np.cos(np.arange(N_INT))
    h = extractdata(hvp(weighted_by_integer_ratio, x, v))
    assert_close(h, -np.sin(x) * (np.arange(N_INT) * 2 / 3) * v)


# --- hvp / jvp of an accelerated function: the function it runs (not AcceleratedFunction.__call__) -
def cubic_energy(x):
    t = x * x
    return np.sum(t * x + np.sin(x))


def test_hvp_and_jvp_of_an_accelerated_function():
    from sct import dlaccelerate, hvp, jvp
    fast = dlaccelerate(cubic_energy)
    x = np.array([0.3, -1.2, 0.8])
    v = np.array([1.0, 0.5, -2.0])
    assert_close(extractdata(hvp(fast, x, v)), (6.0 * x - np.sin(x)) * v)
    value, tangent = jvp(fast, (x,), (v,))
    assert_close(extractdata(value), cubic_energy(x))
    assert_close(extractdata(tangent), np.sum((3.0 * x * x + np.cos(x)) * v))
