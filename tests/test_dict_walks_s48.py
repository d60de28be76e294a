"""Stop 48: a for loop over a dict's item read by a key held in a name (``for k in d[name]``) whose
body adds a key to it: Python raises RuntimeError ('dictionary changed size during iteration'); sct
walked a list of the keys taken before the body ran and returned a dict (was: only items read by
constant keys, ``d["a"]``, were checked).  The same writes by the loop's own key still run."""
import numpy as np
import pytest

import sct
from sct import EvaluationError, dlarray, dlfeval

from gradcheck import D, numerical_gradient


def grows_item_by_name(x):
    d = {"a": {"w": x * 1.0}}
    for name in d:
        for k in d[name]:
            d[name][k + "2"] = d[name][k] * 2
    return np.sum(d["a"]["w2"])


def grows_item_by_parameter(x, name):
    d = {"a": {"w": x * 1.0}, "b": {}}
    for k in d[name]:
        d[name][k + "_sq"] = d[name][k] ** 2
    return np.sum(d["a"]["w_sq"])


def own_keys_by_name(x):
    d = {"a": {"w": x * 1.0, "v": x ** 2}, "b": {"u": np.sin(x)}}
    for name in d:
        for k in d[name]:
            d[name][k] = np.tanh(d[name][k]) * 2.0
    return sum(np.sum(d[n][k]) for n in d for k in d[n])


def grows_another_item(x):
    d = {"a": {"w": x * 1.0}, "b": {}}
    for name in ["a"]:
        for k in d[name]:
            d["b"][k + "2"] = d[name][k] * 2      # another dict: Python runs it
    return np.sum(d["b"]["w2"])


@pytest.mark.parametrize("fun,args", [(grows_item_by_name, ()), (grows_item_by_parameter, ("a",))],
                         ids=["loop_key", "parameter_key"])
def test_adding_a_key_while_walking_raises_as_python_does(fun, args):
    with pytest.raises(RuntimeError):
        fun(np.ones(2), *args)
    sct.clear_cache()
    with pytest.raises(EvaluationError) as info:
        dlfeval(fun, dlarray(np.ones(2)), *args)
    assert "changed size during iteration" in str(info.value) and __file__ in str(info.value)


@pytest.mark.parametrize("fun", [own_keys_by_name, grows_another_item], ids=lambda f: f.__name__)
def test_writes_that_python_allows_run(fun):
    x = np.array([0.3, -0.8])
    sct.clear_cache()

    def f(x):
        y = fun(x)
        return y, sct.dlgradient(y, x)
    y, g = dlfeval(f, dlarray(x))
    assert abs(float(D(y)) - fun(x)) < 1e-12
    np.testing.assert_allclose(D(g), numerical_gradient(fun, [x], 0), rtol=1e-6, atol=1e-9)
