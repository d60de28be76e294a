"""Red-team of the features of dec12 (properties' getters, nested functions read in place where the
function meets data formats, the walrus operator in comprehensions): the wrong results found, each
checked against plain Python and central differences."""
from __future__ import annotations

import numpy as np

from gradcheck import check_two_inputs

RNG = np.random.default_rng(1212)
X0 = RNG.standard_normal(4)
T0 = RNG.standard_normal(4)


# --- ``m * (m := v)``: Python reads m before the := rebinds it --------------------------------------
# (sct read every bare name of the statement after the whole statement's := had run: the value was
# x[1] * x[1] for m * (m := x[1]), and the gradient that of the wrong function)

def read_before_walrus(x, t):
    m = t[0]
    return m * (m := x[1])


def read_before_walrus_in_a_comprehension(x, t):
    m = t[0]
    total = m * sum([(m := x[i]) for i in range(3)])
    return total + m


def two_walruses_of_one_name(x, t):
    return (m := x[0]) * (m := x[1] * t[0]) + m


def read_between_walruses(x, t):
    m = t[0]
    return m * (m := x[0]) * m + (m := t[1] * x[2]) * m


def dict_display_read_before_walrus(x, t):
    m = t[0]
    d = {"a": m, "b": [(m := x[i] * t[i]) for i in range(3)]}
    return d["a"] * m + d["b"][1]


def dict_comprehension_read_before_walrus(x, t):
    m = t[0]
    return m * {i: (m := x[i] * m) for i in range(3)}[1] + m


def element_reads_before_its_walrus(x, t):
    m = t[0]
    ys = [m * (m := x[i] * t[i]) for i in range(4)]
    return ys[0] + ys[3] * m


def walrus_in_a_loop_read_first(x, t):
    m = t[3]
    total = 0.0
    for k in range(3):
        total = total + m * (m := x[k] + m)
    return total * m


def test_read_before_walrus():
    check_two_inputs(read_before_walrus, X0.copy(), T0.copy())


def test_read_before_walrus_in_a_comprehension():
    check_two_inputs(read_before_walrus_in_a_comprehension, X0.copy(), T0.copy())


def test_two_walruses_of_one_name():
    check_two_inputs(two_walruses_of_one_name, X0.copy(), T0.copy())


def test_read_between_walruses():
    check_two_inputs(read_between_walruses, X0.copy(), T0.copy())


def test_dict_display_read_before_walrus():
    check_two_inputs(dict_display_read_before_walrus, X0.copy(), T0.copy())


def test_dict_comprehension_read_before_walrus():
    check_two_inputs(dict_comprehension_read_before_walrus, X0.copy(), T0.copy())


def test_element_reads_before_its_walrus():
    check_two_inputs(element_reads_before_its_walrus, X0.copy(), T0.copy())


def test_walrus_in_a_loop_read_first():
    check_two_inputs(walrus_in_a_loop_read_first, X0.copy(), T0.copy())


# --- a property of a NamedTuple (or of a dict subclass): its derivative was dropped ---------------------
# (runtime/support.py computed_attribute took every tuple, dict and list for one without getters: the
# derivative reaching `o.s` was dropped -- gradient 0 -- instead of refused as any other property's)

import typing  # noqa: E402

import pytest  # noqa: E402

from sct import EvaluationError, dlarray, dlfeval, dlgradient  # noqa: E402


class Pair(typing.NamedTuple):
    a: object
    b: object

    @property
    def s(self):
        return self.a * self.b


def namedtuple_property(x, t):
    o = Pair(x, t)
    y = np.sum(o.s ** 2)
    return y, dlgradient(y, x, t)


def test_property_of_a_namedtuple_is_refused_not_zero():
    with pytest.raises(EvaluationError, match=r"test_redteam_dec12t.py, line \d+: .*property Pair.s"):
        dlfeval(namedtuple_property, dlarray(X0), dlarray(T0))


def namedtuple_argument_property(o, t):
    y = np.sum(o.s * t)
    return y, dlgradient(y, o)


def test_property_of_a_namedtuple_argument_is_refused_not_zero():
    with pytest.raises(EvaluationError, match=r"test_redteam_dec12t.py, line \d+: .*property Pair.s"):
        dlfeval(namedtuple_argument_property, Pair(dlarray(X0), dlarray(T0)), dlarray(T0))


class Record(dict):
    @property
    def s(self):
        return self["a"] * self["b"]


def dict_subclass_argument_property(o, t):
    y = np.sum(o.s * t)
    return y, dlgradient(y, o)


def test_property_of_a_dict_subclass_argument_is_refused_not_zero():
    with pytest.raises(EvaluationError, match=r"test_redteam_dec12t.py, line \d+: .*property Record.s"):
        dlfeval(dict_subclass_argument_property, Record(a=dlarray(X0), b=dlarray(T0)), dlarray(T0))


def namedtuple_fields(x, t):
    o = Pair(x, t)
    return np.sum(o.a * o.b) + np.sum(o[0] ** 2)


def test_fields_of_a_namedtuple_still_differentiated():
    check_two_inputs(namedtuple_fields, X0.copy(), T0.copy())


# --- the refusal of a formatted dlarray passed to a nested function named "the function()" ----------

from sct import CompileError, fullyconnect, relu  # noqa: E402


def nested_calling_nested(p, X):
    def inner(Z):
        return relu(fullyconnect(Z, p["W"], p["b"]))

    def outer(Z):
        return inner(Z) * 2.0
    loss = np.sum(outer(X) ** 2)
    return loss, dlgradient(loss, p)


def test_refusal_names_the_nested_function():
    p = {"W": dlarray(np.ones((2, 3))), "b": dlarray(np.zeros(2))}
    # (the call inside outer, line 172, where inner is given the formatted data; was outer's own call)
    with pytest.raises(CompileError, match=r"test_redteam_dec12t.py, line \d+: a formatted dlarray is passed "
                                           r"to (inner|outer)\(\)"):
        dlfeval(nested_calling_nested, p, dlarray(np.ones((3, 4)), "CB"))


# --- a function given as a value (max(..., key=h), sorted) where formatted dlarrays reach it ------------
# (it ran compiled on its own, given the data without its labels: fullyconnect read X of "CB" in its
# default layout -- max picked the other item: the value's sign flipped, silently, for square data)

from sct import dims  # noqa: E402


def _square_case():
    r = np.random.default_rng(3)
    p = {"W": r.standard_normal((3, 3)), "b": r.standard_normal(3)}
    return p, r.standard_normal((3, 3))


def _python(case):
    """``case`` run as plain Python (its dlgradient a no-op): the value to compare with."""
    import types
    g = dict(case.__globals__)
    g["dlgradient"] = lambda loss, p: None
    return types.FunctionType(case.__code__, g, case.__name__, case.__defaults__, case.__closure__)


def max_with_a_nested_key(p, X):
    def h(Z):
        return np.sum(relu(fullyconnect(Z, p["W"], p["b"])))
    a = max([X, X * -1.0], key=h)
    loss = np.sum(a * p["W"])
    return loss, dlgradient(loss, p)


def test_max_with_a_nested_key_matches_python_or_is_refused():
    p, X = _square_case()
    python, _ = _python(max_with_a_nested_key)({k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"))
    try:
        loss, _ = dlfeval(max_with_a_nested_key, {k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"))
    except CompileError as e:
        assert "test_redteam_dec12t.py, line" in str(e) and "h is passed as a value to max()" in str(e)
        return
    assert float(np.asarray(loss.data)) == float(np.asarray(python.data))


def key_of_the_module(Z):
    return float(np.asarray(np.sum(fullyconnect(Z, np.eye(3) * np.arange(1.0, 4.0), np.zeros(3))[0]).data)) \
        if hasattr(Z, "data") else float(np.sum(Z[0]))


def sorted_with_a_module_key(p, X):
    items = sorted([X, X * -2.0], key=key_of_the_module)
    loss = np.sum(items[0] * p["W"])
    return loss, dlgradient(loss, p)


def test_sorted_with_a_function_of_the_module_refused():
    p, X = _square_case()
    with pytest.raises(CompileError, match=r"test_redteam_dec12t.py, line \d+: key_of_the_module is passed as a "
                                           r"value to sorted\(\)"):
        dlfeval(sorted_with_a_module_key, {k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"))


def map_with_a_nested_function(p, X):
    def h(Z):
        return np.sum(fullyconnect(Z, p["W"], p["b"]) ** 2)
    vals = list(map(h, [X, X * 2.0]))
    loss = vals[0] + vals[1] + len(dims(X))
    return loss, dlgradient(loss, p)


def test_map_with_a_nested_function_still_matches_python():
    r = np.random.default_rng(4)
    p = {"W": r.standard_normal((2, 3)), "b": r.standard_normal(2)}
    X = r.standard_normal((3, 5))
    loss, g = dlfeval(map_with_a_nested_function, {k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"))
    plain = _python(map_with_a_nested_function)
    python, _ = plain({k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"))
    np.testing.assert_allclose(float(np.asarray(loss.data)), float(np.asarray(python.data)), rtol=1e-12)
    from gradcheck import numerical_gradient

    def f(W, b):
        out, _ = plain({"W": dlarray(W), "b": dlarray(b)}, dlarray(X, "CB"))
        return float(np.asarray(out.data))
    np.testing.assert_allclose(np.asarray(g["W"].data), numerical_gradient(f, [p["W"], p["b"]], 0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(g["b"].data), numerical_gradient(f, [p["W"], p["b"]], 1), rtol=1e-5)


def max_with_a_key_reading_x(p, X):
    def h(k):
        return np.sum(relu(fullyconnect(X * k, p["W"], p["b"])) * np.arange(1.0, 4.0))
    k = max([1.0, -1.0], key=h)
    loss = np.sum(X * k * p["W"])
    return loss, dlgradient(loss, p)


def test_max_with_a_key_reading_formatted_data_matches_python_or_is_refused():
    for seed in range(6):
        r = np.random.default_rng(seed)
        p = {"W": r.standard_normal((3, 3)), "b": r.standard_normal(3)}
        X = r.standard_normal((3, 3))
        python, _ = _python(max_with_a_key_reading_x)({k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"))
        try:
            loss, _ = dlfeval(max_with_a_key_reading_x, {k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"))
        except CompileError as e:
            assert "test_redteam_dec12t.py, line" in str(e) and "h is used as a value" in str(e)
            return
        assert float(np.asarray(loss.data)) == float(np.asarray(python.data)), seed


# --- a nested def's own local named as a global function the caller calls ------------------------------
# (the caller's ``helper(x)`` was taken for a local of the caller: NameError at second order)

def _helper(v):
    return np.sin(v) * v


def nested_local_named_as_a_global(x, t):
    def g(v):
        _helper = 3.0
        return v * _helper
    return np.sum(_helper(x) * g(t))


def lambda_walrus_named_as_a_global(x, t):
    k = lambda v: [(_helper := v * j) for j in range(1, 3)][0] + _helper     # noqa: E731
    return np.sum(_helper(x) * k(t))


def test_nested_local_named_as_a_global_function():
    check_two_inputs(nested_local_named_as_a_global, X0.copy(), T0.copy())


def test_lambda_walrus_named_as_a_global_function():
    check_two_inputs(lambda_walrus_named_as_a_global, X0.copy(), T0.copy())
