"""zip, enumerate and reversed in the spellings sct's loops did not take apart (sct/normalize_iterators.py).

Each was refused with "no derivative rule for zip" (or enumerate, reversed); each now runs with
Python's values and exact first and second derivatives, or (used twice, changed between) is refused
as sct's generators are."""
import numpy as np
import pytest

from sct import CompileError
import sct as sct_errors

from gradcheck import check_grads, check_second_order, check_tangent, sct_gradients

X = np.array([0.3, -1.2, 2.0])


def pair_target(x):
    s = 0.0
    for pair in zip(x, x[::-1]):
        s = s + pair[0] * pair[1]
    return s


def enumerate_target(x):
    s = 0.0
    for t in enumerate(x):
        s = s + t[0] * t[1] ** 2
    return s


def pair_generator(x):
    return sum(p[0] * p[1] for p in zip(x, x[::-1]))


def starred_target(x):
    s = 0.0
    for a, *rest in zip(x, x, x):
        s = s + a * sum(rest)
    return s


def enumerate_starred(x):
    s = 0.0
    for i, *rest in enumerate(x):
        s = s + i * rest[0] ** 2
    return s


def named_zip(x):
    z = zip(x, x[1:])
    out = 0.0
    for p, q in z:
        out = out + p * q
    return out


def named_enumerate(x):
    e = enumerate(x)
    out = 0.0
    for i, v in e:
        out = out + i * v ** 3
    return out


def named_reversed(x):
    r = reversed(x)
    return sum(v * i for i, v in enumerate(r))


def named_zip_to_dict(x):
    z = zip(["a", "b", "c"], x)
    d = dict(z)
    return d["a"] * d["c"] ** 2


def named_nested_zip(x):
    z = zip(x, zip(x[::-1], x ** 2))
    return sum(a * b * c for a, (b, c) in z)


def strict_zip(x):
    w = [1.0, 2.0, 3.0]
    return sum(a * b ** 2 for a, b in zip(w, x, strict=True))


def strict_false(x):
    return sum(a * b for a, b in zip(x, x[1:], strict=False))


def enumerate_start_keyword(x):
    return sum(i * v ** 2 for i, v in list(enumerate(x, start=1)))


def enumerate_start_listed(x):
    return sum(i * v ** 2 for i, v in list(enumerate(x, 2)))


def filtered_pairs(x):
    return sum(p[0] ** 2 for p in zip(x, x[::-1]) if p[1] > 0)


def pairs_then_items(x):
    return sum(v * v for p in zip(x, x[::-1]) for v in p)


def enumerate_zip_start(x):
    s = 0.0
    for i, (a, b) in enumerate(zip(x, x[::-1]), start=1):
        s = s + i * a * b
    return s


def loop_else_break(x):
    s = 0.0
    for pair in zip(x, x[1:]):
        if pair[0] > 1.5:
            break
        s = s + pair[0] * pair[1]
    else:
        s = s * 2
    return s


class Holder:
    pass


def attribute_target(x):
    h = Holder()
    s = 0.0
    for h.pair in zip(x, x[::-1]):
        s = s + h.pair[0] * h.pair[1] ** 2
    return s


CASES = [pair_target, enumerate_target, pair_generator, starred_target, enumerate_starred, named_zip,
         named_enumerate, named_reversed, named_zip_to_dict, named_nested_zip, strict_zip, strict_false,
         enumerate_start_keyword, enumerate_start_listed, filtered_pairs, pairs_then_items,
         enumerate_zip_start, loop_else_break]


@pytest.mark.parametrize("fn", CASES + [attribute_target])
def test_first_derivative(fn):
    check_grads(fn, X.copy())


@pytest.mark.parametrize("fn", CASES)
def test_second_derivative(fn):
    check_second_order(fn, X.copy())


@pytest.mark.parametrize("fn", [pair_target, named_zip, strict_zip])
def test_forward_mode(fn):
    check_tangent(fn, X.copy(), np.array([0.5, 1.0, -2.0]))


def strict_mismatch(x):
    short = x[:2]
    return sum(a * b for a, b in zip(x, short, strict=True))


def strict_mismatch_longer(x):
    return sum(a * b for a, b in zip(x[:2], x, strict=True))


@pytest.mark.parametrize("fn", [strict_mismatch, strict_mismatch_longer])
def test_strict_mismatch_raises_pythons_error(fn):
    with pytest.raises(ValueError) as python:
        fn(X.copy())
    with pytest.raises(ValueError) as ours:
        sct_gradients(fn, X.copy())
    assert str(python.value) in str(ours.value)


def strict_computed(x):
    return sum(a * b for a, b in zip(x, np.sin(x), strict=True))


def test_strict_of_computed_sequence_refused():
    with pytest.raises(CompileError, match="strict=True"):
        sct_gradients(strict_computed, X.copy())


def zip_walked_twice(x):
    z = zip(x, x[1:])
    a = sum(p * q for p, q in z)
    return a + sum(p for p, q in z)        # Python: the iterator is empty by now


def zip_source_changed(x):
    a = [x[0], x[1]]
    z = zip(a, x)
    a.append(x[2])
    return sum(p * q for p, q in z)


@pytest.mark.parametrize("fn", [zip_walked_twice, zip_source_changed])
def test_iterator_misuse_refused(fn):
    with pytest.raises(CompileError):
        sct_gradients(fn, X.copy())


def own_zip(x):
    def zip(a, b):
        return [(a[0], b[0])]
    return sum(p[0] * p[1] for p in zip(x, x[::-1]))


def test_a_function_named_zip_is_not_the_builtin():
    y, (g,) = sct_gradients(own_zip, X.copy())
    np.testing.assert_allclose(float(y.data), own_zip(X.copy()))
    np.testing.assert_allclose(g, [2.0, 0.0, 0.3])


# --- reversed(...) given to a call (was: "no derivative rule for reversed") and reversed() of what
# Python does not reverse in a loop (was: a set walked backwards where Python raises TypeError; a
# class's own __reversed__ ignored, its items replaced by the object's in reverse: -0.9 for 0.3) ---

REVERSED = {
    "list_of_reversed_array": lambda x: np.sum(np.array(list(reversed(x))) * np.arange(3)),
    "enumerate_list_reversed": lambda x: sum(v * i for i, v in enumerate(list(reversed([x[0], x[1] ** 2])))),
    "tuple_reversed": lambda x: tuple(reversed([x[0], x[1]]))[0] * 3,
    "sum_reversed": lambda x: sum(reversed([x[0], x[1] ** 2])),
    "stack_reversed": lambda x: np.stack(list(reversed([x[:2], x[1:]])))[0, 1] * x[2],
}


@pytest.mark.parametrize("name", sorted(REVERSED))
def test_reversed_given_to_a_call(name):
    check_grads(REVERSED[name], X.copy())


def reversed_set(x):
    s = 0.0
    for v in reversed({1.0, 2.0}):
        s = s + v
    return s * x[0]


class OwnReversal:
    def __init__(self, v):
        self.v = v

    def __reversed__(self):
        return iter([self.v[0]])

    def __iter__(self):
        return iter(self.v)


def own_reversal(x):
    s = 0.0
    for v in reversed(OwnReversal([x[0], x[1]])):
        s = s + v
    return s


def test_reversed_set_raises_pythons_error():
    with pytest.raises(TypeError, match="not reversible"):
        reversed_set(X.copy())
    with pytest.raises(TypeError, match="not reversible"):
        sct_gradients(reversed_set, X.copy())


def test_own_reversal_refused():
    assert own_reversal(X.copy()) == X[0]
    with pytest.raises(sct_errors.SctError, match="__reversed__"):
        sct_gradients(own_reversal, X.copy())
