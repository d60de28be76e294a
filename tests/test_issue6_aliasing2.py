"""Issue 6 (aliasing, second pass): augmented assignment, copies of containers, list adjoints.

``t += v`` changes an array (list) in place in Python and rebinds a number; sct computes a new
value, which is the same program only when nothing else sees the old object.  Each program
runs under dlfeval and as plain Python (``dlgradient`` swapped for a stub): values and the
caller's arguments must agree and gradients match central differences, or sct must refuse
with a CompileError naming this file and the line.
"""
import copy
import dataclasses
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import D, assert_close, numerical_gradient


# --- augmented assignment ------------------------------------------------------------------------

def aug_alias_arg(x):
    y0 = x
    y0 += 1.0
    y = np.sum(x * x)
    return y, dlgradient(y, x)


def aug_arg(x):
    x *= 2.0
    y = np.sum(x)
    return y, dlgradient(y, x)


def aug_arg_slice(x):
    x[1:] += 1.0
    y = np.sum(x * x)
    return y, dlgradient(y, x)


def aug_arg_view(x):
    v = x.T
    v += 1.0
    y = np.sum(v * v)
    return y, dlgradient(y, x)


def aug_second_name(x):
    z = x * 1.0
    w = z
    z += x
    y = np.sum(w * x)
    return y, dlgradient(y, x)


def aug_view(x):
    z = x * 1.0
    v = z[1:]
    v += 1.0
    y = np.sum(z * x)
    return y, dlgradient(y, x)


def aug_dict_shared(x):
    a = x * 1.0
    p = {"w": a}
    p["w"] += x
    y = np.sum(a * x)
    return y, dlgradient(y, x)


def aug_list_repeated(x):
    a = x * 1.0
    l = [a] * 2
    l[0] += x
    y = np.sum(l[1] * x)
    return y, dlgradient(y, x)


def aug_list_second_name(x):
    l = [x[0]]
    m = l
    l += [x[1]]
    y = m[0] * m[-1]
    return y, dlgradient(y, x)


def aug_copied_dict_item(x):
    p = {"w": x * 1.0, "b": x[0]}
    q = dict(p)
    q["w"] += x
    y = np.sum(p["w"] * x)
    return y, dlgradient(y, x)


def aug_accumulators(x):
    acc = 0.0
    for i in range(3):
        acc += x[i] * x[i]
    z = np.zeros(3)
    z += x
    z *= x
    loss = 0.0
    loss += np.sum(z)
    h = 0
    for i in range(2):
        h += 1
        loss += acc * h
    return loss, dlgradient(loss, x)


def aug_fresh_items(x):
    out = np.zeros(3)
    for i in range(3):
        out[i] += x[i] * 2.0
    out[1:] += x[:2]
    m = np.zeros((2, 3))
    m[0, :] += x
    m[1] = m[0] * 2.0
    y = np.sum(out * x) + np.sum(m * m)
    return y, dlgradient(y, x)


def aug_copy(x):
    y0 = x.copy()
    y0 += 1.0
    y0 *= x
    y = np.sum(y0)
    return y, dlgradient(y, x)


def aug_dict_items(x):
    p = {"w": x * 1.0, "b": 0.0}
    p["w"] -= 0.1 * x
    p["b"] += 1.0
    y = np.sum(p["w"] * x) + p["b"]
    return y, dlgradient(y, x)


def aug_list_items(x):
    ws = [x * 1.0, x * 2.0]
    for i in range(2):
        ws[i] += x * (i + 1.0)
    y = np.sum(ws[0] * ws[1])
    return y, dlgradient(y, x)


def aug_list_and_tuple(x):
    l = []
    l += [x[0]]
    l += [x[1] * 2.0]
    t = (x[2],)
    t += (x[0] * 3.0,)
    y = l[0] * l[1] + t[0] * t[1]
    return y, dlgradient(y, x)


def aug_rebound_name(x):
    z = x
    z = z * 2.0
    z += 1.0
    z /= np.sum(z)
    y = np.sum(z * x)
    return y, dlgradient(y, x)


class Counter:
    def __init__(self):
        self.count = 0

    def tick(self, v):
        self.count += 1
        return v * self.count


def aug_self_count(x):
    c = Counter()
    y = np.sum(c.tick(x)) + np.sum(c.tick(x * x))
    return y, dlgradient(y, x)


def _sumsq(v):
    s = 0.0
    for i in range(3):
        s += v[i] * v[i]
    return s


def aug_in_helper(x):
    y = 0.0
    for k in range(2):
        y += _sumsq(x * (k + 1.0))
    return y, dlgradient(y, x)


def _bump(a):
    a += 1.0
    return a


def aug_helper_arg(x):
    z = x * 1.0
    w = _bump(z)
    y = np.sum(w * z)
    return y, dlgradient(y, x)


def aug_helper_param(x):
    w = _bump(x)            # (dlfeval's caller's array changed in place)
    y = np.sum(w * x)
    return y, dlgradient(y, x)


# --- copies of containers ------------------------------------------------------------------------

def _params(x):
    return {"w": x * 1.0, "b": x[0]}


def copy_dict_comprehension(x):
    p = _params(x)
    p = {k: v for k, v in p.items()}
    p["w"] = p["w"] * 2.0
    y = np.sum(p["w"]) + p["b"]
    return y, dlgradient(y, x)


def copy_dict_builtin(x):
    p = _params(x)
    q = dict(p)
    q["w"] = q["w"] * 2.0
    y = np.sum(q["w"]) * q["b"] + np.sum(p["w"])
    return y, dlgradient(y, x)


def copy_dict_method(x):
    p = _params(x)
    q = p.copy()
    q["w"] = q["w"] * 2.0
    y = np.sum(q["w"]) * q["b"] + np.sum(p["w"])
    return y, dlgradient(y, x)


def copy_list_forms(x):
    l = [x[0], x * 2.0]
    a = list(l)
    b = l.copy()
    c = l[:]
    t = tuple(l)
    a[0] = a[0] * 3.0
    b[0] = b[0] * 5.0
    c[0] = c[0] * 7.0
    y = a[0] * l[0] + b[0] + c[0] * t[0] + np.sum(a[1] * b[1])
    return y, dlgradient(y, x)


def copy_module(x):
    p = _params(x)
    q = copy.copy(p)
    r = copy.deepcopy(p)
    q["b"] = q["b"] * 2.0
    r["b"] = r["b"] * 3.0
    y = np.sum(q["w"]) * q["b"] + p["b"] + r["b"] * np.sum(r["w"])
    return y, dlgradient(y, x)


def copy_dict_keywords(x):
    p = _params(x)
    q = dict(p, w=x * 3.0)
    r = {**p, "b": x[2] * 2.0}
    s = {"a": x[1], **q}
    y = np.sum(q["w"]) * q["b"] + np.sum(p["w"]) + r["b"] * s["a"] + np.sum(s["w"])
    return y, dlgradient(y, x)


def copy_starred(x):
    l = [x[0], x[1]]
    t = (x[2],)
    m = [x[0] * 2.0, *l, *t, x[1] * x[2]]
    u = (*m, x[0])
    v = [*x, x[0]]
    y = m[0] * m[1] + m[2] * 3.0 + m[3] * m[4] + u[-1] * 7.0 + v[0] * v[3]
    return y, dlgradient(y, x)


def copy_shares_items(x):
    p = _params(x)
    q = dict(p)
    q["w"][0] = 7.0
    y = np.sum(p["w"] * x)
    return y, dlgradient(y, x)


def copy_list_shares_items(x):
    l = [x * 1.0, x * 2.0]
    m = list(l)
    m[0][1] = 7.0
    y = np.sum(l[0] * x)
    return y, dlgradient(y, x)


def rng_method(x):
    a = x * 2.0
    y = np.sum(np.random.default_rng(0).random(3) * a)
    return y, dlgradient(y, x)


# --- list adjoints ---------------------------------------------------------------------------------

def list_empty_slice(x):
    l = [x[0]]
    l = l[:0] + [x[1] * 2.0] + l[0:]
    y = l[0] * 3.0 + l[1]
    return y, dlgradient(y, x)


def list_slices(x):
    l = [x[0], x[1] * 2.0, x[2] * 3.0, x[0] * x[1]]
    a = l[::2]
    b = l[::-1]
    c = l[-3:-1]
    d = l[1::2]
    e = l[2:] + l[:2]
    y = a[0] * a[1] + b[0] * 5.0 + c[0] * c[1] + d[1] * 7.0 + b[-1] + e[0] * e[3]
    return y, dlgradient(y, x)


def list_repeat(x):
    l = [x[0], x[1] * 2.0]
    m = l * 2
    n = 3 * l
    y = m[0] * 1.0 + m[1] * 2.0 + m[2] * 3.0 + m[3] * 4.0 + n[0] * n[3] + n[5]
    return y, dlgradient(y, x)


def list_mutators(x):
    l = [x[0]]
    l += [x[1] * 2.0, x[2]]
    m = [x[1], x[2] * x[0]]
    l.extend(m)
    v = l.pop()
    y = l[0] * l[1] + l[2] + v * 3.0 + l[3] * m[0]
    return y, dlgradient(y, x)


def list_nested(x):
    l = [[x[0], x[1]], [x[2] * 2.0]]
    m = l[0] + l[1]
    e = m[3:]
    k = e + m + e
    y = m[0] * m[2] + l[0][1] * 3.0 + k[1] * k[2]
    return y, dlgradient(y, x)


def list_of_arrays(x):
    l = [x * 1.0, x * 2.0]
    m = l[:1] + l
    t = (x * 3.0,) + tuple(l)
    y = np.sum(m[0] * m[2]) + np.sum(m[1]) + np.sum(t[0] * t[2])
    return y, dlgradient(y, x)


# --- everyday programs (red team) ------------------------------------------------------------------

def mlp_dict(x):
    p = {"W1": np.outer(x, x) * 0.5, "b1": x * 0.1, "W2": x * 2.0}
    h = np.tanh(p["W1"] @ x + p["b1"])
    out = np.sum(h * p["W2"])
    reg = 0.0
    for k in p:
        reg += 0.01 * np.sum(p[k] ** 2)
    y = out + reg
    return y, dlgradient(y, x)


def rows_by_index(x):
    m = np.zeros((3, 3))
    for i in range(3):
        m[i] = x * (i + 1.0)
    m[:, 0] = x ** 2
    y = np.sum(m @ x)
    return y, dlgradient(y, x)


def rows_by_append(x):
    rows = []
    for i in range(3):
        rows.append(x * (i + 1.0))
    m = np.stack(rows)
    y = np.sum(m.T @ x)
    return y, dlgradient(y, x)


def slices_of_zeros(x):
    z = np.zeros(5)
    z[1:4] = x
    z[0] = x[2]
    z[-1] = z[1] * z[2]
    y = np.sum(z * z)
    return y, dlgradient(y, x)


def reshape_and_transpose(x):
    z = x.reshape(3, 1)
    z = z.T
    w = z @ z.T + np.sum(z.reshape(-1) * x)
    y = np.sum(w)
    return y, dlgradient(y, x)


def colon_write_fresh(x):
    z = x * 2.0
    z[:] = x ** 2
    y = np.sum(z * x)
    return y, dlgradient(y, x)


def swaps(x):
    a, b = x[0], x[1] * 2.0
    a, b = b, a
    l = [x * 1.0, x * 2.0]
    l[0], l[1] = l[1], l[0]
    y = a * 3.0 + b + np.sum(l[0] * np.arange(3.0))
    return y, dlgradient(y, x)


def list_modified_in_loop(x):
    ws = [x * 1.0, x * 2.0, x * 3.0]
    for i in range(3):
        ws[i] = ws[i] * x[i]
    for i in range(1, 3):
        ws[i] = ws[i] + ws[i - 1]
    y = np.sum(ws[2])
    return y, dlgradient(y, x)


def sgd_steps(x):
    p = {"w": x * 1.0}
    for _ in range(3):
        g = 2.0 * p["w"]
        p["w"] = p["w"] - 0.1 * g
    y = np.sum(p["w"] * x)
    return y, dlgradient(y, x)


def normalise_in_place(x):
    s = np.exp(x)
    s /= np.sum(s)
    y = np.sum(s * np.arange(3.0))
    return y, dlgradient(y, x)


def running_mean(x):
    mean = np.zeros(3)
    for k in range(4):
        mean += (x * k - mean) / (k + 1.0)
    y = np.sum(mean ** 2)
    return y, dlgradient(y, x)


def shared_then_read(x):
    a = np.ones(3)
    b = a
    b += x
    y = np.sum(a * x)
    return y, dlgradient(y, x)


def shared_dead(x):
    a = np.ones(3)
    b = a
    b += x
    y = np.sum(b * x)
    return y, dlgradient(y, x)


@dataclasses.dataclass
class Params:
    w: np.ndarray
    b: float


def dataclass_built(x):
    p = Params(w=x * 2.0, b=0.5)
    y = np.sum(p.w * x) + p.b
    return y, dlgradient(y, x)


def scalar_aug_of_sum(x):
    total = np.sum(x)
    total += 1.0
    total *= x[0]
    y = total
    return y, dlgradient(y, x)


def second_derivative_accumulator(x):
    acc = 0.0
    for i in range(3):
        acc += x[i] ** 3
    l = [x[0]]
    l = l[:0] + [x[1] * x[0]] + l * 2
    g = dlgradient(acc + l[0] * l[2], x)
    y = np.sum(g * g)
    return y, dlgradient(y, x)


X0 = np.array([0.3, -1.2, 0.7])


def _plain(f, x):
    g = globals()
    real = g["dlgradient"]
    g["dlgradient"] = lambda *a, **k: None
    try:
        return f(x)[0]
    finally:
        g["dlgradient"] = real


EXACT = ["aug_accumulators", "aug_fresh_items", "aug_copy", "aug_dict_items", "aug_list_items",
         "aug_list_and_tuple", "aug_rebound_name", "aug_self_count", "aug_in_helper",
         "copy_dict_comprehension", "copy_dict_builtin", "copy_dict_method", "copy_list_forms",
         "copy_module", "copy_dict_keywords", "copy_starred", "rng_method",
         "list_empty_slice", "list_slices", "list_repeat", "list_mutators", "list_nested",
         "list_of_arrays", "mlp_dict", "rows_by_index", "rows_by_append", "slices_of_zeros",
         "reshape_and_transpose", "colon_write_fresh", "swaps", "list_modified_in_loop", "sgd_steps",
         "normalise_in_place", "running_mean", "shared_dead", "scalar_aug_of_sum",
         # a second name surely the same object follows the change in place (sct/copy_aliases.py)
         "aug_second_name", "aug_list_second_name", "shared_then_read",
         # a view by constant slices is written back into its array (sct/copy_aliases.py)
         "aug_view"]


@pytest.mark.parametrize("name", EXACT)
def test_value_arguments_and_gradient_match_python(name):
    f = globals()[name]
    x = X0.copy()
    xd = dlarray(x)
    y, g = dlfeval(f, xd)
    plain_x = X0.copy()
    expected = _plain(f, plain_x)
    np.testing.assert_array_equal(np.asarray(xd.data), plain_x)      # the caller's array as in Python
    assert_close(np.asarray(y.data), expected, rtol=1e-12, atol=1e-12, what=name)
    numeric = numerical_gradient(lambda v: float(_plain(f, np.array(v, dtype=float))), [X0.copy()], 0)
    assert_close(np.asarray(g.data), numeric, rtol=1e-5, atol=1e-6, what=name)


def test_second_derivative_through_accumulators_and_list_adjoints():
    _, h = dlfeval(second_derivative_accumulator, dlarray(X0.copy()))

    def first(v):
        def inner(u):
            l = [u[0]]
            l = l[:0] + [u[1] * u[0]] + l * 2
            return float(np.sum(u ** 3) + l[0] * l[2])
        return numerical_gradient(inner, [v], 0, step=1e-5)
    expected = numerical_gradient(lambda v: float(np.sum(first(v) ** 2)), [X0.copy()], 0, step=1e-4)
    assert_close(np.asarray(h.data), expected, rtol=1e-3, atol=1e-3)


REFUSED = {
    "aug_alias_arg": ("y0 +=", "x is an argument"),
    "aug_arg": ("x *=", "x is an argument"),
    "aug_arg_slice": ("x[...]", "x is an argument"),
    "aug_arg_view": ("v +=", "x is an argument"),
    "aug_dict_shared": ("p[...] +=", "a may be the same object"),
    "aug_list_repeated": ("l[...] +=", "the same object at another place"),
    "aug_copied_dict_item": ("q[...] +=", "changes the array"),
    "aug_helper_param": ("a +=", "the caller's object would change too"),
    "copy_shares_items": ("q['w']", "would change too"),
    "copy_list_shares_items": ("m[0]", "l may be the same object"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unprovable_in_place_changes_are_refused_at_their_line(name):
    f = globals()[name]
    needle, reason = REFUSED[name]
    with pytest.raises(sct.CompileError) as info:
        dlfeval(f, dlarray(X0.copy()))
    err = info.value
    assert err.filename == __file__
    lines, start = inspect.getsourcelines(f)
    if name == "aug_helper_param":
        lines, start = inspect.getsourcelines(_bump)
    assert start <= err.lineno < start + len(lines), (err.lineno, start)
    assert needle in str(err) and reason in str(err), str(err)


def test_helper_changing_a_local_of_its_caller_in_place_runs():
    """``w = _bump(z)`` with ``a += 1.0`` in ``_bump`` and ``z`` the caller's own array (was refused:
    "a is an argument of _bump()"): the helper is read in place (stop 43), so ``z`` and ``w`` are
    the one array changed, as in Python."""
    y, g = dlfeval(aug_helper_arg, dlarray(X0.copy()))
    z = X0 * 1.0
    w = _bump(z)
    assert w is z
    np.testing.assert_allclose(D(y), np.sum(w * z), rtol=1e-12)
    np.testing.assert_allclose(D(g), 2 * (X0 + 1.0), rtol=1e-12)


def test_python_changes_these_in_place():
    """The refused programs do differ from value semantics in plain Python (the refusals are
    not false): each changes an object another name, the caller or a container still sees."""
    x = X0.copy()
    _plain(aug_alias_arg, x)
    assert not np.array_equal(x, X0)
    a = X0 * 1.0
    l = [a] * 2
    l[0] += X0
    assert l[1] is l[0] and np.array_equal(l[1], 2 * X0)


# --- more everyday programs (red team, second round) ------------------------------------------------

def _layer(v, s):
    return np.tanh(v * s)


def _layer_named(v, w):
    z = v * w
    z = np.tanh(z)
    return z


KEPT = []


def _layer_kept(v):
    out = np.tanh(v)
    KEPT.append(out)
    return out


def helper_result_in_place(x):
    h = _layer(x, 2.0)
    h += 1.0
    g = _layer_named(x, 0.5)
    g[0] = 0.0
    y = np.sum(h * x) + np.sum(g * g)
    return y, dlgradient(y, x)


def helper_result_kept(x):
    h = _layer_kept(x)
    h += 1.0
    y = np.sum(h * x)
    return y, dlgradient(y, x)


def appended_then_changed(x):
    hs = []
    h = np.zeros(3)
    for t in range(3):
        h += x * t
        hs.append(h)
    y = np.sum(hs[0] * hs[2])
    return y, dlgradient(y, x)


def gradient_buffers(x):
    grads = {"w": np.zeros(3)}
    for i in range(2):
        grads["w"] += x * i
    g = np.zeros_like(x)
    g[1:] = x[:-1]
    g += x
    y = np.sum(grads["w"] * x) + np.sum(g * g)
    return y, dlgradient(y, x)


def matrix_built_in_place(x):
    a = np.eye(3)
    a[0, 1] = x[0]
    a[1, :] *= x[1]
    a += np.outer(x, x)
    b = np.outer(x, x)
    b = b.T
    b[0, 0] = 1.0
    y = np.sum(a @ x) + np.sum(b * b)
    return y, dlgradient(y, x)


def recurrent_states(x):
    hs = []
    h = np.zeros(3)
    for t in range(3):
        h = np.tanh(h + x * t)
        hs.append(h)
    out = x * 2.0
    res = out
    out = np.tanh(out)
    out += res
    y = np.sum(hs[-1]) + np.sum(hs[0] * hs[1]) + np.sum(out)
    return y, dlgradient(y, x)


def comprehensions_and_dicts(x):
    ws = [x * (k + 1.0) for k in range(3)]
    for i in range(3):
        ws[i] += x
    p = {"w": x * 1.0, "b": x[0] * 1.0}
    q = {k: v * 0.5 for k, v in p.items()}
    q["w"] = q["w"] + p["w"]
    d = dict(w=x * 2.0, b=x[1])
    s = 0.0
    i = 0
    while i < 3:
        s += x[i]
        i += 1
    y = np.sum(ws[0] * ws[2]) + np.sum(q["w"]) * q["b"] + np.sum(d["w"]) * d["b"] + s * s
    return y, dlgradient(y, x)


EXACT_MORE = ["helper_result_in_place", "gradient_buffers", "matrix_built_in_place", "recurrent_states",
              "comprehensions_and_dicts"]


@pytest.mark.parametrize("name", EXACT_MORE)
def test_more_everyday_programs_match_python(name):
    _check_exact(name)


def _check_exact(name):
    f = globals()[name]
    xd = dlarray(X0.copy())
    y, g = dlfeval(f, xd)
    plain_x = X0.copy()
    expected = _plain(f, plain_x)
    np.testing.assert_array_equal(np.asarray(xd.data), plain_x)
    assert_close(np.asarray(y.data), expected, rtol=1e-12, atol=1e-12, what=name)
    numeric = numerical_gradient(lambda v: float(_plain(f, np.array(v, dtype=float))), [X0.copy()], 0)
    assert_close(np.asarray(g.data), numeric, rtol=1e-5, atol=1e-6, what=name)


@pytest.mark.parametrize("name,needle,reason", [
    ("helper_result_kept", "h +=", "would change too"),
    ("appended_then_changed", "h +=", "hs holds it"),
])
def test_more_refusals(name, needle, reason):
    with pytest.raises(sct.CompileError) as info:
        dlfeval(globals()[name], dlarray(X0.copy()))
    assert info.value.filename == __file__
    assert needle in str(info.value) and reason in str(info.value), str(info.value)


# --- formerly false refusals ----------------------------------------------------------------------

def sum_then_second_name(x):
    loss = np.sum(x ** 2)
    total = loss
    total += 0.1 * np.sum(x)          # a numpy scalar: += rebinds, loss is unchanged
    y = total + loss
    return y, dlgradient(y, x)


class _Counted:
    def __init__(self):
        self.count = 0


def counter_on_local_object(x):
    c = _Counted()
    c.count += 1                      # an int: += rebinds
    y = np.sum(x) * c.count
    return y, dlgradient(y, x)


def tuple_unpacked_then_changed(x):
    a, b = x[0] * 1.0, x[1:] * 2.0
    b += a                            # b is its own new array
    y = np.sum(b) * a
    return y, dlgradient(y, x)


@pytest.mark.parametrize("name", ["sum_then_second_name", "counter_on_local_object",
                                  "tuple_unpacked_then_changed"])
def test_formerly_false_refusals(name):
    # np.sum's result and an int attribute are numbers (`+=` rebinds them); each name of
    # `a, b = e1, e2` holds its own new array
    _check_exact(name)


def test_dataclass_built_with_keywords():
    _check_exact("dataclass_built")


def comprehension_reads_its_name(x):
    p = {"w": x * 1.0, "b": x[0]}
    p = {k: p[k] * 2.0 for k in p}
    l = [x[0], x[1]]
    l = [v * l[0] for v in l]
    p["w"] = p["w"] + l[1]
    y = np.sum(p["w"]) * p["b"] + l[0]
    return y, dlgradient(y, x)


def test_comprehension_reads_the_old_value_of_its_name():
    _check_exact("comprehension_reads_its_name")


def _entry_dict(p, x):
    p = {k: v for k, v in p.items()}
    p["w"] = p["w"] * x
    y = np.sum(p["w"]) + p["b"]
    return y, dlgradient(y, x)


def test_dict_argument_rebuilt_then_written():
    p = {"w": np.array([1.0, 2.0, 3.0]), "b": 0.5}
    y, g = dlfeval(_entry_dict, p, dlarray(X0.copy()))
    assert np.array_equal(p["w"], [1.0, 2.0, 3.0])          # the caller's dict is unchanged
    assert_close(np.asarray(y.data), 0.5 + np.sum(np.array([1.0, 2.0, 3.0]) * X0))
    assert_close(np.asarray(g.data), np.array([1.0, 2.0, 3.0]))
