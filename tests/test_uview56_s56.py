"""A helper sct runs as it is (rt.user_call: given no traced value, ``helper(h > 0)``; a method; a map/filter
callback) sees what plain Python gives it (uview56).

Plain Python is the same function called with the same dlarray arguments: ``h > 0`` of a dlarray h is a dlarray
there, so ``isinstance(m, np.ndarray)`` in the helper is False.  sct's code holds the comparison's data (a numpy
array) and gave the helper that: numpy's answer, 2 where Python gives 3, with its value and gradient.  Now the
helper is given a dlarray where Python has one, and a call sct cannot tell about is refused at its line.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

W0 = np.array([1.0, -2.0, 0.5])


def _py(f, *args):
    """Plain Python's value of f on dlarrays of the float arrays ``args``, as a float."""
    return float(extractdata(f(*[dlarray(a) for a in args])))


def _check(f, *args):
    """dlfeval of f's value and gradient in its first argument against plain Python on the same dlarrays."""
    def g(*a):
        y = f(*a)
        return y, dlgradient(y, a[0])
    y, gx = dlfeval(g, *[dlarray(a.copy()) for a in args])
    assert float(extractdata(y)) == pytest.approx(_py(f, *args), rel=1e-12)
    assert_close(extractdata(gx), numerical_gradient(lambda v: _py(f, v), [args[0].copy()], 0))
    return float(extractdata(y))


def is_nd(m):
    return 2.0 if isinstance(m, np.ndarray) else 3.0


def type_nd(m):
    return 2.0 if type(m) is np.ndarray else 3.0


def is_dl(m):
    return 2.0 if isinstance(m, sct.dlarray) else 3.0


def is_scalar(m):
    return 2.0 if np.isscalar(m) else 3.0


def f_is_nd(W):
    h = W * 2
    return np.sum(h ** 2) * is_nd(h > 0)


def f_type_nd(W):
    h = W * 2
    return np.sum(h ** 2) * type_nd(h > 0)


def f_is_dl(W):
    h = W * 2
    return np.sum(h ** 2) * is_dl(h > 0)


def f_is_scalar(W):
    h = W * 2
    return np.sum(h ** 2) * is_scalar(np.sum(h) > 0)


class Scaler:
    def __init__(self, k):
        self.k = k

    def factor(self, m):
        return self.k if isinstance(m, np.ndarray) else self.k * 1.5


SCALER = Scaler(2.0)


def f_method(W):
    h = W * 2
    return np.sum(h ** 2) * SCALER.factor(h > 0)


def f_map(W):
    h = W * 2
    return np.sum(h ** 2) * sum(map(is_nd, [h > 0, W > 0]))


def f_map_lambda(W):
    h = W * 2
    return np.sum(h ** 2) * sum(map(lambda m: 2.0 if isinstance(m, np.ndarray) else 3.0, [h > 0, W < 0]))


def f_filter(W):
    h = W * 2
    kept = list(filter(lambda m: isinstance(m, np.ndarray), [h > 0, W > 0]))
    return np.sum(h ** 2) * (1.0 + len(kept))


@pytest.mark.parametrize("f", [f_is_nd, f_type_nd, f_is_dl, f_is_scalar, f_method, f_map, f_map_lambda, f_filter])
def test_type_test_in_a_helper_run_as_it_is_is_pythons(f):
    # was numpy's answer (is_nd 2.0 where Python's is 3.0: value and gradient two thirds of Python's)
    y = _check(f, W0)
    expected = {f_is_nd: 3.0, f_type_nd: 3.0, f_is_dl: 2.0, f_is_scalar: 3.0, f_method: 3.0, f_map: 6.0,
                f_map_lambda: 6.0, f_filter: 1.0}[f]
    assert y == pytest.approx(float(np.sum((W0 * 2) ** 2)) * expected)


def masked(m, scale):
    # tests its argument's type, then computes with it: a dlarray in Python, whose result comes back to the code
    if not isinstance(m, np.ndarray):
        m = m * scale
    return m


def f_result_used(W):
    h = W * 2
    m = masked(h > 0, 3.0)
    return np.sum(h * m) + np.sum(W ** 2 * masked(W < 0, 0.5))


def plain_mask(m):
    return m * 1.0


def f_no_type_test(W):
    h = W * 2
    return np.sum(h * plain_mask(h > 0)) * 2.0


def test_helper_results_come_back_as_the_code_expects():
    # the helper's dlarray result (Python's, made from the dlarray it was given) used by the code after
    assert _check(f_result_used, W0) == pytest.approx(_py(f_result_used, W0))
    assert _check(f_no_type_test, W0) == pytest.approx(_py(f_no_type_test, W0))


def count_arrays(ms):
    return sum(2.0 if isinstance(m, np.ndarray) else 3.0 for m in ms)


def f_list_given(W):
    h = W * 2
    ms = [h > 0, W > 0]
    return np.sum(h ** 2) * count_arrays(ms)


def test_unknown_argument_of_a_type_testing_helper_refused_at_its_line():
    # a list of comparisons (dlarrays in Python, their data in sct's code): refused at the call's line, not
    # answered numpy's way (4.0 where Python's is 6.0)
    def g(W):
        y = f_list_given(W)
        return y, dlgradient(y, W)
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(g, dlarray(W0))
    text = str(info.value)
    assert "test_uview56_s56.py" in text and f"line {f_list_given.__code__.co_firstlineno + 3}" in text and \
        "count_arrays(...)" in text and "type" in text


def f_reduce(W):
    import functools
    h = W * 2
    k = functools.reduce(lambda a, m: a + (2.0 if isinstance(m, np.ndarray) else 3.0), [h > 0, W > 0], 0.0)
    return np.sum(h ** 2) * k


def f_sorted(W):
    h = W * 2
    ms = sorted([W > 0, h > 1, np.ones(3)], key=lambda m: 0 if isinstance(m, np.ndarray) else 1)
    return np.sum(h ** 2 * ms[0])


@pytest.mark.parametrize("f, at", [(f_reduce, 3), (f_sorted, 2)])
def test_library_callback_testing_types_refused_at_its_line(f, at):
    # functools.reduce / sorted(key=...) run the user's lambda on the comparisons' data (dlarrays in Python):
    # refused at the line (reduce was 8/12 of Python's value, sorted took the other array first)
    def g(W):
        y = f(W)
        return y, dlgradient(y, W)
    with pytest.raises(sct.CompileError) as info:
        dlfeval(g, dlarray(W0))
    text = str(info.value)
    assert "test_uview56_s56.py" in text and f"line {f.__code__.co_firstlineno + at}" in text and \
        "the lambda" in text and "type" in text


def test_forward_mode_accelerate_and_second_order():
    # forward mode cannot tell a dlarray of Python's run from the numpy array jvp was given: refused at the
    # helper's line, numpy's arrays or dlarrays given (was numpy's answer for both, 2/3 of Python's for dlarrays)
    for given in (dlarray(W0), W0):
        with pytest.raises(sct.EvaluationError, match=f"line {f_is_nd.__code__.co_firstlineno + 2}"):
            sct.jvp(lambda W: f_is_nd(W), (given,), (np.ones(3),))

    def g(W):
        y = f_is_nd(W)
        return y, dlgradient(y, W)
    acc = sct.accelerate(g)
    for _ in range(2):
        y, gw = acc(dlarray(W0))
        assert float(extractdata(y)) == pytest.approx(_py(f_is_nd, W0))
        assert_close(extractdata(gw), 8.0 * W0 * 3.0)

    def h(W):
        y = f_is_nd(W)
        gr = dlgradient(y, W, EnableHigherDerivatives=True)
        z = np.sum(gr * gr)
        return z, dlgradient(z, W)
    z, gz = dlfeval(h, dlarray(W0))
    assert float(extractdata(z)) == pytest.approx(float(np.sum((24.0 * W0) ** 2)))
    assert_close(extractdata(gz), 2 * 24.0 ** 2 * W0)
