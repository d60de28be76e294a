"""dlgradient with respect to a value an object, namedtuple, namespace or comprehension holds, where
y also reads that value through another name: refused (MATLAB's trace would differentiate through
both uses; sct differentiates the holder's place alone).  Was: the partial derivative, silently, for
a method taking dlgradient of ``self.x`` called as ``M(x).g(x * 2)``, for ``P(x)`` of a namedtuple,
``types.SimpleNamespace(x=x)`` and ``{k: v for k, v in [("x", x)]}``.  Values that are new
(``M(x * 1.0)``) or held by one name only keep their exact gradients."""
import collections
import dataclasses
import types

import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient


class M:
    def __init__(self, x):
        self.x = x

    def g(self, z):
        return dlgradient(np.sum(z * self.x), self.x)


@dataclasses.dataclass
class D:
    x: object

    def g(self, z):
        return dlgradient(np.sum(z * self.x), self.x)


P = collections.namedtuple("P", "x")


def by_key(p, z):
    return dlgradient(np.sum(z * p["x"]), p["x"])


def method_of_new_object(x):
    return M(x).g(x * 2)


def method_of_named_object(x):
    m = M(x)
    return m.g(x * 2)


def method_of_dataclass(x):
    d = D(x)
    return d.g(x * 2)


def field_set_after(x):
    m = M(None)
    m.x = x
    return m.g(x * 2)


def dict_comprehension(x):
    p = {k: v for k, v in [("x", x)]}
    return by_key(p, x * 2)


def namespace_field(x):
    p = types.SimpleNamespace(x=x)
    y = np.sum(p.x * x)
    return dlgradient(y, p.x)


def namedtuple_field(x):
    p = P(x)
    y = np.sum(p.x * x)
    return dlgradient(y, p.x)


REFUSED = [method_of_new_object, method_of_named_object, method_of_dataclass, field_set_after,
           dict_comprehension, namespace_field, namedtuple_field]


@pytest.mark.parametrize("fun", REFUSED, ids=lambda f: f.__name__)
def test_a_value_held_and_read_elsewhere_is_refused(fun):
    with pytest.raises(CompileError, match="dlgradient") as info:
        dlfeval(fun, dlarray(np.array([1.0, 2.0])))
    assert "test_holding_links_dec24.py" in str(info.value)


def new_value_in_object(x):
    return M(x * 1.0).g(x * 2)            # d/dw sum(2x * w) = 2x: w = x * 1.0 is a new value


def new_value_in_namespace(x):
    p = types.SimpleNamespace(x=x * 1.0)
    y = np.sum(p.x * x)
    return dlgradient(y, p.x)             # x


def held_only_there(x):
    p = P(x)
    y = np.sum(p.x ** 2)
    return dlgradient(y, p.x)             # 2x


def copied_argument_dict(p0):
    p = {k: v for k, v in p0.items()}
    y = np.sum(p["w"] ** 3)
    return dlgradient(y, p["w"])          # 3 w^2


def test_new_values_and_single_holders_keep_exact_gradients():
    x = np.array([1.0, 2.0])
    assert np.allclose(dlfeval(new_value_in_object, dlarray(x)).data.ravel(), 2 * x)
    assert np.allclose(dlfeval(new_value_in_namespace, dlarray(x)).data.ravel(), x)
    assert np.allclose(dlfeval(held_only_there, dlarray(x)).data.ravel(), 2 * x)
    g = dlfeval(copied_argument_dict, {"w": dlarray(x)})
    assert np.allclose(g.data.ravel(), 3 * x ** 2)


def hj(z, y):
    return dlgradient(np.sum(z * y), z)


class Holder:
    def __init__(self, v):
        self.items = [v]

    def first(self):
        return self.items[0]


def by_method(o, y):
    z = o.first()
    return dlgradient(np.sum(z * y), z)


def item_by_method(x):
    return by_method(Holder(x), x * 2)


def star_arguments(x):
    args = [x, x * 2]
    return hj(*args)


def star_arguments_independent(x, w):
    args = [x, w]
    return hj(*args)


@pytest.mark.parametrize("fun", [item_by_method, star_arguments], ids=lambda f: f.__name__)
def test_method_values_and_star_arguments_are_followed(fun):
    with pytest.raises(CompileError, match="dlgradient"):
        dlfeval(fun, dlarray(np.array([1.0, 2.0])))


def test_star_arguments_to_a_joint_site_are_refused_even_when_independent():
    x, w = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    # hj takes a joint dlgradient: with unpacked arguments sct cannot tell their links, so it refuses
    with pytest.raises(CompileError, match="dlgradient"):
        dlfeval(star_arguments_independent, dlarray(x), dlarray(w))


def builtin_max_of_list(x):
    vs = [x, x * 3]
    z = max(vs, key=lambda v: -np.sum(v))     # the item x itself
    y = np.sum(z * x)
    return dlgradient(y, z)


def test_builtin_max_gives_an_item_as_it_is():
    with pytest.raises(CompileError, match="dlgradient"):
        dlfeval(builtin_max_of_list, dlarray(np.array([1.0, 2.0])))


# statements written on the line of the dlgradient (``;``): their names were skipped as values the
# normalizer makes for the call itself (a partial derivative)
def setdefault_one_line(x):
    d = {}; z = d.setdefault("a", x); y = np.sum(z * x); return dlgradient(y, z)     # noqa: E702


def dict_call_one_line(x):
    z = dict(a=x)["a"]; y = np.sum(z * x); return dlgradient(y, z)     # noqa: E702


def sorted_one_line(x):
    vs = [x * 2, x]
    z = sorted(vs, key=lambda v: np.sum(v))[0]; y = np.sum(z * x); return dlgradient(y, z)     # noqa: E702


def comprehension_one_line(x):
    z = [v for v in [x]][0]; y = np.sum(z * x); return dlgradient(y, z)     # noqa: E702


def dict_call(x):
    z = dict(a=x)["a"]
    y = np.sum(z * x)
    return dlgradient(y, z)


@pytest.mark.parametrize("fun", [setdefault_one_line, sorted_one_line,
                                 comprehension_one_line, dict_call], ids=lambda f: f.__name__)
def test_items_of_new_containers_of_x_are_followed(fun):
    with pytest.raises(CompileError, match="dlgradient"):
        dlfeval(fun, dlarray(np.array([1.0, 2.0])))


def test_the_item_of_a_dict_call_is_the_value_stored():
    # (refused until s50: dict(a=x) is {} and a store, followed back to x, sct/stored_items.py)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(np.asarray(dlfeval(dict_call_one_line, dlarray(x)).data), 2 * x)


def list_item_one_line(x):
    z = [x][0]; y = np.sum(z * x); return dlgradient(y, z)     # noqa: E702


def test_an_item_sct_follows_keeps_its_exact_gradient():
    x = np.array([1.0, 2.0])
    assert np.allclose(dlfeval(list_item_one_line, dlarray(x)).data.ravel(), 2 * x)     # d/dx sum(x*x)
