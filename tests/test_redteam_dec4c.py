"""Red team (Dec 4c): Python semantics -- the value is what plain Python computes.

Programs written the way users write them, run with sct and without it (the same function on
numpy arrays), gradients against central differences.  What this found and fixed:

* ``"{:.3f}".format(loss)`` (a str's method with a traced argument) was refused ("no derivative
  rule for 'str.format'"), and at second order too (the generated pair calls it again);
  ``float(format(v, ".2f"))`` was refused; ``"%.3f" % loss`` was differentiated as the modulo
  operator and its gradient failed with a TypeError.  Text of a value now carries no derivative
  (as an f-string already did).
* ``math.fsum`` and ``math.prod`` had no rule; ``math.hypot`` took only two coordinates (the
  numpy alias).  They are now differentiated through Python equivalents (runtime/more_ops.py).
* ``list(zip(a, b))``, ``dict(zip(...))``, ``list(enumerate(xs))`` were refused ("no derivative
  rule for zip"); consumed at once, they are now comprehensions.
* ``mode in {"a", "b"}`` (a set display) and set comprehensions were refused; they are
  ``set([...])`` now.
* ``y[0], y[1] = y[1], y[0]`` (and ``t = y[0]; y[0] = ...``) on a 1-D local array was refused
  ("t may be the same object as y"): the items of locals whose rank is known (sct/points_to.py
  ``_local_ranks``) are numbers now.  And an argument bound again (``x = x.reshape(2, 2)``) kept
  the 1-D rank of its kind, so ``r = x[0]; x[0, 0] = 5.0`` gave a silent wrong value and
  gradient; it is refused now.
* ``for ... else`` / ``while ... else``, the walrus operator and ``match`` statements were
  refused; they are lowered now (a break flag; the assignment where Python evaluates it; ``if``
  blocks).  Walrus inside a comprehension and mapping/class patterns are still refused, at
  their line.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import sct
from gradcheck import check_grads, numerical_gradient, sct_gradients
from sct import dlarray, dlfeval, dlgradient, extractdata


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


X = np.array([0.3, -0.7, 1.1, 0.5])


def line_of(mark: str) -> int:
    lines, start = inspect.getsourcelines(__import__(__name__))
    return next(i + 1 for i, text in enumerate(lines) if text.rstrip().endswith(f"# MARK {mark}"))


# --- text of values ----------------------------------------------------------------------------

def fmt_method(x):
    s = np.sum(x ** 2)
    t = "{:.2f}|{:.1f}".format(s, x[0] * 2)
    a, b = t.split("|")
    return s * float(a) + float(b) * x[1] + 0.0 * len(t)


def fmt_percent(x):
    s = np.sum(x ** 2)
    return s * float("%.3f" % s) + float(("%.2f %d" % (x[1], 3))[:5]) * x[0]


def fmt_builtin(x):
    s = np.sum(x ** 2)
    t = str(s) + repr(x[0]) + ascii(x[1])
    return s * float(format(s, ".2f")) + x[2] * (len(t) > 0)


def fmt_join(x):
    s = np.sum(np.sin(x))
    line = ", ".join("{:.3f}".format(v) for v in x) + f" loss={s:.4f}"
    return s * len(line.split(","))


def fmt_print(x):
    s = np.sum(x ** 2)
    print("loss {:.4f}".format(s), "%.2f" % s, format(s, "8.3f"))
    return s


# --- math module and builtins ------------------------------------------------------------------

def math_fsum(x):
    return math.fsum([x[0], x[1] ** 2, x[2]]) * x[3] + math.fsum(v * v for v in x)


def math_fsum_cancel(x):
    return math.fsum([1e16, x[0], -1e16]) * x[1]          # a plain sum would give 0.0


def math_prod(x):
    return math.prod([x[0], x[1], x[2] + 1.0]) + math.prod((v + 1.0 for v in x), start=x[0]) \
        + math.prod([2, 3, 4]) * x[3]


def math_hypot(x):
    return math.hypot(x[0], x[1]) + math.hypot(x[0], x[1], x[2]) + math.hypot(*x)


def math_hypot_loop(x):
    s = 0.0
    for i in range(3):
        s = s + math.hypot(x[i], x[i + 1], 1.0)
    return s


def pow_builtin(x):
    return x[0] * (7 ** 2 % 5) + pow(-2, 3) * x[1] + pow(x[2], 2) + pow(2.0, x[3]) + pow(3, -1) * x[0]


# --- zip / enumerate consumed at once --------------------------------------------------------------

def list_zip(x):
    pairs = list(zip([x[0], x[1]], [x[2], x[3]]))
    return pairs[0][0] * pairs[1][1] + len(pairs) * pairs[1][0]


def dict_zip(x):
    d = dict(zip(["a", "b", "c"], [x[0], x[1] ** 2, x[2]]))
    return d["a"] * d["b"] + d["c"]


def list_enumerate(x):
    pairs = list(enumerate([x[0], x[1], x[2]]))
    return sum(k * v for k, v in pairs) + pairs[0][1] ** 2


def sorted_zip(x):
    pairs = sorted(zip([3, 1, 2], [x[0], x[1], x[2]]))
    return pairs[0][1] * 3.0 + pairs[2][1]


# --- for/while ... else --------------------------------------------------------------------------

def for_else_no_break(x):
    s = np.sum(x)
    for k in range(3):
        if k == 10:
            break
        s = s * 1.1 + np.sum(x ** 2)
    else:
        s = s - x[0] ** 2
    return s


def for_else_broken(x):
    s = np.sum(x)
    for k in range(3):
        if k == 1:
            break
        s = s * 1.1 + np.sum(x ** 2)
    else:
        s = s - 100.0 * x[0]
    return s


def for_else_search(x):
    best = None
    for v in [x[0], x[1], x[2], x[3]]:
        if v < -0.5:
            best = v
            break
    else:
        best = x[3]
    return best * np.sum(x)


def while_else(x):
    s = 0.0
    i = 0
    while i < 5:
        i += 1
        if i == 2:
            continue
        s = s + np.sum(x * i)
        if s > 100:
            break
    else:
        s = s * x[1]
    return s


def while_else_value_dependent(x):
    y = x.copy()
    n = 0
    while np.max(np.abs(y)) > 0.05:
        y = y * 0.5
        n += 1
        if n > 100:
            break
    else:
        y = y * n
    return np.sum(y * x)


def else_break_belongs_outside(x):
    # the break in the inner loop's else block ends the outer loop
    s = 0.0
    for i in range(4):
        for j in range(3):
            s = s + x[i] * x[j]
            if j == i:
                break
        else:
            s = s * 2.0
            break
        s = s + x[i]
    else:
        s = s - 1.0
    return s


def else_in_helper(x):
    def find(vs, thr):
        for k, v in enumerate(vs):
            if v > thr:
                break
        else:
            return vs[0]
        return v * k
    return find(x, 0.6) + find(x, 5.0) * 2


def else_with_return(x):
    for i in range(4):
        if x[i] > 1.0:
            return x[i] * 5
    else:
        return np.sum(x)


# --- walrus --------------------------------------------------------------------------------------

def walrus_if(x):
    if (n := np.sum(x)) > 0:
        s = n ** 2
    else:
        s = n * 3
    return s + n


def walrus_while(x):
    y = x * 1.0
    k = 0
    while (m := np.max(np.abs(y))) > 0.1:
        y = y * 0.5
        k += 1
    return np.sum(y * x) + m * k


def walrus_short_circuit(x):
    s = np.sum(x)
    t = s * 7.0
    if s > 100 and (t := s * 2) > 0:          # not evaluated: t keeps s * 7
        return t
    return t * x[0]


def walrus_expression(x):
    y = (a := x ** 2) + a * (b := np.sin(x))
    r = (u := np.sum(y) * 2) if np.sum(y) > 0 else (u := np.sum(y) * 4)
    return np.sum(y * b) + r * u + np.sum(np.tanh(h := x * 3)) + np.sum(h)


def walrus_loop_and_closure(x):
    s = 0.0
    for v in x:
        if (w := v * 2) > 0.5:
            s = s + w
    if (c := x[0] * 2) > -10:
        pass

    def f(t):
        return t * c
    return s + w + np.sum(f(x))


def walrus_comprehension(x):
    ys = sum(y for v in x if (y := v * 2) > 0)                       # MARK walrus_comprehension
    return ys          # (a list comprehension's walrus is followed since dec 12; a generator's is not)


# --- match ---------------------------------------------------------------------------------------

def match_values(x):
    total = 0.0
    for mode in ["sq", "abs", "sin", "other", "cube"]:
        match mode:
            case "sq" | "square":
                total = total + np.sum(x ** 2)
            case "abs":
                total = total + np.sum(np.abs(x))
            case "sin" if total > 100:
                total = total * 0
            case "sin":
                total = total + np.sum(np.sin(x))
            case other if other.startswith("c"):
                total = total + np.sum(x ** 3)
            case _:
                total = total * 1.5
    return total


def match_sequences(x):
    vals = [x[0], x[1], x[2], x[3]]
    match vals:
        case [first]:
            s = first
        case [first, *rest, last]:
            s = first * last + sum(rest) * len(rest)
    match ("lin", (2.0, x[0])):
        case ("quad", (w, b)):
            s = s * 0
        case ("lin", (w, b)) as whole:
            s = s + np.sum(x * w + b) + whole[1][1]
    return s


def match_none_and_ints(x):
    opt = None
    match opt:
        case None:
            s = np.sum(x)
        case _:
            s = 0.0
    for i in range(4):
        match i:
            case 0 | 1:
                continue
            case 2:
                if x[i] > 0:
                    return s * x[i] * 3
            case _:
                break
    return s


def match_in_helper(x):
    def act(v, kind):
        match kind:
            case "relu":
                return np.maximum(v, 0)
            case "tanh":
                return np.tanh(v)
        return v
    return np.sum(act(x, "tanh")) + np.sum(act(x, "relu") ** 2) + np.sum(act(x, "id"))


def match_mapping(x):
    match {"w": x}:
        case {"w": w}:                                                  # MARK match_mapping
            return np.sum(w)
    return 0.0


# --- set displays and comprehensions ------------------------------------------------------------

def set_literal_in(x):
    s = np.sum(x)
    for mode in ["a", "b", "z"]:
        if mode in {"a", "b"}:
            s = s * 2 + x[0]
    return s * len({1, 2, 2, 3})


def set_comprehension(x):
    s = {i % 3 for i in range(7)}
    pairs = {(i, j) for i in range(3) for j in range(i)}
    a, b = {1, 2, 3}, {2, 3, 4}
    return np.sum(x) * len(s) + max(s) * x[1] + x[2] * len(pairs) + x[3] * len(a & b) + len({*a, 7}) * x[0]


def set_traced(x):
    return sum(sorted({x[0], x[1], x[0]}))                              # MARK set_traced


# --- items of 1-D locals are numbers, not views -----------------------------------------------------

def swap_items(x):
    y = x.copy()
    y[0], y[1] = y[1], y[0]
    t = y[2]
    y[2] = y[3] * 2.0
    y[3] = t
    return np.sum(y * np.arange(4))


def bubble_sort(x):
    y = x * 1.0
    n = len(y)
    for i in range(n):
        for j in range(n - 1 - i):
            if y[j] > y[j + 1]:
                y[j], y[j + 1] = y[j + 1], y[j]
    return np.sum(y * np.arange(4))


def item_then_write(x):
    y = np.sin(x) + 1.0
    a = y[0]
    y[0] = 5.0 * x[1]
    return a * np.sum(y)


W_MODULE = np.array([[0.5, -0.2, 0.1, 0.3], [0.2, 0.4, -0.5, 0.1], [0.3, 0.3, 0.3, -0.3], [0.1, -0.1, 0.2, 0.2]])


def matmul_swap(x):
    h = np.tanh(W_MODULE @ x)
    h[0], h[1] = h[1], h[0]
    return np.sum(h * np.arange(4))


def argument_rebound_2d(x):
    # x[0] is a row (a view) of the new 2-D x: the write changes r (was a silent wrong value:
    # the argument's 1-D kind made x[0] "a number")
    x = x.reshape(2, 2) * 1.0
    r = x[0]
    x[0, 0] = 5.0                                                       # MARK argument_rebound_2d
    return np.sum(r * x[1])


def local_rank_conflict(x):
    y = x.copy()
    if x[0] > 0:
        y = np.outer(x, x)
    r = y[0]
    y[0] = 2.0 * r                                                      # MARK local_rank_conflict
    return np.sum(r * 1.0)


PROGRAMS = [fmt_method, fmt_percent, fmt_builtin, fmt_join, fmt_print,
            math_fsum, math_fsum_cancel, math_prod, math_hypot, math_hypot_loop, pow_builtin,
            list_zip, dict_zip, list_enumerate, sorted_zip,
            for_else_no_break, for_else_broken, for_else_search, while_else, while_else_value_dependent,
            else_break_belongs_outside, else_in_helper, else_with_return,
            walrus_if, walrus_while, walrus_short_circuit, walrus_expression, walrus_loop_and_closure,
            match_values, match_sequences, match_none_and_ints, match_in_helper,
            set_literal_in, set_comprehension, swap_items, bubble_sort, item_then_write, matmul_swap]


@pytest.mark.parametrize("fun", PROGRAMS, ids=lambda f: f.__name__)
def test_value_and_gradient_as_plain_python(fun):
    check_grads(fun, X.copy())


@pytest.mark.parametrize("fun", [fmt_method, fmt_percent, math_fsum, math_prod, math_hypot, pow_builtin,
                                 list_zip, for_else_broken, walrus_expression, match_sequences],
                         ids=lambda f: f.__name__)
def test_second_order(fun):
    def outer(x):
        y = fun(x)
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g ** 2)
        return z, dlgradient(z, x)

    def gradient_norm(v):
        _, (g,) = sct_gradients(fun, v)
        return np.sum(g ** 2)

    z, h = dlfeval(outer, dlarray(X.copy()))
    np.testing.assert_allclose(np.asarray(extractdata(z)), gradient_norm(X.copy()), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(extractdata(h)), numerical_gradient(gradient_norm, [X.copy()], 0, 1e-5),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fun", [math_fsum, math_hypot, fmt_percent, walrus_if, match_values],
                         ids=lambda f: f.__name__)
def test_float32_dtype_as_plain_python(fun):
    x = X.astype(np.float32)
    plain = fun(x.copy())

    def driver(v):
        y = fun(v)
        return y, dlgradient(y, v)
    y, g = dlfeval(driver, dlarray(x))
    y = np.asarray(extractdata(y))
    assert y.dtype == np.asarray(plain).dtype
    np.testing.assert_allclose(y, plain, rtol=1e-6)
    assert np.asarray(extractdata(g)).dtype == np.float32


def test_format_does_not_change_the_printed_text(capsys):
    fmt_print(X.copy())
    plain = capsys.readouterr().out
    sct_gradients(fmt_print, X.copy())
    assert capsys.readouterr().out == plain


@pytest.mark.parametrize("fun, mark, words", [
    (walrus_comprehension, "walrus_comprehension", "walrus operator := in a generator"),
    (match_mapping, "match_mapping", "mapping pattern"),
    (set_traced, "set_traced", "no derivative rule for set"),
    (argument_rebound_2d, "argument_rebound_2d", "r may be the same object as x"),
], ids=["walrus_comprehension", "match_mapping", "set_traced", "argument_rebound_2d"])
def test_refused_at_the_line(fun, mark, words):
    with pytest.raises(sct.CompileError) as info:
        sct_gradients(fun, X.copy())
    assert info.value.filename == __file__
    assert info.value.lineno == line_of(mark)
    assert words in str(info.value)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_local_rank_conflict_follows_the_row_or_keeps_the_number(sign):
    # r = y[0]: a view of row 0 where y is 2-D, a number where it is 1-D; the run tells which
    # (sct/copy_aliases.py, dec8i: was refused)
    x = X.copy()
    x[0] = sign * abs(x[0])
    check_grads(local_rank_conflict, x)
