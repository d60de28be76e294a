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
