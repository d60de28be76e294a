"""Stop 48 (red team of the values() walk, a pre-existing bug): one dict, list or array held at two
places of a nested structure and written in place through one of them (``d = {"a": {"l": L},
"b": {"l": L}}``, ``d["a"]["l"]["w"] = ...``, then ``d["b"]["l"]["w"]`` read).  sct sets the changed
value back along the path written only, so the read through the other place gave the old value: a
wrong value and gradient (5.25 where 47.25 is right).  Refused when it runs now, at the writing line;
nested structures without such sharing still run exactly."""
import numpy as np
import pytest

import sct
from sct import EvaluationError, dlarray, dlfeval, dlgradient

from gradcheck import D, numerical_gradient

X = np.array([0.5, -1.0, 2.0])


def shared_dict_two_levels(x):
    L = {"w": x * 1.0}
    d = {"a": {"l": L}, "b": {"l": L}}
    d["a"]["l"]["w"] = d["a"]["l"]["w"] * 3.0
    return np.sum(d["b"]["l"]["w"] ** 2)


def shared_list_two_levels(x):
    L = [x * 1.0]
    d = [[L], [L]]
    d[0][0][0] = d[0][0][0] * 3.0
    return np.sum(d[1][0][0] ** 2)


def shared_array_in_place(x):
    r = x * 1.0
    d = {"a": {"w": r}, "b": {"w": r}}
    d["a"]["w"][0] = d["a"]["w"][0] * 3.0
    return np.sum(d["b"]["w"] ** 2)


def shared_through_a_name(x):
    L = {"w": x * 1.0}
    M = {"l": L}
    d = {"a": M, "b": {"l": L}}
    d["a"]["l"]["w"] = d["a"]["l"]["w"] * 3.0
    return np.sum(d["b"]["l"]["w"] ** 2)


def distinct_nested(x):
    d = {"a": {"l": {"w": x * 1.0}}, "b": {"l": {"w": x * 2.0}}}
    d["a"]["l"]["w"] = d["a"]["l"]["w"] * 3.0
    for name in d:
        for k in d[name]["l"]:
            d[name]["l"][k] = np.tanh(d[name]["l"][k])
    return np.sum(d["a"]["l"]["w"] ** 2) + np.sum(d["b"]["l"]["w"] ** 2)




def sdt(x):
    y = shared_dict_two_levels(x)
    return y, dlgradient(y, x)


def slt(x):
    y = shared_list_two_levels(x)
    return y, dlgradient(y, x)


def sai(x):
    y = shared_array_in_place(x)
    return y, dlgradient(y, x)


def stn(x):
    y = shared_through_a_name(x)
    return y, dlgradient(y, x)


def dn(x):
    y = distinct_nested(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun,plain", [(sdt, shared_dict_two_levels), (slt, shared_list_two_levels),
                                       (sai, shared_array_in_place), (stn, shared_through_a_name)],
                         ids=["dict", "list", "array", "named"])
def test_one_object_at_two_places_written_through_one_is_refused(fun, plain):
    assert plain(X) != pytest.approx(np.sum(X ** 2))          # Python sees the change through both places
    sct.clear_cache()
    with pytest.raises(EvaluationError) as info:
        dlfeval(fun, dlarray(X))
    text = str(info.value)
    assert __file__ in text and "at two places" in text


def test_distinct_nested_items_still_run():
    sct.clear_cache()
    y, g = dlfeval(dn, dlarray(X))
    assert abs(float(D(y)) - distinct_nested(X)) < 1e-12
    np.testing.assert_allclose(D(g), numerical_gradient(distinct_nested, [X], 0), rtol=1e-6, atol=1e-9)
