"""Generator functions (``def gen(u): ... yield v``) called by differentiated code
(sct/normalize_generators.py): a call reads as a generator expression over the list of the
generator's items, which sct computes when the call is made.  Values against plain Python,
gradients against finite differences (check_grads), forward mode and second order; what is
refused (a generator that draws random numbers or changes objects, an endless one, one walked
twice, one called as a method or through a value)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import D, check_grads, check_two_inputs, numerical_gradient
from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError


def scaled(u, n=3):
    for i in range(n):
        yield u * (i + 1) * 0.3


def mixed(u):
    """yield, yield from, an early return."""
    yield np.sin(u)
    yield from scaled(u, 2)
    if np.sum(u) > 100.0:
        return
    yield u ** 2


def pairs(u):
    for i in range(len(u) - 1):
        yield u[i], u[i + 1]


def halving(u):
    k = 0
    while True:
        u = u * 0.5 + np.tanh(u) * 0.1
        k += 1
        if k > 3:
            break
        yield u


def sum_of_items(x):
    return np.sum(sum(scaled(x)) ** 2)


def stacked_mean(x):
    return np.sum(np.stack(list(scaled(x, 2))).mean(axis=0) + x * 0.5)


def loop_over(x):
    h = x * 1.0
    for g in scaled(x):
        h = h * 0.8 + g * 0.1
    return np.sum(np.sin(h))


def by_next(x):
    g = scaled(x)
    a = next(g)
    b = next(g)
    c = next(scaled(x, 1), x * 0.0)
    return np.sum(a * b + c)


def comprehension(x):
    return np.sum([np.sum(v ** 2) for v in mixed(x)])


def enumerated(x):
    tot = 0.0
    for i, v in enumerate(mixed(x)):
        tot = tot + (i + 1) * np.sum(np.cos(v))
    return tot


def zipped(x):
    return sum(np.sum(a * b) for a, b in zip(scaled(x), mixed(x)))


def tuple_items(x):
    t = 0.0
    for a, b in pairs(x):
        t = t + np.sin(a) * b
    return t


def with_break(x):
    return np.sum(sum(halving(x)))


def unpacked(x):
    a, b, c = scaled(x)
    return np.sum(a * b * c)


def starred(x):
    return np.sum(np.stack([*scaled(x), x]) ** 2)


def through_helper(x):
    return np.sum(_half_sum(x) * x)


def _half_sum(x):
    return sum(scaled(x, 2)) * 0.5


def extremes(x):
    return max(np.sum(v) for v in mixed(x)) + min(np.sum(v ** 3) for v in scaled(x))


CASES = [sum_of_items, stacked_mean, loop_over, by_next, comprehension, enumerated, zipped, tuple_items,
         with_break, unpacked, starred, through_helper, extremes]


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [np.array([0.3, -0.7, 1.1]), np.array([1.5, 0.2, -0.4])])
def test_generator_gradients(case, x):
    check_grads(case, x)


def test_generator_jvp_and_hvp():
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, -0.5, 2.0])
    for case in (loop_over, enumerated, tuple_items, with_break):
        y, jv = sct.jvp(case, (x,), (v,))
        assert float(np.asarray(y)) == pytest.approx(case(x), rel=1e-12)
        assert float(np.asarray(jv)) == pytest.approx(numerical_gradient(case, [x], 0) @ v, rel=1e-6, abs=1e-8)
        hv = sct.hvp(case, x, v)
        eps = 1e-5
        grad = lambda a: numerical_gradient(case, [a], 0)
        np.testing.assert_allclose(D(hv), (grad(x + eps * v) - grad(x - eps * v)) / (2 * eps), rtol=1e-4, atol=1e-6)


def two_inputs(x, t):
    tot = 0.0
    for a, b in zip(scaled(x * t[0]), mixed(t)):
        tot = tot + np.sum(np.tanh(a) * b)
    return tot


def test_generator_second_order():
    check_two_inputs(two_inputs, np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -0.9]))


def test_redefined_generator_recompiles(tmp_path):
    """A generator rebound under its name (a notebook cell run again) is read again."""
    first = tmp_path / "gen_first.py"
    first.write_text("import numpy as np\nfrom sct import dlgradient\n\n\ndef gen(u):\n    yield u * 2.0\n\n\n"
                     "def loss(x):\n    y = np.sum(sum(gen(x)))\n    return y, dlgradient(y, x)\n")
    second = tmp_path / "gen_second.py"
    second.write_text("def gen(u):\n    yield u * 3.0\n    yield u\n")
    module, other = {}, {}
    exec(compile(first.read_text(), str(first), "exec"), module)
    exec(compile(second.read_text(), str(second), "exec"), other)
    x = dlarray(np.array([1.0, 2.0]))
    _, g = dlfeval(module["loss"], x)
    assert D(g).tolist() == [2.0, 2.0]
    module["gen"] = other["gen"]
    _, g = dlfeval(module["loss"], x)
    assert D(g).tolist() == [4.0, 4.0]


def endless_next(x):
    v = next(endless(x))
    return np.sum(v)


rng = np.random.default_rng(0)


def noisy(u):
    for _ in range(2):
        yield u + rng.normal(size=u.shape)


def np_noisy(u):
    for _ in range(2):
        yield u + np.random.normal(size=u.shape)


def writes_into(u):
    for _ in range(2):
        u[0] = 1.0
        yield u * 2


def endless(u):
    while True:
        yield u


class Model:
    def items(self, u):
        yield u * 2


def walked_twice(x):
    g = scaled(x)
    return np.sum(sum(g)) + len(list(g))


def loop_changes_what_it_reads(x):
    parts = [x * 1.0, x * 2.0]
    tot = 0.0
    for v in twice_each(parts):
        parts[1] = x * 5.0
        tot = tot + np.sum(v)
    return tot


def twice_each(items):
    for it in items:
        yield it * 2


@pytest.mark.parametrize("case, words", [
    (lambda x: np.sum(sum(noisy(x))), "draws random numbers"),
    (lambda x: np.sum(sum(np_noisy(x))), "draws random numbers"),
    (lambda x: np.sum(sum(writes_into(x))), "changes objects"),
    (endless_next, "endless loop"),
    (lambda x: np.sum(sum(Model().items(x))), "yield"),
    (walked_twice, "used more than once"),
    (loop_changes_what_it_reads, "parts"),
])
def test_generator_refusals(case, words):
    def g(x):
        y = case(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match=words):
        dlfeval(g, dlarray(np.array([0.3, -0.7, 1.1])))


def test_generator_source_is_readable():
    text = sct.source(lambda x: dlgradient(sum_of_items(x), x), dlarray(np.array([0.3, -0.7])))
    assert "scaled_items" in text or "sum_of_items" in text


def buffer_yielded(u):
    """Yields the same array, written into between items: built whole, every item would be the last."""
    buf = np.zeros(3)
    for i in range(3):
        buf[i] = u[i]
        yield buf


def accumulator_yielded(u):
    acc = np.zeros(3)
    for i in range(3):
        acc += u
        yield acc


def accumulator_scaled(u):
    acc = np.zeros(3)
    k = 0
    for i in range(3):
        acc += u
        k += 1
        yield acc * k


def test_generator_yielding_a_fresh_value_of_an_accumulator():
    check_grads(lambda x: np.sum(sum(accumulator_scaled(x)) * np.arange(1, 4)), np.array([0.3, -0.7, 1.1]))


@pytest.mark.parametrize("gen", [buffer_yielded, accumulator_yielded], ids=lambda f: f.__name__)
def test_generator_yielding_an_object_it_changes_is_refused(gen):
    def g(x):
        y = np.sum(sum(gen(x)) * np.arange(1, 4))
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match="changes|in place"):
        dlfeval(g, dlarray(np.array([0.3, -0.7, 1.1])))


def _make_scaled(k):
    def scaled_by(u, n=2):
        for i in range(n):
            yield u * k * (i + 1)
    return scaled_by


_scaled_by_three = _make_scaled(3.0)


def closure_generator(x):
    return np.sum(sum(_scaled_by_three(x)) ** 2)


def test_generator_closure_and_its_hvp():
    """A generator made by a maker (its closure cell k) read through generator_items (compiled from the
    gathered tree with the generator's own cells); the hvp recomputes its call, replaying the list."""
    check_grads(closure_generator, np.array([0.3, -0.5]))
    x, v = np.array([0.3, -0.5]), np.array([1.0, 2.0])
    np.testing.assert_allclose(D(sct.hvp(closure_generator, x, v)), 162.0 * v, rtol=1e-10)   # 81 * 2 * v
    from sct.normalize_generators import generator_items
    items = generator_items(_scaled_by_three)
    assert [float(i) for i in items(np.array(1.0))] == [3.0, 6.0]       # called plainly: the list


def generator_in_hvp(a):
    y = a * 1.0
    y = sum(scaled(y)) + np.sin(y)
    return np.sum(y * y) + np.sum(np.sin(y))


def test_generator_call_recomputed_for_a_second_derivative():
    # (was a RecomputedCallError: the replayed result of the plain call was a generator)
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 0.5, -0.25])
    eps = 1e-4
    want = (numerical_gradient(generator_in_hvp, [x + eps * v], 0) -
            numerical_gradient(generator_in_hvp, [x - eps * v], 0)) / (2 * eps)
    np.testing.assert_allclose(D(sct.hvp(generator_in_hvp, x, v)), want, rtol=1e-4, atol=1e-6)


def counts_up(u):
    k = 0
    while k >= 0:            # ends only where the caller stops asking
        yield u * k
        k += 1


def first_of_endless(x):
    tot = 0.0
    for v in counts_up(x):
        tot = tot + np.sum(v)
        break
    return tot


def test_a_generator_its_caller_stops_is_refused_not_run_for_ever():
    # (built whole, it ran for ever: red team N) its while loop stops after STEP_LIMIT passes, with the reason
    from sct.errors import EvaluationError

    def g(x):
        y = first_of_endless(x)
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError, match="had not ended after"):
        dlfeval(g, dlarray(np.array([0.3, 0.5])))
