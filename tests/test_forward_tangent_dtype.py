"""jvp / hvp: a complex tangent for a real primal is refused, never cast silently (numpy's cast
drops the imaginary part); a complex one with zero imaginary part, and real tangents of another
float dtype, are taken in the primal's dtype."""
import numpy as np
import pytest

import sct
from sct import SctError
from tests.gradcheck import assert_close


def model(x):
    return np.sin(x) * 2.0


def loss(x):
    return np.sum(np.sin(x) * x)


X = np.array([0.3, 0.7, -1.1])


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_complex_tangent_of_a_real_primal_is_refused(mode):
    with pytest.raises(SctError, match="imaginary part would be dropped"):
        sct.jvp(model, X, np.array([1 + 2j, 0.5j, 0]), mode=mode)


def test_complex_direction_of_a_real_hvp_is_refused():
    with pytest.raises(SctError, match="imaginary part would be dropped"):
        sct.hvp(loss, X, np.array([1j, 0, 0]))


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_complex_tangent_with_zero_imaginary_part_is_the_real_one(mode):
    import warnings
    v = np.array([1.0, -0.5, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, jv = sct.jvp(model, X, v.astype(complex), mode=mode)
    y2, jv2 = sct.jvp(model, X, v, mode=mode)
    assert np.asarray(sct.extractdata(jv)).dtype == np.float64
    assert_close(np.asarray(sct.extractdata(jv)), 2.0 * np.cos(X) * v)
    assert_close(np.asarray(sct.extractdata(jv)), np.asarray(sct.extractdata(jv2)))
    hv = sct.hvp(loss, X, v.astype(complex))
    assert_close(np.asarray(sct.extractdata(hv)), (2 * np.cos(X) - X * np.sin(X)) * v)


def test_complex_primal_takes_a_complex_tangent():
    z = X.astype(complex)
    v = np.array([1 + 2j, 0.5j, 0])
    y, jv = sct.jvp(model, z, v)
    assert_close(np.asarray(sct.extractdata(jv)), 2.0 * np.cos(z) * v)
