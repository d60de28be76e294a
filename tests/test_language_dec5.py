"""Red team "lang" (dec5): Python's language inside differentiated functions.

Each test is one finding: a program sct accepted with a value other than plain Python's (or one Python
rejects), or a common idiom it refused; values are checked against plain Python, gradients against
central differences (tests/gradcheck.py).
"""
import numpy as np
import pytest

from gradcheck import check_grads
from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError

X = np.array([0.31, 0.77, 1.23, -0.44])


def _value_and_gradient(f, x):
    y = f(x)
    return y, dlgradient(y, x)


# --- 1. a generator given to a numpy function or to len() ------------------------------------------
# sct builds a generator expression (or map()) as a list; numpy takes a generator as one object
# (np.all/np.any of it are True whatever its items, np.stack/np.concatenate/np.mean raise TypeError)
# and len() of one raises TypeError.  sct gave the list's answer: np.all(v > 0 for v in x) False
# where Python's is True (a wrong value and gradient), len(g) a number where Python raises.

def np_all_of_generator(x):
    if np.all(v > 0 for v in x):            # Python: always True (the generator object is truthy)
        return np.sum(x ** 2)
    return np.sum(x)


def np_any_of_named_generator(x):
    g = (v > 100 for v in x)
    if np.any(g):                           # Python: True
        return np.sum(x ** 2)
    return np.sum(x)


def np_stack_of_generator(x):
    return np.sum(np.stack(x * k for k in range(3)))        # Python: TypeError


def np_concatenate_of_map(x):
    return np.sum(np.concatenate(map(lambda k: x[:k], range(1, 3))))     # Python: TypeError


def len_of_generator(x):
    g = (v * 2 for v in x)
    return x[0] * len(g)                    # Python: TypeError


def len_of_map(x):
    return x[0] * len(map(abs, x))          # Python: TypeError


@pytest.mark.parametrize("f", [np_all_of_generator, np_any_of_named_generator])
def test_numpy_truth_of_generator_is_refused(f):
    # plain Python's value is np.sum(x ** 2) (np.all/np.any of a generator object is True)
    assert f(X.copy()) == np.sum(X ** 2)
    with pytest.raises(CompileError, match="a generator given to np"):
        dlfeval(_value_and_gradient, f, dlarray(X.copy()))


@pytest.mark.parametrize("f", [np_stack_of_generator, np_concatenate_of_map, len_of_generator, len_of_map])
def test_generator_python_rejects_is_refused(f):
    with pytest.raises(TypeError):
        f(X.copy())
    with pytest.raises(CompileError, match="a generator given to"):
        dlfeval(_value_and_gradient, f, dlarray(X.copy()))


def np_fromiter_of_generator(x):
    return np.sum(np.fromiter((v * v for v in x), float)) * x[0]


def builtin_all_of_generator(x):
    return np.sum(x ** 2) if all(v > 0 for v in x) else np.sum(x * 3)


def np_stack_of_list(x):
    return np.sum(np.stack([x * k for k in range(3)]) ** 2) + len([v for v in x if v > 0]) * x[1]


@pytest.mark.parametrize("f", [np_fromiter_of_generator, builtin_all_of_generator, np_stack_of_list])
def test_generator_consumers_still_differentiated(f):
    check_grads(f, X.copy())


# --- 2. jvp of a flat iterator kept as a value -------------------------------------------------------
# reverse mode refuses `it = M.flat` (contributions.FLAT_ADVICE); forward mode followed it, walking it
# whole at the first loop (rt.as_sequence), where Python's flat iterator resumes after a break: the
# second loop found nothing (value 0.3813 where Python's is 5.1003, its tangent likewise).

def flat_iterator_resumed(x):
    M = np.outer(x[:2], x[2:])
    it = M.flat
    acc = 0.0
    for v in it:
        acc = acc + v
        break
    for v in it:                 # Python: items 1, 2, 3
        acc = acc + 10 * v
    return acc


def test_jvp_of_flat_iterator_kept_as_value_is_refused():
    import sct
    assert np.isclose(flat_iterator_resumed(X.copy()), 5.1003)
    # (refused by the walk check at compile time, or at run time by rt.loop_left: the loop left the
    # iterator early; which one says it first depends on the mode)
    with pytest.raises(sct.SctError, match="flat iterator|leaves it early"):
        sct.jvp(flat_iterator_resumed, (X.copy(),), (np.ones(4),))
    with pytest.raises(sct.SctError, match="flat iterator|leaves it early"):
        dlfeval(_value_and_gradient, flat_iterator_resumed, dlarray(X.copy()))


def flat_walked_in_place(x):
    M = np.outer(x[:2], x[2:])
    acc = 0.0
    for v in M.flat:
        acc = acc * 0.5 + v
    return acc + M.flat[2] * 3


def test_flat_walked_where_read_still_differentiated():
    import sct
    check_grads(flat_walked_in_place, X.copy())
    v = np.array([0.3, -0.2, 0.5, 1.0])
    y, t = sct.jvp(flat_walked_in_place, (X.copy(),), (v,))
    eps = 1e-6
    fd = (flat_walked_in_place(X + eps * v) - flat_walked_in_place(X - eps * v)) / (2 * eps)
    assert np.isclose(float(np.asarray(getattr(y, "data", y))), flat_walked_in_place(X.copy()))
    assert np.isclose(float(np.asarray(getattr(t, "data", t))), fd, rtol=1e-6)


# --- 3. break / continue closing a try's body ------------------------------------------------------
# the jitter loop for a Cholesky factor was refused ("break (leaving the try) inside try"); a jump
# closing the body is what Python runs after the body when nothing was raised (the else block
# skipped), as the `return` closing a body already was: the probe runs the body before it.

def cholesky_with_jitter(x):
    A = np.outer(x, x) - 0.05 * np.eye(4)
    jitter = 1e-6
    while True:
        try:
            L = np.linalg.cholesky(A + jitter * np.eye(4))
            break
        except np.linalg.LinAlgError:
            jitter = jitter * 10
    return np.sum(L ** 2) + np.sum(np.log(np.diag(L)))


def first_key_found(x):
    acc = 0.0
    weights = {0: 1.0, 2: 3.0}
    for i in range(4):
        try:
            w = weights[i]
            acc = acc + w * x[i]
            continue
        except KeyError:
            acc = acc * x[i]
        else:
            acc = acc + 1000.0          # skipped by the continue
        acc = acc + 0.5
    return acc


def break_skips_else(x):
    acc = x[0]
    table = {1: 0.5}
    for i in range(4):
        try:
            r = table[i] * x[i]         # KeyError at i = 0, then found at i = 1
            acc = acc + r
            break
        except KeyError:
            acc = acc * x[i] + 1
        else:
            acc = acc + 1000.0          # skipped by the break
    return acc


@pytest.mark.parametrize("f", [cholesky_with_jitter, first_key_found])
def test_jump_closing_try_body(f):
    check_grads(f, X.copy())


def test_jump_closing_try_body_handler_then_break():
    assert break_skips_else(X.copy()) == X[0] * X[0] + 1 + 0.5 * X[1]
    check_grads(break_skips_else, X.copy())


def test_jump_closing_try_body_second_order():
    import sct
    v = np.array([0.3, -0.2, 0.5, 1.0])
    h = sct.hvp(cholesky_with_jitter, X.copy(), v)
    from gradcheck import numerical_gradient
    g = lambda a: numerical_gradient(cholesky_with_jitter, [a], 0, step=1e-5)    # noqa: E731
    fd = (g(X + 1e-4 * v) - g(X - 1e-4 * v)) / 2e-4
    np.testing.assert_allclose(np.asarray(getattr(h, "data", h)), fd, rtol=1e-3, atol=1e-3)


# --- 4. a traced keyword beside *-unpacked arguments -----------------------------------------------
# sct gives a traced keyword its parameter's position, binding the call's arguments to the signature
# when compiling, with `*xs` counted as one argument: `_four(*xs, c=x[2])` bound xs to a, c to c, and
# passed b's default by position (the call became _four(*xs, 0.0, x[2]): b = x[1], c = 0.0, d = x[2]):
# value 1238.01 where Python's is 2131.01, d/dx[2] 1000 for 100.  `_h(*args, d=x)` was refused as
# "does not match _h: missing a required argument: 'b'".

def _four(a, b=0.0, c=1.0, d=2.0):
    return a * 1 + b * 10 + c * 100 + d * 1000


def star_then_traced_keyword(x):
    xs = (x[0], x[1])
    return _four(*xs, c=x[2])


def star_list_then_traced_keyword(x):
    return _four(*[x[0], x[1]], c=x[2] * 2)


@pytest.mark.parametrize("f", [star_then_traced_keyword, star_list_then_traced_keyword])
def test_traced_keyword_beside_star_is_refused(f):
    with pytest.raises(CompileError, match=r"beside \*-unpacked arguments"):
        dlfeval(_value_and_gradient, f, dlarray(X.copy()))


def star_then_constant_keyword(x):
    xs = (x[0], x[1])
    return _four(*xs, c=3.0) + _four(x[2], d=x[3])


def test_star_with_constant_keyword_still_differentiated():
    check_grads(star_then_constant_keyword, X.copy())


class _Four:
    def __init__(self, a, b=0.0, c=1.0, d=2.0):
        self.v = a * 1 + b * 10 + c * 100 + d * 1000

    def __call__(self, a, b=0.0, c=1.0, d=2.0):
        return a * 1 + b * 10 + c * 100 + d * 1000


def constructor_star_then_traced_keyword(x):
    xs = (x[0], x[1])
    return _Four(*xs, c=x[2]).v             # was 1238.01 (Python: 2131.01)


def callable_object_star_then_traced_keyword(x):
    k = _Four(1.0)
    xs = (x[0], x[1])
    return k(*xs, c=x[2])                   # was "call_by_keywords() takes 3 positional arguments but 4 were given"


def closure_star_then_traced_keyword(x):
    def f(a, b=0.0, c=1.0, d=2.0):
        return a * 1 + b * 10 + c * 100 + d * 1000
    xs = (x[0], x[1])
    return f(*xs, c=x[2])                   # likewise


@pytest.mark.parametrize("f", [constructor_star_then_traced_keyword, callable_object_star_then_traced_keyword,
                               closure_star_then_traced_keyword])
def test_traced_keyword_beside_star_refused_for_objects_and_values(f):
    assert np.isclose(f(X.copy()), 2131.01)
    with pytest.raises(CompileError, match=r"beside \*-unpacked arguments"):
        dlfeval(_value_and_gradient, f, dlarray(X.copy()))


# --- 5. `with ... as k` inside a loop ---------------------------------------------------------------
# the name a with statement binds was not recorded for the gradient's replay of the loop (an ordinary
# assignment's old value is): the adjoint of every pass read the last pass's k.  `for i in range(3):
# with Scale(i) as k: acc = acc + x[i] * k` gave d/dx [4, 4, 4, 0] for [0, 2, 4, 0].

class _Scale:
    def __init__(self, s):
        self.s = s

    def __enter__(self):
        return self.s * 2

    def __exit__(self, *exc):
        return False


class _Pair(_Scale):
    def __enter__(self):
        return (self.s, self.s * 2)


def with_as_in_for_loop(x):
    acc = 0.0
    for i in range(3):
        with _Scale(float(i)) as k:
            acc = acc + x[i] * k
    return acc


def with_tuple_target_and_two_items(x):
    import contextlib
    acc = 0.0
    for i in range(3):
        with _Pair(float(i + 1)) as (a, b), contextlib.nullcontext(float(i * i)) as m:
            acc = acc + x[i] * a * m + x[i + 1] * b
    return acc


def with_as_in_while_loop_read_after(x):
    acc = 0.0
    i = 0
    while i < 3:
        with _Scale(float(i) + 0.5) as k:
            acc = acc * k + x[i]
        i += 1
    return acc + k * x[3]


@pytest.mark.parametrize("f", [with_as_in_for_loop, with_tuple_target_and_two_items,
                               with_as_in_while_loop_read_after])
def test_with_as_in_loop(f):
    check_grads(f, X.copy())


def test_with_as_in_loop_forward_and_second_order():
    import sct
    v = np.array([0.3, -0.2, 0.5, 1.0])
    y, t = sct.jvp(with_as_in_while_loop_read_after, (X.copy(),), (v,))
    eps = 1e-6
    f = with_as_in_while_loop_read_after
    assert np.isclose(float(np.asarray(getattr(t, "data", t))), (f(X + eps * v) - f(X - eps * v)) / (2 * eps))

    def squared(x):
        acc = 0.0
        for i in range(3):
            with _Scale(float(i)) as k:
                acc = acc + (x[i] * k) ** 2
        return acc
    h = sct.hvp(squared, X.copy(), v)
    np.testing.assert_allclose(np.asarray(getattr(h, "data", h)), 2 * np.array([0.0, 4.0, 16.0, 0.0]) * v)


# --- 6. an exception carrying a traced value, read in its handler ----------------------------------
# sct picks a try's branch by running its body in plain Python (rt.try_probe); the handler's `e` is
# that run's exception, whose values are constants to sct: `raise ValueError(x[0] * 2)` read back as
# `e.args[0] * 3` gave d/dx[0] = 0 for 6 (silently).  Refused now; a message made into text is not.

def exception_carries_traced_value(x):
    try:
        if x[0] > 0:
            raise ValueError(x[0] * 2)
        r = x[1]
    except ValueError as e:
        r = e.args[0] * 3
    return r


def assert_message_carries_traced_value(x):
    try:
        assert x[0] > 5, x[1] * 2
        r = x[0]
    except AssertionError as e:
        r = e.args[0] * x[2]
    return r


@pytest.mark.parametrize("f", [exception_carries_traced_value, assert_message_carries_traced_value])
def test_exception_holding_traced_value_read_in_handler_is_refused(f):
    with pytest.raises(CompileError, match="an exception holding a traced value"):
        dlfeval(_value_and_gradient, f, dlarray(X.copy()))


def exception_message_as_text(x):
    try:
        if x[0] > 0:
            raise ValueError(f"positive {x[0]:.2f}")
        r = x[1]
    except ValueError as e:
        r = x[0] * len(str(e))
    return r


def exception_not_read(x):
    try:
        if x[0] > 0:
            raise ValueError(x[0])
        r = x[1]
    except ValueError:
        r = x[0] * 3
    return r


@pytest.mark.parametrize("f", [exception_message_as_text, exception_not_read])
def test_exception_text_or_unread_still_differentiated(f):
    check_grads(f, X.copy())


# --- 7. a bool exponent ---------------------------------------------------------------------------
# the power rule's exponent b - (b != 0) is numpy's bool - bool for a bool b, which raises TypeError:
# x[2] ** (x[0] > 0), which Python computes, was refused with "numpy boolean subtract, the `-`
# operator, is not supported" while computing the gradient.

def bool_exponent(x):
    c = x[0] > 0
    return x[2] ** c + (x[0] > 0) ** 2 * x[1] + np.sum(x ** (x > 0.5)) + np.sum(np.power(x, x < 1))


def test_bool_exponent():
    import sct
    check_grads(bool_exponent, X.copy())
    v = np.array([0.3, -0.2, 0.5, 1.0])
    y, t = sct.jvp(bool_exponent, (X.copy(),), (v,))
    eps = 1e-6
    fd = (bool_exponent(X + eps * v) - bool_exponent(X - eps * v)) / (2 * eps)
    assert np.isclose(float(np.asarray(getattr(t, "data", t))), fd)


# --- 8. sct.hvp's refusal of a with block cut short names the user's line ----------------------------
# hvp differentiates sct's generated gradient code again; its with block was given a second
# completion check, which fired first and named the generated file (`<sct-generated ...>, line 7`).

class _SuppressIndexError:
    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        return et is IndexError


def with_block_cut_short(x):
    y = np.sum(x)
    with _SuppressIndexError():
        y = y * 2
        z = x[10]
        y = y * 100 + z
    return y


def test_hvp_refusal_of_with_cut_short_names_user_line():
    import sct
    from sct.errors import EvaluationError
    line = with_block_cut_short.__code__.co_firstlineno + 2
    for run in (lambda: sct.jvp(with_block_cut_short, (X.copy(),), (X.copy(),)),
                lambda: sct.hvp(with_block_cut_short, X.copy(), X.copy())):
        with pytest.raises(EvaluationError, match=rf"test_language_dec5.py, line {line}: the context manager"):
            run()


# --- 9. an item written into a tuple ----------------------------------------------------------------
# Python raises TypeError ('tuple' object does not support item assignment); rt.setitem copied the
# tuple into an array and wrote it: `t = (x[0], x[1]); t[0] = x[2]` ran, giving 1.23.

def tuple_item_written(x):
    t = (x[0], x[1])
    t[0] = x[2]
    return t[0] * t[1]


def tuple_item_augmented(x):
    t = (x[0], x[1])
    t[1] += x[2]
    return t[0] * t[1]


@pytest.mark.parametrize("f", [tuple_item_written, tuple_item_augmented])
def test_item_written_into_tuple_raises_as_python(f):
    from sct.errors import EvaluationError
    with pytest.raises(TypeError, match="does not support item assignment"):
        f(X.copy())
    with pytest.raises(EvaluationError, match="'tuple' object does not support item assignment"):
        dlfeval(_value_and_gradient, f, dlarray(X.copy()))


def tuple_rebuilt(x):
    t = (x[0], x[1])
    t = (x[2],) + t[1:]
    t += (x[3] * 2,)
    return t[0] * t[1] + t[2]


def test_tuple_rebuilt_still_differentiated():
    check_grads(tuple_rebuilt, X.copy())
