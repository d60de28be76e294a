"""Fixes of Dec 4: optimizer tables paired by (Layer, Parameter); gradients of dict/list/tuple subclasses
keep the input's class; unpacking an object of an unknown class; SimpleNamespace parameters in helpers;
warnings located at the user's line; sct.source(callees=True) showing every callee level."""
from __future__ import annotations

import collections
import dataclasses
import types
import warnings
from typing import NamedTuple

import numpy as np
import pytest

import sct
from sct import (adamupdate, dlarray, dlfeval, dlgradient, dlupdate, rmspropupdate, sgdmupdate)
from sct.runtime.table import Table

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradient


# --- 1. optimizer steps pair table rows by (Layer, Parameter) ------------------------------------

def _tables():
    rng = np.random.default_rng(0)
    w1, b1, w2 = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((1, 3))
    params = Table(("fc1", "fc1", "fc2"), ("Weights", "Bias", "Weights"), [dlarray(w1), dlarray(b1), dlarray(w2)])
    gw1, gb1, gw2 = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((1, 3))
    grads = {("fc1", "Weights"): gw1, ("fc1", "Bias"): gb1, ("fc2", "Weights"): gw2}
    return params, grads


def _table_in(order, values):
    return Table(tuple(k[0] for k in order), tuple(k[1] for k in order), [dlarray(values[k]) for k in order])


ORDER = [("fc1", "Weights"), ("fc1", "Bias"), ("fc2", "Weights")]
SHUFFLED = [("fc2", "Weights"), ("fc1", "Weights"), ("fc1", "Bias")]


def test_dlupdate_pairs_gradient_rows_by_layer_and_parameter():
    params, grads = _tables()
    g = _table_in(SHUFFLED, grads)
    out = dlupdate(lambda p, d: p - 0.5 * d, params, g)
    assert list(zip(out.Layer, out.Parameter)) == ORDER
    for i, k in enumerate(ORDER):
        assert_close(out.Value[i].data, params.Value[i].data - 0.5 * grads[k], 1e-15, 1e-15)
    # several outputs too
    new, twice = dlupdate(lambda p, d: (p - d, 2 * d), params, g)
    for i, k in enumerate(ORDER):
        assert_close(twice.Value[i].data, 2 * grads[k], 1e-15, 1e-15)
        assert_close(new.Value[i].data, params.Value[i].data - grads[k], 1e-15, 1e-15)


def test_optimizers_pair_gradient_and_state_rows_by_key():
    params, grads = _tables()
    g_ordered, g_shuffled = _table_in(ORDER, grads), _table_in(SHUFFLED, grads)
    for step in (lambda g, s: sgdmupdate(params, g, s, 0.1),
                 lambda g, s: rmspropupdate(params, g, s, 0.1)):
        ref = step(g_ordered, None)
        got = step(g_shuffled, None)
        for a, b in zip(ref, got):
            for u, v in zip(a.Value, b.Value):
                assert_close(v.data, u.data, 0, 0)
        # the state given back (in the parameters' order) may come in another order as well
        state = ref[1]
        state_shuffled = state.rows([state.index(*k) for k in SHUFFLED])
        ref2 = step(g_ordered, state)
        got2 = step(g_shuffled, state_shuffled)
        for a, b in zip(ref2, got2):
            for u, v in zip(a.Value, b.Value):
                assert_close(v.data, u.data, 0, 0)
    ref = adamupdate(params, g_ordered, None, None, 1, 0.1)
    m, v = ref[1], ref[2]
    m_s = m.rows([m.index(*k) for k in reversed(ORDER)])
    ref2 = adamupdate(ref[0], g_ordered, m, v, 2, 0.1)
    got2 = adamupdate(ref[0], g_shuffled, m_s, v, 2, 0.1)
    for a, b in zip(ref2, got2):
        assert list(zip(b.Layer, b.Parameter)) == ORDER
        for u, w in zip(a.Value, b.Value):
            assert_close(w.data, u.data, 0, 0)


def test_network_with_reordered_gradient_table():
    net = sct.dlnetwork([sct.featureInputLayer(2), sct.fullyConnectedLayer(3, Name="fc1"), sct.reluLayer(),
                         sct.fullyConnectedLayer(1, Name="fc2")], Seed=0)
    L = net.Learnables
    rng = np.random.default_rng(1)
    grads = Table(L.Layer, L.Parameter, [rng.standard_normal(np.shape(v)) for v in L.Value])
    shuffled = grads.rows(list(reversed(range(len(grads)))))
    a, _ = sgdmupdate(net, grads, None, 0.1)
    b, _ = sgdmupdate(net, shuffled, None, 0.1)
    for u, v in zip(a.Learnables.Value, b.Learnables.Value):
        assert_close(np.asarray(v.data if hasattr(v, "data") else v), np.asarray(u.data if hasattr(u, "data") else u), 0, 0)
    for i in range(len(L)):
        expect = np.asarray(L.Value[i].data if hasattr(L.Value[i], "data") else L.Value[i]) - 0.1 * grads.Value[i]
        got = b.Learnables.Value[i]
        assert_close(np.asarray(got.data if hasattr(got, "data") else got), expect, 1e-14, 1e-14)


def test_mismatched_tables_are_refused_naming_the_rows():
    params, grads = _tables()
    missing = _table_in(ORDER[:2], grads)
    with pytest.raises(ValueError, match=r"missing rows fc2/Weights"):
        dlupdate(lambda p, d: p - d, params, missing)
    extra_values = dict(grads)
    extra_values[("fc3", "Bias")] = np.zeros(1)
    extra = _table_in(ORDER + [("fc3", "Bias")], extra_values)
    with pytest.raises(ValueError, match=r"extra rows fc3/Bias"):
        sgdmupdate(params, extra, None)
    renamed = Table(("fc1", "fc1", "fcX"), ("Weights", "Bias", "Weights"), [dlarray(grads[k]) for k in ORDER])
    with pytest.raises(ValueError, match=r"missing rows fc2/Weights; extra rows fcX/Weights"):
        adamupdate(params, renamed, None, None, 1)
    state = _table_in(SHUFFLED[:2], grads)
    with pytest.raises(ValueError, match=r"second after the parameters.*missing rows fc1/Bias"):
        rmspropupdate(params, _table_in(ORDER, grads), state)


# --- 2. the gradient of a dict, list or tuple subclass has the input's class ----------------------

class Params(dict):
    def total(self):
        return np.sum(self["w"] * self["w"])


class Pair(list):
    def __init__(self, a, b):
        super().__init__([a, b])


class Weights(tuple):
    pass


class NT(NamedTuple):
    w: object
    b: object


@dataclasses.dataclass
class Box:
    w: object


def _loss_items(p):
    return np.sum(np.sin(p["w"]) * p["w"]) + np.sum(p["b"] ** 3)


def _grad_items(p):
    y = _loss_items(p)
    return y, dlgradient(y, p)


W0, B0 = np.array([0.3, -1.2]), np.array([0.7])


def _expected_items():
    fw = lambda w: np.sum(np.sin(w) * w) + np.sum(B0 ** 3)
    fb = lambda b: np.sum(np.sin(W0) * W0) + np.sum(b ** 3)
    return numerical_gradient(fw, [W0], 0), numerical_gradient(fb, [B0], 0)


@pytest.mark.parametrize("make", [
    lambda **kw: Params(**kw),
    lambda **kw: collections.OrderedDict(**kw),
    lambda **kw: collections.defaultdict(list, kw),
], ids=["dict-subclass", "OrderedDict", "defaultdict"])
def test_gradient_of_dict_subclass_has_its_class(make):
    p = make(w=dlarray(W0), b=dlarray(B0))
    y, g = dlfeval(_grad_items, p)
    assert type(g) is type(p) and list(g) == ["w", "b"]
    if isinstance(p, collections.defaultdict):
        assert g.default_factory is list
    gw, gb = _expected_items()
    assert_close(g["w"].data, gw, 1e-7, 1e-9)
    assert_close(g["b"].data, gb, 1e-7, 1e-9)
    assert type(p) is type(make())          # the input is left as it was
    assert isinstance(p["w"], dlarray)


def _method_and_isinstance(p):
    y = p.total() + np.sum(p["b"]) * isinstance(p, Params)
    return y, dlgradient(y, p)


def test_dict_subclass_is_itself_inside_the_function():
    p = Params(w=dlarray(W0), b=dlarray(B0))
    y, g = dlfeval(_method_and_isinstance, p)
    assert_close(y.data, np.sum(W0 * W0) + np.sum(B0), 1e-15, 1e-15)
    assert type(g) is Params
    assert_close(g["w"].data, 2 * W0, 1e-15, 1e-15)
    assert_close(g["b"].data, np.ones(1), 1e-15, 1e-15)


def _grad_seq(q):
    y = np.sum(np.sin(q[0]) * q[1])
    return y, dlgradient(y, q)


@pytest.mark.parametrize("make", [lambda a, b: Pair(a, b), lambda a, b: Weights((a, b)),
                                  lambda a, b: NT(a, b)], ids=["list-subclass", "tuple-subclass", "namedtuple"])
def test_gradient_of_sequence_subclass_has_its_class(make):
    a, b = np.array([0.5, 1.5]), np.array([2.0, -1.0])
    q = make(dlarray(a), dlarray(b))
    y, g = dlfeval(_grad_seq, q)
    assert type(g) is type(q)
    ga = numerical_gradient(lambda u: np.sum(np.sin(u) * b), [a], 0)
    gb = numerical_gradient(lambda u: np.sum(np.sin(a) * u), [b], 0)
    assert_close(g[0].data, ga, 1e-7, 1e-9)
    assert_close(g[1].data, gb, 1e-7, 1e-9)


def _grad_nested(p):
    y = np.sum(p["box"].w ** 2) + np.sum(p["pair"][1] * p["nt"].b) + np.sum(p["seq"][0])
    return y, dlgradient(y, p)


def test_containers_nested_in_a_dict_subclass_keep_their_classes():
    w, c, d, e = np.array([1.0, 2.0]), np.array([3.0]), np.array([5.0]), np.array([0.25, 0.5])
    p = Params(box=Box(dlarray(w)), pair=Pair(dlarray(e), dlarray(c)), nt=NT(dlarray(e), dlarray(d)),
               seq=Weights((dlarray(e),)))
    y, g = dlfeval(_grad_nested, p)
    assert type(g) is Params and type(g["box"]) is Box and type(g["pair"]) is Pair
    assert type(g["nt"]) is NT and type(g["seq"]) is Weights
    assert_close(y.data, np.sum(w ** 2) + np.sum(c * d) + np.sum(e), 1e-15, 1e-15)
    assert_close(g["box"].w.data, 2 * w, 1e-15, 1e-15)
    assert_close(g["pair"][1].data, d, 1e-15, 1e-15)
    assert_close(g["pair"][0].data, np.zeros(2), 0, 0)
    assert_close(g["nt"].b.data, c, 1e-15, 1e-15)
    assert_close(g["seq"][0].data, np.ones(2), 1e-15, 1e-15)


def _second(p):
    y = np.sum(p["w"] ** 3)
    g = dlgradient(y, p, EnableHigherDerivatives=True)
    z = np.sum(g["w"])
    return z, dlgradient(z, p)


def test_second_derivative_of_dict_subclass():
    p = collections.OrderedDict(w=dlarray(W0))
    z, h = dlfeval(_second, p)
    assert type(h) is collections.OrderedDict
    assert_close(h["w"].data, 6 * W0, 1e-14, 1e-14)


# --- 3. `w, b = obj` of an object of a user class: iterated as Python does ----------------------------

def _line(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


class Iterable:
    def __init__(self, w, b):
        self.w, self.b = w, b

    def __iter__(self):
        return iter((self.w, self.b))


class Indexable:
    def __init__(self, w, b):
        self.items = [w, b]

    def __getitem__(self, i):
        return self.items[i]


class SlottedIterable:
    __slots__ = ("w", "b")

    def __init__(self, w, b):
        self.w, self.b = w, b

    def __iter__(self):
        yield self.w
        yield self.b


class NotIterable:
    def __init__(self, w, b):
        self.w, self.b = w, b


def _unpack_arg(obj, x):
    w, b = obj
    return np.sum(np.tanh(w * x) + b * b)


def _unpack_arg_grads(obj, x):
    y = _unpack_arg(obj, x)
    return y, dlgradient(y, obj, x)


WX, BX, XX = np.array([0.3, -0.8]), np.array([1.5, 0.25]), np.array([0.7, 1.1])


def _expected_unpack():
    f = lambda w, b, x: np.sum(np.tanh(w * x) + b * b)       # noqa: E731
    return f(WX, BX, XX), [numerical_gradient(f, [WX, BX, XX], k) for k in range(3)]


@pytest.mark.parametrize("cls", [Iterable, Indexable])
def test_unpacking_an_object_argument_differentiates(cls):
    obj = cls(dlarray(WX), dlarray(BX))
    y, (gobj, gx) = dlfeval(_unpack_arg_grads, obj, dlarray(XX))
    value, (gw, gb, gxx) = _expected_unpack()
    assert_close(y.data, value, 1e-14, 0)
    assert_close(y.data, _unpack_arg(cls(WX, BX), XX), 1e-14, 0)
    assert type(gobj) is cls
    got_w, got_b = (gobj.w, gobj.b) if cls is Iterable else gobj.items
    assert_close(np.asarray(got_w.data if isinstance(got_w, dlarray) else got_w), gw, 1e-7, 1e-9)
    assert_close(np.asarray(got_b.data if isinstance(got_b, dlarray) else got_b), gb, 1e-7, 1e-9)
    assert_close(gx.data, gxx, 1e-7, 1e-9)


def _unpack_x_only(obj, x):
    y = _unpack_arg(obj, x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("cls", [Iterable, Indexable, SlottedIterable])
def test_unpacking_an_untraced_object_argument(cls):
    y, gx = dlfeval(_unpack_x_only, cls(WX, BX), dlarray(XX))
    value, (_, _, gxx) = _expected_unpack()
    assert_close(y.data, value, 1e-14, 0)
    assert_close(gx.data, gxx, 1e-7, 1e-9)


def _unpack_in_loop(objs, x):
    y = 0.0
    for o in objs:
        w, b = o
        y = y + np.sum(w * x) * np.sum(b)
    return y, dlgradient(y, objs, x)


def test_unpacking_objects_in_a_loop_and_in_a_dict():
    objs = [Iterable(dlarray(WX), dlarray(BX)), Iterable(dlarray(2 * WX), dlarray(BX + 1))]
    y, (gobjs, gx) = dlfeval(_unpack_in_loop, objs, dlarray(XX))
    pairs = [(WX, BX), (2 * WX, BX + 1)]
    assert_close(y.data, sum(np.sum(w * XX) * np.sum(b) for w, b in pairs), 1e-14, 0)
    for g, (w, b) in zip(gobjs, pairs):
        assert_close(g.w.data, XX * np.sum(b), 1e-14, 1e-14)
        assert_close(g.b.data, np.full(2, np.sum(w * XX)), 1e-14, 1e-14)
    assert_close(gx.data, sum(w * np.sum(b) for w, b in pairs), 1e-14, 1e-14)


def _unpack_dict_item(m, x):
    w, b = m["pair"]
    y = np.sum(w * x + b)
    return y, dlgradient(y, m)


def test_unpacking_an_object_held_in_a_dict():
    m = {"pair": Indexable(dlarray(WX), dlarray(BX))}
    y, g = dlfeval(_unpack_dict_item, m, dlarray(XX))
    assert_close(y.data, np.sum(WX * XX + BX), 1e-14, 0)
    assert_close(g["pair"].items[0].data, XX, 0, 0)
    assert_close(g["pair"].items[1].data, np.ones(2), 0, 0)


def _unpack_three(obj, x):
    a, b, c = obj
    y = np.sum(a * x)
    return y, dlgradient(y, x)


def test_unpacking_the_wrong_count_raises_pythons_error():
    with pytest.raises(ValueError, match="not enough values to unpack"):
        a, b, c = Iterable(WX, BX)
    with pytest.raises(sct.EvaluationError, match=r"not enough values to unpack \(expected 3, got 2\)") as caught:
        dlfeval(_unpack_three, Iterable(WX, BX), dlarray(XX))
    assert caught.value.filename == __file__ and caught.value.lineno == _line(_unpack_three, "a, b, c = obj")


def test_unpacking_a_non_iterable_object_is_refused_at_its_line():
    with pytest.raises(TypeError):
        _unpack_arg(NotIterable(WX, BX), XX)           # Python: cannot unpack non-iterable
    with pytest.raises(sct.CompileError, match="defines neither __iter__ nor __getitem__") as caught:
        dlfeval(_unpack_arg_grads, NotIterable(dlarray(WX), dlarray(BX)), dlarray(XX))
    assert caught.value.filename == __file__ and caught.value.lineno == _line(_unpack_arg, "w, b = obj")


def _index_by_getitem(obj, x):
    w = obj[0]
    y = np.sum(w * x)
    return y, dlgradient(y, obj)


def test_a_derivative_through_a_user_getitem_is_its_call():
    # was refused ("read by its __getitem__ ... list(obj)[0]"); obj[0] of a known class is now
    # Indexable.__getitem__(obj, 0), differentiated as its code (sct/user_operators.py)
    y, g = dlfeval(_index_by_getitem, Indexable(dlarray(WX), dlarray(BX)), dlarray(XX))
    assert_close(np.asarray(y.data), np.sum(WX * XX), 1e-12, 1e-12)
    assert_close(np.asarray(g.items[0].data), XX)
    assert_close(np.asarray(g.items[1].data), np.zeros(2))


def _make_pair(w, b):
    return Iterable(w, b) if w is not None else None


def _unpack_unknown(x):
    o = _make_pair(x, 2 * x)
    w, b = o
    y = np.sum(w * b)
    return y, dlgradient(y, x)


def test_unpacking_an_object_the_compiler_cannot_see_names_the_line_and_what_to_write():
    with pytest.raises(sct.EvaluationError, match=r"a, b = list\(obj\)") as caught:
        dlfeval(_unpack_unknown, dlarray(XX))
    assert caught.value.filename == __file__ and caught.value.lineno == _line(_unpack_unknown, "w, b = o")


def _unpack_built(w):
    a, b = Iterable(w, w ** 2)
    return np.sum(a * b * b)


def test_second_derivative_through_an_unpacked_object():
    v = np.array([0.5, -1.0])
    hv = np.asarray(sct.hvp(_unpack_built, WX, v))
    assert_close(hv, 20 * WX ** 3 * v, 1e-10, 1e-12)         # d2/dw2 of w^5 per element


# --- 4. types.SimpleNamespace built in differentiated code (entry and helpers) ----------------------------

def _ns_loss(p, x):
    return np.sum(np.tanh(p.w * x) + p.b ** 2)


def _ns_build_in_helper(w, b):
    return types.SimpleNamespace(w=w, b=b)


def _ns_built_by_helper(w, b, x):
    p = _ns_build_in_helper(w, b)
    y = _ns_loss(p, x)
    return y, dlgradient(y, w, b, x)


def _ns_built_here(w, b, x):
    p = types.SimpleNamespace(w=w, b=b)
    y = _ns_loss(p, x)
    return y, dlgradient(y, w, b, x)


def _ns_helper_builds_and_uses(w, b, x):
    p = types.SimpleNamespace(w=w, b=b)
    return np.sum(np.tanh(p.w * x) + p.b ** 2)


def _ns_nested(w, b, x):
    y = _ns_helper_builds_and_uses(w, b, x)
    return y, dlgradient(y, w, b, x)


def _ns_helper_sets(w, b, x):
    q = types.SimpleNamespace()
    q.w = w
    q.b = b
    return _ns_loss(q, x)


def _ns_sets(w, b, x):
    y = _ns_helper_sets(w, b, x)
    return y, dlgradient(y, w, b, x)


def _ns_in_loop(w, b, x):
    layers = []
    for k in range(3):
        layers.append(types.SimpleNamespace(w=w * (k + 1), b=b))
    y = 0.0
    for layer in layers:
        y = y + _ns_loss(layer, x)
    return y, dlgradient(y, w, b, x)


@pytest.mark.parametrize("fn", [_ns_built_by_helper, _ns_built_here, _ns_nested, _ns_sets])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_simple_namespace_built_in_differentiated_code(fn, dtype):
    w, b, x = (a.astype(dtype) for a in (WX, BX, XX))
    y, grads = dlfeval(fn, dlarray(w), dlarray(b), dlarray(x))
    f = lambda w, b, x: np.sum(np.tanh(w * x) + b ** 2)      # noqa: E731
    tol = 1e-6 if dtype is np.float64 else 2e-3
    assert_close(y.data, f(w, b, x), tol, tol)
    for k, g in enumerate(grads):
        assert g.dtype == dtype
        assert_close(g.data, numerical_gradient(f, [WX, BX, XX], k), tol, tol)


def test_simple_namespaces_in_a_loop():
    y, (gw, gb, gx) = dlfeval(_ns_in_loop, dlarray(WX), dlarray(BX), dlarray(XX))
    f = lambda w, b, x: sum(np.sum(np.tanh(w * (k + 1) * x) + b ** 2) for k in range(3))  # noqa: E731
    assert_close(y.data, f(WX, BX, XX), 1e-14, 0)
    for k, g in enumerate((gw, gb, gx)):
        assert_close(g.data, numerical_gradient(f, [WX, BX, XX], k), 1e-6, 1e-8)


def _ns_value(w):
    p = types.SimpleNamespace(a=w, c=w ** 2)
    return np.sum(p.a * p.c)


def test_simple_namespace_second_derivative_and_its_value():
    assert type(dlfeval(lambda w: types.SimpleNamespace(w=w), dlarray(WX))) is types.SimpleNamespace
    v = np.array([0.5, -1.0])
    hv = np.asarray(sct.hvp(_ns_value, WX, v))
    assert_close(hv, 6 * WX * v, 1e-10, 1e-12)


def _ns_grad_of_argument(p, x):
    y = _ns_loss(p, x)
    return y, dlgradient(y, p)


def test_gradient_of_a_simple_namespace_argument_holds_dlarrays():
    p = types.SimpleNamespace(w=dlarray(WX), b=dlarray(BX), name="layer")
    y, g = dlfeval(_ns_grad_of_argument, p, dlarray(XX))
    assert type(g) is types.SimpleNamespace and isinstance(g.w, dlarray) and isinstance(g.b, dlarray)
    assert_close(g.b.data, 2 * BX, 1e-14, 0)
    assert_close(g.w.data, XX / np.cosh(WX * XX) ** 2, 1e-12, 1e-14)
    assert isinstance(p.w, dlarray) and p.name == "layer"


def _ns_from_mapping(w):
    d = {"a": w}
    p = types.SimpleNamespace(**d)
    y = np.sum(p.a ** 2)
    return y, dlgradient(y, w)


def _ns_from_written_mapping(w):
    d = {}
    d["a"] = w                  # (keys known only when it runs)
    p = types.SimpleNamespace(**d)
    y = np.sum(p.a ** 2)
    return y, dlgradient(y, w)


def test_simple_namespace_from_a_dict_display_runs():
    # (since stop 42 a dict display's keys are the call's own keywords: SimpleNamespace(a=d["a"]))
    y, g = dlfeval(_ns_from_mapping, dlarray(WX))
    assert_close(np.asarray(y), np.sum(WX ** 2), 1e-14, 0)
    assert_close(np.asarray(g), 2 * WX, 1e-14, 0)


def test_simple_namespace_from_a_mapping_is_refused_with_what_to_write():
    with pytest.raises(sct.CompileError, match=r"pass the keywords explicitly") as caught:
        dlfeval(_ns_from_written_mapping, dlarray(WX))
    assert caught.value.filename == __file__ and \
        caught.value.lineno == _line(_ns_from_written_mapping, "SimpleNamespace(**d)")


# --- 5. a numpy warning inside a runtime function names the user's line, whatever hook is installed ------

def _warns_in_runtime(x):
    y = np.log(x) + x ** 0.5
    return y, dlgradient(y, x)


def _another_hook(kind):
    original = warnings._showwarnmsg
    if kind == "wrapping":          # another library's hook that calls the one it found (sct's)
        def hook(msg):
            original(msg)
    else:                           # one installed over it that records by itself
        def hook(msg):
            warnings._showwarnmsg_impl(msg)
    return original, hook


@pytest.mark.parametrize("kind", ["none", "wrapping", "replacing"])
@pytest.mark.parametrize("arg", [-1.0, np.float64(-1.0), np.array(-1.0)], ids=["float", "float64", "0-d"])
def test_warning_inside_the_runtime_names_the_users_line(kind, arg):
    line = _line(_warns_in_runtime, "y = np.log(x) + x ** 0.5")
    original = warnings._showwarnmsg
    if kind != "none":
        original, hook = _another_hook(kind)
        warnings._showwarnmsg = hook
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y, g = dlfeval(_warns_in_runtime, dlarray(arg))
    finally:
        warnings._showwarnmsg = original
    assert np.isnan(y.data) and np.isnan(g.data)
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert runtime, "numpy's invalid-value warnings are shown"
    for w in runtime:
        assert (w.filename, w.lineno) == (__file__, line), (w.filename, w.lineno, str(w.message))


# --- 6. sct.source(callees=True): the generated code of every callee level -------------------------------

SOURCE_RUNS = [0]


def _lvl3(z):
    return np.cos(z) * 2.0


def _lvl2(z):
    return np.sin(z) * _lvl3(z)


def _lvl1(w, x):
    zs = [w * x, w + x]
    return np.sum(_lvl2(zs[0])) + np.sum(w ** 2)     # zs[0]: its kind known at run time only


def _counted_bump():
    SOURCE_RUNS[0] += 1
    return 1.0


def _levels(w, x):
    k = _counted_bump()
    y = _lvl1(w, x) * k
    return y, dlgradient(y, w)


class _Caller:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return np.sum(_lvl2(self.w * x))


def _levels_through_object(w, x):
    m = _Caller(w)
    y = m(x)
    return y, dlgradient(y, w)


def _headers(text):
    return [line for line in text.splitlines() if line.startswith("# ----")]


def test_source_lists_run_time_calls_without_running_by_default():
    sct.clear_cache()
    SOURCE_RUNS[0] = 0
    text = str(sct.source(_levels, dlarray(WX), dlarray(XX), callees=True))
    assert SOURCE_RUNS[0] == 0
    assert "_lvl1_fwd(" in text and "def _lvl2_fwd(" not in text
    assert "_lvl2() at line" in text and "run=True" in _headers(text)[-1]
    compile(text, "<generated>", "exec")


def test_source_run_shows_every_level():
    sct.clear_cache()
    SOURCE_RUNS[0] = 0
    text = str(sct.source(_levels, dlarray(WX), dlarray(XX), callees=True, run=True))
    assert SOURCE_RUNS[0] == 1                     # run once
    for name in ("_lvl1", "_lvl2", "_lvl3"):
        assert f"def {name}_fwd(" in text and f"def {name}_bwd(" in text, name
    assert not any("run=True" in h for h in _headers(text))
    compile(text, "<generated>", "exec")
    again = str(sct.source(_levels, dlarray(WX), dlarray(XX), callees=True, run=True))
    assert SOURCE_RUNS[0] == 1 and again == text   # made: not run again


def test_source_after_a_run_shows_what_the_first_calls_call_in_turn():
    sct.clear_cache()
    y, g = dlfeval(_levels, dlarray(WX), dlarray(XX))
    text = str(sct.source(_levels, dlarray(WX), dlarray(XX), callees=True))
    # _lvl3 is called by _lvl2, whose code was made on its first call (was: not shown)
    assert "def _lvl2_fwd(" in text and "def _lvl3_fwd(" in text
    f = lambda w: np.sum(np.sin(w * XX) * np.cos(w * XX) * 2.0) + np.sum(w ** 2)   # noqa: E731
    assert_close(g.data, numerical_gradient(f, [WX], 0), 1e-6, 1e-8)


def test_source_run_shows_the_code_a_callable_object_ran():
    sct.clear_cache()
    text = str(sct.source(_levels_through_object, dlarray(WX), dlarray(XX), callees=True, run=True))
    assert "def __call___fwd(" in text or "def __call__(" in text
    assert "def _lvl2_fwd(" in text and "def _lvl3_fwd(" in text
    compile(text, "<generated>", "exec")


def _unpack_starred(o, x):
    a, *mid, z = o
    y = np.sum(a * x) + np.sum(mid[0] * z)
    return y, dlgradient(y, o, x)


class Many:
    def __init__(self, *items):
        self.items = list(items)

    def __iter__(self):
        return iter(self.items)


def test_starred_unpacking_of_an_object():
    a, b, c = (dlarray(v) for v in (WX, BX, XX))
    y, (g, gx) = dlfeval(_unpack_starred, Many(a, b, c), dlarray(XX))
    assert_close(y.data, np.sum(WX * XX) + np.sum(BX * XX), 1e-14, 0)
    assert type(g) is Many
    assert_close(g.items[0].data, XX, 0, 0)
    assert_close(g.items[1].data, XX, 0, 0)
    assert_close(g.items[2].data, BX, 0, 0)
    assert_close(gx.data, WX, 0, 0)
    with pytest.raises(sct.EvaluationError, match=r"not enough values to unpack \(expected at least 2, got 1\)"):
        dlfeval(_unpack_starred, Many(a), dlarray(XX))


def _unpack_nested(o, x):
    (a, b), c = o
    y = np.sum(a * x) + np.sum(b * c)
    return y, dlgradient(y, o, x)


def test_nested_unpacking_of_an_object_holding_a_list():
    a, b, c = (dlarray(v) for v in (WX, BX, XX))
    y, (g, gx) = dlfeval(_unpack_nested, Many([a, b], c), dlarray(XX))
    assert_close(y.data, np.sum(WX * XX) + np.sum(BX * XX), 1e-14, 0)
    assert_close(g.items[0][0].data, XX, 0, 0)
    assert_close(g.items[0][1].data, XX, 0, 0)
    assert_close(g.items[1].data, BX, 0, 0)


def test_lbfgsupdate_pairs_a_reordered_gradient_table():
    target = {("fc", "Weights"): np.array([1.0, -1.0]), ("fc", "Bias"): np.array([2.0])}

    def loss_and_grads(reorder):
        def fcn(t):
            loss = sum(np.sum((np.asarray(t.Value[i]) - target[k]) ** 2)
                       for i, k in enumerate(zip(t.Layer, t.Parameter)))
            grads = Table(t.Layer, t.Parameter, [2 * (np.asarray(t.Value[i]) - target[k])
                                                 for i, k in enumerate(zip(t.Layer, t.Parameter))])
            return loss, (grads.rows([1, 0]) if reorder else grads)
        return fcn

    start = Table(("fc", "fc"), ("Weights", "Bias"), [np.zeros(2), np.zeros(1)])
    a, sa = sct.lbfgsupdate(start, loss_and_grads(False))
    b, sb = sct.lbfgsupdate(start, loss_and_grads(True))
    for u, v in zip(a.Value, b.Value):
        assert_close(np.asarray(v), np.asarray(u), 1e-14, 1e-14)
    assert float(sb.Loss) < 5.0
