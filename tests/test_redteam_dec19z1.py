"""Red team Z1: the numerical functions people differentiate (hand-written logsumexp, softplus,
norms, kinks, loops with convergence tests, linear algebra, complex numbers, float32), written
as in autograd/JAX examples, checked against plain Python and central differences."""
import numpy as np
import pytest

import sct

from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient

V = np.array([0.3, -1.2, 0.5, 1.7])


def grad_of(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def check(f, x, rtol=1e-5, atol=1e-6):
    y, g = dlfeval(grad_of, f, dlarray(x))
    assert_close(np.asarray(y.data), f(x.copy()), what="value")
    expected = numerical_gradient(lambda z: f(z), [np.asarray(x, dtype=float)], 0)
    assert_close(np.asarray(g.data), expected, rtol=rtol, atol=atol, what="gradient")
    assert np.asarray(g.data).dtype == np.asarray(x).dtype


# A lambda whose body is a conditional expression (or `and`/`or`) has no one instruction
# spanning its body: it was refused as 'its source cannot be read'
ternary = lambda x: x[0] * 3 if 0 < x[0] < 1 else x[1]          # noqa: E731
ternary_and = lambda x: x[0] * 3 if (0 < x[0]) and (x[0] < 1) else x[1]   # noqa: E731
first, second = (lambda x: x[0] * 3 if x[0] > 0 else x[1]), (lambda x: x[1] * 5 if x[0] > 0 else x[2])  # noqa: E731
nested = lambda x: (lambda x: x[0] ** 2 if x[0] > 0 else x[1])(x) * 2 if x[1] < 0 else 0.0  # noqa: E731


@pytest.mark.parametrize("f, expected", [(ternary, [3, 0, 0, 0]), (ternary_and, [3, 0, 0, 0]),
                                         (first, [3, 0, 0, 0]), (second, [0, 5, 0, 0]),
                                         (nested, [1.2, 0, 0, 0])])
def test_lambda_with_conditional_body(f, expected):
    y, g = dlfeval(grad_of, f, dlarray(V))
    assert_close(np.asarray(y.data), f(V))
    assert_close(np.asarray(g.data), np.array(expected, dtype=float))


# A slice of a list given another number of items than it has (xs[1:3] = [v]) moves the items
# after it: its adjoint was read as an array's, an IndexError while computing the gradient, or,
# for a list argument, a gradient list of the new length (the last item's derivative lost)
def splice_shrink(x):
    ys = [x[0], x[1], x[2], x[3]]
    ys[1:3] = [ys[2] * 2]
    return sum(y * (i + 1) for i, y in enumerate(ys))


def splice_grow(x):
    ys = [x[0], x[1], x[2]]
    ys[0:1] = [x[1] * 2, x[2] * 3]
    return ys[0] * 1 + ys[1] * 2 + ys[2] * 3 + ys[3] * 4


def splice_insert(x):
    ys = [x[0], x[1], x[2], x[3]]
    ys[1:1] = [x[0] * 5]
    return ys[0] * 1 + ys[1] * 2 + ys[2] * 3 + ys[3] * 4 + ys[4] * 5


def splice_clear_and_tuple(x):
    ys = [x[0], x[1], x[2]]
    ys[1:] = []
    ys[len(ys):] = (x[3], x[3] * x[1])
    return ys[0] * 1 + ys[1] * 2 + ys[2] * 3


def splice_in_loop(x):
    ys = [x[0], x[1], x[2], x[3], x[0] * x[1]]
    while len(ys) > 1:
        ys[0:2] = [ys[0] * ys[1] + 1]
    return ys[0]


@pytest.mark.parametrize("f", [splice_shrink, splice_grow, splice_insert, splice_clear_and_tuple,
                               splice_in_loop])
def test_list_slice_write_of_another_length(f):
    check(f, V)


def test_list_slice_write_of_another_length_second_order():
    v = np.array([0.5, -1.0, 2.0, 1.5])

    def hv(x):
        g = dlgradient(splice_in_loop(x), x, EnableHigherDerivatives=True)
        return dlgradient(np.sum(g * v), x)
    eps = 1e-6
    fd = (np.asarray(dlfeval(grad_of, splice_in_loop, dlarray(V + eps * v))[1].data) -
          np.asarray(dlfeval(grad_of, splice_in_loop, dlarray(V - eps * v))[1].data)) / (2 * eps)
    assert_close(np.asarray(dlfeval(hv, dlarray(V)).data), fd, rtol=1e-5, atol=1e-5)
    assert_close(np.asarray(sct.hvp(splice_in_loop, V, v).data), fd, rtol=1e-5, atol=1e-5)


def list_argument_splice(xs):
    ys = list(xs)
    ys[1:3] = [ys[2] * 2]
    y = ys[0] * 1 + ys[1] * 2 + ys[2] * 3
    return y, dlgradient(y, xs)


def test_list_argument_slice_write_of_another_length():
    xs = [dlarray(0.3), dlarray(-1.2), dlarray(0.5), dlarray(1.7)]
    y, g = dlfeval(list_argument_splice, xs)
    assert_close(np.asarray(y.data), 0.3 + 2 * 2 * 0.5 + 3 * 1.7)
    assert len(g) == 4
    assert_close(np.array([float(v.data) for v in g]), np.array([1.0, 0.0, 4.0, 3.0]))


# An array written into a list's slice (xs[1:3] = 2 * x[1:3]): its adjoint, gathered from the
# list's items, was passed on as a list, which the next rule multiplied as a list (d * 2 repeated
# it: a broadcast error while computing the gradient)
def array_into_list_slice(x):
    ys = [x[0], x[1], x[2]]
    ys[1:3] = x[1:3] * 2
    return ys[0] * 1 + ys[1] * 2 + ys[2] * 3


def array_into_list_slice_growing(x):
    ys = [x[0], x[1], x[2]]
    ys[1:2] = x[1:] * 2
    return ys[0] * 1 + ys[1] * 2 + ys[2] * 3 + ys[3] * 4 + ys[4] * 5


@pytest.mark.parametrize("f", [array_into_list_slice, array_into_list_slice_growing])
def test_array_written_into_a_list_slice(f):
    check(f, V)


# z.extend(a) of an array a: a's adjoint, the list's part, was given as a list (the next rule
# multiplied it as one: "can't multiply sequence by non-int" while computing the gradient)
def extend_by_array(x):
    ys = list(x)
    a = ys.pop(1)
    b = ys.pop()
    ys.extend(x[:2] * a)
    return np.dot(ys, np.arange(4.0)) + b


# xs += (a, b) of a list xs extends it (a list takes any iterable in place); it was read as
# xs + (a, b): "TypeError while evaluating ... can only concatenate list (not "tuple") to list"
def list_plus_equals_tuple(x):
    ys = [x[0], x[1]]
    ys += [x[2]]
    ys += (x[3] * 2,)
    return np.sum(np.asarray(ys) * np.arange(4.0))


def tuple_plus_equals_tuple(x):
    ys = (x[0], x[1])
    ys += (x[3] * 2,)
    return ys[0] * 1 + ys[1] * 2 + ys[2] * 3


def array_plus_equals_tuple(x):
    ys = x * 1.0
    ys += (1.0, 2.0, x[0], x[1])
    return np.sum(ys ** 2)


def list_plus_equals_tuple_in_loop(x):
    ys = []
    for i in range(2):
        ys += (x[i] * 2, x[i + 2])
    return ys[0] * 1 + ys[1] * 2 + ys[2] * 3 + ys[3] * 4


@pytest.mark.parametrize("f", [extend_by_array, list_plus_equals_tuple, tuple_plus_equals_tuple,
                               array_plus_equals_tuple, list_plus_equals_tuple_in_loop])
def test_list_extended_by_an_array_or_a_tuple(f):
    check(f, V)
    v = np.array([0.5, -1.0, 2.0, 1.5])
    y, jv = sct.jvp(f, (V,), (v,))
    assert_close(np.asarray(jv.data), (f(V + 1e-6 * v) - f(V - 1e-6 * v)) / 2e-6, rtol=1e-5, atol=1e-5)


# numpy functions given a list of traced values (numpy makes it an array): the rules that index it
# (np.sort, np.take, np.partition, np.pad, np.tile, np.unique, np.compress) or compare it (np.clip)
# read the list as the array numpy made (was: a TypeError while computing the gradient, 'list
# indices must be integers or slices, not tuple' / "'<' not supported between 'list' and 'int'")
def as_list(x):
    return [x[0], x[1] * 2, x[2] ** 2, x[3]]


W4 = np.arange(1.0, 5.0)


@pytest.mark.parametrize("f", [
    lambda x: np.sum(np.sort(as_list(x)) * W4),
    lambda x: np.sum(np.clip(as_list(x), -1, 1) * W4),
    lambda x: np.sum(np.take(as_list(x), [0, 0, 3])),
    lambda x: np.sum(np.partition(as_list(x), 1)[:2] * np.array([1.0, 3.0])),
    lambda x: np.sum(np.pad(as_list(x), 1) * np.arange(6)),
    lambda x: np.sum(np.tile(as_list(x), 2) * np.arange(8)) + np.sum(np.repeat(as_list(x), 2) * np.arange(8)),
    lambda x: np.sum(np.unique(as_list(x)) * W4),
    lambda x: np.sum(np.compress([True, False, True, True], as_list(x)) * np.arange(3)),
    lambda x: np.sum(np.sort([x[3], x[0] * x[1], x[2]]) * np.arange(3)),
], ids=["sort", "clip", "take", "partition", "pad", "tile_repeat", "unique", "compress", "literal_sort"])
def test_numpy_function_of_a_list_of_traced_values(f):
    check(f, V)


# ... and in forward mode (sct.jvp, sct.hvp's forward over reverse): the list's tangent, a list of
# tangents, was given to the transposed rule as it is (np.var([a, b, c]): "unsupported operand
# type(s) for /: 'list' and 'float'" while evaluating the tangent)
@pytest.mark.parametrize("f", [
    lambda x: np.var(as_list(x)) + np.std(as_list(x), ddof=1),
    lambda x: np.sum(np.sort(as_list(x)) * W4),
    lambda x: np.sum(np.partition(as_list(x), 1)[:2] * np.array([1.0, 3.0])),
    lambda x: np.sum(np.pad(as_list(x), 1) * np.arange(6)),
    lambda x: np.median(as_list(x)) + np.max(as_list(x)),
], ids=["var_std", "sort", "partition", "pad", "median_max"])
def test_numpy_function_of_a_list_of_traced_values_forward_mode(f):
    v = np.array([0.5, -1.0, 2.0, 1.5])
    y, jv = sct.jvp(f, (V,), (v,))
    assert_close(np.asarray(y.data), f(V))
    assert_close(np.asarray(jv.data), (f(V + 1e-6 * v) - f(V - 1e-6 * v)) / 2e-6, rtol=1e-5, atol=1e-5)


# elementwise numpy functions whose rules compute with their argument (np.hypot, np.arctan2,
# np.sinc, np.heaviside, np.fmax) given a list of traced numbers written in the function
def hypot_of_list(x):
    xs = [x[0], x[1] * 2, x[2] ** 2]
    return np.sum(np.hypot(xs, 1.0) + np.arctan2(xs, 2.0)) + np.sum(np.arctan2(1.5, [x[3], x[0]]))


def sinc_heaviside_fmax_of_list(x):
    xs = [x[0], x[1] * 2, x[2] ** 2, x[3]]
    return np.sum(np.sinc(xs) + np.heaviside(xs, 0.5) * W4 + np.fmax(xs, 0.2) * W4) + np.sum(np.fmin((x[0], x[3]), 1.0))


@pytest.mark.parametrize("f", [hypot_of_list, sinc_heaviside_fmax_of_list])
def test_elementwise_numpy_function_of_a_list_of_traced_values(f):
    check(f, V)
    v = np.array([0.5, -1.0, 2.0, 1.5])
    y, jv = sct.jvp(f, (V,), (v,))
    assert_close(np.asarray(jv.data), (f(V + 1e-6 * v) - f(V - 1e-6 * v)) / 2e-6, rtol=1e-5, atol=1e-5)


# forward mode of numpy's difference of a list and an array ([a, b] - x): its tangent was the
# tangents' sum (the branch for a list's concatenation took Sub too): sct.jvp gave 12.4 for 0
def list_minus_array(x):
    return np.sum(([x[2], x[3]] - x[:2]) ** 2)


def array_minus_list(x):
    return np.sum((x[:2] - [x[2], x[3] * 2]) ** 2) + np.sum(([x[0]] + [x[1]]) * W4[:2])


def list_matmul_array(x):
    return [x[0], x[1] * 2] @ x[2:] + np.sum(((x[2], x[3]) - x[:2]) ** 2)


@pytest.mark.parametrize("f", [list_minus_array, array_minus_list, list_matmul_array])
def test_forward_mode_of_a_list_minus_an_array(f):
    check(f, V)
    for v in (np.ones(4), np.array([0.5, -1.0, 2.0, 1.5])):
        y, jv = sct.jvp(f, (V,), (v,))
        assert_close(np.asarray(jv.data), (f(V + 1e-6 * v) - f(V - 1e-6 * v)) / 2e-6, rtol=1e-5, atol=1e-5)
    hv = np.asarray(sct.hvp(f, V, np.ones(4)).data)
    fd = (np.asarray(dlfeval(grad_of, f, dlarray(V + 1e-6))[1].data) -
          np.asarray(dlfeval(grad_of, f, dlarray(V - 1e-6))[1].data)) / 2e-6
    assert_close(hv, fd, rtol=1e-4, atol=1e-4)
