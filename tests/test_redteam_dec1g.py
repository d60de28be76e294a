"""Red team (Dec 1, g): a corpus of functions written the way scientific-Python / ML code is
(keyword calls of helpers with defaults, keyword-only parameters, integer label arrays) under
forward mode (sct.jvp).  Values against plain Python, tangents against central differences."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import SctError, dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient


def smooth_l1(x, beta=1.0, reduce="mean"):
    a = np.abs(x)
    loss = np.where(a < beta, 0.5 * a ** 2 / beta, a - 0.5 * beta)
    if reduce == "mean":
        return np.mean(loss)
    return np.sum(loss)


def smooth_l1_keywords(x):
    return smooth_l1(x, reduce="sum", beta=0.5) + smooth_l1(x * 2)


def smooth_l1_one_keyword(x):
    return smooth_l1(x, beta=0.5)


def scaled(x, *, scale=2.0, mode="a"):
    return np.sum(x * scale) if mode == "a" else np.sum(np.sin(x))


def keyword_only_calls(x):
    return scaled(x, mode="b") + scaled(x, scale=3.0) + scaled(x)


def cross_entropy_labels(logits, labels):
    n = logits.shape[0]
    lse = np.log(np.sum(np.exp(logits), axis=1))
    return np.mean(lse - logits[np.arange(n), labels])


def mlp(params, x):
    return np.sum(np.tanh(x @ params["w"]))


def _central(f, primals, tangents, index=0, eps=1e-6):
    up = list(primals)
    down = list(primals)
    up[index] = primals[index] + eps * tangents[index]
    down[index] = primals[index] - eps * tangents[index]
    return (f(*up) - f(*down)) / (2 * eps)


X = np.array([0.3, -1.7, 0.9, 2.4, -0.2])
V = np.array([1.0, -0.5, 0.25, 2.0, 0.7])


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("fun", [smooth_l1_keywords, smooth_l1_one_keyword, keyword_only_calls])
def test_jvp_helper_called_with_keywords(fun, mode):
    # was: "smooth_l1() got multiple values for argument 'reduce'" (a default filled in the slot a
    # keyword names) and "unexpected keyword argument 'mode'" (keyword-only parameters dropped)
    y, jv = sct.jvp(fun, X, V, mode=mode)
    assert_close(sct.extractdata(y), fun(X), what=fun.__name__)
    assert_close(sct.extractdata(jv), _central(fun, [X], [V]), rtol=1e-5, atol=1e-6, what=fun.__name__)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("label_tangent", [None, "int", "float"])
def test_jvp_integer_label_array_stays_an_index(mode, label_tangent):
    # was: the int label array became floats: "arrays used as indices must be of integer type"
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 3))
    dlogits = rng.standard_normal((4, 3))
    labels = np.array([0, 2, 1, 2])
    t = {None: None, "int": np.zeros(4, dtype=int), "float": np.zeros(4)}[label_tangent]
    y, jv = sct.jvp(cross_entropy_labels, (logits, labels), (dlogits, t), mode=mode)
    assert_close(sct.extractdata(y), cross_entropy_labels(logits, labels))
    expected = _central(lambda a: cross_entropy_labels(a, labels), [logits], [dlogits])
    assert_close(sct.extractdata(jv), expected, rtol=1e-5, atol=1e-7)


def test_jvp_dict_primal_is_refused_clearly():
    # was: TypeError "float() argument must be ... not 'dict'" from inside jvp
    params = {"w": np.ones((5, 2))}
    with pytest.raises(SctError, match="primal is a dict"):
        sct.jvp(mlp, (params, np.ones((3, 5))), ({"w": np.ones((5, 2))}, np.zeros((3, 5))))


def test_hvp_of_helper_called_with_keywords():
    # the Hessian-vector product goes through the same forward call of smooth_l1 / scaled
    for fun in (smooth_l1_keywords, keyword_only_calls):
        hv = np.asarray(sct.extractdata(sct.hvp(fun, X, V)))

        def grad(x):
            return np.array([_central(fun, [x], [e]) for e in np.eye(len(x))])
        expected = (grad(X + 1e-4 * V) - grad(X - 1e-4 * V)) / 2e-4
        assert_close(hv, expected, rtol=1e-3, atol=1e-4, what=fun.__name__)


# --- enumerate and zip nested in each other (was: "no derivative rule for zip / enumerate") ------
def enumerate_zip(xs, ws):
    total = 0.0
    for i, (x, w) in enumerate(zip(xs, ws)):
        total = total + (i + 1) * x * w
    return total


def zip_enumerate(xs, ws):
    total = 0.0
    for (i, x), w in zip(enumerate(xs), ws):
        total = total + (i + 1) * x * np.sin(w)
    return total


def enumerate_zip_three_uneven(xs, ws, bs):
    total = 0.0
    for i, (x, w, b) in enumerate(zip(xs, ws[1:], bs)):       # stops at the shortest
        total = total + i * x * w + b ** 2
    return total


def enumerate_items(params):
    total = 0.0
    for i, (name, w) in enumerate(sorted(params.items())):
        total = total + (i + 1.0) * np.sum(w ** 2)
    return total


def _grads2(xs, ws):
    y = enumerate_zip(xs, ws) + zip_enumerate(xs, ws)
    return y, dlgradient(y, xs, ws)


def _grads3(xs, ws, bs):
    y = enumerate_zip_three_uneven(xs, ws, bs)
    return y, dlgradient(y, xs, ws, bs)


def _grads_items(params):
    y = enumerate_items(params)
    return y, dlgradient(y, params)


def test_enumerate_of_zip_and_zip_of_enumerate():
    xs, ws, bs = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.3, -0.7, 0.9]), np.array([0.2, 0.4])

    def plain2(a, b):
        return enumerate_zip(a, b[:3]) + zip_enumerate(a, b[:3])
    y, (gx, gw) = dlfeval(_grads2, dlarray(xs), dlarray(ws[:3]))
    assert_close(extractdata(y), plain2(xs, ws))
    assert_close(extractdata(gx), numerical_gradient(plain2, [xs, ws[:3]], 0))
    assert_close(extractdata(gw), numerical_gradient(plain2, [xs, ws[:3]], 1))
    y, grads = dlfeval(_grads3, dlarray(xs), dlarray(ws), dlarray(bs))
    assert_close(extractdata(y), enumerate_zip_three_uneven(xs, ws, bs))
    for k, g in enumerate(grads):
        assert_close(extractdata(g), numerical_gradient(enumerate_zip_three_uneven, [xs, ws, bs], k))
    params = {"b": np.array([0.1, -0.2]), "a": np.array([[1.0, 2.0]])}
    y, g = dlfeval(_grads_items, {k: dlarray(v) for k, v in params.items()})
    assert_close(extractdata(y), enumerate_items(params))
    assert_close(extractdata(g["a"]), 2 * params["a"])
    assert_close(extractdata(g["b"]), 4 * params["b"])


# --- enumerate(..., start) and reversed(...) in a for loop (were refused: no derivative rule) -------
def reversed_range(x):
    h = 0.0
    for i in reversed(range(len(x))):
        h = np.tanh(h * x[i] + i)
    return h


def enumerate_reversed_list(x):
    hs = [x * 1.0, np.sin(x), x ** 2]
    acc = 0.0
    for j, h in enumerate(reversed(hs), 1):
        acc = acc + j * np.sum(h)
    return acc


def enumerate_start_zip(xs, ws):
    t = 0.0
    for i, (x, w) in enumerate(zip(xs, ws), start=2):
        t = t + i * x * w
    return t


def reversed_array(x):
    h = 0.0
    for v in reversed(x):
        h = np.tanh(h + v)
    return h


def _grad_of(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def _grad_of_zip(xs, ws):
    y = enumerate_start_zip(xs, ws)
    return y, dlgradient(y, xs, ws)


def test_enumerate_start_and_reversed():
    x = np.array([0.3, -0.8, 1.1])
    w = np.array([0.5, 2.0, -1.0])
    for f in (reversed_range, enumerate_reversed_list, reversed_array):
        for dtype, tol in ((np.float64, 1e-6), (np.float32, 1e-4)):
            y, g = dlfeval(_grad_of, f, dlarray(x.astype(dtype)))
            assert extractdata(g).dtype == dtype
            assert_close(extractdata(y), f(x), rtol=tol, atol=tol, what=f.__name__)
            assert_close(extractdata(g), numerical_gradient(f, [x], 0), rtol=tol, atol=tol, what=f.__name__)
    y, grads = dlfeval(_grad_of_zip, dlarray(x), dlarray(w))
    assert_close(extractdata(y), enumerate_start_zip(x, w))
    for k, g in enumerate(grads):
        assert_close(extractdata(g), numerical_gradient(enumerate_start_zip, [x, w], k))


def _second(x):
    y = enumerate_reversed_list(x) + reversed_array(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    n = np.sum(g * g)
    return n, dlgradient(n, x)


def test_reversed_second_derivative():
    x = np.array([0.3, -0.8, 1.1])

    def norm2(v):
        f = lambda u: enumerate_reversed_list(u) + reversed_array(u)      # noqa: E731
        return float(np.sum(numerical_gradient(f, [v], 0) ** 2))
    n, g = dlfeval(_second, dlarray(x))
    assert_close(extractdata(n), norm2(x), rtol=1e-5)
    assert_close(extractdata(g), numerical_gradient(norm2, [x], 0, step=1e-4), rtol=1e-3, atol=1e-4)


# --- forward mode: a dict built in the function and updated in a loop (was: "'float' object is not
# subscriptable" -- the dict's zero tangent was a scalar; and d.values() of a dict of tangents) -----
def running_stats(x):
    stats = {"mean": 0.0, "m2": 0.0}
    n = 0
    for v in x:
        n += 1
        delta = v - stats["mean"]
        stats["mean"] += delta / n
        stats["m2"] += delta * (v - stats["mean"])
    return stats["m2"] / (n - 1) + stats["mean"] ** 2


def dict_comprehension(x):
    d = {k: x * k for k in range(1, 4)}
    return sum(np.sum(v ** 2) for v in d.values())


def dict_items_loop(x):
    state = {"a": x * 1.0, "b": np.sin(x)}
    for _ in range(2):
        for key in state:
            state[key] = state[key] * np.cos(x) + 0.1
    return sum(np.sum(v) for v in state.values()) + np.sum(state["a"] * state["b"])


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("fun", [running_stats, dict_comprehension, dict_items_loop])
def test_jvp_dict_built_and_updated_in_the_function(fun, mode):
    y, jv = sct.jvp(fun, X, V, mode=mode)
    assert_close(sct.extractdata(y), fun(X), what=fun.__name__)
    assert_close(sct.extractdata(jv), _central(fun, [X], [V]), rtol=1e-5, atol=1e-6, what=fun.__name__)
    hv = np.asarray(sct.extractdata(sct.hvp(fun, X, V)))

    def grad(x):
        return np.array([_central(fun, [x], [e]) for e in np.eye(len(x))])
    assert_close(hv, (grad(X + 1e-4 * V) - grad(X - 1e-4 * V)) / 2e-4, rtol=1e-3, atol=1e-4, what=fun.__name__)


# --- reverse mode: a dict of arrays updated in a loop over its keys (was refused: "seq_as_sequence may
# be the same object as state"; the loop walks a new list of the keys, never the dict's values) -------
def update_over_keys(x):
    state = {"a": x * 1.0, "b": np.sin(x)}
    for key in state:
        state[key] = state[key] * np.cos(x) + 0.1
    for key in list(state):
        state[key] = state[key] ** 2
    for key in sorted(state):
        state[key] = state[key] + x[0]
    return np.sum(state["a"] * state["b"])


def values_changed_in_place(x):
    d = {"a": x * 1.0, "b": x * 2.0}
    for v in list(d.values()):
        v *= x
    return np.sum(d["a"] + d["b"])


def _grad_update(x):
    y = update_over_keys(x)
    return y, dlgradient(y, x)


def _grad_values_in_place(x):
    y = values_changed_in_place(x)
    return y, dlgradient(y, x)


def test_dict_updated_over_its_keys():
    for dtype, tol in ((np.float64, 1e-6), (np.float32, 1e-4)):
        y, g = dlfeval(_grad_update, dlarray(X.astype(dtype)))
        assert_close(extractdata(y), update_over_keys(X), rtol=tol, atol=tol)
        assert_close(extractdata(g), numerical_gradient(update_over_keys, [X], 0), rtol=tol, atol=tol)
    # the values themselves written in place through a list of them: still refused
    with pytest.raises(sct.CompileError) as info:
        dlfeval(_grad_values_in_place, dlarray(X))
    assert info.value.lineno is not None
