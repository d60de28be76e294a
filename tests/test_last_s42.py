"""Red team 'last' (s42): what the last session changed, broken.  Each test fails before its fix."""
import functools
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from gradcheck import assert_close, numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata


# --- 1. a 0-d dlarray field of an object, reached other than as `m.s` in a type test ------------------
# Python's object holds a 0-d array (np.array(0.5)); generated code holds the dlarray itself, and a type
# test or text of it answered as numpy's scalar (np.float64) unless the test was written on `m.s` or on a
# name bound once to it: bound to a second name, unpacked, given to a helper or a lambda, put in a list,
# copied (m.s.copy(), m.s[...], reshape, np.where: 0-d arrays in numpy too) answered False for
# isinstance(v, np.ndarray), another branch: a wrong value and gradient.  A dlarray now knows whether
# numpy made it a scalar (runtime/dlarray.is_numpy_scalar), and the type tests read that.

@dataclass
class Params:
    s: object
    w: object

    def kind(self):
        return _code(self.s)

    @property
    def both(self):
        return _code(self.s) + 10 * _code(self.w[0])


class Layer:
    def __init__(self, s, w):
        self.s = s
        self.w = w


def _code(v):
    # (isi56: the type tests answer as Python's run on the dlarrays; the text of a dlarray, numpy's text in
    # sct's code, is tested by `text` alone, no more here)
    return (1.0 if isinstance(v, np.ndarray) else 0.0) + (2.0 if np.isscalar(v) else 0.0) + \
        (4.0 if type(v) is np.float64 else 0.0)


def alias_twice(x, m):
    s = m.s
    t = s
    return np.sum(x * m.w) * t * _code(t)


def unpacked(x, m):
    s, w = m.s, m.w
    return np.sum(x * w) * s * _code(s)


def to_a_helper(x, m):
    return np.sum(x * m.w) * m.s * _code(m.s)


def to_a_lambda(x, m):
    f = lambda v: 2.0 if isinstance(v, np.ndarray) else 3.0  # noqa: E731
    return np.sum(x * m.w) * m.s * f(m.s)


def in_a_list(x, m):
    k = 0.0
    for v in [m.s, m.w[0], m.s * 1.0]:
        k = k + _code(v)
    return np.sum(x * m.w) * k


def copies(x, m):
    k = _code(m.s.copy()) + 10 * _code(m.s[...]) + 100 * _code(np.where(m.s > 0, m.s, 0.0)) + \
        1000 * _code(m.w[:1].reshape(()))
    return np.sum(x * m.w) * k


def text(x, m):
    s = m.s
    return np.sum(x * m.w) * len(f"{s!r} {m.s * 2!r} {np.sum(m.w)!r} {m.w[0]!r}")


def through_methods(x, m):
    # a method, a property, vars() and getattr (Params only: Layer has no such methods)
    k = m.kind() + 100 * m.both if isinstance(m, Params) else 0.0
    return np.sum(x * m.w) * (k + 1000 * _code(vars(m)["s"]) + 10000 * _code(getattr(m, "s")))


def scalars_stay_scalars(x, m):
    # numpy's scalars (an item, a reduction, an elementwise result of 0-d operands) as before
    k = _code(m.w[0]) + 10 * _code(np.sum(m.w)) + 100 * _code(m.s * 2.0) + 1000 * _code(-m.s) + \
        10000 * _code(m.w @ m.w)
    return np.sum(x * m.w) * k


@pytest.mark.parametrize("cls", [Params, Layer])
@pytest.mark.parametrize("fun", [alias_twice, unpacked, to_a_helper, to_a_lambda, in_a_list, copies, text,
                                 through_methods, scalars_stay_scalars])
def test_zero_d_field_type_tests_follow_the_value(fun, cls):
    rng = np.random.default_rng(42)
    x, w = rng.standard_normal(3), rng.standard_normal(3)

    def wrapper(x, m):
        y = fun(x, m)
        return y, dlgradient(y, x)
    y, g = dlfeval(wrapper, dlarray(x.copy()), cls(dlarray(np.array(0.5)), dlarray(w.copy())))
    # (isi56: plain Python's run on the same dlarrays, where a type test of m.s answers for a dlarray; the
    # test expected numpy's answers, those of numpy's arrays given)
    py = lambda v: float(extractdata(fun(dlarray(v), cls(dlarray(np.array(0.5)), dlarray(w.copy())))))  # noqa
    if fun is text:         # (text shows numpy's text of a dlarray: as numpy's arrays give, left)
        py = lambda v: fun(v, cls(np.array(0.5), w.copy()))     # noqa: E731
    assert_close(y.data, py(x.copy()), rtol=1e-12, atol=1e-12, what="value")
    assert_close(g.data, numerical_gradient(py, [x.copy()], 0), what="gradient")


def test_a_field_numpy_made_a_scalar_outside_reads_as_one():
    # m.s = m.s - 0.1 * g outside dlfeval: numpy gives np.float64 there, and so do the type tests inside
    m = Params(dlarray(np.array(0.5)), dlarray(np.ones(3)))
    m.s = m.s - 0.1 * dlarray(np.array(1.0))
    plain = Params(np.array(0.5) - 0.1 * np.array(1.0), np.ones(3))
    x = np.array([0.3, -0.2, 0.7])

    def wrapper(x, m):
        y = alias_twice(x, m)
        return y, dlgradient(y, x)
    y, _ = dlfeval(wrapper, dlarray(x.copy()), m)
    # (isi56: plain Python's run on m, whose m.s is a dlarray)
    assert_close(y.data, extractdata(alias_twice(dlarray(x.copy()), m)), rtol=1e-12, atol=1e-12, what="value")


# --- 2. any/all of a map of traced values in forward mode ---------------------------------------------
# jvp refused all(map(f, xs)) / any(map(...)) as "no derivative rule for all", naming the generated file
# (<sct-generated ...>, line 27), where reverse mode runs them: Python's any and all give a bool, no
# derivative (runtime/numpy_ops.py: nondifferentiable, as np.any and np.all are).

def all_of_a_map(x):
    flag = all(map(lambda a: a < 5, x))
    return np.sum(x ** 2) * (2.0 if flag else 3.0)


def any_of_a_map_of_zip(x):
    flag = any(map(lambda ab: ab[0] * ab[1] > 0.1, zip(x, x[::-1])))
    return np.sum(np.sin(x)) * (2.0 if flag else 3.0)


@pytest.mark.parametrize("fun", [all_of_a_map, any_of_a_map_of_zip])
def test_any_all_of_a_map_in_forward_mode(fun):
    from gradcheck import check_grads, check_tangent
    x = np.array([0.4, -0.3, 0.9])
    check_tangent(fun, x, np.array([0.3, -0.5, 1.0]))
    check_grads(fun, x)


# --- 3. a dataclass subclass whose __post_init__ calls super().__post_init__() --------------------------
# Refused ("self.__post_init__(...) is called with traced values and its result is not used, and it may
# change ... its object in place"): a __post_init__ calling super() is a closure (its __class__ cell), so
# dataclass_post_init left the call as it was.  The base's statements are now read in place of the
# statement super().__post_init__() (or Base.__post_init__(self)) where the base returns nowhere and binds
# no name the subclass uses; first, second order and forward mode checked.

@dataclass
class _Base:
    W: np.ndarray

    def __post_init__(self):
        self.A = np.sin(self.W)


@dataclass
class _Mid(_Base):
    k: float = 2.0

    def __post_init__(self):
        super().__post_init__()
        self.B = self.A * self.k


@dataclass
class _Leaf(_Mid):
    def __post_init__(me):
        me.C0 = me.W * 1.0
        super().__post_init__()
        me.C = me.B + me.A ** 2


@dataclass
class _Explicit(_Base):
    b: float = 0.5

    def __post_init__(self):
        _Base.__post_init__(self)
        self.U = self.A * self.b + self.W ** 2


@dataclass
class _TwoArgSuper(_Base):
    def __post_init__(self):
        super(_TwoArgSuper, self).__post_init__()
        self.D = self.A * self.W


def _two_argument_super(W):
    return np.sum(_TwoArgSuper(W).D)


def _super_chain(W):
    return np.sum(_Leaf(W, 1.5).C) + np.sum(_Mid(W).B * W)


def _base_named(W):
    return np.sum(_Explicit(W).U) + np.sum(_Explicit(W, b=3.0).U)


@pytest.mark.parametrize("fun", [_super_chain, _base_named, _two_argument_super])
def test_dataclass_post_init_calling_the_base_one(fun):
    from gradcheck import check_grads, check_second_order, check_tangent
    W = np.array([0.3, -0.5, 0.8])
    check_grads(fun, W)
    check_second_order(fun, W)
    check_tangent(fun, W, np.array([1.0, 0.5, -0.2]))


def test_dataclass_base_post_init_replaced_recompiles():
    @dataclass
    class Base:
        W: np.ndarray

        def __post_init__(self):
            self.A = self.W * 2.0

    @dataclass
    class Sub(Base):
        def __post_init__(self):
            super().__post_init__()
            self.B = self.A * 3.0

    def loss(W):
        y = np.sum(Sub(W).B)
        return y, dlgradient(y, W)
    W = np.array([0.1, 0.2])
    assert_close(dlfeval(loss, dlarray(W))[1].data, 6.0 * np.ones(2), what="first")

    def other(self):
        self.A = self.W ** 2
    Base.__post_init__ = other      # (Sub's class body captured no Base: super() finds the new one)
    y, g = dlfeval(loss, dlarray(W))
    assert_close(y.data, 3.0 * np.sum(W ** 2), rtol=1e-12, what="value")
    assert_close(g.data, 6.0 * W, what="gradient")


@dataclass
class _ReturnsEarly(_Base):
    def __post_init__(self):
        self.A = self.W * 3.0
        if self.W.shape[0] > 0:
            return
        self.A = self.W


@dataclass
class _AfterEarly(_ReturnsEarly):
    def __post_init__(self):
        super().__post_init__()
        self.A = self.A * 2.0           # runs: the base's return ends the base's only


@dataclass
class _SameLocal(_Base):
    def __post_init__(self):
        tmp = self.W * 7.0
        super().__post_init__()
        self.B = tmp + self.A


@pytest.mark.parametrize("make, expected", [(lambda W: _AfterEarly(W).A, lambda W: 6.0 * W),
                                            (lambda W: _SameLocal(W).B, lambda W: 7.0 * W + np.sin(W))])
def test_base_post_init_not_read_in_place_where_it_would_differ(make, expected):
    # (not read in place: refused as before, or run; never the base's return ending the subclass's
    # __post_init__, nor its local taken for the subclass's)
    def loss(W):
        y = np.sum(make(W))
        return y, dlgradient(y, W)
    W = np.array([0.3, -0.5])
    try:
        y, _ = dlfeval(loss, dlarray(W))
    except sct.SctError:
        return
    assert_close(y.data, np.sum(expected(W)), rtol=1e-12, what="value")


# --- 4. max/min given two zips or enumerates --------------------------------------------------------
# max(zip(a, b), zip(c, d)) compares the two iterators: Python raises TypeError ('>' not supported between
# 'zip' and 'zip'); sct made each a generator expression (as for max(zip(...)) alone), compared the lists
# of their items and returned one (0.4 and a gradient).  Only the argument a consumer walks is made one
# now (max's and min's only one, sum's first, map's after its function).

@pytest.mark.parametrize("fun", [lambda x: max(zip(x, x), zip(x ** 2, x))[0][0],
                                 lambda x: min(enumerate(x), enumerate(x))[0][1]])
def test_max_of_two_zips_is_not_a_value(fun):
    x = np.array([0.4, -0.3, 0.9])
    with pytest.raises(TypeError):
        fun(x)

    def loss(x):
        y = fun(x)
        return y, dlgradient(y, x)
    with pytest.raises((sct.SctError, TypeError)):
        dlfeval(loss, dlarray(x))


def _kind(v):
    return (1.0 if isinstance(v, np.ndarray) else 0.0) + (2.0 if np.isscalar(v) else 0.0) + \
        (4.0 if isinstance(v, float) else 0.0)


def test_a_number_returned_by_dlfeval_reads_as_numpy_s_scalar_in_a_later_call():
    # dlfeval's loss (np.float64 in Python) and a Python float it returns, set as a field for the next
    # call and bound to a name there: scalars, as they are in Python (the first call's generic wrapping
    # and the later calls' fast wrapper alike; were 0-d arrays after the change above)
    def f(x, m):
        y = np.sum(x * m.w)
        return y, dlgradient(y, x), float(np.sqrt(2.0))

    def h(x, m):
        s = m.s
        y = np.sum(x * m.w) * _kind(s)
        return y, dlgradient(y, x)
    x, m = dlarray(np.ones(3)), Params(dlarray(np.array(0.5)), dlarray(np.ones(3)))
    for _ in range(2):
        loss, _, r = dlfeval(f, x, m)
        for held, plain in ((loss, np.float64(3.0)), (r, float(np.sqrt(2.0)))):
            y, _ = dlfeval(h, x, Params(held, m.w))
            # (isi56: Python's run on the field held: a dlarray loss, a Python float)
            assert_close(y.data, 3.0 * _kind(held), rtol=1e-12, what="value")


# --- 5. text of a list, tuple or dict holding an object's dlarray fields --------------------------------
# str([m.s, m.w[0]]), repr({"a": m.s}), "%s" % ([m.s],), f"{[m.s]}", print([m.s]) showed MATLAB's dlarray
# display inside the list ('[1x1 dlarray  0.5000, 1x1 dlarray  1]') where Python shows numpy's
# ('[array(0.5), np.float64(1.0)]'): a wrong value.  Text now shows each dlarray in a list, tuple, namedtuple,
# dict as numpy's (rt.text_view).

def containers_shown(x, m):
    texts = (str([m.s, m.w[0]]), f"{(m.s, m.w[1])}", repr({"a": m.s}), "%s" % ([m.s],), f"{[m.s, m.w[2]]}",
             "{}".format({"k": [m.s]}), str(((m.s,), [m.w[2]])))
    return np.sum(x * m.w) * sum(len(t) for t in texts), texts


def test_text_of_containers_holding_fields(capsys):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(3), rng.standard_normal(3)

    def wrapper(x, m):
        y, texts = containers_shown(x, m)
        print([m.s], {"a": m.w[0]})
        return y, dlgradient(y, x), texts
    y, g, texts = dlfeval(wrapper, dlarray(x.copy()), Params(dlarray(np.array(0.5)), dlarray(w.copy())))
    printed = capsys.readouterr().out
    plain_y, plain_texts = containers_shown(x.copy(), Params(np.array(0.5), w.copy()))
    assert texts == plain_texts
    print([np.array(0.5)], {"a": w[0]})
    assert printed == capsys.readouterr().out
    assert_close(y.data, plain_y, rtol=1e-12, what="value")
    assert_close(g.data, w * sum(len(t) for t in plain_texts), rtol=1e-12, what="gradient")


@dataclass
class _Shown:
    s: object
    w: object
    tag: str = "a"


def dataclass_shown(x, m):
    texts = (str(m), f"{m}", repr([m]), "%s" % (m,))
    return np.sum(x * m.w) * sum(len(t) for t in texts), texts


def test_text_of_a_dataclass_holding_dlarrays(capsys):
    # (its repr, which @dataclass wrote, showed the dlarrays' display: 'M(s=1x1 dlarray  0.5000, ...)')
    w = np.array([1.0, 2.0, -1.0])

    def wrapper(x, m):
        y, texts = dataclass_shown(x, m)
        print(m)
        return y, dlgradient(y, x), texts
    y, _, texts = dlfeval(wrapper, dlarray(np.ones(3)), _Shown(dlarray(np.array(0.5)), dlarray(w)))
    printed = capsys.readouterr().out
    plain_y, plain_texts = dataclass_shown(np.ones(3), _Shown(np.array(0.5), w))
    assert texts == plain_texts
    print(_Shown(np.array(0.5), w))
    assert printed == capsys.readouterr().out
    assert_close(y.data, plain_y, rtol=1e-12, what="value")


# --- 6. a partial made in the function whose .func / .args / .keywords the code reads ------------------
# sct/partials.py writes f = functools.partial(g, ...) as a nested def f, which has no .func: "AttributeError
# while evaluating ...: 'function' object has no attribute 'func'" for a valid program.  Such a partial is
# left a partial now (run; or refused where its frozen values are traced, naming the line).

def partial_func_read(Y):
    f = functools.partial(sct.softmax, DataFormat="CB")
    return np.sum(f.func(Y, DataFormat="CB") * np.arange(1.0, 21.0).reshape(5, 4)) + len(f.keywords)


def partial_args_read(Y):
    f = functools.partial(sct.l2loss, Y, DataFormat="CB")
    return f(np.ones((5, 4))) * len(f.args)


def test_partial_attributes_read():
    from gradcheck import check_grads
    Y = np.random.default_rng(1).standard_normal((5, 4))
    check_grads(partial_func_read, Y)
    with pytest.raises(sct.SctError) as refused:      # (its frozen Y is traced: refused, not an AttributeError)
        check_grads(partial_args_read, Y)
    assert "AttributeError" not in str(refused.value) and "line" in str(refused.value)
