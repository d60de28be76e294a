"""r3fix55 (red team red3_55): type tests of traced values (W2), method-form reductions of argmax
results (W1), non-float parameter leaves through the optimizers (W3)."""
import numbers

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError

from gradcheck import assert_close, numerical_gradient

W0 = np.array([1.0, 2.0])


def _value_and_grad(f):
    def m(W):
        y = f(W)
        return y, dlgradient(y, W)
    return dlfeval(m, dlarray(W0))


# --- W2: a test whose answer differs between the code's data and Python's dlarray: refused --------
def t_isinstance(W):
    h = W * 2
    k = 1.0 if isinstance(h, np.ndarray) else 10.0          # LINE isinstance
    return np.sum(h) * k


def t_type_is(W):
    h = W * 2
    return np.sum(h) * (1.0 if type(h) is np.ndarray else 10.0)        # LINE type(


def t_type_name(W):
    h = W * 2
    return np.sum(h) * (1.0 if type(h).__name__ == "ndarray" else 10.0)        # LINE type(


def t_tuple(W):
    h = W * 2
    return np.sum(h) * (1.0 if isinstance(h, (np.ndarray, list)) else 10.0)        # LINE isinstance


def t_union(W):
    h = W * 2
    return np.sum(h) * (1.0 if isinstance(h, np.ndarray | float) else 10.0)        # LINE isinstance


def t_float(W):
    s = np.sum(W * 2)
    return s * (1.0 if isinstance(s, float) else 10.0)        # LINE isinstance


def t_generic(W):
    s = np.sum(W * 2)
    return s * (1.0 if isinstance(s, np.generic) else 10.0)        # LINE isinstance


def t_number(W):
    s = np.sum(W * 2)
    return s * (1.0 if isinstance(s, numbers.Number) else 10.0)        # LINE isinstance


def t_issubclass(W):
    h = W * 2
    return np.sum(h) * (1.0 if issubclass(type(h), np.ndarray) else 10.0)        # LINE issubclass


def t_type_in(W):
    h = W * 2
    return np.sum(h) * (1.0 if type(h) in (np.ndarray, np.float64) else 10.0)        # LINE type(


def t_mro(W):
    h = W * 2
    return np.sum(h) * (1.0 if np.ndarray in type(h).__mro__ else 10.0)        # LINE type(


def _scale(x):
    return x * 2 if isinstance(x, np.ndarray) else x * 3        # LINE isinstance


def t_helper(W):
    return np.sum(_scale(W))


t_helper.marked = _scale


def _line_of(f):
    import inspect
    lines, first = inspect.getsourcelines(getattr(f, "marked", f))
    for i, text in enumerate(lines):
        if "# LINE" in text:
            return first + i, text.split("# LINE")[1].strip()


@pytest.mark.parametrize("f", [t_isinstance, t_type_is, t_type_name, t_tuple, t_union, t_float, t_generic,
                               t_number, t_issubclass, t_type_in, t_mro, t_helper], ids=lambda f: f.__name__)
def test_type_test_of_traced_value_refused(f):
    line, construct = _line_of(f)
    with pytest.raises(CompileError) as err:
        _value_and_grad(f)
    msg = str(err.value)
    assert f"line {line}" in msg and construct in msg and "test_r3fix55_s55.py" in msg, msg


# --- tests answered the same either way stay accepted, exact --------------------------------------
G = np.array([3.0, 4.0])


def k_untraced(W):
    h = W * 2
    return np.sum(h) * (1.0 if isinstance(G, np.ndarray) else 10.0)


def k_float_of(W):
    h = W * 2
    s = float(np.sum(h))
    return np.sum(h) * (1.0 if isinstance(s, float) else 10.0)


def k_dict(W):
    p = {"w": W * 2}
    return np.sum(p["w"]) * (1.0 if isinstance(p, dict) else 10.0)


def k_list(W):
    hs = [W * 2, W * 3]
    return np.sum(hs[0]) * (1.0 if isinstance(hs, list) else 10.0)


@pytest.mark.parametrize("f", [k_untraced, k_float_of, k_dict, k_list], ids=lambda f: f.__name__)
def test_same_answer_type_tests_accepted(f):
    y, g = _value_and_grad(f)
    W = dlarray(W0)
    assert_close(float(np.asarray(y.data)), float(np.asarray(f(W).data)))
    num = numerical_gradient(lambda w: float(np.asarray(f(dlarray(w)).data)), [W0.copy()], 0)
    assert_close(np.asarray(g.data), num)


# --- W3: int / numpy integer / np.bool_ parameter leaves pass through the optimizers unchanged ----
def _loss_with_settings(p):
    h = p["W"]
    for _ in range(p["n_layers"]):
        h = np.tanh(h)
    l = np.sum(h ** 2) * (2.0 if p["use_bias"] else 1.0)
    return l, dlgradient(l, p)


@pytest.mark.parametrize("update", ["sgdm", "adam", "rmsprop", "dlupdate"])
def test_integral_leaves_pass_through_optimizers(update):
    p = {"W": dlarray(np.array([1.0, 2.0])), "n_layers": 2, "use_bias": np.bool_(True), "k": np.int64(3),
         "act": True}
    l, g = dlfeval(_loss_with_settings, p)
    steps = {"sgdm": lambda: sct.sgdmupdate(p, g, None, 0.1)[0],
             "adam": lambda: sct.adamupdate(p, g, None, None, 1)[0],
             "rmsprop": lambda: sct.rmspropupdate(p, g, None)[0],
             "dlupdate": lambda: sct.dlupdate(lambda a, b: a - 0.1 * b, p, g)}
    p2 = steps[update]()
    for key in ("n_layers", "use_bias", "k", "act"):
        assert type(p2[key]) is type(p[key]) and p2[key] == p[key], (key, p2[key])
    assert type(p2["W"]) is dlarray and not np.allclose(np.asarray(p2["W"].data), [1.0, 2.0])
    l2, _ = dlfeval(_loss_with_settings, p2)        # the next step runs (was: range(2.0) TypeError)
    W = np.asarray(p2["W"].data)
    assert_close(float(np.asarray(l2.data)), float(np.sum(np.tanh(np.tanh(W)) ** 2) * 2.0))


# --- W1: method forms of reductions / conversions of argmax results: numpy's types, as in Python --
LABELS = np.array([1, 0, 1])
XS = np.arange(6.0).reshape(3, 2)


def _metrics(w):
    pred = np.argmax(XS * w, axis=1)
    c = pred == LABELS
    return (c.mean(), c.std(), c.any(), pred.var(), pred.astype(float), np.eye(2)[pred], c.mean(axis=0),
            c.astype(float).mean(), pred.astype(np.float32), pred.mean())


def _loss_metrics(w):
    l = np.sum(XS * w)
    return (l, dlgradient(l, w)) + _metrics(w)


def _loss_metrics_inline(w):
    l = np.sum(XS * w)
    pred = np.argmax(XS * w, axis=1)
    c = pred == LABELS
    return l, dlgradient(l, w), c.mean(), c.all(), pred.astype(float), np.eye(2)[pred]


def _check(got, want):
    for a, b in zip(got, want):
        assert type(a) is type(b), (type(a), type(b))
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("accelerated", [False, True])
def test_argmax_method_forms_are_numpy_types(accelerated):
    w = dlarray(np.array([1.0, 1.5]))
    f = sct.accelerate(_loss_metrics) if accelerated else _loss_metrics
    got = dlfeval(f, w)
    _check(got[2:], _metrics(w))
    assert_close(np.asarray(got[1].data), np.sum(XS, axis=0))
    g = sct.accelerate(_loss_metrics_inline) if accelerated else _loss_metrics_inline
    _check(dlfeval(g, w)[2:], _plain_inline(w))


def _plain_inline(w):
    pred = np.argmax(XS * w, axis=1)
    c = pred == LABELS
    return c.mean(), c.all(), pred.astype(float), np.eye(2)[pred]
