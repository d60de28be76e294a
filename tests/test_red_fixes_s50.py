"""Fixes of stop 50's red-team findings made on main: a user's global named ``np`` that is not numpy (a
namespace, a wrapper), in a function that reads numpy as ``numpy``: the derivative rules' code must still
call numpy (was: cos's rule called the user's ``np.sin``, a silent wrong gradient, red team redinl50); and
runtime.support's library module names (shadowed by a list of paths of the same name)."""
from __future__ import annotations

import types

import numpy

from sct import dlarray, dlfeval, dlgradient

np = types.SimpleNamespace(sin=lambda v: 2 * numpy.sin(v), cosh=lambda v: 3 * numpy.cosh(v))


def cos_loss(x):
    y = numpy.sum(numpy.cos(x))
    return y, dlgradient(y, x)


def sinh_loss(x):
    y = numpy.sum(numpy.sinh(x) * x)
    return y, dlgradient(y, x)


def test_cos_rule_calls_numpy_not_the_users_np():
    x0 = numpy.array([1.0, 2.0, -0.5])
    for _ in range(3):                                  # the compiling call and the hits
        y, g = dlfeval(cos_loss, dlarray(x0))
        numpy.testing.assert_allclose(numpy.asarray(g), -numpy.sin(x0), rtol=1e-14)
        numpy.testing.assert_allclose(float(y), numpy.sum(numpy.cos(x0)), rtol=1e-14)


def test_sinh_rule_calls_numpy_not_the_users_np():
    x0 = numpy.array([0.3, -0.7])
    y, g = dlfeval(sinh_loss, dlarray(x0))
    numpy.testing.assert_allclose(numpy.asarray(g), numpy.cosh(x0) * x0 + numpy.sinh(x0), rtol=1e-13)


def test_class_parts_leave_out_the_librarys_classes():
    # (runtime.support's set of library module names was shadowed by a later list of paths of the same
    # name, so object and collections' classes counted as the user's classes of an MRO)
    import collections

    from sct.runtime import support

    class Mine(collections.OrderedDict):
        scale = 2.0

    users = support._class_parts(Mine)[1]
    assert Mine in users
    assert object not in users and collections.OrderedDict not in users and dict not in users


# --- an item read then replaced by the same key in a loop, before dlgradient with respect to the dict ----
# (s50 integration: stored_items refused it as "a read before a later store"; the read sees the value of
# the iteration before, never the one the gradient is taken with respect to)

def _replaced_in_loop(p0):
    p = {"w": p0["w"] * 1.0, "b": p0["b"] * 1.0}
    for i in range(3):
        p["w"] = numpy.sin(p["w"]) * 2.0 + 0.1
    y = numpy.sum(p["w"] ** 3 * p["b"])
    return y, dlgradient(y, p)


def _skipped_in_last_iteration(p0):
    p = {"w": p0["w"] * 1.0, "b": p0["b"] * 1.0}
    t = 0.0
    for i in range(3):
        t = t + numpy.sum(p["w"] ** 2)
        if i == 2:
            continue
        p["w"] = numpy.sin(p["w"]) * 2.0
    y = t + numpy.sum(p["w"])
    return y, dlgradient(y, p)


def test_item_replaced_in_a_loop_then_the_dict_differentiated():
    import pytest
    import sct
    w, b = numpy.array([0.3, -0.6]), numpy.array([0.5, 1.5])
    y, g = dlfeval(_replaced_in_loop, {"w": dlarray(w), "b": dlarray(b)})
    wf = w
    for _ in range(3):
        wf = numpy.sin(wf) * 2.0 + 0.1
    numpy.testing.assert_allclose(numpy.asarray(g["w"]), 3 * wf ** 2 * b, rtol=1e-12)   # d/d p["w"] at the site
    numpy.testing.assert_allclose(numpy.asarray(g["b"]), wf ** 3, rtol=1e-12)
    # a continue between the read and the store: the last read sees the value at the site: exact or refused
    try:
        y, g = dlfeval(_skipped_in_last_iteration, {"w": dlarray(w), "b": dlarray(b)})
    except sct.SctError:
        return
    w2 = numpy.sin(numpy.sin(w) * 2.0) * 2.0
    numpy.testing.assert_allclose(numpy.asarray(g["w"]), 2 * w2 + 1, rtol=1e-12)
