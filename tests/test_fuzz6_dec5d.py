"""Red team fuzz6 (dec 5, scripts/fuzz6.py): loops over lazy generators.

sct builds a generator (a generator expression, ``map()``, a generator function's call) whole where
Python computes its items as a loop asks for them, so a loop whose body changes what the generator
reads is refused.  Two faults:

* a body that changed the generator's array in place by ``np.copyto(acc, ...)`` or ``out=acc`` was
  not seen as a change (was: silently wrong values, the items computed before the changes);
* a body that only *rebinds* a name read by the generator's first iterable (``zip(gen(x),
  gen(acc))`` then ``acc = acc + ...``) was refused, though Python evaluates that iterable (and a
  generator function's arguments) when the generator is made: the old object is walked either way.
  In-place changes of that object are still refused.
"""
import numpy as np
import pytest

import sct
from gradcheck import check_grads

X = np.array([0.3, -0.7, 1.1, 0.2])
Y = np.array([0.5, -0.4, 0.9])


def gen1(z):
    for k in range(3):
        yield np.arctan(z) * (k + 1)


def _refused(fun, *args, match="changes what the generator reads"):
    def f_g(*a):
        loss = fun(*a)
        return loss, sct.dlgradient(loss, *a)
    with pytest.raises(sct.CompileError, match=match):
        sct.dlfeval(f_g, *[sct.dlarray(np.array(v)) for v in args])


# --- in-place writes by np.copyto / out= in the body: refused (were wrong values) -----------------

def out_in_zip_loop(x, y):
    acc = np.tanh(x)
    for u, w in zip((np.sin(v) for v in acc), y):
        np.add(acc, u * w, out=acc)
    return np.sum(acc ** 2)


def copyto_in_zip_loop(x, y):
    acc = np.tanh(x)
    for u, w in zip((np.sin(v) for v in acc), y):
        np.copyto(acc, acc * w + u)
    return np.sum(acc ** 2)


def out_in_named_generator_loop(x, y):
    acc = np.tanh(x)
    g = (np.sin(v) for v in acc)
    for j, u in enumerate(g):
        np.multiply(acc, u, out=acc)
    return np.sum(acc ** 2)


def test_out_write_in_zip_loop_refused():
    _refused(out_in_zip_loop, X, Y)


def test_copyto_in_zip_loop_refused():
    _refused(copyto_in_zip_loop, X, Y)


def test_out_write_in_named_generator_loop_refused():
    _refused(out_in_named_generator_loop, X, Y)


# --- rebinding what the first iterable read: accepted, values and gradients as Python's --------------

def zip_generator_calls_rebind(x, y):
    acc = np.tanh(x)
    for j, (u, w) in enumerate(zip(gen1(x), gen1(acc))):
        acc = acc + u * w * (j + 1) * 0.2
    return np.sum(acc ** 2)


def genexp_first_iterable_rebind(x, y):
    acc = np.tanh(x)
    for u, w in zip((np.sin(v) for v in acc), y):
        acc = acc * w + u
    return np.sum(acc ** 2)


def named_generator_call_rebind(x, y):
    acc = np.tanh(x)
    g = gen1(acc)
    for j, u in enumerate(g):
        acc = acc + u * 0.3
    return np.sum(acc ** 2)


def rows_genexp_rebind(x, y):
    M = np.outer(x, y)
    for r, w in zip((row * 2 for row in M), x):
        M = M * w
    return np.sum(M) + np.sum(r)


@pytest.mark.parametrize("fun", [zip_generator_calls_rebind, genexp_first_iterable_rebind,
                                 named_generator_call_rebind, rows_genexp_rebind])
def test_rebind_of_first_iterable_accepted(fun):
    check_grads(fun, X, Y)


# --- in-place changes of what the first iterable read: still refused ---------------------------------

def genexp_first_iterable_item_write(x, y):
    acc = np.tanh(x)
    for u, w in zip((np.sin(v) for v in acc), y):
        acc[2] = acc[2] * w + u
    return np.sum(acc ** 2)


def genexp_first_iterable_alias_augassign(x, y):
    acc = np.tanh(x)
    b = acc
    for u, w in zip((np.sin(v) for v in acc), y):
        b += u * w
    return np.sum(acc ** 2)


def genexp_lazy_read_rebind(x, y):
    k = 1.0
    for u, w in zip((v * k for v in x), y):
        k = k + w * u
    return k


@pytest.mark.parametrize("fun", [genexp_first_iterable_item_write, genexp_first_iterable_alias_augassign,
                                 genexp_lazy_read_rebind])
def test_in_place_change_of_first_iterable_still_refused(fun):
    _refused(fun, X, Y, match="in place|changes what the generator reads")


# --- a helper that writes into what the generator reads, called in the body: refused (was wrong) ------

def put_ret(d, v):
    d['a'] = v
    return 0


def helper_write_in_zip_loop(x, y):
    d = {'a': x * 1.0}
    for u, w in zip((d['a'] * (k + 1) for k in range(3)), y):
        z = put_ret(d, d['a'] + u * w)
    return np.sum(d['a'] ** 2)


def helper_write_in_named_generator_loop(x, y):
    d = {'a': x * 1.0}
    g = (d['a'] * (k + 1) for k in range(3))
    for u in g:
        z = put_ret(d, d['a'] + u)
    return np.sum(d['a'] ** 2)


@pytest.mark.parametrize("fun", [helper_write_in_zip_loop, helper_write_in_named_generator_loop])
def test_helper_write_in_lazy_loop_refused(fun):
    _refused(fun, X, Y)


# --- a comprehension over a generator whose element changes what it reads: refused (was wrong) --------

def comprehension_over_named_generator_helper_write(x, y):
    d = {'a': x * 1.0}
    g = (d['a'] * (k + 1) for k in range(3))
    zs = [put_ret(d, d['a'] + u) for u in g]
    return np.sum(d['a'] ** 2) + len(zs)


def comprehension_over_generator_helper_write(x, y):
    d = {'a': x * 1.0}
    zs = [put_ret(d, d['a'] + u) for u in (d['a'] * (k + 1) for k in range(3))]
    return np.sum(d['a'] ** 2) + len(zs)


def comprehension_over_generator_walrus(x, y):
    k = 1.0
    zs = [(k := k + np.sum(u)) for u in (x * k for _ in range(3))]
    return sum(zs)


@pytest.mark.parametrize("fun", [comprehension_over_named_generator_helper_write,
                                 comprehension_over_generator_helper_write, comprehension_over_generator_walrus])
def test_comprehension_changing_what_its_generator_reads_refused(fun):
    _refused(fun, X, Y, match="changes what the generator reads")


def comprehension_over_generator_pure_methods(x, y):
    d = {'a': x * 1.0}
    zs = [d.get('a').dot(u) + x.sum() for u in (d['a'] * (k + 1) for k in range(3))]
    return sum(zs)


def test_comprehension_over_generator_pure_methods_accepted():
    check_grads(comprehension_over_generator_pure_methods, X, Y)


# --- a generator walking another generator: what the inner one reads is read lazily too ---------------

def chained_named_generators_item_write(x, y):
    d = {'a': x * 1.0}
    g1 = (d['a'] * (k + 1) for k in range(3))
    g2 = (u * 2 for u in g1)
    for v in g2:
        d['a'] = d['a'] + v
    return np.sum(d['a'] ** 2)


def chained_named_generators_rebind(x, y):
    k = 1.0
    g1 = (x * k for _ in range(3))
    g2 = (u * 2 for u in g1)
    for v in g2:
        k = k + np.sum(v)
    return k


def nested_generator_in_zip_rebind(x, y):
    k = 1.0
    for v, w in zip((u * 2 for u in (x * k for _ in range(3))), y):
        k = k + np.sum(v) * w
    return k


@pytest.mark.parametrize("fun", [chained_named_generators_item_write, chained_named_generators_rebind,
                                 nested_generator_in_zip_rebind])
def test_generator_over_generator_refused(fun):
    _refused(fun, X, Y)


# --- next() of iter(list): a clear refusal (was "no derivative rule for next ... @sct.defrule") --------

def next_of_iter(x, y):
    it = iter([x, y[0]])
    a = next(it)
    return np.sum(a) * next(it)


def test_next_of_iter_refused_with_advice():
    _refused(next_of_iter, X, Y, match=r"next\(\) of an iterator .*Index the list instead")


# --- a named generator walked through map()/a generator, or in a nested block: refused (was wrong) ----

def map_over_named_generator(x, y):
    k = 1.0
    g = (x * k for _ in range(3))
    for u in map(np.sum, g):
        k = k + u
    return k


def generator_over_named_generator_in_loop(x, y):
    k = 1.0
    g = (x * k for _ in range(3))
    for u in filter(None, (np.sum(v) for v in g)):
        k = k + u
    return k


def named_generator_loop_in_if(x, y):
    k = 1.0
    g = (x * k for _ in range(3))
    if y[0] > 0:
        for u in g:
            k = k + np.sum(u)
    return k


def enumerate_named_generator_comprehension(x, y):
    k = 1.0
    g = (x * k for _ in range(3))
    zs = [(k := k + np.sum(u) * j) for j, u in enumerate(g)]
    return k


@pytest.mark.parametrize("fun", [map_over_named_generator, generator_over_named_generator_in_loop,
                                 named_generator_loop_in_if, enumerate_named_generator_comprehension])
def test_named_generator_walked_indirectly_refused(fun):
    _refused(fun, X, Y)


# --- a write into the base of a view the generator reads: refused (was wrong) ---------------------------

def write_into_base_of_walked_view(x, y):
    acc = np.tanh(x)
    v2 = acc[1:]
    s = 0.0
    for u, w in zip((np.sin(q) for q in v2), y):
        acc[2] = acc[2] * 3.0 + w
        s = s + u
    return s + np.sum(acc)


def write_into_base_of_view_read_lazily(x, y):
    acc = np.tanh(x)
    v2 = acc[1:]
    s = 0.0
    for u, w in zip((v2[j] * 2 for j in range(3)), y):
        acc[2] = acc[2] * 3.0 + w
        s = s + u
    return s + np.sum(acc)


@pytest.mark.parametrize("fun", [write_into_base_of_walked_view, write_into_base_of_view_read_lazily])
def test_write_into_base_of_view_generator_reads_refused(fun):
    _refused(fun, X, Y)
