"""Code ported from PyTorch and JAX tutorials (red team s44).

1. PyTorch's ``Module.parameters()`` written as a generator that walks the submodules:
   ``def parameters(self): yield from self.fc1.parameters(); yield from self.fc2.parameters()`` or
   ``for layer in self.layers: yield from layer.parameters()``, read by ``for p in model.parameters()``
   (weight decay, a gradient norm) inside ``dlfeval``.  Refused: "a call of the generator
   Net.parameters() that changes objects or draws random numbers", which it does not: the purity check
   read ``self.fc1.parameters()`` as a method that may change its object.  A generator method of a field
   (or of each item of a list field) whose class the argument's kind names, and which itself changes
   nothing, now counts as pure (the classes and methods the answer read are guarded); one that sets an
   attribute or draws random numbers is refused as before.
2. A layer class declaring ``__slots__`` under a base class without them (``class Module: ...``,
   ``class Linear(Module): __slots__ = ("W",)``): its objects have a ``__dict__`` too, so sct read them
   as ordinary objects and left the slot out of the kind.  ``dlgradient(loss, model)`` then returned the
   slot's value, the parameter itself, as its gradient (``g.W`` equal to ``W``: a wrong gradient, no
   error).  Such an object is now refused as one of a class with only ``__slots__`` already was ("a value
   here is a Linear, whose class declares __slots__, holding values to differentiate (W)"), also inside
   another object or a list; slots holding settings (a name) are read as before.
3. A layer class with its own ``__getattribute__`` (a parametrisation applied on read: ``if name == "W":
   return v * 2.0``): sct took the field's derivative for the value's, so the gradient of
   ``x @ self.W`` was half the true one (read directly, through ``__call__``, a helper, an object built
   in the function or a list of layers, subclasses too).  A derivative reaching an attribute read that a
   class's own ``__getattribute__`` computes is now refused, as one through ``__getattr__`` or a
   ``cached_property`` already was.
4. A descriptor of the user's as a class attribute (GPflow-style ``lengthscale = Softplus()`` whose
   ``__get__`` returns ``log1p(exp(obj._lengthscale))``, or a non-data ``__get__`` returning
   ``obj.__dict__["W"] * 2``): the derivative reaching the read was dropped, a zero gradient with respect
   to the object's field, silently.  Such a read now counts as computed (refused where a derivative
   reaches it, as a property's getter sct cannot compile); a non-data descriptor hidden by the instance's
   own attribute, slots, namedtuple fields and library descriptors are read as before.
5. Parameters in the common ``class AttrDict(dict): __getattr__ = dict.__getitem__`` read as ``p.W``:
   sct's ``hasattr(obj, "shape")`` on the object raised the KeyError of its ``__getattr__`` (hasattr
   catches AttributeError only), reported as "KeyError while computing the gradient ...: 'shape'" at
   the user's line, an internal error.  Now the read is refused as one through ``__getattr__`` (as a
   ``Munch`` raising AttributeError already was); ``p["W"]`` and an AttrDict of settings run.
6. PyTorch's ``Module`` ported with ``__setattr__`` filing arrays into ``self._params`` and
   ``def __getattr__(self, name): return self._params[name]`` (a KeyError, not AttributeError, for a
   missing name): ``dlfeval(loss, model, x)`` raised a bare ``KeyError: '__sct_kind__'`` from sct's
   internals (hasattr passes a KeyError on), with no location; through other paths "KeyError ...:
   '__sct_effect__'" / "'__self__'".  sct now asks the class for its own markers, and refuses such an
   object where it is given, naming the class and the fix (raise AttributeError).
7. A generator's items are computed when it is called, Python's as they are asked for: where the caller's
   loop body changes what a later item reads, the two differ.  (a) With 1., a global or a dict read by a
   field's generator method (``yield self.W * SCALE``) and changed between two items by a helper the loop
   calls is checked as the outer generator's own (refused).  (b) A loop body that sets an attribute of a
   class (``Lin.scale = 2.0``) while a generator method of an object of it reads ``self.scale`` gave every
   item the old value (4.0 for Python's 6.0, also before 1.): refused; so is one setting an attribute or
   item of a global object (``CFG.scale = 2.0``) that the object holds (``self.cfg.scale``).
8. JAX's ``ravel_pytree`` written by hand: ``keys = sorted(params)``, the parameters concatenated, and an
   ``unravel`` closure made by a helper from the keys (``make_unravel(keys, sizes)``) splitting the flat
   vector back into a dict.  The helper's adjoint gave the (string) keys a zero ``0.0``, and the adjoint
   of ``sorted(params)`` turned it into a list of zeros added to the dict's adjoint: "TypeError ...
   unsupported operand type(s) for +: 'dict' and 'list'" from generated code.  The adjoint of a dict's
   sorted keys is now no derivative at all.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import numerical_gradient


class Linear:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return x @ self.W + self.b

    def parameters(self):
        yield self.W
        yield self.b


class CountingLinear(Linear):
    def parameters(self):
        self.calls = getattr(self, "calls", 0) + 1
        yield self.W
        yield self.b


class NoisyLinear(Linear):
    def parameters(self):
        yield self.W * np.random.rand()
        yield self.b


class Net:
    def __init__(self, fc1, fc2):
        self.fc1 = fc1
        self.fc2 = fc2

    def __call__(self, x):
        return self.fc2(np.tanh(self.fc1(x)))

    def parameters(self):
        yield from self.fc1.parameters()
        yield from self.fc2.parameters()


class Sequential:
    def __init__(self, *layers):
        self.layers = list(layers)

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = np.tanh(layer(x))
        return self.layers[-1](x)

    def parameters(self):
        for layer in self.layers:
            yield from layer.parameters()


def regularised(model, x, wd):
    loss = np.mean(model(x) ** 2)
    for p in model.parameters():
        loss = loss + wd * np.sum(p * p)
    return loss


def loss_and_grad(model, x, wd):
    loss = regularised(model, x, wd)
    return loss, dlgradient(loss, model)


def global_norm(model, x):
    loss = np.mean(model(x) ** 2)
    return np.sqrt(sum(np.sum(p ** 2) for p in model.parameters())) + loss


def global_norm_grad(model, x):
    loss = global_norm(model, x)
    return loss, dlgradient(loss, model)


RNG = np.random.default_rng(44)
ARRAYS = [RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal((4, 2)), RNG.standard_normal(2)]
X = RNG.standard_normal((5, 3))


def _net(a):
    return Net(Linear(a[0], a[1]), Linear(a[2], a[3]))


def _seq(a):
    return Sequential(Linear(a[0], a[1]), Linear(a[2], a[3]))


def _grads_of(g):
    net = g.layers if isinstance(g, Sequential) else [g.fc1, g.fc2]
    return [net[0].W, net[0].b, net[1].W, net[1].b]


def _fd(f, arrays):
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    return [numerical_gradient(lambda *a: f(list(a)), arrays, k) for k in range(len(arrays))]


@pytest.mark.parametrize("make", [_net, _seq], ids=["yield_from_fields", "yield_from_list_of_layers"])
@pytest.mark.parametrize("how", ["dlfeval", "accelerate"])
def test_nested_parameters_generator(make, how):
    fun = sct.accelerate(loss_and_grad) if how == "accelerate" else loss_and_grad
    loss, g = dlfeval(fun, make([dlarray(a) for a in ARRAYS]), X, 0.1)
    np.testing.assert_allclose(np.asarray(loss.data), regularised(make(ARRAYS), X, 0.1), rtol=1e-12)
    expected = _fd(lambda a: regularised(make(a), X, 0.1), ARRAYS)
    for got, want in zip(_grads_of(g), expected):
        np.testing.assert_allclose(np.asarray(got.data), want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("make", [_net, _seq], ids=["yield_from_fields", "yield_from_list_of_layers"])
def test_nested_parameters_generator_float32(make):
    arrays32 = [a.astype(np.float32) for a in ARRAYS]
    x32 = X.astype(np.float32)
    loss, g = dlfeval(global_norm_grad, make([dlarray(a) for a in arrays32]), x32)
    want = global_norm(make(arrays32), x32)
    assert np.asarray(loss.data).dtype == np.asarray(want).dtype == np.float32
    np.testing.assert_allclose(np.asarray(loss.data), want, rtol=1e-6)
    expected = _fd(lambda a: global_norm(make(a), X), arrays32)
    for got, want in zip(_grads_of(g), expected):
        assert np.asarray(got.data).dtype == np.float32
        np.testing.assert_allclose(np.asarray(got.data), want, rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("make", [
    lambda a: Net(CountingLinear(a[0], a[1]), Linear(a[2], a[3])),
    lambda a: Net(NoisyLinear(a[0], a[1]), Linear(a[2], a[3])),
    lambda a: Sequential(Linear(a[0], a[1]), CountingLinear(a[2], a[3])),
], ids=["sets_attribute", "draws", "list_item_sets_attribute"])
def test_nested_generator_with_effects_still_refused(make):
    with pytest.raises(sct.CompileError, match="changes objects or draws random numbers"):
        dlfeval(loss_and_grad, make([dlarray(a) for a in ARRAYS]), X, 0.1)


class Replaceable(Linear):
    pass


def test_replacing_the_field_generator_compiles_again():
    model = Net(Replaceable(*[dlarray(a) for a in ARRAYS[:2]]), Linear(*[dlarray(a) for a in ARRAYS[2:]]))
    dlfeval(loss_and_grad, model, X, 0.1)

    def parameters(self):
        self.calls = 1
        yield self.W
        yield self.b
    Replaceable.parameters = parameters
    try:
        with pytest.raises(sct.CompileError, match="changes objects or draws random numbers"):
            dlfeval(loss_and_grad, model, X, 0.1)
    finally:
        del Replaceable.parameters


class ModuleBase:
    pass


class SlottedLinear(ModuleBase):
    __slots__ = ("W",)

    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


class NamedLinear(ModuleBase):
    __slots__ = ("name",)

    def __init__(self, W, b):
        self.name = "fc"
        self.W = W
        self.b = b

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


class Holder:
    def __init__(self, layer):
        self.layer = layer

    def __call__(self, x):
        return self.layer(x)


def _sum_sq(model, x):
    loss = np.sum(model(x) ** 2)
    return loss, dlgradient(loss, model)


def _first_layer(layers, x):
    loss = np.sum(layers[0](x) ** 2)
    return loss, dlgradient(loss, layers)


@pytest.mark.parametrize("wrap, fun", [
    (lambda m: m, _sum_sq), (Holder, _sum_sq), (lambda m: [m], _first_layer)],
    ids=["argument", "field", "list_item"])
def test_slots_beside_a_dict_refused_not_a_wrong_gradient(wrap, fun):
    model = wrap(SlottedLinear(dlarray(ARRAYS[0]), dlarray(ARRAYS[1])))
    with pytest.raises(sct.SctError, match="declares __slots__, holding values to differentiate \\(W\\)"):
        dlfeval(fun, model, X)


def test_slots_holding_settings_beside_a_dict():
    W, b = ARRAYS[0], ARRAYS[1]
    loss, g = dlfeval(_sum_sq, Holder(NamedLinear(dlarray(W), dlarray(b))), X)
    assert g.layer.name == "fc"
    expected = _fd(lambda a: np.sum(np.tanh(X @ a[0] + a[1]) ** 2), [W, b])
    np.testing.assert_allclose(np.asarray(g.layer.W.data), expected[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(g.layer.b.data), expected[1], rtol=1e-5, atol=1e-7)


class Doubled:
    def __init__(self, W):
        self.W = W

    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        return value * 2.0 if name == "W" else value

    def __call__(self, x):
        return x @ self.W


class DoubledChild(Doubled):
    pass


def _through_call(model, x):
    loss = np.sum(np.tanh(model(x)) ** 2)
    return loss, dlgradient(loss, model)


def _direct(model, x):
    loss = np.sum(np.tanh(x @ model.W) ** 2)
    return loss, dlgradient(loss, model)


def _built_here(W, x):
    model = Doubled(W)
    loss = np.sum(np.tanh(model(x)) ** 2)
    return loss, dlgradient(loss, W)


@pytest.mark.parametrize("fun, make", [
    (_through_call, lambda W: Doubled(W)), (_direct, lambda W: Doubled(W)),
    (_through_call, lambda W: DoubledChild(W)), (_built_here, lambda W: W)],
    ids=["call", "direct", "subclass", "built_in_function"])
def test_own_getattribute_refused_not_half_the_gradient(fun, make):
    with pytest.raises(sct.SctError, match="__getattribute__"):
        dlfeval(fun, make(dlarray(ARRAYS[0])), X)


class Softplus:
    def __set_name__(self, owner, name):
        self.field = "_" + name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return np.log1p(np.exp(getattr(obj, self.field)))

    def __set__(self, obj, value):
        setattr(obj, self.field, value)


class Twice:
    def __init__(self, field):
        self.field = field

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return obj.__dict__[self.field] * 2.0


class Kernel:
    lengthscale = Softplus()

    def __init__(self, raw):
        self._lengthscale = raw

    def __call__(self, x):
        return np.exp(-x ** 2 / self.lengthscale)


class TwiceLinear:
    W2 = Twice("W")

    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return x @ self.W2


class HiddenTwice(TwiceLinear):
    def __init__(self, W, W2):
        self.W = W
        self.W2 = W2           # the instance's own attribute hides the non-data descriptor


def _sum_of(model, x):
    loss = np.sum(model(x))
    return loss, dlgradient(loss, model)


@pytest.mark.parametrize("make", [lambda: Kernel(dlarray(np.array([0.3, -0.2, 1.0]))),
                                  lambda: TwiceLinear(dlarray(ARRAYS[0]))], ids=["data", "non_data"])
def test_user_descriptor_refused_not_a_zero_gradient(make):
    with pytest.raises(sct.SctError, match="descriptor"):
        dlfeval(_sum_of, make(), X)


def test_non_data_descriptor_hidden_by_the_instance():
    W = ARRAYS[0]
    loss, g = dlfeval(_sum_of, HiddenTwice(dlarray(W * 3.0), dlarray(W)), X)
    np.testing.assert_allclose(np.asarray(loss.data), np.sum(X @ W), rtol=1e-12)
    expected = np.broadcast_to(X.sum(0)[:, None], W.shape)
    np.testing.assert_allclose(np.asarray(g.__dict__["W2"].data), expected, rtol=1e-10)


class AttrDict(dict):
    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


def _by_attribute(p, x):
    loss = np.sum(np.tanh(x @ p.W + p.b) ** 2)
    return loss, dlgradient(loss, p)


def _by_item(p, x, cfg):
    h = np.tanh(x @ p["W"] + p["b"]) if cfg.act == "tanh" else x @ p["W"]
    loss = np.sum(h ** 2) * cfg.scale
    return loss, dlgradient(loss, p)


def test_attrdict_attribute_read_refused_not_an_internal_keyerror():
    p = AttrDict(W=dlarray(ARRAYS[0]), b=dlarray(ARRAYS[1]))
    with pytest.raises(sct.SctError, match="__getattr__") as info:
        dlfeval(_by_attribute, p, X)
    assert "'shape'" not in str(info.value)


def test_attrdict_items_and_settings():
    W, b = ARRAYS[0], ARRAYS[1]
    cfg = AttrDict(act="tanh", scale=2.0)
    loss, g = dlfeval(_by_item, AttrDict(W=dlarray(W), b=dlarray(b)), X, cfg)
    assert type(g) is AttrDict
    expected = _fd(lambda a: np.sum(np.tanh(X @ a[0] + a[1]) ** 2) * 2.0, [W, b])
    np.testing.assert_allclose(np.asarray(g["W"].data), expected[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(g["b"].data), expected[1], rtol=1e-5, atol=1e-7)


class TorchLikeModule:
    def __init__(self):
        object.__setattr__(self, "_params", {})

    def __setattr__(self, name, value):
        if isinstance(value, np.ndarray):
            self._params[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        return self._params[name]          # a KeyError for a missing name

    def __call__(self, x):
        return self.forward(x)


class TorchLikeLinear(TorchLikeModule):
    def __init__(self, W, b):
        super().__init__()
        self.weight = W
        self.bias = b

    def forward(self, x):
        return x @ self.weight + self.bias


def _value_of(model, x):
    return np.sum(model(x) ** 2)


def test_getattr_raising_keyerror_runs_as_python():
    # (was refused by running the user's __getattr__ for a name sct made up, a side effect Python's run has not;
    # dund57: sct asks the class and the object's __dict__ instead, so the model runs as Python runs it: its
    # dlarrays are its own attributes, its __setattr__ files only plain arrays in _params)
    model = TorchLikeLinear(dlarray(ARRAYS[0]), dlarray(ARRAYS[1]))
    W, b = ARRAYS[0], ARRAYS[1]
    r = X @ W + b
    assert np.allclose(float(dlfeval(_value_of, model, X)), np.sum(r ** 2))
    loss, grad = dlfeval(_sum_sq, model, X)
    assert np.allclose(float(loss), np.sum(r ** 2))
    assert np.allclose(np.asarray(grad.weight._data), X.T @ (2 * r))
    assert np.allclose(np.asarray(grad.bias._data), np.sum(2 * r, axis=0))
    assert model._params == {} and np.allclose(np.asarray(model.weight._data), W)


SCALE = 1.0


def _double_scale():
    global SCALE
    SCALE = 2.0


class ScaledLeaf:
    scale = 1.0

    def __init__(self, W):
        self.W = W

    def parameters(self):
        yield self.W * SCALE


class ClassScaled:
    scale = 1.0

    def __init__(self, W, V):
        self.W = W
        self.V = V

    def parameters(self):
        yield self.W * self.scale
        yield self.V * self.scale


class Pair:
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def parameters(self):
        yield from self.a.parameters()
        yield from self.b.parameters()


def _sum_items_rebinding_global(m):
    loss = 0.0
    for p in m.parameters():
        loss = loss + np.sum(p)
        _double_scale()
    return loss, dlgradient(loss, m)


def _sum_items_setting_class_attribute(m):
    loss = 0.0
    for p in m.parameters():
        loss = loss + np.sum(p)
        ClassScaled.scale = 2.0
    return loss, dlgradient(loss, m)


def test_nested_generator_global_rebound_between_items_refused():
    global SCALE
    SCALE = 1.0
    try:
        with pytest.raises(sct.CompileError, match="SCALE"):
            dlfeval(_sum_items_rebinding_global, Pair(ScaledLeaf(dlarray(np.ones(2))), ScaledLeaf(dlarray(np.ones(2)))))
    finally:
        SCALE = 1.0


def test_class_attribute_set_between_items_refused():
    try:
        with pytest.raises(sct.CompileError, match="sets an attribute or item of the class ClassScaled"):
            dlfeval(_sum_items_setting_class_attribute, ClassScaled(dlarray(np.ones(2)), dlarray(np.ones(2))))
    finally:
        ClassScaled.scale = 1.0


class _Settings:
    scale = 1.0


SETTINGS = _Settings()


class HoldsSettings:
    def __init__(self, W):
        self.W = W
        self.cfg = SETTINGS

    def parameters(self):
        yield self.W * self.cfg.scale
        yield self.W * self.cfg.scale


def _sum_items_setting_global_object(m):
    loss = 0.0
    for p in m.parameters():
        loss = loss + np.sum(p)
        SETTINGS.scale = 2.0
    return loss, dlgradient(loss, m)


def test_global_object_set_between_items_refused():
    try:
        with pytest.raises(sct.CompileError, match="sets an attribute or item of SETTINGS"):
            dlfeval(_sum_items_setting_global_object, HoldsSettings(dlarray(np.ones(2))))
    finally:
        SETTINGS.__dict__.pop("scale", None)


def _make_unravel(keys, sizes):
    def unravel(v):
        offsets = np.cumsum([0] + list(sizes))
        return {k: v[offsets[j]:offsets[j + 1]] for j, k in enumerate(keys)}
    return unravel


def _flat_loss(params):
    keys = sorted(params)
    flat = np.concatenate([params[k].ravel() for k in keys])
    unravel = _make_unravel(keys, [params[k].size for k in keys])
    p = unravel(flat)
    loss = np.sum(np.tanh(p["W"]) ** 2) + np.sum(p["b"] ** 3)
    return loss, dlgradient(loss, params)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ravel_pytree_with_sorted_keys(dtype):
    W, b = ARRAYS[1].astype(dtype), ARRAYS[3].astype(dtype)
    loss, g = dlfeval(_flat_loss, {"W": dlarray(W), "b": dlarray(b)})
    want = np.sum(np.tanh(W) ** 2) + np.sum(b ** 3)
    np.testing.assert_allclose(np.asarray(loss.data), want, rtol=1e-6)
    expected = _fd(lambda a: np.sum(np.tanh(a[0]) ** 2) + np.sum(a[1] ** 3), [W, b])
    for key, want_g in zip(("W", "b"), expected):
        assert np.asarray(g[key].data).dtype == dtype
        np.testing.assert_allclose(np.asarray(g[key].data), want_g, rtol=1e-4, atol=1e-5)
