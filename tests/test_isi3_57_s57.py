"""isi2_56 (a helper's type tests taken from its parameters' kinds, "dl?", not known where its caller could not tell
its arguments apart: rt.unsure_types) and uview56 (a helper sct runs as it is is given what plain Python gives it,
support.python_arguments) with one mechanism (isi3_57).

A compiled helper given ``[W, M]`` (a dlarray and a numpy array, both traced data to it) that runs a type-testing
helper as it is (``scale(v > 0)``: no derivative through it) told that helper "dl" of ``v > 0`` where Python's is a
numpy array for ``M``: 15.15 where Python gives 15.1.  Now the word is "dl?", resolved when the call runs as the
helper's own type tests are: a dlarray where the caller could tell, refused at the line where not.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

W0 = np.array([1.0, 2.0])
M = np.array([0.1, 0.2])


def scale(m):
    return 2.0 if isinstance(m, np.ndarray) else 3.0


def gain(v):
    return np.sum(v ** 2) * scale(v > 0)


def loss(W, vs):
    return sum(gain(v) for v in vs)


def reg(p):
    s = 0.0
    for k, v in p.items():
        s = s + gain(v)
    return s


def _value(y) -> float:
    return float(extractdata(y)) if isinstance(y, dlarray) else float(y)


def _refused_at_scale(fn, *args):
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(fn, *args)
    text = str(info.value)
    assert "test_isi3_57_s57.py" in text and f"line {gain.__code__.co_firstlineno + 1}" in text and \
        "scale(...)" in text and "type" in text


def _list_of(second):
    def f(W):
        y = loss(W, [W, second(W)])
        return y, dlgradient(y, W)
    return f


def test_helper_run_as_it_is_in_a_helper_given_a_mixed_list_refused():
    # (was 15.15 where Python gives 15.1: scale told "dl" of M > 0, a numpy array in Python)
    _refused_at_scale(_list_of(lambda W: M), dlarray(W0))

    def f(p):
        y = reg(p)
        return y, dlgradient(y, p["W"])
    _refused_at_scale(f, {"W": dlarray(W0), "M": M})

    def g(W):
        y = sum(gain(v) for v in [W, M])
        return y, dlgradient(y, W)
    _refused_at_scale(g, dlarray(W0))
    _refused_at_scale(sct.accelerate(_list_of(lambda W: M)), dlarray(W0))


def _py_list(W):
    return loss(W, [W, W * 3])


@pytest.mark.parametrize("accelerated", [False, True])
def test_helper_run_as_it_is_in_a_helper_given_dlarrays_is_pythons(accelerated):
    f = _list_of(lambda W: W * 3)
    run = sct.accelerate(f) if accelerated else f
    for _ in range(2):
        y, gw = dlfeval(run, dlarray(W0)) if not accelerated else run(dlarray(W0))
        assert _value(y) == pytest.approx(_value(_py_list(dlarray(W0))), rel=1e-12)
        assert_close(extractdata(gw), numerical_gradient(lambda w: _value(_py_list(dlarray(w))), [W0.copy()], 0))

    def g(p):
        y = reg(p)
        return y, dlgradient(y, p["W"])
    q = {"W": dlarray(W0), "M": dlarray(M)}
    y, gw = dlfeval(g, q)
    assert _value(y) == pytest.approx(_value(reg(q)), rel=1e-12)
    assert_close(extractdata(gw), numerical_gradient(lambda w: _value(reg({"W": dlarray(w), "M": dlarray(M)})),
                                                     [W0.copy()], 0))


def test_second_order_through_a_helper_run_as_it_is():
    # the gradient's own code differentiated again is given what the first order was (the merge refused it:
    # dlgradient's call marked unsure, y's type not known)
    def h(W):
        y = loss(W, [W, W * 3])
        gr = dlgradient(y, W, EnableHigherDerivatives=True)
        z = np.sum(gr * gr)
        return z, dlgradient(z, W)
    z, gz = dlfeval(h, dlarray(W0))
    # Python: scale(v > 0) is 3.0 for both dlarrays, y = 30 |W|^2, dy/dW = 60 W, z = 3600 |W|^2
    assert _value(z) == pytest.approx(3600.0 * float(np.sum(W0 ** 2)), rel=1e-12)
    assert_close(extractdata(gz), 7200.0 * W0)


# (a) a dict of a dlarray and a numpy float array given to a compiled helper testing isinstance(v, np.ndarray)
def arrays_weight(p):
    return sum(1.0 if isinstance(v, np.ndarray) else 1.5 for v in p.values())


def _refused_in(fn, line, construct, *args):
    """Refused at ``line`` naming ``construct``; ``line`` ``(helper's line, call's line)``: at either (a helper
    compiled for a traced argument refuses its test, one run as it is its call)."""
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(fn, *args)
    text = str(info.value)
    lines = line if isinstance(line, tuple) else (line,)
    assert "test_isi3_57_s57.py" in text and any(f"line {n}:" in text for n in lines) and \
        any(c in text for c in construct.split("|"))


def test_dict_of_a_dlarray_and_a_numpy_array_given_to_a_helper_refused():
    # (main: 9.0 where Python gives 7.5, the numpy array's isinstance answered as a dlarray's)
    def f(W, p):
        y = np.sum(W) * arrays_weight(p)
        return y, dlgradient(y, W)
    line = arrays_weight.__code__.co_firstlineno + 1
    _refused_in(f, line, "isinstance", dlarray(W0), {"a": dlarray(W0), "m": M})

    def g(W):
        y = np.sum(W) * arrays_weight({"a": W * 2, "m": M * 2})
        return y, dlgradient(y, W)
    _refused_in(g, line, "isinstance", dlarray(W0))
    # all numpy arrays beside W, or all dlarrays: as Python
    for p in ({"a": dlarray(W0), "b": dlarray(M)},):
        y, gw = dlfeval(f, dlarray(W0), p)
        assert _value(y) == pytest.approx(float(np.sum(W0)) * arrays_weight(p), rel=1e-12)
        assert_close(extractdata(gw), np.full(2, arrays_weight(p)))


# (b) a bool dlarray in a dict argument, through a helper
MASK = np.array([True, False])


def t_isnd(m):
    return 2.0 if isinstance(m, np.ndarray) else 3.0


def masked_loss(W, p):
    m = p["m"]
    return np.sum(W * m) * t_isnd(m) * 4.0


def field_weight(p):
    return 2.0 if isinstance(p["m"], np.ndarray) else 3.0


def dlarrays_counted(p):
    return sum(1.0 for v in p.values() if isinstance(v, dlarray))


@pytest.mark.parametrize("extra", [{"W": dlarray(W0)}, {"s": 2.0}])
def test_bool_dlarray_in_a_dict_through_a_helper_refused(extra):
    # dlfeval gives generated code the mask's data, a plain bool array to the helper's kinds: numpy's answer
    # (masked_loss: 8 where Python gives 12; field_weight: 6 where 9)
    def p():
        return dict(extra, m=dlarray(MASK))

    def f(W, q):
        y = masked_loss(W, q)
        return y, dlgradient(y, W)
    _refused_in(f, masked_loss.__code__.co_firstlineno + 2, "t_isnd(...)", dlarray(W0), p())

    def g(W, q):
        y = np.sum(W) * field_weight(q)
        return y, dlgradient(y, W)
    _refused_in(g, (field_weight.__code__.co_firstlineno + 1, g.__code__.co_firstlineno + 1),
                "isinstance|field_weight(...)", dlarray(W0), p())

    def h(W, q):
        y = np.sum(W) * dlarrays_counted(q)         # (a helper run as it is: was given the dict of the mask's data)
        return y, dlgradient(y, W)
    _refused_in(h, (dlarrays_counted.__code__.co_firstlineno + 1, h.__code__.co_firstlineno + 1),
                "isinstance|dlarrays_counted(...)", dlarray(W0), p())
    # used as a mask, not tested: exact
    def k(W, q):
        y = np.sum(W * q["m"]) * 4.0 + np.sum(W * ~q["m"])
        return y, dlgradient(y, W)
    y, gw = dlfeval(k, dlarray(W0), p())
    assert _value(y) == pytest.approx(4.0 * W0[0] + W0[1], rel=1e-12)
    assert_close(extractdata(gw), np.array([4.0, 1.0]))


def test_bool_dlarray_inline_is_pythons():
    # dlfeval's own code knows the mask is a dlarray: as Python (9, and 6 with dlarray)
    def f(W, q):
        y = np.sum(W) * (2.0 if isinstance(q["m"], np.ndarray) else 3.0) + \
            np.sum(W) * (1.0 if isinstance(q["m"], dlarray) else 0.0)
        return y, dlgradient(y, W)
    y, gw = dlfeval(f, dlarray(W0), {"s": 2.0, "m": dlarray(MASK)})
    assert _value(y) == pytest.approx(4.0 * float(np.sum(W0)), rel=1e-12)
    assert_close(extractdata(gw), np.full(2, 4.0))


# (c) getattr with a default and dir of traced values: Python's dlarray's answer (red2_56 W1, i3.py)
def _k(c):
    return 1.0 if c else 10.0


def _getattr_len(W):
    return np.sum(W) * _k(getattr(np.sum(W), "__len__", None) is not None)


def _dir_len(W):
    return np.sum(W) * _k("__len__" in dir(np.sum(W)))


def _dir_finddim(W):
    return np.sum(W * 2) * _k("finddim" in dir(W * 2))


def _getattr_numpy(W):
    return np.sum(W) * _k(getattr(np.sum(M), "__len__", None) is not None)     # numpy's float64: None


def _getattr_iter(W):
    return np.sum(W) * _k(callable(getattr(W.mean(), "__iter__", None)))          # (a dlarray's method: True)


@pytest.mark.parametrize("f", [_getattr_len, _dir_len, _dir_finddim, _getattr_numpy, _getattr_iter])
def test_getattr_and_dir_of_traced_values_are_pythons(f):
    # (main: getattr_len and dir_len 25 where Python gives 2.5, dir_finddim 50 where 5)
    W = np.array([1.0, 2.0, -0.5])

    def g(W):
        y = f(W)
        return y, dlgradient(y, W)
    y, gw = dlfeval(g, dlarray(W))
    assert _value(y) == pytest.approx(_value(f(dlarray(W))), rel=1e-12)
    assert_close(extractdata(gw), numerical_gradient(lambda w: _value(f(dlarray(w))), [W.copy()], 0))


def dir_weight(v):
    return 2.0 if "finddim" in dir(v) else 3.0


def test_dir_of_a_mixed_list_item_in_a_helper_refused():
    def g(W):
        y = sum(np.sum(W * dir_weight(v)) for v in [W, M])
        return y, dlgradient(y, W)
    _refused_in(g, dir_weight.__code__.co_firstlineno + 1, "dir(...)", dlarray(W0))


def _hvp_is_nd(W):
    h = W * 2
    return np.sum(h ** 2) * scale(h > 0)


def test_hvp_of_a_numpy_x_through_a_helper_run_as_it_is():
    # hvp runs fun on a dlarray of a numpy x (unsure_types): the helper run as it is was told "dl" of h > 0, a numpy
    # array in fun(x) (main: H v = [24, 0] where fun on numpy has [16, 0]); refused at the call's line
    x, v = np.array([1.0, -2.0]), np.array([1.0, 0.0])
    with pytest.raises(sct.EvaluationError) as info:
        sct.hvp(_hvp_is_nd, x, v)
    assert f"line {_hvp_is_nd.__code__.co_firstlineno + 2}" in str(info.value) and "scale(...)" in str(info.value)
    # a dlarray x: as Python on it (scale 3.0: H = 24 I)
    assert_close(extractdata(sct.hvp(_hvp_is_nd, dlarray(x), v)), np.array([24.0, 0.0]))


def test_accelerated_refusal_leaves_later_calls_as_pythons():
    # a refusal inside a helper's unsure call left rt.unsure_types on through accelerate (not dlfeval): the next
    # call, a numpy mask Python answers for, was refused too
    def f(W, q):
        y = masked_loss(W, q)
        return y, dlgradient(y, W)
    acc = sct.accelerate(f)
    with pytest.raises(sct.EvaluationError):
        acc(dlarray(W0), {"m": dlarray(MASK), "s": 2.0})
    y, gw = acc(dlarray(W0), {"m": MASK.copy(), "s": 2.0})
    assert _value(y) == pytest.approx(_value(masked_loss(dlarray(W0), {"m": MASK.copy(), "s": 2.0})), rel=1e-12)
    assert_close(extractdata(gw), 8.0 * MASK)
