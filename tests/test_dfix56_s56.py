"""red56d findings (dfix56): a helper's Python float kept a float (W1), storing np.mean of a name rebound from
a tuple to its item (F1), second order through a method whose loop calls self's methods (F2), a def in a loop
reading an unpacked tuple argument (F3), and the messages of R1 (out= into a view) and R2 (",;")."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from tests.gradcheck import D, assert_close, numerical_gradient

X0 = np.array([1.0, 2.0])


# ---- W1: a Python float computed in a helper (or the function) from shapes and numbers ---------------------

def h_shape(x): return x.shape[0] * 0.5
def h_ifexp(c): return -c if c < 0 else c
def h_item(c): return [c, 1.0][0]
def h_branch_on_x(x, c): return c if np.sum(x) > 0 else 0.0
def h_loop(c):
    for _ in range(2):
        c = c * 0.5
    return c
def h_while(c):
    while c > 1:
        c = c / 2
    return c
def h_size(x): return x.ndim * 1.5 + x.size


def _with(helper, two):
    def f(x, c):
        k = helper(x, c) if two else (helper(x) if helper in (h_shape, h_size) else helper(c))
        y = np.sum(x * x) * k
        return y, dlgradient(y, x), k
    return f


def f_shape(x, c):
    k = h_shape(x); y = np.sum(x * x) * k
    return y, dlgradient(y, x), k
def f_ifexp(x, c):
    k = h_ifexp(c); y = np.sum(x * x) * k
    return y, dlgradient(y, x), k
def f_item(x, c):
    k = h_item(c); y = np.sum(x * x) * k
    return y, dlgradient(y, x), k
def f_branch(x, c):
    k = h_branch_on_x(x, c); y = np.sum(x * x) * k
    return y, dlgradient(y, x), k
def f_loop(x, c):
    k = h_loop(c); y = np.sum(x * x) * k
    return y, dlgradient(y, x), k
def f_while(x, c):
    k = h_while(c); y = np.sum(x * x) * k
    return y, dlgradient(y, x), k
def f_size(x, c):
    k = h_size(x); y = np.sum(x * x) * k
    return y, dlgradient(y, x), k
def f_inline(x, c):
    k = x.shape[0] * 0.5 + x.ndim
    for _ in range(2):
        c = c * 0.5
    y = np.sum(x * x) * k * c
    return y, dlgradient(y, x), k, c
def f_in_dict(x, c):
    k = h_shape(x); y = np.sum(x * x) * k
    return {"y": y, "k": k, "g": dlgradient(y, x)}


W1_CASES = [(f_shape, h_shape, "x"), (f_ifexp, h_ifexp, "c"), (f_item, h_item, "c"),
            (f_branch, h_branch_on_x, "xc"), (f_loop, h_loop, "c"), (f_while, h_while, "c"), (f_size, h_size, "x")]


@pytest.mark.parametrize("f, helper, given", W1_CASES, ids=[c[0].__name__ for c in W1_CASES])
def test_w1_helper_float_stays_float(f, helper, given):
    c = 2.5
    y, g, k = dlfeval(f, dlarray(X0), c)
    expected = helper(*{"x": (X0,), "c": (c,), "xc": (X0, c)}[given])
    assert type(k) is type(expected) is float and k == expected
    assert_close(D(y), np.sum(X0 * X0) * expected)
    assert_close(D(g), numerical_gradient(lambda v: float(np.sum(v * v) * expected), [X0], 0))


def test_w1_inline_and_rebound_parameter():
    y, g, k, c = dlfeval(f_inline, dlarray(X0), 2.5)
    assert type(k) is float and k == 2.0 and type(c) is float and c == 0.625
    assert_close(D(g), numerical_gradient(lambda v: float(np.sum(v * v) * 2.0 * 0.625), [X0], 0))


def test_w1_in_returned_dict():
    out = dlfeval(f_in_dict, dlarray(X0), 2.5)
    assert type(out["k"]) is float and out["k"] == 1.0
    assert type(out["y"]).__name__ == "dlarray"


def f_list_appended(x):
    L = [1.0]
    L.append(np.sum(x * x))
    y = L[1] * 2.0
    return y, dlgradient(y, x), L[1]


def test_w1_list_item_changed_is_no_float():
    # (a list bound to a name may have been given a dlarray: its item stays a dlarray)
    y, g, item = dlfeval(f_list_appended, dlarray(X0))
    assert type(y).__name__ == "dlarray" and type(item).__name__ == "dlarray"
    assert_close(D(g), 4.0 * X0)


# ---- F1: np.mean of a name rebound from a helper's tuple to its item, stored in the caller's dict ----------

def net(x):
    return np.tanh(x), 0


def f1_store(x, st):
    out = net(x)
    out = out[0]
    st["mean_act"] = np.mean(out)
    st["sum_act"] = np.sum(out)
    y = np.sum(out ** 2)
    return y, dlgradient(y, x)


def test_f1_store_mean_of_rebound_name():
    st = {}
    y, g = dlfeval(f1_store, dlarray(X0), st)
    assert type(st["mean_act"]).__name__ == "dlarray" and type(st["sum_act"]).__name__ == "dlarray"
    assert_close(D(st["mean_act"]), np.mean(np.tanh(X0)))
    assert_close(D(g), numerical_gradient(lambda v: float(np.sum(np.tanh(v) ** 2)), [X0], 0))


def f1_second(x, st):
    st = dict(st)
    out = net(x)
    out = out[0]
    st["mean_act"] = np.mean(out)
    g = dlgradient(np.sum(out ** 2), x)
    s = np.sum(g * g)
    return s, dlgradient(s, x), st


def test_f1_second_order():
    s, g2, st = dlfeval(f1_second, dlarray(X0), {})

    def plain(v):
        t = np.tanh(v)
        return float(np.sum((2 * t * (1 - t * t)) ** 2))
    assert_close(D(s), plain(X0))
    assert_close(D(g2), numerical_gradient(plain, [X0], 0), rtol=1e-4)
    assert_close(D(st["mean_act"]), np.mean(np.tanh(X0)))


# ---- F2: second order through a method whose loop calls self's methods ------------------------------------

class Model:
    def __init__(self, w, b, v):
        self.w, self.b, self.v = w, b, v

    def lin(self, h):
        return h @ self.w + self.b

    def scale(self, h, k=0.5):
        return h * k + self.v

    def block(self, h):
        return self.scale(np.tanh(self.lin(h)), k=0.3)

    def deep(self, h, n=2):
        for _ in range(n):
            h = self.block(h)
        return h


class Counting(Model):
    def scale(self, h, k=0.5):
        self.count[0] += 1
        return h * k + self.v * self.count[0]


def f2_second(P, x):
    y = np.sum(P.deep(x))
    g = dlgradient(y, x)
    s = np.sum(g * g)
    return s, dlgradient(s, x)


_R = np.random.default_rng(0)
W2, B2, V2, XM = _R.standard_normal((4, 4)), _R.standard_normal(4), _R.standard_normal((3, 4)), \
    _R.standard_normal((3, 4))


def _first_gradient(x):
    h, hs = x, []
    for _ in range(2):
        hs.append(h)
        h = np.tanh(h @ W2 + B2) * 0.3 + V2
    g = np.ones_like(h)
    for h0 in reversed(hs):
        a = np.tanh(h0 @ W2 + B2)
        g = (g * 0.3 * (1 - a * a)) @ W2.T
    return g


def test_f2_second_order_through_method_loop():
    P = Model(dlarray(W2), dlarray(B2), dlarray(V2))
    s, g2 = dlfeval(f2_second, P, dlarray(XM))
    plain = lambda v: float(np.sum(_first_gradient(v) ** 2))
    assert_close(D(s), plain(XM))
    assert_close(D(g2), numerical_gradient(plain, [XM], 0), rtol=1e-4, atol=1e-6)


def test_f2_a_subclass_changing_self_is_still_refused():
    P = Counting(dlarray(W2), dlarray(B2), dlarray(V2))
    P.count = [0]
    with pytest.raises(sct.SctError) as info:
        dlfeval(f2_second, P, dlarray(XM))
    assert "test_dfix56_s56.py" in str(info.value) and "count" in str(info.value)


# ---- F3: a def in a loop reading an unpacked tuple argument ------------------------------------------------

def f3(P, x):
    w, b = P
    t = x
    for i in range(2):
        def g(z):
            return z * (i + 0.5) + P[1]
        t = g(t)
    loss = np.sum(t ** 2) + np.sum((x @ w + b) ** 2)
    return loss, dlgradient(loss, b)


def f3_plain(w, b, x):
    t = x
    for i in range(2):
        t = t * (i + 0.5) + b
    return float(np.sum(t ** 2) + np.sum((x @ w + b) ** 2))


def test_f3_def_in_loop_reading_the_tuple():
    w, b, x = np.eye(2), np.array([0.1, 0.2]), np.ones((3, 2))
    loss, g = dlfeval(f3, (dlarray(w), dlarray(b)), x)
    assert_close(D(loss), f3_plain(w, b, x))
    assert_close(D(g), numerical_gradient(lambda v: f3_plain(w, v, x), [b], 0))


def f3_nonlocal(P, x):
    w, b = P
    t = x

    def g(z):
        nonlocal P
        P = (P[0], P[1] * 2.0)
        return z + P[1]
    t = g(t)
    loss = np.sum(t ** 2) + np.sum((x @ w + b) ** 2)
    return loss, dlgradient(loss, b)


def test_f3_nonlocal_rebinding_exact():
    w, b, x = np.eye(2), np.array([0.1, 0.2]), np.ones((3, 2))
    plain = lambda v: float(np.sum((x + 2 * v) ** 2) + np.sum((x @ w + v) ** 2))
    try:
        loss, g = dlfeval(f3_nonlocal, (dlarray(w), dlarray(b)), x)
    except sct.SctError as e:
        assert "test_dfix56_s56.py" in str(e)
        return
    assert_close(D(loss), plain(b))
    assert_close(D(g), numerical_gradient(plain, [b], 0))


# ---- R1, R2: the messages --------------------------------------------------------------------------------

def r1_out_view(x):
    t = x * 1.0
    np.multiply(t[:, :2], 2.0, out=t[:, :2])
    y = np.sum(t ** 2)
    return y, dlgradient(y, x)


def test_r1_out_into_a_view_says_what_is_refused_first():
    with pytest.raises(sct.SctError) as info:
        dlfeval(r1_out_view, dlarray(np.ones((2, 3))))
    text = str(info.value)
    assert "test_dfix56_s56.py" in text and "line" in text
    body = text.split(": ", 1)[1]
    assert body.startswith("`multiply(..., out=...)`: numpy's out= writes the result into an array in place")
    assert "t[:, :2] = multiply(...)" in text and "does not match its signature" not in text


def r2_rows(x):
    t = x * 1.0
    rows = [t[0:1], t[1:2]]
    for r_ in rows:
        r_ += 5.0
    y = np.sum(t * x)
    return y, dlgradient(y, x)


def test_r2_no_comma_before_semicolon():
    with pytest.raises(sct.SctError) as info:
        dlfeval(r2_rows, dlarray(np.array([1.0, 2.0, 3.0])))
    text = str(info.value)
    assert "test_dfix56_s56.py" in text and "r_ +=" in text
    assert ",;" not in text and ",," not in text
