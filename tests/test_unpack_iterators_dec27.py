"""``a, b = d.values()``, ``w, b = params.values()``, ``(i, a), (j, b) = enumerate(xs)``,
``a, b = reversed(xs)``, ``a, b = map(f, xs)``: Python unpacks by iterating; sct reads an unpacking
by position, so the items of a dict view or a builtin iterator are listed first, as Python's
iteration gives them (sct/normalize_stmts.py ``iterated``).  Were: an EvaluationError "'dict_values'
object is not subscriptable" for ``w, b = params.values()``, and "no derivative rule for reversed"
(zip, enumerate).  Values against plain Python, gradients against finite differences."""
import numpy as np
import pytest

from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient
from gradcheck import check_grads


def dict_values(x):
    p = {"w": x * 2.0, "b": np.sin(x)}
    w, b = p.values()
    return np.sum(np.tanh(w * b))


def dict_items(x):
    d = {"u": x, "v": x ** 2}
    (k1, a), (k2, b) = d.items()
    return np.sum(a * b) * len(k1 + k2)


def dict_keys(x):
    d = {"u": x, "v": x ** 3}
    first, second = d.keys()
    return np.sum(d[second] - d[first] * 0.5)


def reversed_list(x):
    a, b = reversed([x, 2.0 * x])
    return np.sum(a * b ** 2)


def reversed_array(x):
    a, b = reversed(x)
    return a * b ** 2 + a


def mapped(x):
    a, b = map(np.sin, [x, 2.0 * x])
    return np.sum(a * b)


def enumerated(x):
    (i, a), (j, b) = enumerate([x, 3.0 * x])
    return np.sum(a * b) * (i + j + 1)


def zipped(x):
    (a, b), (c, d) = zip([x, x ** 2], [np.cos(x), 2.0 * x])
    return np.sum(a * b + c * d)


def layers_values(x):
    params = {"l1": {"w": x, "b": x[:1]}, "l2": {"w": x ** 2, "b": x[1:2] * 3.0}}
    h = x
    for layer in params.values():
        w, b = layer.values()
        h = np.tanh(h * w + b)
    return np.sum(h)


@pytest.mark.parametrize("fun", [dict_values, dict_items, dict_keys, reversed_list, reversed_array, mapped,
                                 enumerated, zipped, layers_values])
def test_values_and_gradients(fun):
    x = np.array([0.3, -0.7])
    check_grads(fun, x)
    check_grads(fun, x + 0.2)          # the cached entry


def test_params_dict_unpacked_in_the_loss():
    def loss(p, x):
        w, b = p.values()
        y = np.sum(np.tanh(x @ w + b) ** 2)
        return y, dlgradient(y, p)

    rng = np.random.default_rng(0)
    w, b, x = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=(4, 3))
    y, g = dlfeval(loss, {"w": dlarray(w), "b": dlarray(b)}, dlarray(x))
    h = np.tanh(x @ w + b)
    np.testing.assert_allclose(float(y), np.sum(h ** 2), rtol=1e-12)
    d = 2 * h * (1 - h ** 2)
    np.testing.assert_allclose(np.asarray(g["w"].data), x.T @ d, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(g["b"].data), d.sum(0), rtol=1e-10)


def test_wrong_count_raises_as_python_does():
    def f(x):
        a, b = {"u": x, "v": x, "w": x}.values()
        y = np.sum(a * b)
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError, match="too many values to unpack"):
        dlfeval(f, dlarray(np.array([1.0, 2.0])))


def test_a_local_named_reversed_is_called():
    def f(x):
        reversed = keep_order            # not Python's reversed: called as it is
        a, b = reversed(x, 2.0 * x)
        y = np.sum(a * b ** 2)
        return y, dlgradient(y, x)
    y, g = dlfeval(f, dlarray(np.array([1.0, 2.0])))
    # keep_order keeps the order: a = x, b = 2x, y = sum(4 x^3)
    np.testing.assert_allclose(float(y), 4 * (1 + 8))
    np.testing.assert_allclose(np.asarray(g.data), 12 * np.array([1.0, 4.0]))


def keep_order(a, b):
    return a, b


def rebinds_after_unpacking(x):
    d = {"a": x * 2.0, "b": x ** 2}
    a, b = d.values()
    d["a"] = a * b                  # a new value under "a": the arrays a and b are not changed
    return np.sum(d["a"]) + np.sum(b)


def rebinds_after_listing(x):
    d = {"a": x * 2.0, "b": x ** 2}
    vals = list(d.values())
    d["a"] = vals[0] * vals[1]
    return np.sum(d["a"]) + np.sum(vals[1]) + np.sum(vals[0])


def writes_through_the_list(x):
    d = {"a": x * 2.0, "b": x ** 2}
    vals = list(d.values())
    vals[0][0] = 5.0                # the array d["a"] itself: d sees the change
    return np.sum(d["a"] * d["b"])


@pytest.mark.parametrize("fun", [rebinds_after_unpacking, rebinds_after_listing])
def test_dict_rebound_after_its_values_are_taken(fun):
    # (was refused: the list of d's values was taken to hold d itself)
    check_grads(fun, np.array([0.3, -0.7]))


def test_write_through_the_list_is_refused_with_list_advice():
    def f(x):
        y = writes_through_the_list(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError) as info:
        dlfeval(f, dlarray(np.array([0.3, -0.7])))
    assert "item = vals[0].copy()" in str(info.value) and "[0, ...]" not in str(info.value)
