"""itertools' finite iterators given traced items (runtime/iter_ops.py): each was refused with
"no derivative rule for itertools.X"; each is now differentiated as the list of the items Python's
iterator yields, with Python's values and exact first and second derivatives.  A name bound to one
is walked once, as Python's iterator (walked twice, given to a helper: refused, as sct's generators)."""
import itertools as it

import numpy as np
import pytest

from sct import CompileError

from gradcheck import check_grads, check_second_order, check_tangent, sct_gradients

X = np.array([0.3, -1.2, 2.0, 0.7])

CASES = {
    "pairwise": lambda x: sum((b - a) ** 2 for a, b in it.pairwise(x)),
    "combinations": lambda x: sum((p - q) ** 2 for p, q in it.combinations(x, 2)),
    "combinations_with_replacement": lambda x: sum(p * q for p, q in it.combinations_with_replacement(x, 2)),
    "permutations": lambda x: sum(p * q ** 2 for p, q in it.permutations(x, 2)),
    "product": lambda x: sum(p * q ** 2 for p, q in it.product(x, x[:2])),
    "product_repeat": lambda x: sum(p * q ** 2 for p, q in it.product(x[:2], repeat=2)),
    "chain": lambda x: sum(v ** 2 for v in it.chain(x[:1], x[2:])),
    "islice": lambda x: sum(v ** 2 for v in it.islice(x, 1, None, 2)),
    "islice_stop": lambda x: sum(v ** 2 for v in it.islice(x, 2)),
    "accumulate": lambda x: sum(v ** 2 for v in it.accumulate(x)),
    "accumulate_func": lambda x: list(it.accumulate(x, lambda a, b: a * b))[-1],
    "accumulate_initial": lambda x: sum(v ** 2 for v in it.accumulate(x, initial=1.0)),
    "starmap": lambda x: sum(it.starmap(lambda a, b: a * b ** 2, zip(x, x[::-1]))),
    "zip_longest": lambda x: sum(a * (b if b is not None else 1.0) for a, b in it.zip_longest(x, x[:2])),
    "zip_longest_fill": lambda x: sum(a * b for a, b in it.zip_longest(x, x[:2], fillvalue=2.0)),
    "compress": lambda x: sum(v ** 2 for v in it.compress(x, [1, 0, 1, 1])),
    "takewhile": lambda x: sum(v ** 3 for v in it.takewhile(lambda t: t < 1.0, x)),
    "dropwhile": lambda x: sum(v ** 3 for v in it.dropwhile(lambda t: t < 1.0, x)),
    "filterfalse": lambda x: sum(v ** 3 for v in it.filterfalse(lambda t: t < 0, x)),
    "first_pair": lambda x: next(it.pairwise(x))[1] * x[0],
    "largest_pair": lambda x: max(it.pairwise(x), key=lambda t: t[1])[0] * x[3],
}


def named(x):
    pairs = it.pairwise(x)
    return sum(a * b for a, b in pairs)


def n_body(x):
    pos = x.reshape(2, 2)
    e = 0.0
    for a, b in it.combinations(pos, 2):
        e = e + 1.0 / np.sqrt(np.sum((a - b) ** 2))
    return e


ALL = dict(CASES, named=named, n_body=n_body)


@pytest.mark.parametrize("name", sorted(ALL))
def test_first_derivative(name):
    check_grads(ALL[name], X.copy())


@pytest.mark.parametrize("name", sorted(ALL))
def test_second_derivative(name):
    check_second_order(ALL[name], X.copy())


@pytest.mark.parametrize("name", ["pairwise", "combinations", "accumulate", "chain"])
def test_forward_mode(name):
    check_tangent(ALL[name], X.copy(), np.array([0.5, 1.0, -2.0, 0.25]))


def walked_twice(x):
    pairs = it.pairwise(x)
    return sum(a * b for a, b in pairs) + sum(a for a, b in pairs)     # Python: the second sum is 0


def twice_in(ps):
    return sum(p * q for p, q in ps) + sum(p for p, q in ps)


def given_to_a_helper(x):
    return twice_in(it.pairwise(x))


def length_of_iterator(x):
    return len(it.combinations(x, 2)) * x[0]      # Python: TypeError


@pytest.mark.parametrize("fn", [walked_twice, given_to_a_helper, length_of_iterator])
def test_iterator_misuse_refused(fn):
    # (walked_twice and given_to_a_helper gave the sum of both walks: y -0.26 where Python's is -1.36)
    with pytest.raises(CompileError):
        sct_gradients(fn, X.copy())


def negative_islice(x):
    return sum(it.islice(x, -1))


def test_islice_error_is_pythons():
    with pytest.raises(ValueError) as python:
        negative_islice(X.copy())
    with pytest.raises(ValueError) as ours:
        sct_gradients(negative_islice, X.copy())
    assert str(python.value) in str(ours.value)
