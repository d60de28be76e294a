"""np.polyfit, np.vander, np.ediff1d and np.apply_along_axis (were "no derivative rule"), read through Python equivalents
that compute numpy's values bit for bit (runtime/more_ops.py), and np.linalg.lstsq with a list
argument, whose derivative crashed ("Field elements must be 2- or 3-tuples": the list read as a dtype)."""
import numpy as np
import pytest

from sct import dlarray, dlfeval

from gradcheck import check_grads, check_second_order

X = np.array([0.3, -1.2, 2.0, 0.7])
T = [0.0, 1.0, 2.0, 3.0]

CASES = {
    "polyfit_y": lambda x: np.sum(np.polyfit(T, x, 2) ** 2),
    "polyfit_x": lambda x: np.sum(np.polyfit(x, T, 1) ** 2),
    "polyfit_w": lambda x: np.sum(np.polyfit(T, x, 1, w=[1.0, 2.0, 1.0, 0.5]) ** 2),
    "polyfit_traced_w": lambda x: np.sum(np.polyfit(T, [1.0, 0.0, 2.0, 1.0], 1, w=x ** 2) ** 2),
    "polyfit_2d": lambda x: np.sum(np.polyfit([0.0, 1.0], x.reshape(2, 2), 1) ** 2),
    "polyfit_polyval": lambda x: np.sum(np.polyval(np.polyfit(T, x, 2), [0.5, 1.5]) ** 2),
    "vander": lambda x: np.sum(np.vander(x, 3) ** 2),
    "vander_increasing": lambda x: np.sum(np.vander(x, increasing=True) @ x),
    "ediff1d": lambda x: np.sum(np.ediff1d(x, to_begin=x[0]) ** 2),
    "ediff1d_2d": lambda x: np.sum(np.ediff1d(x.reshape(2, 2)) ** 3),
    "ediff1d_end": lambda x: np.sum(np.ediff1d(x, to_end=[1.0, 2.0]) ** 2),
    "apply_along_rows": lambda x: np.sum(np.apply_along_axis(lambda r: r ** 2, 1, x.reshape(2, 2))),
    "apply_along_scalar": lambda x: np.sum(np.apply_along_axis(lambda r: np.sum(r ** 3), 0, x.reshape(2, 2)) ** 2),
    "apply_along_norm": lambda x: np.sum(np.apply_along_axis(np.linalg.norm, 1, x.reshape(2, 2))),
    "apply_along_args": lambda x: np.sum(np.apply_along_axis(lambda r, p: r ** p, 0, x.reshape(2, 2), 3)),
    "apply_along_outer": lambda x: np.sum(np.apply_along_axis(lambda r: np.outer(r, r), 1, x.reshape(2, 2)) ** 2),
    "lstsq_list_b": lambda x: np.sum(np.linalg.lstsq(x.reshape(2, 2) + 2 * np.eye(2), [1.0, 2.0], rcond=None)[0] ** 2),
    "lstsq_list_a": lambda x: np.sum(np.linalg.lstsq([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]], x,
                                                     rcond=None)[0] ** 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_first_and_second_derivatives(name):
    check_grads(CASES[name], X.copy())
    check_second_order(CASES[name], X.copy())


@pytest.mark.parametrize("fn", [lambda x: np.polyfit(T, x, 2), lambda x: np.polyfit(x, T, 3),
                                lambda x: np.vander(x, 3), lambda x: np.vander(x, increasing=True),
                                lambda x: np.ediff1d(x, to_begin=x[0]),
                                lambda x: np.apply_along_axis(lambda r: np.outer(r, r), 0, x.reshape(2, 2)),
                                lambda x: np.apply_along_axis(lambda r: r[:1] * 2, -1, x.reshape(2, 2))])
def test_values_are_numpys(fn):
    got = np.asarray(dlfeval(fn, dlarray(X.copy())).data)
    want = fn(X.copy())
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
