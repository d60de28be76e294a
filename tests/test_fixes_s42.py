"""Findings of stop 42 (mine; this stop's files end _s42): each test fails before its fix."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient


def _unbound_range(x):
    s = 0.0
    for i in range(3):
        s = s + x[i]
    if False:
        range = 5               # noqa: F841 (a local named like a builtin sct renames to range_)
    return s, dlgradient(s, x)


def test_unbound_renamed_local_is_named_as_the_user_wrote_it():
    # was: "cannot access local variable 'range_' ..." (the name sct gave it)
    with pytest.raises(sct.EvaluationError, match=r"local variable 'range' where"):
        dlfeval(_unbound_range, dlarray(np.arange(3.0)))


# --- f(x, **cfg) where the code shows cfg's keys: bound as Python binds them -------------------------

def _scaled(h, *, scale=1.0, shift=0.0):
    return h * scale + shift


def _opts(h, scale=1.0, **opts):
    return h * scale + opts.get("bias", 0.0)


def _kw_local(w, t):
    cfg = {"scale": w[0], "shift": t[1]}
    return np.sum(_scaled(w, **cfg) ** 2)


def _kw_literal(w, t):
    return np.sum(_scaled(w, **{"scale": w[1]}) ** 2) + np.sum(np.sum(np.outer(w, t), **dict(axis=0)) ** 2)


def _kw_kwargs(w, t):
    cfg = dict(scale=0.3, bias=1.5)
    return np.sum(_opts(w * t, **cfg) ** 2)


def _kw_loop(w, t):
    s = 0.0
    for i in range(3):
        cfg = {"scale": w[i], "shift": t[i]}
        c2 = dict(**cfg)
        s = s + np.sum(_scaled(w, **c2) ** 2)
    return s


cfg = {"scale": 2.0}                # (the global a nested def's own cfg must not stand for)


def _kw_nested_scope(w, t):
    def unused():
        cfg = {"shift": 1.0}
        return cfg
    return np.sum(_scaled(w, **cfg) ** 2) + np.sum(t)


@pytest.mark.parametrize("fun", [_kw_local, _kw_literal, _kw_kwargs, _kw_loop])
def test_double_star_of_a_dict_the_code_shows(fun):
    # was: "sct passes the keywords of a call with ** by position, and _scaled() takes scale as a
    # keyword-only parameter" (or "takes them as **kwargs")
    from gradcheck import check_grads
    check_grads(fun, np.array([0.4, -0.7, 1.3]), np.array([0.2, 0.9, -0.5]))


def _kw_written(w, t):
    cfg = {"scale": 0.3}
    cfg["shift"] = w[0]            # written after it is made: its keys are known when it runs only
    y = np.sum(_scaled(w, **cfg) ** 2)
    return y, dlgradient(y, w)


def test_double_star_of_a_dict_written_later_still_refused():
    with pytest.raises(sct.EvaluationError, match="keyword-only"):
        dlfeval(_kw_written, dlarray(np.array([0.4, -0.7, 1.3])), np.zeros(3))


def _nested_scope(w, t):
    y = _kw_nested_scope(w, t)
    return y, dlgradient(y, w)


def test_double_star_of_a_global_named_like_a_nested_local_is_not_read_as_it():
    # the nested def's cfg is its own: the call reads the global {"scale": 2.0}, by position
    with pytest.raises(sct.EvaluationError, match="keyword-only"):
        dlfeval(_nested_scope, dlarray(np.array([0.4, -0.7, 1.3])), np.zeros(3))
