"""Third derivatives through ``u * t`` whose operands may be lists, tuples or arrays (decided when
the code runs: rt.repeat_adjoint).  The rule of its transpose (rt.repeat_adjoint_transpose) took only
the cotangent: the count's (in a product, the other factor's) derivative was dropped, a silently
wrong third derivative (0.00435 for 0.00475).  The transposes are now differentiated from their
source (their product case is made of ops with rules).  Checked: the gradient of a function of the
second-order gradient against central differences of that second-order gradient."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402
import test_redteam_dec14i as cases  # noqa: E402

from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402


def _second(f, x):
    y = f(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.tanh(0.01 * g))
    return z, dlgradient(z, x)


def _third(f, x):
    y = f(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(np.tanh(0.01 * g))
    g2 = dlgradient(z, x, EnableHigherDerivatives=True)
    w = np.sum(np.tanh(0.01 * g2))
    return w, dlgradient(w, x)


def _w(f, a):
    _, g2 = dlfeval(_second, f, dlarray(a.copy()))
    return np.sum(np.tanh(0.01 * np.asarray(extractdata(g2))))


@pytest.mark.parametrize("name", ["dict_item_squared", "dict_items_product", "dict_items_complex_product",
                                  "helper_tuple_times_count", "helper_results_multiplied",
                                  "rebind_tuple_in_loop"])
def test_third_derivative(name):
    f = getattr(cases, name)
    x = np.array([0.5, 0.3])
    w, g3 = dlfeval(_third, f, dlarray(x.copy()))
    assert_close(extractdata(w), _w(f, x), rtol=1e-9, what=f"{name}: value")
    assert_close(extractdata(g3), numerical_gradient(lambda a: _w(f, a), [x.copy()], 0, step=1e-5),
                 rtol=1e-4, atol=1e-7, what=f"{name}: third-order gradient")
