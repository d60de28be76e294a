"""Errors name the user's file, line and construct, and say what to do (issue 2, item 6)."""
import math

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

COUNTER = 0


def uses_yield(x):
    y = np.sum(x)
    yield y


def uses_global(x):
    # (a plain `COUNTER = 1` is followed since glob56: tests/test_glob56_s56.py; a loop's target is not)
    global COUNTER
    for COUNTER in range(2):
        pass
    y = np.sum(x)
    return dlgradient(y, x)


def uses_try(x):
    try:
        y = np.sum(x)
        print(y)      # (an impure body: a try whose body is pure is differentiated)
    except ValueError:
        y = 0.0
    return dlgradient(y, x)


def uses_c_builtin(x):
    y = math.ulp(x[0]) + np.sum(x)          # (math.gamma has a rule now)
    return dlgradient(y, x)


def uses_nonlocal_class(x):
    k = 2.0

    class Local:        # (s53: a class reading none of the function's names runs; this one reads k)
        scale = k
    return dlgradient(np.sum(x), x)


def shape_mismatch(x, w):
    y = np.sum(w @ x)
    return dlgradient(y, x)


def _line_of(fun, text):
    import inspect
    lines, start = inspect.getsourcelines(fun)
    for i, line in enumerate(lines):
        if text in line:
            return start + i
    raise AssertionError(text)


@pytest.mark.parametrize("fun, construct, marker, advice", [
    (uses_yield, "yield", "yield y", "return a list"),
    (uses_global, "a global statement", "global COUNTER", "pass the value in"),
    (uses_try, "print(...) inside try", "print(y)", "with if"),
    (uses_nonlocal_class, "a class definition", "class Local", "module level"),
])
def test_unsupported_construct_names_file_line_and_advice(fun, construct, marker, advice):
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fun, dlarray([1.0, 2.0]))
    err = info.value
    assert isinstance(err, sct.SctError)
    assert err.filename == __file__
    assert err.lineno == _line_of(fun, marker)
    message = str(err)
    assert construct in message and advice in message
    assert f"{__file__}, line {err.lineno}" in message


def test_call_without_rule_or_source_is_named():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(uses_c_builtin, dlarray([1.0, 2.0]))
    assert "math.ulp" in str(info.value)
    assert info.value.lineno == _line_of(uses_c_builtin, "math.ulp")


def test_shape_mismatch_points_at_the_users_line():
    with pytest.raises(sct.SctError) as info:
        dlfeval(shape_mismatch, dlarray(np.ones(3)), dlarray(np.ones((2, 4))))
    err = info.value
    assert err.filename == __file__
    assert err.lineno == _line_of(shape_mismatch, "w @ x")
    assert "ValueError" in str(err) and "w @ x" in str(err)
    assert isinstance(err.__cause__, ValueError)


def test_non_scalar_and_complex_y_and_outside_use_are_sct_errors():
    from test_semantics import nonscalar_y, complex_y
    with pytest.raises(sct.SctError, match="scalar"):
        dlfeval(nonscalar_y, dlarray([1.0, 2.0]))
    with pytest.raises(sct.SctError, match="real"):
        dlfeval(complex_y, dlarray([1.0]))
    with pytest.raises(sct.SctError, match="dlfeval"):
        dlgradient(1.0, 1.0)


def test_source_unavailable_is_a_compile_error():
    namespace = {}
    exec("def made_by_exec(x):\n    return x\n", namespace)
    with pytest.raises(sct.CompileError, match="source"):
        dlfeval(namespace["made_by_exec"], dlarray(1.0))


def square_sum_gradient(x):
    y = np.sum(x ** 2)
    return dlgradient(y, x)


def test_internal_failure_is_a_compile_error_naming_the_function(monkeypatch):
    import sct.compiler
    sct.clear_cache()
    monkeypatch.setattr(sct.compiler, "source_and_lines", lambda *a: (_ for _ in ()).throw(AttributeError("boom")))
    with pytest.raises(sct.CompileError, match="internal error.*square_sum_gradient.*boom") as info:
        dlfeval(square_sum_gradient, dlarray([1.0, 2.0]))
    assert info.value.filename == __file__
    assert info.value.lineno == square_sum_gradient.__code__.co_firstlineno
    assert isinstance(info.value.__cause__, AttributeError)
    monkeypatch.undo()
    np.testing.assert_allclose(dlfeval(square_sum_gradient, dlarray([1.0, 2.0])).data, [2.0, 4.0])
