"""Red team (wt-R): programs written as users write them (numpy method chains, helpers with
**kwargs, dict merges, forward mode vs reverse mode), values compared with plain Python and
gradients / JVPs with central differences (tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient

X = np.array([[0.3, -0.2, 1.1], [0.5, 0.9, -0.7]])
V = np.array([[1.0, -0.5, 0.25], [2.0, 0.1, -1.0]])


def _first(f, x):
    y = f(x)
    return y, dlgradient(y, x)


def check_jvp(f, x=X, v=V):
    """sct.jvp (forward mode) against the value of plain Python and a central difference."""
    y, jv = sct.jvp(f, x.copy(), v.copy())
    assert_close(extractdata(y), f(x.copy()), rtol=1e-12, atol=1e-12, what="value")
    h = 1e-6
    assert_close(extractdata(jv), (f(x + h * v) - f(x - h * v)) / (2 * h), what="jvp")


def check_reverse(f, x=X):
    y, g = dlfeval(_first, f, dlarray(x.copy()))
    assert_close(extractdata(y), f(x.copy()), rtol=1e-12, atol=1e-12, what="value")
    assert_close(extractdata(g), numerical_gradient(f, [x.copy()], 0), what="gradient")


# --- found: forward mode dropped a helper's **kwargs (TypeError from the generated code) -------------

def scaled_norm(y, **options):
    return np.sum(y * options.get("scale", 1.0)) + options["weight"] * np.sum(y ** 2)


def calls_with_keywords(x):
    return scaled_norm(x, weight=2.0, scale=3.0)


def test_forward_mode_helper_with_var_keywords():
    check_jvp(calls_with_keywords)
    check_reverse(calls_with_keywords)


# --- found: forward mode of a dict merge ({**a, **b} via d.update, a | b, d |= ...) raised ------------

def dict_update(x):
    d = {"a": x}
    d["a"] = d["a"] ** 2
    d.update(b=d["a"] * 2)
    return np.sum(d["b"])


def dict_or(x):
    d = {"a": x[0]}
    e = d | {"b": x[1] ** 2}
    return np.sum(e["a"] * e["b"])


def dict_ior(x):
    d = {"a": x[0]}
    d |= {"b": x[1] ** 2, "a": x[1]}
    return np.sum(d["a"] * d["b"])


def dict_star(x):
    d = {"a": x[0], "b": x[1]}
    e = {**d, "c": x[0] * x[1]}
    return np.sum(e["a"] * e["c"] + e["b"])


@pytest.mark.parametrize("f", [dict_update, dict_or, dict_ior, dict_star])
def test_forward_mode_dict_merges(f):
    check_jvp(f)
    check_reverse(f)
    hv = sct.hvp(f, X.copy(), V.copy())
    h = 1e-6
    grad = lambda a: np.asarray(extractdata(dlfeval(_first, f, dlarray(a))[1]))
    assert_close(extractdata(hv), (grad(X + h * V) - grad(X - h * V)) / (2 * h), rtol=1e-4, atol=1e-5,
                 what="hvp")


# --- found: forward mode of Python's sum() over float32 arrays gave a float64 tangent ----------------

def builtin_sum_rows(x):
    return np.sum(sum(x) ** 2) + sum([x[0] ** 2, x[1], 3.0 * x[0]]).sum()


def test_forward_mode_builtin_sum_keeps_float32():
    x32, v32 = X.astype(np.float32), V.astype(np.float32)
    y, jv = sct.jvp(builtin_sum_rows, x32, v32)
    assert extractdata(y).dtype == np.float32
    assert extractdata(jv).dtype == np.float32
    check_jvp(builtin_sum_rows)
    y, g = dlfeval(_first, builtin_sum_rows, dlarray(x32))
    assert extractdata(g).dtype == np.float32
    check_reverse(builtin_sum_rows)


# --- found: int() of a one-element dlarray (int(np.argmax(scores)) outside dlfeval) raised -----------

def test_int_of_one_element_dlarray_outside_dlfeval():
    scores = dlarray(X)
    assert int(np.argmax(scores)) == int(np.argmax(X)) == 2
    assert int(scores[1, 1]) == int(X[1, 1])
    with pytest.raises(TypeError):
        int(scores)


# --- found: dljacobian / dldivergence / dllaplacian of a u whose points are coupled were silently
# wrong (the sweeps run for all points at once add the other points' derivatives into each one) -----

from sct import EvaluationError, dldivergence, dljacobian, dllaplacian   # noqa: E402

P = np.array([[0.3, -0.2], [0.45, 0.9], [1.1, -0.7]])


def centred_jacobian(x):
    return dljacobian(x - np.mean(x, axis=0), x, 0)        # was 0; the truth is (1 - 1/B) I


def scaled_by_batch_sum_divergence(x):
    return dldivergence(x ** 3 * np.sum(x), x, 0)


def laplacian_reading_point_0(x):
    return dllaplacian(np.sum(x ** 2, axis=1) * x[0, 0], x, 0)


def jacobian_points_along_axis_1(x):
    xt = x.T
    return dljacobian(np.exp(xt) * xt[:, 0:1], xt, 1)


@pytest.mark.parametrize("f", [centred_jacobian, scaled_by_batch_sum_divergence, laplacian_reading_point_0,
                               jacobian_points_along_axis_1])
def test_coupled_points_refused(f):
    with pytest.raises(EvaluationError, match="not independent"):
        dlfeval(f, dlarray(P))


def independent_jacobian(x):
    return dljacobian(np.tanh(x @ np.array([[1.0, 0.5], [0.2, -1.0]])) * np.sum(x, axis=1, keepdims=True), x, 0)


def per_point(x):
    return np.tanh(x @ np.array([[1.0, 0.5], [0.2, -1.0]])) * np.sum(x)


def test_independent_points_still_exact():
    J = extractdata(dlfeval(independent_jacobian, dlarray(P)))
    for b in range(len(P)):
        for i in range(2):
            assert_close(J[b, i], numerical_gradient(lambda v: per_point(v)[i], [P[b].copy()], 0))
    J32 = extractdata(dlfeval(independent_jacobian, dlarray(P.astype(np.float32))))
    assert J32.dtype == np.float32
    assert_close(J32, J, rtol=1e-4, atol=1e-5)
    lap = extractdata(dlfeval(lambda x: dllaplacian(np.sum(np.sin(x) * x, axis=1), x, 0), dlarray(P)))
    assert_close(lap, np.sum(2 * np.cos(P) - P * np.sin(P), axis=1))


class Weighted:
    def __init__(self, w):
        self.w = w

    def apply(self, v, **options):
        return v * self.w * options.get("k", 1.0)


def every_kind_of_parameter(a, b=2.0, *args, c, d=4.0, **kw):
    return a * b + sum(args) + c * d + kw.get("e", 0.0)


def method_with_var_keywords(x):
    return np.sum(Weighted(np.array([1.0, 2.0, 3.0])).apply(x, k=3.0) ** 2)


def helper_with_every_kind(x):
    return np.sum(every_kind_of_parameter(x, 3.0, 1.0, c=2.0, e=5.0) ** 2)


@pytest.mark.parametrize("f", [method_with_var_keywords, helper_with_every_kind])
def test_forward_mode_var_keywords_in_methods_and_full_signatures(f):
    check_jvp(f)
    check_reverse(f)
