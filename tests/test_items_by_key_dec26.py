"""``for k, v in d.items(): d[k] = ...`` (the current key written, a dict of parameters updated in
place) runs as Python runs it: the normalizer walks a list of d's keys and reads ``v = d[k]`` as
the loop reaches each key (sct/normalize_loops.py ``_items_by_key``).  Was refused, though the
README said it ran.  Values against plain Python, gradients against finite differences; the loops
whose body rebinds d or k, or writes another key first, keep Python's order too."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, CompileError
from gradcheck import check_grads


def update_items(x):
    d = {"a": x * 2.0, "b": np.sin(x), "c": x ** 2}
    for k, v in d.items():
        d[k] = np.tanh(v) * x
    return np.sum(d["a"] * d["b"] + d["c"])


def update_twice(x):
    p = {"w": x, "b": x[:1] * 3.0}
    for _ in range(3):
        for name, value in p.items():
            p[name] = value - 0.1 * np.cos(value) * x[0]
    return np.sum(p["w"] ** 2) + np.sum(p["b"])


def reads_later_key(x):
    # a write into a key the loop has not reached yet: Python's items view reads the new value
    # (refused before the loop is lowered: test_later_key_is_refused)
    d = {"a": x, "b": 2.0 * x}
    order = []
    for k, v in d.items():
        order.append(np.sum(v))
        d[k] = v * x
        if k == "a":
            d["b"] = d["b"] + x
    return np.sum(d["a"]) + np.sum(d["b"]) * order[1]


def nested_values(x):
    layers = {"l1": (x, 2.0 * x), "l2": (x ** 2, x)}
    for name, (w, b) in layers.items():
        layers[name] = (w * b, np.exp(b))
    return sum(np.sum(w + b) for w, b in layers.values())


@pytest.mark.parametrize("fun", [update_items, update_twice, nested_values])
def test_values_and_gradients(fun):
    x = np.array([0.3, -0.7, 1.1])
    check_grads(fun, x)
    # a second call: the cached entry
    check_grads(fun, x + 0.1)


def test_later_key_is_refused():
    def f(x):
        y = reads_later_key(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match="live view"):
        dlfeval(f, dlarray(np.array([0.3, -0.7])))


def test_not_a_dict_is_refused_at_run_time():
    class Pairs:
        """items() and [] like a dict, but iterating it gives its values."""
        def __init__(self, **kw):
            self.kw = kw

        def items(self):
            return list(self.kw.items())

        def __iter__(self):
            return iter(self.kw.values())

        def __getitem__(self, k):
            return self.kw[k]

        def __setitem__(self, k, v):
            self.kw[k] = v

    def f(x):
        d = Pairs(a=x, b=2.0 * x)
        for k, v in d.items():
            d[k] = v * x
        y = np.sum(d["a"] + d["b"])
        return y, dlgradient(y, x)
    with pytest.raises(Exception) as info:
        dlfeval(f, dlarray(np.array([0.3, -0.7])))
    # (refused when compiled, as a write into what the loop walks, or when it runs: not a dict)
    assert "dict" in str(info.value) or "walks d" in str(info.value)


def rebinding(x):
    d = {"a": x, "b": 2.0 * x}
    total = 0.0
    for k, v in d.items():
        d[k] = v * x
        d = dict(d)
        total = total + np.sum(v)
    return total + np.sum(d["a"] * d["b"])


def test_rebinding_the_dict_keeps_pythons_loop():
    def f(x):
        y = rebinding(x)
        return y, dlgradient(y, x)
    x = np.array([0.3, -0.7])
    try:
        y, g = dlfeval(f, dlarray(x))
    except CompileError:
        return                      # refused: acceptable
    np.testing.assert_allclose(float(y), rebinding(x), rtol=1e-12)
    eps = 1e-6
    num = [(rebinding(x + eps * e) - rebinding(x - eps * e)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(g.data, num, rtol=1e-6, atol=1e-8)
