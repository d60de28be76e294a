"""Red team dec14j: the program tester's userpat features (tests/progtest/userpat.py: matrix algebra,
einsum, reductions with axis/keepdims, (n, 1) x (1, m) broadcasting, concatenate/stack/split, fancy
and boolean indexing, piecewise functions, softmax/logsumexp, converging while loops, parameters in
dicts and lists, helpers two and three deep, closure factories, lambdas (late binding), user
classes, float32 casts, matrices built in place, scalar accumulators, array methods, code reading
shapes, generators, try/assert) and its accelerated driver (one dlaccelerate called on the
arguments, on other values of them and on the first again).

What the tester found: positions computed from a dlarray that is not a top-level argument of
dlfeval (an array in a dataclass, a dict, an object) were dlarrays of float64, which no array
accepts as an index: ``x[np.argsort(dc.a)]``, ``W[np.argmax(h)]`` and the adjoint of
``np.median(np.outer(x, net.b), axis=0)`` (its np.argsort of a dlarray) raised IndexError inside
sct; so did ``x[dc.a.astype(int)]``, ``x[np.where(dc.a > 0)[0]]``, np.unique's indices and
``np.add.at(z, idx, x)`` with such indices.  A numpy function's integer result on dlarrays now
stays numpy's integer array (runtime/dlarray.py ``_wrap_result``).

And type tests: sct runs a function on the traced arguments' data (numpy arrays), so
``isinstance(x, np.ndarray)`` of an argument is True (tests/test_redteam_dec3b.py), but the dlarrays
in an argument's containers stayed dlarrays: ``for v in p.values(): if isinstance(v, np.ndarray):``
skipped every parameter of the dict (its terms, and their gradients silently zero),
``isinstance(np.sum(x * dc.b), float)``, ``type(dc.a) is np.ndarray`` and ``np.isscalar(x[0] * dc.a[1])``
answered otherwise than for numpy's arrays.  (isi56: they now answer as plain Python's run on the same
dlarrays does, every dlarray no np.ndarray: rt.python_isinstance / python_type / python_isscalar,
sct/forward_code.py type_test; the tests below expect that.)
"""
import collections
from dataclasses import dataclass

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

from progtest.checker import internal, perturbed, run_seed
from progtest.generator import DRIVER_FEATURES, TARGET_FEATURES, generate
from progtest.runner import resolve_features
from progtest.userpat import USERPAT_FEATURES

FEATURES = USERPAT_FEATURES + TARGET_FEATURES + DRIVER_FEATURES


@dataclass
class DC:
    a: np.ndarray
    b: np.ndarray


class Lin:
    def __init__(self, w, b):
        self.w = w
        self.b = b


rng = np.random.default_rng(14)
X = rng.uniform(-1, 1, 4)
A = rng.uniform(-1, 1, 4)
B = rng.uniform(-1, 1, 4)
W = rng.uniform(-1, 1, (4, 4))


def _dc():
    return DC(dlarray(A), dlarray(B))


def _check(g, plain, *extra):
    """g under dlfeval (x a dlarray, the dataclass's arrays dlarrays) against plain Python and
    central differences in x."""
    y, gx = dlfeval(g, dlarray(X), _dc(), *extra)
    assert float(extractdata(y)) == pytest.approx(plain(X, DC(A, B), *extra), rel=1e-12)
    assert_close(extractdata(gx), numerical_gradient(lambda v: plain(v, DC(A, B), *extra), [X.copy()], 0))


# --- positions from a dlarray inside a dataclass ------------------------------------------------

def sorted_by_field(x, dc):
    order = np.argsort(dc.a)
    h = x[order] * x
    return np.sum(h * h[::-1])


def g_sorted_by_field(x, dc):
    y = sorted_by_field(x, dc)
    return y, dlgradient(y, x)


def test_argsort_of_a_dataclass_field_indexes_the_traced_array():
    # was: EvaluationError "IndexError while evaluating `h = x[order] * x`: only integers, slices ..."
    _check(g_sorted_by_field, sorted_by_field)


def row_of_argmax(x, dc, lin):
    h = x * dc.a
    return np.sum((h + lin.w[np.argmax(h)] * 0.5) ** 2)


def g_row_of_argmax(x, dc, lin):
    y = row_of_argmax(x, dc, lin)
    return y, dlgradient(y, x)


def test_argmax_of_a_value_made_with_a_field_selects_a_row():
    lin = Lin(dlarray(W), dlarray(B))
    y, gx = dlfeval(g_row_of_argmax, dlarray(X), _dc(), lin)
    plain = lambda v: row_of_argmax(v, DC(A, B), Lin(W, B))       # noqa: E731
    assert float(extractdata(y)) == pytest.approx(plain(X), rel=1e-12)
    assert_close(extractdata(gx), numerical_gradient(plain, [X.copy()], 0))


def median_of_outer(x, dc):
    z = np.outer(x, dc.b)
    h = np.median(z, axis=0)
    return np.sum(h ** 2)


def g_median_of_outer(x, dc):
    y = median_of_outer(x, dc)
    return y, dlgradient(y, x)


def test_median_adjoint_of_a_product_with_a_field():
    # was: "IndexError while computing the gradient of `h = np.median(z, axis=0)`" (the adjoint's
    # np.argsort of the dlarray z gave float positions to np.add.at)
    _check(g_median_of_outer, median_of_outer)


def integer_casts(x, dc):
    i = np.floor(dc.a * 2 + 2).astype(int)                      # positions 0..3
    j = np.where(dc.b > 0)[0]
    _, first = np.unique(np.round(dc.a), return_index=True)
    z = np.zeros(4)
    np.add.at(z, np.clip(np.round(dc.b * 4), 0, 3).astype(int), x)
    return np.sum(x[i] * x) + np.sum(x[j] ** 2) + np.sum(x[first] ** 3) + np.sum(z ** 2)


def g_integer_casts(x, dc):
    y = integer_casts(x, dc)
    return y, dlgradient(y, x)


def test_integer_arrays_made_from_fields_index_as_in_numpy():
    # was: IndexError (x[i], x[j], x[first]) and "arrays used as indices must be of integer type" (np.add.at)
    _check(g_integer_casts, integer_casts)


def test_integer_results_of_dlarrays_outside_dlfeval_are_numpy_integers():
    d = dlarray(A)
    for idx in (np.argsort(d), d.argsort(), np.argmax(d), d.argmax(), np.nonzero(d > 0)[0],
                np.where(d > 0)[0], d.astype(int), np.searchsorted(np.sort(d), 0.0)):
        assert not isinstance(idx, sct.dlarray) and np.asarray(idx).dtype.kind == "i"
    assert_close(np.arange(4.0)[np.argsort(d)], np.argsort(A).astype(float))
    # float and bool results stay dlarrays
    assert isinstance(np.sort(d), sct.dlarray) and isinstance(d > 0, sct.dlarray)
    assert isinstance(np.round(d), sct.dlarray) and isinstance(d.astype(np.float32), sct.dlarray)


# --- type tests of the dlarrays in an argument's containers ---------------------------------------

def weight_decay(x, p):
    reg = 0.0
    for k, v in p.items():
        if isinstance(v, np.ndarray):
            reg = reg + np.sum(v ** 2)
    return reg + np.sum(np.sin(x) * p["a"])


def g_weight_decay(x, p):
    y = weight_decay(x, p)
    return y, dlgradient(y, x)


def decay_of_fields(x, dc):
    reg = 0.0
    for v in (dc.a, dc.b):
        if isinstance(v, np.ndarray):
            reg = reg + np.sum(v ** 2)
    return reg + np.sum(np.sin(x) * dc.a)


def g_decay_of_fields(x, dc):
    y = decay_of_fields(x, dc)
    return y, dlgradient(y, dc)


def _py(f, *args):
    return float(extractdata(f(*args)))


def test_isinstance_ndarray_of_container_parameters_is_pythons_answer():
    # Python's run on the same dlarrays: the loops skip the dict's and the dataclass's dlarrays (no
    # np.ndarray), no decay, dy/ddc.b zero (isi56; the test expected numpy's answer, that of numpy's arrays)
    p = {k: dlarray(v) for k, v in {"a": A.copy(), "b": W.copy()}.items()}
    y, gx = dlfeval(g_weight_decay, dlarray(X), p)
    assert float(extractdata(y)) == pytest.approx(_py(weight_decay, dlarray(X), p), rel=1e-12)
    assert_close(extractdata(gx), numerical_gradient(lambda v: _py(weight_decay, dlarray(v), p), [X.copy()], 0))
    y, gdc = dlfeval(g_decay_of_fields, dlarray(X), _dc())
    assert float(extractdata(y)) == pytest.approx(_py(decay_of_fields, dlarray(X), _dc()), rel=1e-12)
    assert_close(extractdata(gdc.b), 0 * B)
    assert_close(extractdata(gdc.a), numerical_gradient(
        lambda v: _py(decay_of_fields, dlarray(X), DC(dlarray(v), dlarray(B))), [A.copy()], 0))


def scalar_and_type_tests(x, dc):
    s = np.sum(x * dc.b)
    y = s * (2.0 if isinstance(s, float) else 3.0)
    y = y * (1.5 if type(dc.a) is np.ndarray else 0.5)
    y = y + x[0] * dc.a[1] * (1.0 if np.isscalar(x[0] * dc.a[1]) else 7.0)
    return y + (np.sum(x ** 2) if isinstance(dc.a, (np.ndarray, list)) else 0.0)


def g_scalar_and_type_tests(x, dc):
    y = scalar_and_type_tests(x, dc)
    return y, dlgradient(y, x)


def test_isinstance_type_and_isscalar_of_fields_are_pythons_answers():
    # Python's run on the same dlarrays (isi56; the test expected numpy's answers, those of numpy's arrays)
    y, gx = dlfeval(g_scalar_and_type_tests, dlarray(X), _dc())
    assert float(extractdata(y)) == pytest.approx(_py(scalar_and_type_tests, dlarray(X), _dc()), rel=1e-12)
    assert_close(extractdata(gx), numerical_gradient(lambda v: _py(scalar_and_type_tests, dlarray(v), _dc()),
                                                     [X.copy()], 0))


def isa_dlarray_field(x, dc):
    y = np.sum(x ** 2) if isinstance(dc.a, sct.dlarray) else np.sum(x)
    return y, dlgradient(y, x)


def test_isinstance_dlarray_of_a_field_is_pythons_answer():
    # (isi56: was refused; a dlarray field is one in Python's run: True, np.sum(x ** 2))
    y, gx = dlfeval(isa_dlarray_field, dlarray(X), _dc())
    assert float(extractdata(y)) == pytest.approx(float(np.sum(X ** 2)), rel=1e-12)
    assert_close(extractdata(gx), 2 * X)


# --- Python's protocols on an item of a field ------------------------------------------------------

def rounded_item(x, dc):
    return np.sum(x) * round(dc.a[0] * 10) + max(dc.a[1], 0.5) * x[0] + x[1] * round(dc.b[2], 1)


def g_rounded_item(x, dc):
    y = rounded_item(x, dc)
    return y, dlgradient(y, x)


def test_round_of_an_item_of_a_field_is_numpys():
    # was: "TypeError while evaluating ...: type dlarray doesn't define __round__ method"
    _check(g_rounded_item, rounded_item)
    d = dlarray(np.array([1.26, 2.5]))
    assert round(d[0]) == 1 and isinstance(round(d[0]), int)
    assert float(round(d[0], 1)) == pytest.approx(1.3)
    with pytest.raises(TypeError, match="np.round"):
        round(d)


def integer_test_of_item(x, dc):
    return np.sum(x ** 2) * (2.0 if (dc.a[0] * 4).is_integer() else 3.0)


def g_integer_test_of_item(x, dc):
    y = integer_test_of_item(x, dc)
    return y, dlgradient(y, x)


def test_a_scalar_method_of_an_item_is_numpys_outside_and_named_inside():
    d = dlarray(np.array([1.25, 2.5]))
    assert (d[0] * 4).is_integer() and not d[0].is_integer() and d[0].as_integer_ratio() == (5, 4)
    with pytest.raises(AttributeError):
        d.is_integer                     # an array's: numpy's AttributeError
    # was: "AttributeError while evaluating ...: 'numpy.ndarray' object has no attribute 'is_integer'";
    # then refused naming is_integer; since stop 42 a float's is_integer() is read as having no derivative
    for a in (A, np.array([1.25, 2.5, 0.5, 0.75])):
        dc = DC(dlarray(a), dlarray(B))
        y, g = dlfeval(g_integer_test_of_item, dlarray(X), dc)
        factor = 2.0 if float(a[0] * 4).is_integer() else 3.0
        assert_close(np.asarray(extractdata(y)), np.sum(X ** 2) * factor, 1e-12, 0)
        assert_close(np.asarray(extractdata(g)), 2 * X * factor, 1e-12, 0)


# --- a second derivative through np.mean of a list comprehension -----------------------------------

class Layer:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, u):
        return np.tanh(self.w @ u + self.b)


class Pair:
    def __init__(self, l1, l2):
        self.l1 = l1
        self.l2 = l2


def mean_of_layers(x, net):
    h = np.mean([L(x) for L in (net.l1, net.l2)], axis=0)
    return np.sum(h ** 2)


def first_order_of_layers(x, net):
    y = mean_of_layers(x, net)
    return y, dlgradient(y, net.l2.b)


def second_order_of_layers(x, net):
    y = mean_of_layers(x, net)
    gr = dlgradient(y, net.l2.b, EnableHigherDerivatives=True)
    z = np.sum(gr ** 2)
    return z, dlgradient(z, net.l2.b)


def test_second_derivative_through_the_mean_of_a_comprehension():
    # was: "ValueError while computing the gradient of `h = np.mean([L(x) for L in ...], axis=0)`:
    # setting an array element with a sequence ... inhomogeneous shape" (list_head's adjoint, a list
    # with zero items, summed as the array np.mean's adjoint is)
    def net_with(b2):
        return Pair(Layer(dlarray(W), dlarray(A)), Layer(dlarray(W.T * 0.5), dlarray(b2)))
    z, gz = dlfeval(second_order_of_layers, dlarray(X), net_with(B))

    def zf(b2):
        _, gr = dlfeval(first_order_of_layers, dlarray(X), net_with(b2))
        return float(np.sum(extractdata(gr) ** 2))
    assert float(extractdata(z)) == pytest.approx(zf(B), rel=1e-12)
    assert_close(extractdata(gz), numerical_gradient(zf, [B.copy()], 0, 1e-5), rtol=1e-4, atol=1e-6)
    # the first order is the plain program's
    _, gr = dlfeval(first_order_of_layers, dlarray(X), net_with(B))
    plain = lambda b2: mean_of_layers(X, Pair(Layer(W, A), Layer(W.T * 0.5, b2)))   # noqa: E731
    assert_close(extractdata(gr), numerical_gradient(plain, [B.copy()], 0))


# --- the tester's new features --------------------------------------------------------------------

def test_userpat_programs_are_valid_python_and_cover_every_feature():
    seen = set()
    for seed in range(300):
        p = generate(seed, FEATURES)
        compile(p.source(), "<program>", "exec")
        seen.update(p.features)
    assert set(USERPAT_FEATURES) | {"driver_accelerated"} <= seen, set(USERPAT_FEATURES) - seen
    assert resolve_features("userpat") == FEATURES
    sources = "\n".join(generate(seed, FEATURES).source() for seed in range(250))
    for construct in ("np.linalg.solve(", "np.einsum(", "keepdims=True", "np.split(", "np.argsort(",
                      "np.clip(", "while ", "lambda ", "class Scaler_", "astype(np.float32)"):
        assert construct in sources, construct


def test_perturbed_arguments_keep_shapes_and_move_values():
    args = generate(0, FEATURES)
    ns = {}
    exec(compile(args.source(), "<program>", "exec"), ns)
    a0 = ns["make_args"]()
    a1 = perturbed(a0)
    assert a1[0].shape == a0[0].shape and not np.allclose(a1[0], a0[0])
    assert a1[2].l1.w.shape == (4, 4) and not np.allclose(a1[2].l1.w, a0[2].l1.w)
    assert a1[5].k == a0[5].k                          # numbers and lists of numbers stay


@pytest.mark.heavy      # (CI skips it: tests/conftest.py; 10-50 s)
def test_userpat_programs_fixed_seeds(tmp_path):
    counts, failures = collections.Counter(), []
    for seed in range(24):
        r = run_seed(seed, str(tmp_path), FEATURES)
        counts[r.status] += 1
        if r.status in ("WRONG", "CRASHED") or (r.status == "REFUSED" and internal(r.detail)):
            failures.append(f"seed {r.seed}: {r.status} {r.kind}\n{r.reason}\n{r.source}")
    assert not failures, "\n\n".join(failures[:2])
    assert counts["PASSED"] >= 14, dict(counts)


@pytest.mark.heavy      # (CI skips it: tests/conftest.py; 10-50 s)
def test_accelerated_driver_fixed_seeds(tmp_path):
    feats = USERPAT_FEATURES + TARGET_FEATURES + ["driver_accelerated"]
    counts, failures = collections.Counter(), []
    for seed in range(8):
        r = run_seed(seed, str(tmp_path), feats)
        counts[r.status] += 1
        assert "driver_accelerated" in r.features
        if r.status in ("WRONG", "CRASHED") or (r.status == "REFUSED" and internal(r.detail)):
            failures.append(f"seed {r.seed}: {r.status} {r.kind}\n{r.reason}\n{r.source}")
    assert not failures, "\n\n".join(failures[:2])
    assert counts["PASSED"] >= 4, dict(counts)
