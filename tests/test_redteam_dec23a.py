"""Red team A (dec 23): silent wrong gradients in programs written the way users write them.

Findings (each a silently wrong gradient before the fix, with no error):

1. A NaN gradient where the program's derivative is finite: a rule's factor that is not finite
   (np.sqrt's 0.5 / sqrt(v) at v < 0 or v == 0) times the zero adjoint of an entry that does not
   reach y.  ``np.sqrt(x)[0]`` with x[1] < 0 gave d/dx[1] = NaN (the program's is 0); so did a
   slice, a mask, fancy indexing, np.take, np.sort, an overwrite ``y = np.sqrt(x); y[x < 0] = 0``,
   np.fmax / np.fmin, np.select, np.choose, builtin max / min of a NaN, np.delete, np.compress,
   unpacking.  The classic: pairwise distances ``np.sqrt(sq)`` with sq's diagonal exactly 0, the
   diagonal masked out (by indexing or by np.where): an ALL-NaN gradient where central differences
   give a finite one (np.where's check only saw a branch that is NaN, not one whose derivative is
   infinite).  Now a NaN gradient of a finite y is refused with an EvaluationError naming the
   dlgradient's line (runtime/support.project, seed, scalar_ops.scalar_seed), as np.where's
   unselected NaN branch already was.  A NaN y keeps its NaN gradient; an infinite derivative
   (np.sqrt at 0, used) stays infinite.
"""
import warnings

import numpy as np
import pytest

import sct
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata


def _entry(fn, x):
    y = fn(x)
    return y, dlgradient(y, x)


def _refused_or_right(fn, x):
    """fn's gradient at x is either refused (EvaluationError naming this file) or right (FD)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = fn(x.copy())
        try:
            y, g = dlfeval(_entry, fn, dlarray(x.copy()))
        except sct.EvaluationError as e:
            assert "test_redteam_dec23a.py" in str(e)
            return "refused"
        num = numerical_gradient(lambda a: float(fn(a.copy())), [x.copy()], 0, 1e-7)
    np.testing.assert_allclose(np.asarray(extractdata(y)), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(extractdata(g)), num, rtol=1e-5, atol=1e-6)
    return "right"


X4 = np.array([0.5, -0.25, 0.75, 1.0])


# --- 1. a NaN gradient of a finite y --------------------------------------------------------------

def sqrt_then_index(x):
    return np.sqrt(x)[0]


def sqrt_then_slice(x):
    return np.sum(np.sqrt(x)[2:])


def sqrt_then_mask(x):
    return np.sum(np.sqrt(x)[x > 0])


def sqrt_then_take(x):
    return np.sum(np.take(np.sqrt(x), [0, 2]))


def sqrt_then_sort(x):
    return np.sort(np.sqrt(x))[0]


def sqrt_overwritten_by_mask(x):
    y = np.sqrt(x)
    y[x < 0] = 0.0
    return np.sum(y)


def sqrt_overwritten_at_index(x):
    y = np.sqrt(x)
    y[1] = 0.0
    return np.sum(y)


def fmax_of_nan(x):
    return np.sum(np.fmax(x, np.sqrt(-x)))


def select_default_nan(x):
    return np.sum(np.select([x > 0], [x ** 2], default=np.sqrt(-x)))


def choose_nan(x):
    return np.sum(np.choose((x > 0).astype(int), [np.sqrt(-x), x]))


def builtin_max_of_nan(x):
    return max(x[2], np.sqrt(-x[2])) + x[2]


def unpacked(x):
    a, b, c, d = np.sqrt(x)
    return a + c


@pytest.mark.parametrize("fn", [sqrt_then_index, sqrt_then_slice, sqrt_then_mask, sqrt_then_take,
                                sqrt_then_sort, sqrt_overwritten_by_mask, sqrt_overwritten_at_index,
                                fmax_of_nan, select_default_nan, choose_nan, builtin_max_of_nan, unpacked])
def test_nan_gradient_of_a_finite_y_is_refused_or_right(fn):
    # was: NaN at the entries that do not reach y (central differences: 0 there)
    _refused_or_right(fn, X4)


def pairwise_masked(X):
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    D = np.sqrt(sq)
    mask = ~np.eye(X.shape[0], dtype=bool)
    return np.sum(D[mask])


def pairwise_where(X):
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    D = np.sqrt(sq)
    return np.sum(np.where(np.eye(X.shape[0], dtype=bool), 0.0, D))


def pairwise_safe(X):
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    eye = np.eye(X.shape[0], dtype=bool)
    D = np.sqrt(np.where(eye, 1.0, sq))          # the "double where": the diagonal kept finite
    return np.sum(np.where(eye, 0.0, D))


PTS = np.array([[0.0, 1.0], [1.0, 0.5], [0.3, -0.2]])


@pytest.mark.parametrize("fn", [pairwise_masked, pairwise_where])
def test_pairwise_distances_with_a_zero_diagonal(fn):
    # was: an all-NaN gradient, the loss finite (6.69)
    assert _refused_or_right(fn, PTS) == "refused"


def test_pairwise_distances_kept_finite_still_differentiate():
    assert _refused_or_right(pairwise_safe, PTS) == "right"


def test_the_error_names_the_dlgradient_line():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(sct.EvaluationError) as info:
            dlfeval(_entry, sqrt_then_index, dlarray(X4))
    assert info.value.lineno == _entry.__code__.co_firstlineno + 2


def nan_loss(x):
    return np.sum(np.sqrt(x))


def test_a_nan_y_keeps_its_nan_gradient():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y, g = dlfeval(_entry, nan_loss, dlarray(X4))
    assert np.isnan(extractdata(y)) and np.isnan(extractdata(g)[1])
    np.testing.assert_allclose(extractdata(g)[[0, 2, 3]], 0.5 / np.sqrt(X4[[0, 2, 3]]))


def sqrt_at_zero(x):
    return np.sum(np.sqrt(x))


def test_an_infinite_derivative_stays_infinite():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y, g = dlfeval(_entry, sqrt_at_zero, dlarray(np.array([0.0, 4.0])))
    assert extractdata(y) == 2.0
    assert np.isinf(extractdata(g)[0]) and extractdata(g)[1] == 0.25


def scalar_elements_nan(x):
    s = np.sqrt(x[1])
    return x[0] * 2.0 + 0.0 * s if False else x[0] * 2.0 + (s if x[1] > 0 else 0.0)


def scalar_max_nan(x):
    a = x[0] * 1.0
    b = np.sqrt(x[1] * 1.0)
    return max(a, b)


def test_scalar_specialised_code_refuses_too():
    # float64 elements run as Python floats (sct/scalar_elements.py): the same refusal
    assert _refused_or_right(scalar_max_nan, np.array([0.5, -0.25])) == "refused"
    assert _refused_or_right(scalar_elements_nan, np.array([0.5, -0.25])) == "right"


def _second(fn, x):
    y = fn(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def test_second_order_refuses_the_nan_first_gradient():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(sct.EvaluationError, match="NaN"):
            dlfeval(_second, sqrt_then_index, dlarray(X4))


# --- 2. an object array (MATLAB's cell array) in code compiled on its own ---------------------------
#
# A helper building ``np.array([x[0], x[1], x[2]], dtype=object)`` differentiated twice: the first
# derivative's saved values hold the object array, whose kind sct took for a constant's when it
# compiled the sweep again, so the second derivative was silently 0 (central differences: 4 * x).
# A helper given such an array raised a reshape error inside the gradient.  Both now refused at the
# call's line (sct/kinds.refuse_object_array_traced); inline, the same code differentiates.

def object_array_helper(x):
    a = np.array([x[0], x[1], x[2]], dtype=object)
    return np.sum(a * a)


def _hessian_of_helper(x):
    y = object_array_helper(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def _hessian_inline(x):
    a = np.array([x[0], x[1], x[2]], dtype=object)
    y = np.sum(a * a)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def _sum_squares(a):
    return np.sum(a * a)


def _object_array_to_helper_in_loop(x):
    a = np.array([x[0], x[1], x[2]], dtype=object)
    s = 0.0
    for i in range(2):
        s = s + _sum_squares(a) * (i + 1)
    return s, dlgradient(s, x)


X3 = np.array([0.35, -0.45, 0.72, 0.23])


def test_second_derivative_through_an_object_array_helper_is_refused():
    # was: z = 4 * sum(x[:3]**2) with gradient 0, 0, 0, 0 (closed form 8 * x[:3])
    with pytest.raises(sct.EvaluationError, match="dtype=object") as info:
        dlfeval(_hessian_of_helper, dlarray(X3))
    assert info.value.lineno == _hessian_of_helper.__code__.co_firstlineno + 1


def test_second_derivative_through_an_object_array_inline_is_right():
    z, gz = dlfeval(_hessian_inline, dlarray(X3))
    np.testing.assert_allclose(extractdata(z), 4 * np.sum(X3[:3] ** 2), rtol=1e-12)
    np.testing.assert_allclose(extractdata(gz), np.r_[8 * X3[:3], 0.0], rtol=1e-12)


def test_object_array_given_to_a_helper_is_refused_at_the_call():
    with pytest.raises(sct.EvaluationError, match="dtype=object") as info:
        dlfeval(_object_array_to_helper_in_loop, dlarray(X3))
    assert info.value.lineno == _object_array_to_helper_in_loop.__code__.co_firstlineno + 4


def _labels_to_helper(x, labels):
    return np.sum(x * _weights_of(labels))


def _weights_of(labels):
    return np.array([2.0 if v == "a" else 3.0 for v in labels])


def _labels_entry(x, labels):
    y = 0.0
    for _ in range(2):
        y = y + _labels_to_helper(x, labels)
    return y, dlgradient(y, x)


def test_object_array_of_strings_still_passes():
    labels = np.array(["a", "b", "a"], dtype=object)
    y, g = dlfeval(_labels_entry, dlarray(np.array([1.0, 2.0, 3.0])), labels)
    assert extractdata(y) == 2 * (2.0 + 6.0 + 6.0)
    np.testing.assert_allclose(extractdata(g), [4.0, 6.0, 4.0])


# --- 1b. the same through dljacobian and hvp -------------------------------------------------------

def _jacobian_of_sqrt_column(x):
    u = np.sqrt(x)[:, :1]
    return dljacobian_(u, x)


def dljacobian_(u, x):
    return sct.dljacobian(u, x, 0)


def _jacobian_inline(x):
    u = np.sqrt(x)[:, :1]
    return sct.dljacobian(u, x, 0)


def _gradient_first(x):
    y = np.sum(x ** 2)
    return y, dlgradient(y, x)


def test_dljacobian_nan_entry_of_a_finite_u_is_refused_whatever_ran_before():
    # was: [[0.707, nan]], [[0.913, nan]] (du[b, 0] / dx[b, 1] is 0)
    x = np.array([[0.5, -0.2], [0.3, -0.1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for before in (None, _gradient_first):
            if before is not None:
                dlfeval(before, dlarray(np.array([1.0, 2.0])))
            with pytest.raises(sct.EvaluationError, match="NaN") as info:
                dlfeval(_jacobian_inline, dlarray(x))
            assert "test_redteam_dec23a.py" in str(info.value)
        # a finite Jacobian still comes back after a refusal
        J = extractdata(dlfeval(_jacobian_inline, dlarray(np.abs(x))))
    np.testing.assert_allclose(J[:, 0, :], np.c_[0.5 / np.sqrt(np.abs(x[:, 0])), np.zeros(2)])


def _sqrt_first(x):
    return np.sqrt(x)[0]


def test_hvp_nan_entry_is_refused_at_the_users_call():
    # was: [-0.7071, nan] (the Hessian of sqrt(x[0]) times v: [-0.25 x0^-1.5, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(sct.EvaluationError, match="NaN") as info:
            sct.hvp(_sqrt_first, np.array([0.5, -0.2]), np.array([1.0, 1.0]))
    assert "test_redteam_dec23a.py" in str(info.value)
    hv = sct.hvp(_sqrt_first, np.array([0.5, 0.2]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(extractdata(hv), [-0.25 * 0.5 ** -1.5, 0.0])


# --- 3. a loop walking x.flat while its body changes x (main's new flat reads) ------------------------
#
# numpy's flat iterator is live: each step reads the item as it is then.  sct read ``for v in M.flat``
# as a walk of M.flatten() taken at the loop's start, so a body changing M (``M[i + 1] += v``,
# ``M *= 2``, ``M[-1] = ...`` through zip, or through another name N = M) silently gave the old values:
# 1.5 where Python gives 6.5.  Such a loop now keeps ``.flat`` as written and is refused at the line
# (sct/normalize.FlatReads.visit_For); loops whose body changes nothing still read it.

def flat_live_next_item(x):
    M = x.reshape(2, 2) * 1.0
    acc = 0.0
    for i, v in enumerate(M.flat):
        if i + 1 < M.size:
            M[(i + 1) // 2, (i + 1) % 2] += v
        acc = acc + v * v
    return acc


def flat_live_scaled(x):
    M = x * 1.0
    acc = 0.0
    for v in M.flat:
        M *= 2.0
        acc = acc + v
    return acc


def flat_live_zip(x):
    M = x * 1.0
    acc = 0.0
    for a, b in zip(M.flat, x):
        M[-1] = a * b
        acc = acc + a
    return acc


def flat_live_other_name(x):
    M = x * 1.0
    N = M
    acc = 0.0
    for v in M.flat:
        N[-1] = v
        acc = acc + v
    return acc


def flat_live_local_helper(x):
    M = x * 1.0

    def bump(k):
        M[-1] = M[-1] + k

    acc = 0.0
    for v in M.flat:
        bump(v)
        acc = acc + v
    return acc


def flat_live_aug_through_other_name(x):
    M = x * 1.0
    N = M
    acc = 0.0
    for v in M.flat:
        N += 1.0
        acc += v
    return acc


def flat_accumulated_in_place(x):
    M = x.reshape(2, 2) * 1.0
    acc = 0.0
    n = 0
    for v in M.flat:
        acc += v ** 2
        n += 1
    return acc / n


def flat_read_only(x):
    M = x.reshape(2, 2) * 1.0
    acc = 0.0
    for i, v in enumerate(M.flat):
        acc = acc * 0.5 + np.tanh(v) * (i + 1)
    return acc


@pytest.mark.parametrize("fn", [flat_live_next_item, flat_live_scaled, flat_live_zip, flat_live_other_name,
                                flat_live_local_helper, flat_live_aug_through_other_name])
def test_flat_walk_of_an_array_the_loop_changes_is_refused_or_right(fn):
    # was: 5.34 for 5.99, 1.5 for 6.5, 1.5 for 0.5, 1.5 for -1.5 (values and gradients of old items)
    x = np.array([0.5, -1.0, 2.0, 0.3])
    try:
        y, g = dlfeval(_entry, fn, dlarray(x.copy()))
    except (sct.CompileError, sct.EvaluationError) as e:
        assert "test_redteam_dec23a.py" in str(e)
        return
    np.testing.assert_allclose(float(extractdata(y)), fn(x.copy()), rtol=1e-12)
    np.testing.assert_allclose(extractdata(g), numerical_gradient(lambda a: fn(a.copy()), [x.copy()], 0),
                               rtol=1e-6, atol=1e-8)


def test_flat_walk_that_changes_nothing_still_differentiates():
    x = np.array([0.5, -1.0, 2.0, 0.3])
    assert _refused_or_right(flat_read_only, x) == "right"
    assert _refused_or_right(flat_accumulated_in_place, x) == "right"       # acc += v: a float, not M


def _x_sqrt_x(x):
    return x * np.sqrt(x)


def _sqrt_times_zero(x):
    return np.sum(np.sqrt(x) * 0.0 + x)


def test_jvp_nan_tangent_of_a_finite_value_is_refused():
    # was: tangents [nan, 3.0] and nan where the values are finite (0, 8 and 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for fn in (_x_sqrt_x, _sqrt_times_zero):
            with pytest.raises(sct.EvaluationError, match="NaN") as info:
                sct.jvp(fn, np.array([0.0, 4.0]), np.array([1.0, 1.0]))
            assert "test_redteam_dec23a.py" in str(info.value)
        value, tangent = sct.jvp(_x_sqrt_x, np.array([-1.0, 4.0]), np.array([1.0, 1.0]))   # a NaN value
    assert np.isnan(extractdata(value)[0]) and np.isnan(extractdata(tangent)[0])
    assert extractdata(tangent)[1] == 3.0
    value, tangent = sct.jvp(_x_sqrt_x, np.array([1.0, 4.0]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(extractdata(tangent), [1.5, 3.0])
