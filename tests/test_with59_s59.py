"""A ``with`` statement in code a second derivative recomputes runs its context manager's ``__enter__`` and
``__exit__`` again: where they may change an object, refused at the line in the recomputation (was: a counting
``__enter__`` gave z 80 and dz [32, 64] where Python gives 20 and [8, 16], silently); a context manager that
changes nothing, and any in first-order code, run as Python runs them."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata


class Counting:
    def __init__(self):
        self.n = 0

    def __enter__(self):
        self.n += 1
        return float(self.n)

    def __exit__(self, *exc):
        return False


class Quiet:
    def __init__(self, scale):
        self.scale = scale

    def __enter__(self):
        return self.scale

    def __exit__(self, *exc):
        return False


COUNTER = Counting()


def second_order(x, c):
    with c as k:
        y = np.sum(x ** 2) * k
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def second_order_global(x):
    with COUNTER as k:
        y = np.sum(x ** 2) * k
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def first_order(x, c):
    with c as k:
        y = np.sum(x ** 2) * k
    return y, dlgradient(y, x)


X = np.array([1.0, 2.0])


def test_changing_context_manager_in_recomputed_code_refused_at_the_line():
    line = second_order.__code__.co_firstlineno + 1
    with pytest.raises(sct.EvaluationError, match=f"line {line}.*Counting.__enter__"):
        dlfeval(second_order, dlarray(X), Counting())
    with pytest.raises(sct.EvaluationError, match=f"line {second_order_global.__code__.co_firstlineno + 1}"):
        dlfeval(second_order_global, dlarray(X))


def test_context_manager_changing_nothing_in_recomputed_code_is_exact():
    z, dz = dlfeval(second_order, dlarray(X), Quiet(3.0))
    assert float(extractdata(z)) == pytest.approx(36.0 * np.sum(X ** 2))       # g = 6x
    np.testing.assert_allclose(extractdata(dz), 72.0 * X)


def test_changing_context_manager_in_first_order_code_runs_as_python():
    c = Counting()
    for n in (1, 2):
        y, g = dlfeval(first_order, dlarray(X), c)
        assert c.n == n
        assert float(extractdata(y)) == pytest.approx(n * np.sum(X ** 2))
        np.testing.assert_allclose(extractdata(g), 2.0 * n * X)


from contextlib import contextmanager


@contextmanager
def counted(cfg):
    cfg["count"] += 1
    yield float(cfg["count"])


@contextmanager
def scaled(s):
    yield s


def generator_made_here(x, cfg):
    with counted(cfg) as k:
        y = np.sum(x ** 2) * k
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return np.sum(g * g), dlgradient(np.sum(g * g), x)


def generator_by_name(x, cfg):
    cm = counted(cfg)
    with cm as k:
        y = np.sum(x ** 2) * k
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return np.sum(g * g), dlgradient(np.sum(g * g), x)


def quiet_generator_and_errstate(x):
    with scaled(3.0) as k, np.errstate(all="ignore"):
        y = np.sum(x ** 2) * k
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return np.sum(g * g), dlgradient(np.sum(g * g), x)


def test_contextmanager_generators_changing_state_refused_where_recomputed():
    start = generator_made_here.__code__.co_firstlineno
    with pytest.raises(sct.EvaluationError, match=f"line {start + 1}.*counted\\(\\)"):
        dlfeval(generator_made_here, dlarray(X), {"count": 0})
    start = generator_by_name.__code__.co_firstlineno       # (the call replayed, or the with: refused either way)
    with pytest.raises(sct.EvaluationError, match=f"line ({start + 1}|{start + 2}).*counted\\(\\)"):
        dlfeval(generator_by_name, dlarray(X), {"count": 0})


def test_quiet_contextmanager_and_numpys_in_recomputed_code_are_exact():
    z, dz = dlfeval(quiet_generator_and_errstate, dlarray(X))
    assert float(extractdata(z)) == pytest.approx(36.0 * np.sum(X ** 2))
    np.testing.assert_allclose(extractdata(dz), 72.0 * X)
