"""Red team I (dec 25): second-order and forward mode written the way users write them.

A list of Python floats (``x.tolist()``) read by a function whose gradient is differentiated twice
more: the rule of ``nested_to_array`` (the adjoint of ``tolist``) gave ``g.tolist()``, Python
floats, and a plain 0.0 is the zero marker, which a later sweep reads as "no adjoint reached"
(runtime/support.py ``getitem_or_zero``), dropping its dependence on what made it.  A
cotangent that is zero where the next sweep differentiates it (a zero-initialised weight ``u`` of a
mixed partial; ``sct.jvp`` of a gradient function, whose transposition runs at u = 0 where forward
mode does not follow ``tolist``) then gave zeros: ``sct.jvp(lambda x: dlgradient(f(x), x), x, v)``
returned 0 for the Hessian-vector product of ``f(x) = sum(e ** 3 for e in x.tolist())``.
"""
import collections
import functools
import math

import numpy as np
import pytest

import sct
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient

X = np.array([0.5, -1.2, 0.3, 2.0])
V = np.array([1.0, 0.5, -0.3, 0.2])


def D(v):
    return np.asarray(v.data) if type(v).__name__ == "dlarray" else np.asarray(v)


def cubes_generator(x):
    lst = x.tolist()
    return sum(e ** 3 for e in lst)


def cubes_items(x):
    l = x.tolist()
    return l[0] ** 3 + l[1] ** 3 + l[2] ** 3 + l[3] ** 3


def cubes_comprehension(x):
    return sum([e ** 3 for e in x.tolist()])


def cubes_loop(x):
    s = 0.0
    for e in x.tolist():
        s = s + e ** 3
    return s


def cubes_nested(x):
    m = x.reshape(2, 2).tolist()
    return m[0][0] ** 3 + m[0][1] ** 3 + m[1][0] ** 3 + math.pow(m[1][1], 3)


FUNCTIONS = [cubes_generator, cubes_items, cubes_comprehension, cubes_loop, cubes_nested]


def hessian_vector_fd(f, x, v, h=1e-5):
    grad = lambda y: numerical_gradient(f, [y], 0)          # noqa: E731
    return (grad(x + h * v) - grad(x - h * v)) / (2 * h)


@pytest.mark.parametrize("f", FUNCTIONS)
def test_jvp_of_a_gradient_reading_tolist(f):
    def gradient(x):
        return dlgradient(f(x), x)
    want = 6 * X * V                                    # the closed form; differences agree
    np.testing.assert_allclose(hessian_vector_fd(f, X.copy(), V), want, rtol=1e-3, atol=1e-4)
    for mode in ("forward", "transpose"):
        value, jv = sct.jvp(gradient, X, V, mode=mode)
        np.testing.assert_allclose(D(value), 3 * X ** 2, rtol=1e-12, err_msg=mode)
        np.testing.assert_allclose(D(jv), want, rtol=1e-12, atol=1e-14, err_msg=mode)
    np.testing.assert_allclose(D(sct.hvp(f, X, V)), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("f", FUNCTIONS)
def test_mixed_partial_at_a_zero_weight(f):
    def mixed(x, u, v):
        y = dlgradient(f(x), x)
        g = dlgradient(np.sum(u * y), x)              # H u
        return g, dlgradient(np.sum(g * v), u)        # H v
    want = 6 * X * V
    np.testing.assert_allclose(hessian_vector_fd(f, X.copy(), V), want, rtol=1e-3, atol=1e-4)
    for u in (np.zeros(4), np.array([0.0, 0.3, 0.0, -0.4])):
        g, hv = dlfeval(mixed, dlarray(X), dlarray(u), V)
        np.testing.assert_allclose(D(g), 6 * X * u, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(D(hv), want, rtol=1e-12, atol=1e-14)


def test_float32_stays_float32():
    x, v = X.astype(np.float32), V.astype(np.float32)
    value, jv = sct.jvp(lambda x: dlgradient(cubes_items(x), x), x, v, mode="transpose")
    assert D(jv).dtype == np.float32 and D(value).dtype == np.float32
    np.testing.assert_allclose(D(jv), 6 * x * v, rtol=1e-5)


# --- Python floats in a container, at a point where one is 0 ---------------------------------------
# y = lst[0] * lst[1] with lst = [float(x[0]), float(x[1])]: the seed of a sweep at a Python float y
# was the Python float 1.0, so the adjoint of lst[0] was the Python float lst[1]; where that was 0.0,
# getitem_or_zero read it as the zero marker, and a sweep differentiated again lost the Hessian's
# off-diagonal (dlfeval's nested dlgradient, sct.hvp and sct.jvp of a gradient function: 0, not 1).

class Pair:
    def __init__(self, a, b):
        self.a = a
        self.b = b


def floats_in_a_list(x):
    a = float(x[0])
    b = float(x[1])
    lst = [a, b]
    return lst[0] * lst[1] + math.sin(lst[0]) * lst[1] ** 2


def items_in_a_tuple(x):
    t = (x[0].item(), x[1].item())
    return t[0] * t[1] + math.sin(t[0]) * t[1] ** 2


def floats_in_a_dict(x):
    d = {k: float(v) for k, v in zip("ab", x)}
    return d["a"] * d["b"] + math.sin(d["a"]) * d["b"] ** 2


def floats_in_an_object(x):
    p = Pair(float(x[0]), float(x[1]))
    return p.a * p.b + math.sin(p.a) * p.b ** 2


def floats_unpacked(x):
    a, b = [float(e) for e in x]
    return a * b + math.sin(a) * b ** 2


def tolist_appended(x):
    a, b = x.tolist()
    lst = [a]
    lst.append(b)
    return lst[0] * lst[1] + math.sin(lst[0]) * lst[1] ** 2


def hessian(x):
    """Of a * b + sin(a) * b ** 2 at x = (a, b)."""
    a, b = x
    return np.array([[-math.sin(a) * b ** 2, 1 + 2 * b * math.cos(a)],
                     [1 + 2 * b * math.cos(a), 2 * math.sin(a)]])


CONTAINERS = [floats_in_a_list, items_in_a_tuple, floats_in_a_dict, floats_in_an_object, floats_unpacked,
              tolist_appended]


@pytest.mark.parametrize("f", CONTAINERS)
@pytest.mark.parametrize("x", [[0.0, 0.0], [0.0, 0.7], [0.4, 0.0], [0.4, -0.3]])
def test_second_derivatives_of_python_floats_in_containers(f, x):
    x = np.array(x)
    v = np.array([1.0, -2.0])
    H = hessian(x)
    fd_rows = [(numerical_gradient(f, [x + 1e-4 * e], 0) - numerical_gradient(f, [x - 1e-4 * e], 0)) / 2e-4
               for e in np.eye(2)]
    np.testing.assert_allclose(np.array(fd_rows), H, atol=1e-5)

    def rows(x):
        g = dlgradient(f(x), x)
        return g, dlgradient(g[0], x), dlgradient(g[1], x)
    g, h0, h1 = dlfeval(rows, dlarray(x))
    np.testing.assert_allclose(D(g), numerical_gradient(f, [x], 0), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(np.array([D(h0), D(h1)]), H, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(D(sct.hvp(f, x, v)), H @ v, rtol=1e-12, atol=1e-14)
    for mode in ("forward", "transpose"):
        np.testing.assert_allclose(D(sct.jvp(lambda x: dlgradient(f(x), x), x, v, mode=mode)[1]), H @ v,
                                   rtol=1e-12, atol=1e-14, err_msg=mode)


def test_a_python_float_seed_keeps_float32_gradients():
    def grads(x):
        y = float(np.sum(x ** 2)) * 3.0
        return y, dlgradient(y, x)
    x = np.array([0.5, -1.5], dtype=np.float32)
    y, g = dlfeval(grads, dlarray(x))
    assert D(g).dtype == np.float32
    np.testing.assert_allclose(D(g), 6 * x, rtol=1e-6)


# --- math.hypot and math.dist: second derivatives where a coordinate is 0 ---------------------------
# Both were folded with np.hypot from 0.0, hypot(0, c) = |c| first: its kink at c = 0 made the second
# derivative 0 there (math.hypot(a, 1.0) at a = 0: d2/da2 0, not 1).  Now the op hypot_of (math's
# own value) with the rule c / |c|.

def hypot_two(x):
    return math.hypot(float(x[0]), 1.0) * x[1] + math.hypot(x[1], x[2])


def hypot_three(x):
    return math.hypot(x[0], x[1], x[2]) + math.hypot(*x.tolist())


def distances(x):
    return math.dist(x.tolist()[:2], [0.0, -1.0]) + math.dist(x, [0.0, 0.0, 2.0])


@pytest.mark.parametrize("f", [hypot_two, hypot_three, distances])
@pytest.mark.parametrize("x", [[0.0, 0.5, 0.7], [0.0, 0.0, 0.7], [0.3, -0.4, 1.2]])
def test_second_derivatives_of_hypot_and_dist(f, x):
    x = np.array(x)
    fd_rows = np.array([(numerical_gradient(f, [x + 1e-4 * e], 0) - numerical_gradient(f, [x - 1e-4 * e], 0))
                        / 2e-4 for e in np.eye(3)])

    def rows(x):
        y = f(x)
        g = dlgradient(y, x)
        return y, g, dlgradient(g[0], x), dlgradient(g[1], x), dlgradient(g[2], x)
    y, g, *h = dlfeval(rows, dlarray(x))
    assert float(y) == f(x)
    np.testing.assert_allclose(D(g), numerical_gradient(f, [x], 0), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(np.array([D(r) for r in h]), fd_rows, rtol=1e-5, atol=1e-5)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(D(sct.hvp(f, x, v)), fd_rows @ v, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis, keepdims", [(0, False), (1, False), (1, True), (None, False)])
def test_second_derivatives_of_hypot_reduce(axis, keepdims):
    """np.hypot.reduce folded np.hypot (hypot(hypot(0, 0), c): second derivatives 0 where the first
    items were 0); now the op hypot_reduce (numpy's value) with its rule."""
    x = np.array([[0.0, 0.0, 0.7], [0.4, 0.3, -0.2]]).T.copy()      # column 0 starts with two zeros
    w = np.arange(1.0, 7.0).reshape(3, 2)

    def f(x):
        return np.hypot.reduce(x, axis=axis, keepdims=keepdims)

    def total(x):
        return float(np.sum(f(x)))

    def second(x, w):
        y = f(x)
        g = dlgradient(np.sum(y), x)
        return y, g, dlgradient(np.sum(g * w), x)
    y, g, hw = dlfeval(second, dlarray(x), w)
    np.testing.assert_array_equal(D(y), f(x))
    np.testing.assert_allclose(D(g), numerical_gradient(total, [x], 0), rtol=1e-7, atol=1e-9)
    want = (numerical_gradient(total, [x + 1e-4 * w], 0) - numerical_gradient(total, [x - 1e-4 * w], 0)) / 2e-4
    np.testing.assert_allclose(D(hw), want, rtol=1e-5, atol=1e-4)


def test_fsum_is_maths_value():
    """math.fsum was value + (math.fsum(items) - value), not math.fsum's value where the difference
    rounds (0.0 for 1e-30 below) and NaN for an infinite sum; now the op fsum_value (math's value,
    the plain sum's derivative)."""
    def f(x):
        y = math.fsum(x.tolist())
        return y, dlgradient(y, x)
    items = np.array([1e16, 1.0, 1.0, -1e16, -2.0, 1e-30])
    y, g = dlfeval(f, dlarray(items))
    assert float(y) == math.fsum(items.tolist()) == 1e-30
    np.testing.assert_array_equal(D(g), np.ones(6))

    def infinite(x):
        y = math.fsum([float(x[0]) ** 2, math.inf])
        return y, dlgradient(y, x)
    y, g = dlfeval(infinite, dlarray(np.array([3.0, 1.0])))
    assert float(y) == math.inf
    np.testing.assert_array_equal(D(g), [6.0, 0.0])

    def second(x):
        y = math.fsum([e ** 3 for e in x.tolist()]) * x[0]
        g = dlgradient(y, x)
        return y, g, dlgradient(g[0], x)
    x = np.array([0.3, -1.2, 2.0])
    y, g, h = dlfeval(second, dlarray(x))
    fun = lambda x: math.fsum([e ** 3 for e in x.tolist()]) * x[0]      # noqa: E731
    assert float(y) == fun(x)
    np.testing.assert_allclose(D(g), numerical_gradient(fun, [x], 0), rtol=1e-7)
    np.testing.assert_allclose(D(h), [12 * x[0] ** 2, 3 * x[1] ** 2, 3 * x[2] ** 2], rtol=1e-12)
    for mode in ("forward", "transpose"):
        value, jv = sct.jvp(fun, x, np.array([0.5, 1.0, -0.7]), mode=mode)
        assert float(value) == fun(x)
        np.testing.assert_allclose(D(jv), numerical_gradient(fun, [x], 0) @ [0.5, 1.0, -0.7], rtol=1e-7,
                                   err_msg=mode)


# --- a function with a derivative rule, passed as a value ---------------------------------------------
# rt.vjp_at of a Python function compiled its source before looking up its rule: a @sct.defrule
# function or sct's own op (sct.sigmoid) called through an argument, a dict's item, an attribute or a
# list had its source differentiated, not its rule (a straight-through round's gradient 0, not 1;
# sigmoid's 0 at x = 0, its implementation's |x|), where the call naming it directly used the rule.

def ste_round(x):
    return np.round(x)


@sct.defrule(ste_round)
def _ste_round_rule(g, ans, x):
    return g


class Quantized:
    def __init__(self, q):
        self.q = q

    def __call__(self, x):
        return self.q(x) * (x + 1.0)


QUANTIZERS = {"round": ste_round, "sigmoid": sct.sigmoid}


def through_an_argument(x, q):
    y = np.sum(q(x) * (x + 1.0))
    return y, dlgradient(y, x)


def through_a_dict(x, name):
    y = np.sum(QUANTIZERS[name](x) * (x + 1.0))
    return y, dlgradient(y, x)


def through_an_attribute(x, layer):
    y = np.sum(layer(x))
    return y, dlgradient(y, x)


def through_a_list(x, qs):
    y = 0.0
    for q in qs:
        y = y + np.sum(q(x) * (x + 1.0))
    return y, dlgradient(y, x)


def second_through_an_argument(x, q):
    g = dlgradient(np.sum(q(x) * x ** 2), x)
    return dlgradient(np.sum(g), x)


def _sig(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("name", ["round", "sigmoid"])
def test_an_op_with_a_rule_passed_as_a_value(name):
    x = np.array([0.3, 1.7, -0.4, 0.0])
    q = QUANTIZERS[name]
    if name == "round":
        value, d = np.round(x), np.ones(4)                     # the rule's derivative: 1
        d2 = 2 * np.round(x) + 4 * x                          # of sum(q(x) * x ** 2), summed
    else:
        value, d = _sig(x), _sig(x) * (1 - _sig(x))
        d2 = None
    want = np.sum(value * (x + 1)), value + d * (x + 1)
    for fun, arg in [(through_an_argument, q), (through_a_dict, name), (through_an_attribute, Quantized(q)),
                     (through_a_list, [q])]:
        y, g = dlfeval(fun, dlarray(x), arg)
        np.testing.assert_allclose(float(y), want[0], rtol=1e-14, err_msg=fun.__name__)
        np.testing.assert_allclose(D(g), want[1], rtol=1e-12, atol=1e-15, err_msg=fun.__name__)
    if d2 is not None:
        np.testing.assert_allclose(D(dlfeval(second_through_an_argument, dlarray(x), q)), d2, rtol=1e-12)
        np.testing.assert_allclose(D(sct.hvp(lambda x: np.sum(QUANTIZERS["round"](x) * x ** 2), x, np.ones(4))),
                                   d2, rtol=1e-12)
    else:        # sigmoid's second derivative through the value, as where the call names it
        def named(x):
            g = dlgradient(np.sum(sct.sigmoid(x) * x ** 2), x)
            return dlgradient(np.sum(g), x)
        np.testing.assert_allclose(D(dlfeval(second_through_an_argument, dlarray(x), q)),
                                   D(dlfeval(named, dlarray(x))), rtol=1e-12)


# --- a keyword-only parameter assigned in a branch ---------------------------------------------------
# The forward of a helper compiled for a sweep set every name the tape records before a branch first
# assigns it to None, and its parameters were only the positional ones: a keyword-only parameter
# (def f(x, *, scale=None): if scale is None: scale = 0.1) lost the value the call passed, a wrong
# value and gradient (f(x, scale=0.5) ran with 0.1), and functools.partial(sct.leakyrelu, scale=0.1)
# made in the function (sct/partials.py writes it as such a nested function) raised a TypeError.

def leaky_keyword(x, *, scale=None):
    if scale is None:
        scale = 0.1
    return np.where(x > 0, x, scale * x)


def keyword_passed(x):
    y = np.sum(leaky_keyword(x, scale=0.5) * (x + 1))
    return y, dlgradient(y, x)


def keyword_nested(x):
    s = 0.1

    def f(z, *, scale=None):
        if scale is None:
            scale = s
        return np.where(z > 0, z, scale * z)
    y = np.sum(f(x, scale=0.5) * (x + 1))
    return y, dlgradient(y, x)


def keyword_by_value(x, f):
    y = np.sum(f(x, scale=0.5) * (x + 1))
    return y, dlgradient(y, x)


def partial_of_an_op(x):
    f = functools.partial(sct.leakyrelu, scale=0.5)
    y = np.sum(f(x) * (x + 1))
    return y, dlgradient(y, x)


def keyword_in_a_loop_second(x, v):
    def inner(z, *, p=None):
        for _ in range(2):
            if p is None:
                p = 2.0
            z = z ** 2 * p
        return np.sum(z)
    g = dlgradient(inner(x, p=3.0), x)
    return dlgradient(np.sum(g * v), x)


def test_a_keyword_only_parameter_assigned_in_a_branch():
    x = np.array([0.3, 1.7, -0.4, 0.5])

    def plain(x):
        return np.sum(np.where(x > 0, x, 0.5 * x) * (x + 1))
    for fun, args in [(keyword_passed, ()), (keyword_nested, ()), (keyword_by_value, (leaky_keyword,)),
                      (partial_of_an_op, ())]:
        y, g = dlfeval(fun, dlarray(x), *args)
        assert float(y) == plain(x), fun.__name__
        np.testing.assert_allclose(D(g), numerical_gradient(plain, [x], 0), rtol=1e-7, err_msg=fun.__name__)
    # inner = sum(27 x ** 4): its Hessian-vector product along ones is 324 x ** 2
    np.testing.assert_allclose(D(dlfeval(keyword_in_a_loop_second, dlarray(x), np.ones(4))), 324 * x ** 2,
                               rtol=1e-12)


# --- jvp's outputs through the transposition (forward mode's fallback) --------------------------------
# A namedtuple came back as a plain tuple (its fields unreachable: out.a an AttributeError), and a dict
# raised a TypeError naming sct's own kernel line; now the namedtuple as returned, the dict refused.

Pair2 = collections.namedtuple("Pair2", "a b")


def as_a_namedtuple(x):
    return Pair2(np.sin(x), np.sum(x ** 2))


def as_a_dict(x):
    return {"a": np.sin(x)}


def test_jvp_keeps_a_namedtuple():
    x, v = np.array([0.3, 1.7, -0.4]), np.array([1.0, 0.5, -2.0])
    for mode in ("forward", "transpose"):
        value, tangent = sct.jvp(as_a_namedtuple, x, v, mode=mode)
        assert type(value) is Pair2 and type(tangent) is Pair2, mode
        np.testing.assert_allclose(D(value.a), np.sin(x), rtol=1e-15)
        np.testing.assert_allclose(float(value.b), np.sum(x ** 2), rtol=1e-15)
        np.testing.assert_allclose(D(tangent.a), np.cos(x) * v, rtol=1e-12)
        np.testing.assert_allclose(float(tangent.b), np.sum(2 * x * v), rtol=1e-12)
    value, tangent = sct.jvp(as_a_dict, x, v)          # forward mode follows a dict
    np.testing.assert_allclose(D(tangent["a"]), np.cos(x) * v, rtol=1e-12)
    with pytest.raises(sct.SctError, match="returns a dict"):
        sct.jvp(as_a_dict, x, v, mode="transpose")
