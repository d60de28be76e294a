"""Plain arrays a differentiated operation read, changed in place afterwards by code sct cannot look
into (a helper, a method, next(), a with block, a global sorted or shuffled): refused at the call's line
(was: the adjoint read the changed array, a silently wrong gradient; red team 50, C and E).
Code that changes nothing it read, or rebinds instead of writing in place, keeps running with exact
gradients."""
import contextlib
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

X0 = np.array([0.5, -1.2, 2.0])


def _line(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, l in enumerate(lines) if text in l)


def _refused(fn, args, call_text, op_text, name):
    with pytest.raises(sct.SctError) as err:
        dlfeval(fn, *args)
    msg = str(err.value)
    assert f"line {_line(fn, call_text)}:" in msg, msg
    assert f"operation at line {_line(fn, op_text)} read" in msg, msg
    assert f"changed {name} in place" in msg, msg


def _fd(plain, x, h=1e-6):
    return np.array([(plain(x + h * e) - plain(x - h * e)) / (2 * h) for e in np.eye(x.size)])


# -- W1: a helper writing into an argument's dict item
def reweight(st):
    st["w"][:] = 2.0 * st["w"]


def helper_item(x, st):
    y = x * st["w"]
    reweight(st)
    L = np.sum(y ** 2)
    return L, dlgradient(L, x)


def test_helper_writing_into_an_argument_item_is_refused():
    _refused(helper_item, (dlarray(X0), {"w": np.array([1.0, 2.0, 0.5])}), "reweight(st)", 'y = x * st["w"]',
             "st['w']")


# -- W2: a method updating running statistics in place
class Norm:
    def __init__(self):
        self.scale = np.array([1.0, 2.0, 0.5])

    def update(self, v):
        self.scale[:] = 0.9 * self.scale + 0.1 * v


def method_update(x, nm):
    y = x * nm.scale
    nm.update(extractdata(np.abs(y)))
    L = np.sum(np.tanh(y))
    return L, dlgradient(L, x)


def test_method_updating_a_field_in_place_is_refused():
    _refused(method_update, (dlarray(X0), Norm()), "nm.update(", "y = x * nm.scale", "nm.scale")


# -- W5, W8, E: a global sorted, filled, shuffled directly in the function
W = np.array([3.0, 1.0, 2.0])


def global_sort(x):
    y = x * W
    W.sort()
    L = np.sum(y ** 2)
    return L, dlgradient(L, x)


def global_shuffle(x):
    y = x * W
    np.random.default_rng(3).shuffle(W)
    L = np.sum(y ** 2)
    return L, dlgradient(L, x)


def global_unbound_fill(x):
    y = x * W
    np.ndarray.fill(W, 1.0)
    L = np.sum(y ** 2)
    return L, dlgradient(L, x)


@pytest.mark.parametrize("fn, call", [(global_sort, "W.sort()"), (global_shuffle, ".shuffle(W)"),
                                      (global_unbound_fill, "np.ndarray.fill(W")])
def test_global_changed_in_place_is_refused(fn, call):
    W[:] = [3.0, 1.0, 2.0]
    try:
        _refused(fn, (dlarray(X0),), call, "y = x * W", "W")
    finally:
        W[:] = [3.0, 1.0, 2.0]


def test_global_shuffled_after_no_read_keeps_pythons_values():
    # (E: was UnboundLocalError, the generated code binding the global W as a local)
    G = np.array([3.0, 1.0, 2.0])

    def f(x):
        np.random.default_rng(3).shuffle(G)
        y = x * G
        L = np.sum(y ** 2)
        return L, dlgradient(L, x)
    L, g = dlfeval(f, dlarray(X0))
    expect = np.array([3.0, 1.0, 2.0])
    np.random.default_rng(3).shuffle(expect)
    assert np.allclose(G, expect)
    assert np.allclose(extractdata(g), 2 * X0 * expect ** 2)


def buffers_zeroed(x, st):
    y = x * st["scale"]
    for buf in st.values():
        buf.fill(0.0)
    L = np.sum(y ** 2)
    return L, dlgradient(L, x)


def test_buffers_zeroed_in_a_loop_over_values_are_refused():
    _refused(buffers_zeroed, (dlarray(X0), {"scale": np.array([3.0, 1.0, 2.0]), "acc": np.zeros(3)}),
             "buf.fill(0.0)", 'y = x * st["scale"]', "st['scale']")


# -- W6: a context manager perturbing the data for a block
class noise_injected:
    def __init__(self, X, eps):
        self.X, self.eps = X, eps

    def __enter__(self):
        self.X += self.eps

    def __exit__(self, *exc):
        self.X -= self.eps


def with_noise(w, X, eps):
    with noise_injected(X, eps):
        p = np.tanh(X @ w)
    L = np.sum(p ** 2)
    return L, dlgradient(L, w)


def test_context_manager_restoring_data_on_exit_is_refused():
    r = np.random.default_rng(0)
    _refused(with_noise, (dlarray(r.normal(size=3)), r.normal(size=(4, 3)), 0.5 * r.normal(size=(4, 3))),
             "with noise_injected", "p = np.tanh(X @ w)", "X")


# -- W7: next() refilling the buffer an earlier batch is
DATA = np.arange(12.0).reshape(4, 3) / 10


class Loader:
    def __init__(self):
        self.buf, self.i = np.zeros(3), 0

    def __iter__(self):
        return self

    def __next__(self):
        self.buf[:] = DATA[self.i]
        self.i += 1
        return self.buf


def two_batches(w, it):
    xa = next(it)
    La = (xa @ w) ** 2
    xb = next(it)
    L = La + np.sin(xb @ w)
    return L, dlgradient(L, w)


def test_next_refilling_a_batch_buffer_is_refused():
    _refused(two_batches, (dlarray(X0), Loader()), "xb = next(it)", "La = (xa @ w) ** 2", "xa")


# -- W9: extractdata(x) is x's memory
def sorted_extract(x):
    e = extractdata(x)
    y = x * e
    e.sort()
    L = np.sum(y)
    return L, dlgradient(L, x)


def test_sorting_extractdata_in_place_is_refused():
    _refused(sorted_extract, (dlarray(X0.copy()),), "e.sort()", "y = x * e", "e")


# -- b20: a view's write, a bound method held in a variable, on a local array
V = np.array([3.0, 1.0, 2.0])


def view_write(x):
    y = x * V
    V.view()[0] = 6.0
    L = np.sum(y ** 2) + np.sum(x * V)
    return L, dlgradient(L, x)


def bound_fill(x):
    w = np.array([3.0, 1.0, 2.0])
    y = x * w
    fl = w.fill
    fl(1.0)
    L = np.sum(y ** 2) + np.sum(x * w)
    return L, dlgradient(L, x)


def test_global_written_through_its_view_is_refused():
    V[:] = [3.0, 1.0, 2.0]
    _refused(view_write, (dlarray(X0),), "V.view()[0]", "y = x * V", "V")


def test_local_array_filled_through_a_bound_method_is_refused():
    _refused(bound_fill, (dlarray(X0),), "fl(1.0)", "y = x * w", "w")


# -- W11: second order, the recomputation reading the changed array
class BN:
    def __init__(self):
        self.rv = np.array([1.0, 2.0, 0.5])


def upd(bn, v):
    bn.rv[:] = 0.5 * bn.rv + 0.5 * v


def second_order(x, bn):
    y = np.sum(np.tanh(x / np.sqrt(bn.rv + 1e-5)) ** 2)
    upd(bn, extractdata(x) ** 2)
    g = dlgradient(y, x)
    L = np.sum(g ** 2)
    return L, dlgradient(L, x)


def test_second_order_recomputation_of_a_changed_field_is_refused():
    _refused(second_order, (dlarray(X0), BN()), "upd(bn,", "y = np.sum(np.tanh(", "bn.rv")


# -- what keeps running: rebinding (a running mean), a change of what no adjoint reads, a helper before
def rebind_running(x, bn):
    mu = np.mean(x)
    y = (x - mu) * bn.scale
    bn.rm = 0.9 * bn.rm + 0.1 * extractdata(mu)
    bn.log(float(extractdata(mu)))
    L = np.sum(y ** 2)
    return L, dlgradient(L, x)


class RunningBN:
    def __init__(self):
        self.scale = np.array([1.0, 2.0, 0.5])
        self.rm = 0.0
        self.seen = []

    def log(self, v):
        self.seen.append(v)


def test_running_mean_rebound_and_a_logging_method_keep_running():
    bn = RunningBN()
    L, g = dlfeval(rebind_running, dlarray(X0), bn)
    s = bn.scale

    def plain(x):
        return np.sum(((x - np.mean(x)) * s) ** 2)
    assert np.allclose(extractdata(g), _fd(plain, X0), atol=1e-6)
    assert np.isclose(bn.rm, 0.1 * np.mean(X0)) and len(bn.seen) == 1


def set_other(st):
    st["other"].fill(7.0)


def fill_before(x, st):
    reweight(st)
    y = x * st["w"]
    set_other(st)            # an array no differentiated operation read
    L = np.sum(y ** 2)
    return L, dlgradient(L, x)


def test_change_before_the_read_and_of_unread_arrays_keeps_running():
    st = {"w": np.array([1.0, 2.0, 0.5]), "other": np.zeros(2)}
    L, g = dlfeval(fill_before, dlarray(X0), st)
    w = np.array([2.0, 4.0, 1.0])
    assert np.allclose(st["w"], w) and np.allclose(st["other"], 7.0)
    assert np.allclose(extractdata(g), _fd(lambda x: np.sum((x * w) ** 2), X0), atol=1e-5)


@contextlib.contextmanager
def scaled(a, s):
    a *= s
    yield
    a /= s


def with_scaled_before(w, X):
    with scaled(X, 2.0):
        c = float(np.sum(X))
    p = np.tanh(X @ w) * c
    L = np.sum(p ** 2)
    return L, dlgradient(L, w)


def test_with_block_restoring_data_read_after_it_keeps_running():
    r = np.random.default_rng(1)
    w0, X = r.normal(size=3), r.normal(size=(4, 3))
    c = float(np.sum(2.0 * X))
    L, g = dlfeval(with_scaled_before, dlarray(w0), X.copy())
    assert np.allclose(extractdata(g), _fd(lambda w: np.sum((np.tanh(X @ w) * c) ** 2), w0), atol=1e-4)
