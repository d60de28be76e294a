"""A loop over an iterator whose items change as it goes: sct takes every item before the body runs,
Python's body sees each item as it is when given.  Where the two differ it is refused (was: silently
wrong values): itertools.groupby's groups (empty once the next group is taken), a buffer an
``__iter__`` fills again and gives again, a dict or object given and changed later.  Items that do not
change (new arrays each time, one layer object given three times) run as before."""
import itertools

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import check_grads


class Loader:                      # a reused buffer (a data loader's batch)
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        buf = np.zeros(2)
        for i in range(self.n):
            buf[:] = (i, 2 * i)
            yield buf


class DictLoader:                  # one dict, filled again
    def __iter__(self):
        batch = {}
        for i in range(3):
            batch["x"] = np.array([i, 2.0 * i])
            yield batch


class Batch:
    pass


class ObjectLoader:                # one object, its field set again
    def __iter__(self):
        b = Batch()
        for i in range(3):
            b.x = np.array([i, 2.0 * i])
            yield b


class Fresh:
    def __iter__(self):
        for i in range(3):
            yield np.array([i, 2.0 * i])


def groupby_len(x):
    s = 0.0
    for k, g in itertools.groupby([0, 0, 1, 1, 1, 2], key=lambda i: i):
        s = s + x[k] * len(list(g))
    return s


def groupby_comprehension(x):
    s = 0.0
    for k, g in [(k, list(g)) for k, g in itertools.groupby([0, 0, 1, 2])]:
        s = s + x[k] * len(g)
    return s


def loader_loop(x):
    s = 0.0
    for b in Loader(3):
        s = s + np.sum(b * x[:2])
    return s


def loader_sum(x):
    return sum(np.sum(b * x[:2]) for b in Loader(3))


def loader_enumerate(x):
    s = 0.0
    for i, b in enumerate(Loader(3)):
        s = s + i * np.sum(b * x[:2])
    return s


def dict_loader(x):
    s = 0.0
    for b in DictLoader():
        s = s + np.sum(b["x"] * x[:2])
    return s


def object_loader(x):
    s = 0.0
    for b in ObjectLoader():
        s = s + np.sum(b.x * x[:2])
    return s


@pytest.mark.parametrize("case", [groupby_len, groupby_comprehension, loader_loop, loader_sum, loader_enumerate,
                                  dict_loader, object_loader])
def test_changing_items_refused(case):
    def f(x):
        y = case(x)
        return y, dlgradient(y, x)
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(f, dlarray(np.linspace(0.5, 1.5, 6)))
    assert info.value.filename == __file__
    assert "groupby" in str(info.value) or "giv" in str(info.value)


def fresh_loop(x):
    s = 0.0
    for i, b in enumerate(Fresh()):
        s = s + (i + 1) * np.sum(b * x[:2])
    return s


def listed_loader(x):              # Python's list() takes every item first too: the last state three times
    bs = list(Loader(3))
    return sum(np.sum(b * x[:2]) for b in bs)


def unpacked_loader(x):
    a, b, c = Loader(3)
    return np.sum((a + b + c) * x[:2])


@pytest.mark.parametrize("case", [fresh_loop, listed_loader, unpacked_loader])
def test_unchanged_items_run(case):
    check_grads(case, np.linspace(0.5, 1.5, 6))


class Dense:
    def __init__(self, W):
        self.W = W

    def __call__(self, h):
        return np.tanh(h @ self.W)


class Model:
    def __init__(self, layers):
        self.layers = layers

    def __iter__(self):
        return iter(self.layers)


def test_one_layer_given_three_times_runs():
    rng = np.random.default_rng(2)
    W = rng.standard_normal((3, 3)) * 0.5
    model = Model([Dense(W)] * 3)

    def loss(model, x):
        h = x
        for layer in model:
            h = layer(h)
        y = np.sum(h ** 2)
        return y, dlgradient(y, x)

    x = rng.standard_normal((2, 3))
    y, g = dlfeval(loss, model, dlarray(x))

    def plain(x):
        h = x
        for _ in range(3):
            h = np.tanh(h @ W)
        return np.sum(h ** 2)
    assert float(extractdata(y)) == pytest.approx(plain(x), rel=1e-12)
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = 1e-6
        fd[i] = (plain(x + d) - plain(x - d)) / 2e-6
    np.testing.assert_allclose(extractdata(g), fd, rtol=1e-5, atol=1e-7)
