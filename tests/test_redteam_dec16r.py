"""Red team, Dec 16 (R): a peer's corpus of real functions run through sct.

The corpus (tests/redteam_dec16r_corpus.py, cases in tests/redteam_dec16r_cases.py) ports, rewritten,
the kinds of functions in Google Tangent's test corpus (tests/functions.py: scalar binops, branches on
scalars, for/while loops with counters, subscripts with assignment, list append/pop, tuples, dicts,
calls of other corpus functions, nested defs, augmented assignment, np.sum/np.dot/np.tanh, a small RNN,
logistic regression), autograd's tests/test_numpy.py and test_systematic.py (dot with floats, axis and
keepdims reductions, flips, rolls, cumsum, index lists and slices, reshape/ravel/flatten, concatenate,
np.r_/np.c_, var/std with ddof, where, repeat, squeeze, max/min/maximum with ties, linspace, einsum,
tensordot, binary ufuncs over broadcast shapes) and myia/jax examples (factorial recursion, while sums,
closures, a logistic model, an MLP over a list of (W, b) pairs) and myia's tests/test_grad.py (duplicated
arguments, tuples, a dataclass and its method, higher-order functions, closures returning closures, a
traced recursion `fact(x)`, while loops on traced conditions, lists of floats, functions in tuples),
315 functions and 647 cases (Python float inputs of both signs, 0-d, vectors, matrices, tuples, dicts and
a dataclass of them).

Each case runs seven ways (tests/redteam_dec16r_harness.py): dlfeval of a generic loss taking the
function as a value; the same through dlaccelerate (value outside dlfeval too); dlfeval of a gradient
function written in the corpus file (rev_<name>, read in place); the same accelerated; a second-order
function (rev2_<name>: the gradient of sum(sin(gradient))); sct.jvp; sct.hvp; and, on each function's
first case, a third-order one (rev3_<name>).  Values against plain
Python (rtol 1e-12), gradients against central differences (tests/gradcheck.py).

Result (at 86b2923): no silently wrong value or gradient and no internal crash on the corpus.  Refused, naming the
line: `x = a; x *= a` of an argument (in place on the caller's 0-d array), writing `x[0] = ...` into an
argument, and `acc = acc * 2.0 + vals.pop()` in a while loop over a list the function built (a false
refusal: pop's result taken for a possible alias of the list), and Tangent's own `np.arctan(b, a)` (an
output array by position).  `[1, a * a, 2]` of an array `a` raises
as numpy does.  Points where a branch switches (`if a > 0` at 0.0) are left out: the derivative of the
branch taken is not a central difference there.  Also checked outside this file, all right or refused at
the line: float32 inputs (values and dtypes as numpy's), one accelerated function across all cases,
scalar edge cases (x[0] ** 0.5 of a negative, / 0, overflow, divmod, round, np.errstate inside the
function), in-place aliasing (views, `z = y; z += x`, rows of a matrix, `[v] * 2`), `out=` by position
and keyword, type introspection of elements (`type(x[0]) is float`, `isinstance(v, np.floating)`),
functools.reduce / map / sorted(key=) / closures / compose, names like the generated code's (`rt`,
`d_x`, `y_sin`, `out_t`).

Found beside the corpus (calls of function values with a traced value by keyword, runtime/support.py):
- a lambda called as a value (`f(a, m=a)` with `f` an argument, `fs[0](a, m=a)`) raised an internal
  SyntaxError (`invalid syntax (<sct keywords <lambda> 0>, line 2)`): the keyword adapter was named after
  the function, `lambda`, a Python keyword.  Now such a name is `call`.
- an `@sct.accelerate`d function called with a traced value by keyword was refused at an internal
  file's line (`<sct keywords AcceleratedFunction.__call__ 3>, line 2: pass m positionally`) where it
  was a function value, and by an internal TypeError where called by its name with a keyword-only
  parameter (`with_default(a, m=a)`); the adapter and rt.positional now take the function it runs.
- a function value named `receiver` or `a0` called with a traced keyword: the adapter's global for the
  function was shadowed by its own parameter of that name (a RecursionError, or `'numpy.ndarray' object
  has no attribute '__call__'`, at the adapter's line).  Now the global takes another name.
- a function value whose **kwargs would take a traced keyword (`f(a, m=a)`, `def f(a, **kw)`) was
  refused at the adapter's line (`<sct keywords kwfun 0>, line 2`); now at the user's call
  (rt.keywords_method is told which keywords are traced; sct/calls.py).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from redteam_dec16r_cases import CASES  # noqa: E402
from redteam_dec16r_harness import classify  # noqa: E402
from ci_mode import ON_CI  # noqa: E402

MODES = ("rev", "acc", "wrap", "wrapacc", "wrap2", "jvp", "hvp")
# (list_pop_loop, `while vals: acc = acc * 2.0 + vals.pop()`: differentiated since Dec 18, a list's
# pop() hands out an item, not the list: tests/test_redteam_dec18w.py)
REFUSED = {"aug_inplace_self", "item_write_arg", "polar_out_positional"}
PLAIN_RAISES = {("list_literal_sum", "arr")}


FIRST = {}
for _k, _c in enumerate(CASES):
    FIRST.setdefault(_c[0].__name__, _k)


@pytest.mark.parametrize("k", range(len(CASES)), ids=[f"{c[0].__name__}-{c[3]}-{k}" for k, c in enumerate(CASES)])
def test_corpus_case(k):
    fn, xs, cs, tag = CASES[k]
    # third order (rev3_<name>: the gradient of sum(cos(the gradient of sum(sin(gradient))))) on each
    # function's first case
    for mode in MODES + (("wrap3",) if FIRST[fn.__name__] == k else ()):
        status, message = classify(fn, xs, cs, mode)
        where = f"{fn.__name__}[{tag}] {mode}: {message}"
        assert status not in ("WRONG", "CRASH", "refused-unnamed"), where
        if fn.__name__ in REFUSED:
            assert status in ("refused", "n/a"), where
        elif (fn.__name__, tag) in PLAIN_RAISES:
            assert status == "both-raise", where
        else:
            assert status in ("pass", "n/a"), where


def test_accelerated_cache_across_cases():
    """One AcceleratedFunction per corpus function, called for all its cases in a shuffled order: a
    cached entry (same kinds: a new sign, a new int n, a new mode string, a new shape of the same rank)
    must give each case's own value and gradient.  (CI: a stable third of the functions, all their
    cases; every function without CI=true.)"""
    import random
    import zlib

    import numpy as np

    import redteam_dec16r_corpus as C
    import sct
    from redteam_dec16r_harness import close, close_value, leaves, mapleaves, numeric_grads, reference, to_dl
    from sct import dlfeval, extractdata
    accs = {}
    order = [k for k in range(len(CASES)) if not ON_CI or zlib.crc32(CASES[k][0].__name__.encode()) % 3 == 0]
    random.Random(0).shuffle(order)
    for k in order:
        fn, xs, cs, tag = CASES[k]
        if fn.__name__ in REFUSED or (fn.__name__, tag) in PLAIN_RAISES:
            continue
        if fn.__name__ not in accs:
            accs[fn.__name__] = (sct.dlaccelerate(getattr(C, "rev_" + fn.__name__)), sct.dlaccelerate(fn))
        accw, accf = accs[fn.__name__]
        ref = reference(fn, xs, cs)
        assert close_value(accf(*mapleaves(to_dl, xs), *cs), ref), (fn.__name__, tag)
        out, g = dlfeval(accw, *mapleaves(to_dl, xs), *cs)
        assert close_value(out, ref), (fn.__name__, tag)
        for a, b in zip(leaves([g] if len(xs) == 1 else g), numeric_grads(fn, xs, cs)):
            a = np.asarray(extractdata(a), dtype=float)
            assert close(a.reshape(b.shape) if a.size == b.size else a, b, 1e-5, 1e-6), (fn.__name__, tag)
    assert max(a[0].hit_rate for a in accs.values()) > 0.5


# --- function values called with a traced value by keyword -------------------------------------------

import numpy as np  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402

_lam = lambda a, m=1.0: a * m * 3.0  # noqa: E731
_lam_kwonly = lambda a, *, m: a * m  # noqa: E731


@sct.accelerate
def _acc_kwonly(a, k=2.0, *, m=3.0):
    return a ** k * m


@sct.accelerate
def _acc_plain(a, m=1.0):
    return a * m


def _value_by_keyword(a, f):
    y = f(a, m=a)
    return y, dlgradient(y, a)


def _list_by_keyword(a):
    fs = [_lam, _acc_kwonly]
    y = fs[0](a, m=a) + fs[1](a, m=a)
    return y, dlgradient(y, a)


def _named_accelerated_by_keyword(a):
    y = _acc_kwonly(a) + _acc_kwonly(a, 3.0) + _acc_kwonly(a, m=a)
    return y, dlgradient(y, a)


@pytest.mark.parametrize("f, value, slope", [
    (_lam, 3 * 0.49, 6 * 0.7), (_lam_kwonly, 0.49, 1.4), (_acc_kwonly, 0.343, 3 * 0.49),
    (_acc_plain, 0.49, 1.4)], ids=["lambda", "lambda-kwonly", "accelerated-kwonly", "accelerated"])
def test_function_value_called_with_traced_keyword(f, value, slope):
    y, g = dlfeval(_value_by_keyword, dlarray(0.7), f)
    assert np.isclose(float(extractdata(y)), value, rtol=1e-12)
    assert np.isclose(float(extractdata(g)), slope, rtol=1e-12)


def test_list_of_function_values_called_with_traced_keyword():
    y, g = dlfeval(_list_by_keyword, dlarray(0.7))
    assert np.isclose(float(extractdata(y)), 3 * 0.49 + 0.343, rtol=1e-12)
    assert np.isclose(float(extractdata(g)), 6 * 0.7 + 3 * 0.49, rtol=1e-12)


def test_accelerated_called_by_name_with_traced_keyword_only():
    a = 0.7
    y, g = dlfeval(_named_accelerated_by_keyword, dlarray(a))
    assert np.isclose(float(extractdata(y)), a ** 2 * 3 + a ** 3 * 3 + a ** 3, rtol=1e-12)
    assert np.isclose(float(extractdata(g)), 6 * a + 9 * a ** 2 + 3 * a ** 2, rtol=1e-12)


def _takes_kwargs(a, m=1.0, **kw):
    return a * m * (2.0 if kw.get("tag") == "x" else 1.0)


def _kwargs_constant(a, f):
    y = f(a, m=a, tag="x")
    return y, dlgradient(y, a)


def _kwargs_traced(a, f):
    y = f(a, tag=a)
    return y, dlgradient(y, a)


def test_function_value_kwargs_refused_at_the_users_line():
    y, g = dlfeval(_kwargs_constant, dlarray(0.7), _takes_kwargs)
    assert np.isclose(float(extractdata(y)), 0.98, rtol=1e-12) and np.isclose(float(extractdata(g)), 2.8)
    with pytest.raises(sct.SctError) as info:
        dlfeval(_kwargs_traced, dlarray(0.7), _takes_kwargs)
    assert info.value.filename == __file__ and "tag reaches _takes_kwargs() through **kw" in str(info.value)
    assert info.value.lineno == _kwargs_traced.__code__.co_firstlineno + 1


def receiver(a, receiver=1.0):
    return a * receiver * 3.0


def a0(a0, m=1.0):
    return a0 * m * 4.0


def _receiver_by_keyword(a, f):
    y = f(a, receiver=a)
    return y, dlgradient(y, a)


@pytest.mark.parametrize("f, run, value, slope", [
    (receiver, _receiver_by_keyword, 3 * 0.49, 6 * 0.7), (a0, _value_by_keyword, 4 * 0.49, 8 * 0.7)],
    ids=["receiver", "a0"])
def test_function_value_named_like_the_adapters_parameters(f, run, value, slope):
    y, g = dlfeval(run, dlarray(0.7), f)
    assert np.isclose(float(extractdata(y)), value, rtol=1e-12)
    assert np.isclose(float(extractdata(g)), slope, rtol=1e-12)
