"""False refusals found by fuzz52 (R1, R2, R4, m05): writes into fresh values that sct took for
possibly the arguments; each accepted case is checked against plain Python (value, arguments
unchanged) and central finite differences, and the aliasing cases stay refused or are exact."""
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

X0 = np.array([0.3, 0.5, 0.7])
Y0 = np.array([0.1, 0.2, 0.4])


def _fd(plain, args, i, h=1e-6):
    args = [np.array(a, dtype=float) for a in args]
    g = np.zeros_like(args[i])
    for j in range(args[i].size):
        up = [a.copy() for a in args]
        dn = [a.copy() for a in args]
        up[i].flat[j] += h
        dn[i].flat[j] -= h
        g.flat[j] = (plain(*up) - plain(*dn)) / (2 * h)
    return g


def _check(fn, plain, *args):
    """sct's value and gradients against the plain program, and the arguments left as plain
    Python leaves them."""
    before = [a.copy() for a in args]
    given = [a.copy() for a in args]
    expect = plain(*given)
    expect_args = given
    traced = [dlarray(a.copy()) for a in args]
    out = dlfeval(fn, *traced)
    L, grads = out[0], out[1:]
    if len(grads) == 1 and isinstance(grads[0], tuple):
        grads = grads[0]
    assert np.allclose(np.asarray(sct.extractdata(L)), expect, rtol=1e-12, atol=1e-12)
    for i, g in enumerate(grads):
        assert np.allclose(np.asarray(sct.extractdata(g)), _fd(plain, before, i), rtol=1e-6, atol=1e-7)
    for t, a in zip(traced, expect_args):
        assert np.array_equal(np.asarray(sct.extractdata(t)), a)


def _refused(fn, *args, match):
    """Refused with ``match``, naming the line of the in-place write (the last ``op=`` in fn)."""
    lines, first = inspect.getsourcelines(fn)
    line = first + max(i for i, text in enumerate(lines) if "= " in text and text.split("=")[0][-1:] in "+-*/")
    with pytest.raises(sct.CompileError, match=f"line {line}: {match}"):
        dlfeval(fn, *[dlarray(a.copy()) for a in args])


# --- R2: op= on a fresh item of a list or dict that holds an argument at another key ----------

def r2_list(x, y):
    lst = [x * 1.0, y]
    lst[0] += y
    L = np.sum(lst[0] ** 2)
    return L, dlgradient(L, x, y)


def r2_list_plain(x, y):
    lst = [x * 1.0, y]
    lst[0] += y
    return np.sum(lst[0] ** 2)


def r2_dict(x, y):
    d = {"u": x * 1.0, "v": y}
    d["u"] *= 2.0
    L = np.sum(d["u"] ** 2) + np.sum(d["v"])
    return L, dlgradient(L, x, y)


def r2_dict_plain(x, y):
    d = {"u": x * 1.0, "v": y}
    d["u"] *= 2.0
    return np.sum(d["u"] ** 2) + np.sum(d["v"])


def r2_negative(x, y):
    lst = [y, x * 1.0]
    lst[-1] *= y
    lst[1] += 1.0
    L = np.sum(lst[1] ** 2) + np.sum(lst[0] * x)
    return L, dlgradient(L, x, y)


def r2_negative_plain(x, y):
    lst = [y, x * 1.0]
    lst[-1] *= y
    lst[1] += 1.0
    return np.sum(lst[1] ** 2) + np.sum(lst[0] * x)


def r2_loop(x, y):
    d = {"u": x * 1.0, "v": y}
    for _ in range(3):
        d["u"] += d["v"]
    L = np.sum(np.sin(d["u"])) + np.sum(d["v"] ** 2)
    return L, dlgradient(L, x, y)


def r2_loop_plain(x, y):
    d = {"u": x * 1.0, "v": y}
    for _ in range(3):
        d["u"] += d["v"]
    return np.sum(np.sin(d["u"])) + np.sum(d["v"] ** 2)


@pytest.mark.parametrize("fn, plain", [(r2_list, r2_list_plain), (r2_dict, r2_dict_plain),
                                       (r2_negative, r2_negative_plain), (r2_loop, r2_loop_plain)])
def test_fresh_item_next_to_argument_is_exact(fn, plain):
    _check(fn, plain, X0, Y0)


def r2_same_item_is_argument(x, y):
    lst = [x * 1.0, y]
    lst[1] += x                 # changes the caller's y
    L = np.sum(lst[1] ** 2)
    return L, dlgradient(L, x, y)


def r2_stored_argument(x, y):
    lst = [x * 1.0, y]
    lst[0] = y                  # key 0 now holds y itself
    lst[0] += x
    L = np.sum(lst[0] ** 2)
    return L, dlgradient(L, x, y)


def r2_twice(x, y):
    a = x * 1.0
    lst = [a, a]                # one object at both keys: lst[1] changes too
    lst[0] += y
    L = np.sum(lst[1] ** 2)
    return L, dlgradient(L, x, y)


def r2_named(x, y):
    a = x * 1.0
    lst = [a, y]
    lst[0] += y                 # a changes too, and is read later
    L = np.sum(a ** 2) + np.sum(lst[0])
    return L, dlgradient(L, x, y)


def r2_dict_equal_keys(x, y):
    d = {1: x * 1.0, True: y}   # one key: d[1] is y
    d[1] += x
    L = np.sum(d[1] ** 2)
    return L, dlgradient(L, x, y)


def r2_other_name(x, y):
    lst = [x * 1.0, y]
    m = lst
    m[0] = y
    lst[0] += x                 # lst[0] is y, through m
    L = np.sum(lst[0] ** 2)
    return L, dlgradient(L, x, y)


def r2_method(x, y):
    lst = [x * 1.0, y]
    lst.reverse()               # y moves to key 0
    lst[0] += x
    L = np.sum(lst[0] ** 2)
    return L, dlgradient(L, x, y)


@pytest.mark.parametrize("fn, match", [
    (r2_same_item_is_argument, r".*y is an argument"),
    (r2_stored_argument, r".*y is an argument"),
    (r2_twice, r".*(same object|a may be)"),
    (r2_named, r".*a may be the same object"),
    (r2_dict_equal_keys, r".*y is an argument"),
    (r2_other_name, r".*y is an argument"),
    (r2_method, r".*y is an argument"),
])
def test_item_that_may_be_another_object_stays_refused(fn, match):
    _refused(fn, X0, Y0, match=match)


# --- R1: a view of .copy() of an array sct could not tell was one ---------------------------------

def _twice(u):
    return u * 2.0


_twice_lambda = lambda u: np.tanh(u) * 2.0     # noqa: E731


def _as_list(u):
    return [u, u * 2.0]


def _view(u):
    return u[1:]


def r1_helper(x):
    t = _twice(x).copy()
    v = t[1:]
    v *= 2.0
    L = np.sum(t ** 2)
    return L, dlgradient(L, x)


def r1_helper_plain(x):
    t = _twice(x).copy()
    v = t[1:]
    v *= 2.0
    return np.sum(t ** 2)


def r1_float(x):
    t = (x * float(1)).copy()
    v = t[1:]
    v *= 2.0
    L = np.sum(t ** 2)
    return L, dlgradient(L, x)


def r1_float_plain(x):
    t = (x * float(1)).copy()
    v = t[1:]
    v *= 2.0
    return np.sum(t ** 2)


def r1_lambda(x):
    t = _twice_lambda(x).copy()
    v = t[1:]
    v[0] = 5.0
    L = np.sum(t ** 2)
    return L, dlgradient(L, x)


def r1_lambda_plain(x):
    t = _twice_lambda(x).copy()
    v = t[1:]
    v[0] = 5.0
    return np.sum(t ** 2)


def r1_asarray(x):
    t = np.asarray([x[0], 2 * x[1]]).copy()
    v = t[1:]
    v *= 3.0
    L = np.sum(t ** 2)
    return L, dlgradient(L, x)


def r1_asarray_plain(x):
    t = np.asarray([x[0], 2 * x[1]]).copy()
    v = t[1:]
    v *= 3.0
    return np.sum(t ** 2)


@pytest.mark.parametrize("fn, plain", [(r1_helper, r1_helper_plain), (r1_float, r1_float_plain),
                                       (r1_lambda, r1_lambda_plain), (r1_asarray, r1_asarray_plain)])
def test_view_of_copy_of_array_is_exact(fn, plain):
    _check(fn, plain, X0)


def r1_list_copy(x):
    t = _as_list(x).copy()      # a list's copy holds the same arrays: x changes
    v = t[0]
    v *= 2.0
    L = np.sum(t[1] ** 2)
    return L, dlgradient(L, x)


def r1_helper_view(x):
    w = _view(x)                # a view of x: x changes
    w *= 2.0
    L = np.sum(w ** 2)
    return L, dlgradient(L, x)


@pytest.mark.parametrize("fn", [r1_list_copy, r1_helper_view])
def test_copy_of_list_or_view_from_helper_stays_refused(fn):
    _refused(fn, X0, match=".*x is an argument")


# --- R4: comprehension lambdas called with a constant ----------------------------------------------

def r4(z):
    fs = [lambda u, k=k: u * k for k in range(1, 3)]
    a = fs[0](z)
    b = fs[1](1.5)
    L = np.sum(np.tanh(a + b))
    return L, dlgradient(L, z)


def r4_plain(z):
    fs = [lambda u, k=k: u * k for k in range(1, 3)]
    return np.sum(np.tanh(fs[0](z) + fs[1](1.5)))


def test_comprehension_lambda_with_constant_is_exact():
    _check(r4, r4_plain, X0)


def test_comprehension_lambda_with_constant_jvp():
    t0 = np.array([1.0, 0.5, -2.0])
    out, dot = sct.jvp(r4_plain, (X0,), (t0,))
    h = 1e-6
    assert np.allclose(np.asarray(sct.extractdata(out)), r4_plain(X0), rtol=1e-12)
    fd = (r4_plain(X0 + h * t0) - r4_plain(X0 - h * t0)) / (2 * h)
    assert np.allclose(np.asarray(sct.extractdata(dot)), fd, rtol=1e-6)


def _zero_first(v):
    v[0] = 0.0
    return 1.0


def r4_appended(z):
    w = np.array([1.0, 2.0, 3.0])
    t = z * w                 # its derivative reads w
    fs = [lambda u, k=k: u * k for k in range(1, 3)]
    fs.append(_zero_first)
    b = fs[2](w)              # changes w
    L = np.sum(t) + b
    return L, dlgradient(L, z)


def r4_changing_lambda(z):
    w = np.array([1.0, 2.0, 3.0])
    t = z * w
    fs = [lambda u, k=k: u.__setitem__(0, k) for k in range(1, 3)]
    fs[1](w)
    L = np.sum(t)
    return L, dlgradient(L, z)


@pytest.mark.parametrize("fn, match", [(r4_appended, r".*fs\[2\]"), (r4_changing_lambda, r".*fs\[1\]")])
def test_comprehension_call_that_may_change_stays_refused(fn, match):
    lines, first = inspect.getsourcelines(fn)
    line = first + next(i for i, text in enumerate(lines) if "fs[" in text and "](w)" in text)
    with pytest.raises(sct.CompileError, match=f"line {line}: {match}"):
        dlfeval(fn, dlarray(X0.copy()))


# --- m05: a refusal names np.newaxis as written -----------------------------------------------------

def m05_newaxis(x):
    t = x.copy()
    t[..., np.newaxis][1] *= 2.0
    L = np.sum(t ** 2)
    return L, dlgradient(L, x)


def test_refusal_spells_newaxis_as_written():
    lines, first = inspect.getsourcelines(m05_newaxis)
    with pytest.raises(sct.CompileError, match=f"line {first + 2}: .*t\\[\\.\\.\\., np\\.newaxis\\]") as err:
        dlfeval(m05_newaxis, dlarray(X0.copy()))
    assert "np_newaxis" not in str(err.value)


# --- R2 variants: the argument's fresh value at one key, a name of the other item read later ------

def r2_other_item_named(x):
    t1 = np.sin(x)
    d_ = {"u": t1 + 0.0, "v": t1}
    d_["u"] *= 2.0            # changes the fresh t1 + 0.0 only: t1 keeps its value
    L = np.sum(d_["u"] * t1) + np.sum(d_["v"])
    return L, dlgradient(L, x)


def r2_other_item_named_plain(x):
    t1 = np.sin(x)
    d_ = {"u": t1 + 0.0, "v": t1}
    d_["u"] *= 2.0
    return np.sum(d_["u"] * t1) + np.sum(d_["v"])


def r2_list_other_named(x):
    t = np.sin(x)
    lst = [t * 1.0, t]
    lst[0] += 1.0
    L = np.sum(lst[0] ** 2) + np.sum(t * lst[1])
    return L, dlgradient(L, x)


def r2_list_other_named_plain(x):
    t = np.sin(x)
    lst = [t * 1.0, t]
    lst[0] += 1.0
    return np.sum(lst[0] ** 2) + np.sum(t * lst[1])


@pytest.mark.parametrize("fn, plain", [(r2_other_item_named, r2_other_item_named_plain),
                                       (r2_list_other_named, r2_list_other_named_plain)])
def test_fresh_item_next_to_a_live_name_is_exact(fn, plain):
    _check(fn, plain, X0)
