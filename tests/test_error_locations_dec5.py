"""Two refusals that named no file or line now name the user's function (red team nb): keyword-only
arguments given by dlfeval to a function with *args, and hvp of a function not returning a real scalar."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient


def _star_keywords(*xs, scale=1.0):
    y = sum(np.sum(v ** 2) for v in xs) * scale
    return y, dlgradient(y, xs[0])


def test_keyword_only_with_star_args_names_the_function():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(_star_keywords, dlarray(np.array([1.0, 2.0])), dlarray(np.ones(2)), scale=0.5)
    assert info.value.filename == __file__ and info.value.lineno == _star_keywords.__code__.co_firstlineno
    assert "scale" in str(info.value)


def _complex_loss(x):
    return np.sum(x * 1j)


def test_hvp_of_a_complex_value_names_the_function():
    with pytest.raises(sct.EvaluationError) as info:
        sct.hvp(_complex_loss, np.ones(2), np.ones(2))
    assert info.value.filename == __file__ and info.value.lineno == _complex_loss.__code__.co_firstlineno
    assert "real scalar" in str(info.value)
