"""Stale results of sct's cache: the second or later call of a function whose globals, closures,
objects, classes or argument kinds changed since its first call must compute what plain Python
computes now (values against plain Python, gradients against finite differences), or refuse."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient

from gradcheck import D, assert_close, numerical_gradient

X = np.array([0.3, -0.7, 1.1])


def fd(f, x):
    return numerical_gradient(lambda v: float(f(v)), [np.asarray(x, float)], 0)


def value_and_grad(step, plain, *extra, x=X):
    """``dlfeval(step, dlarray(x), *extra)`` against plain Python's ``plain(x, *extra)`` and its FD."""
    y, g = dlfeval(step, dlarray(x), *extra)
    assert_close(D(y), plain(x, *extra), rtol=1e-10, atol=1e-12)
    assert_close(D(g), fd(lambda v: plain(v, *extra), x), rtol=1e-5, atol=1e-7)


# --- a method read in place (it sets its object's attributes), bound to a class under another name ---

def _set_k(self, v):
    self.k = v


class Gain:
    """``setk`` is a function whose __name__ is not the attribute it is read as."""
    setk = _set_k

    def __init__(self):
        self.k = 2.0

    def f(self, z):
        return np.sum(self.k * z ** 2)


def gain_step(x, net):
    net.setk(3.0)
    y = net.f(x)
    return y, dlgradient(y, x)


def gain_plain(x, net):
    net.setk(3.0)
    return net.f(x)


def test_method_read_in_place_under_another_name():
    # was: "_set_k() of Gain was read in place here ... it is now another" on the first call
    value_and_grad(gain_step, gain_plain, Gain())


def test_method_read_in_place_replaced_on_class_by_another_function():
    class Net:
        def __init__(self):
            self.k = 2.0

        def setk(self, v):
            self.k = v

        def f(self, z):
            return np.sum(self.k * z ** 2)

    value_and_grad(gain_step, gain_plain, Net())

    def tenfold(self, v):          # a notebook cell patching the class: Net.setk = tenfold
        self.k = 10 * v

    Net.setk = tenfold
    # was: "tenfold() of Net was read in place here ... it is now another"
    value_and_grad(gain_step, gain_plain, Net())
    y, _ = dlfeval(gain_step, dlarray(X), Net())
    assert_close(D(y), 30.0 * np.sum(X ** 2))

    def plus_one(self, v):
        self.k = v + 1.0

    tenfold.__code__ = plus_one.__code__     # autoreload replacing the function's code
    value_and_grad(gain_step, gain_plain, Net())
    y, _ = dlfeval(gain_step, dlarray(X), Net())
    assert_close(D(y), 4.0 * np.sum(X ** 2))


# --- user code run by Python inside the step (a key function, __str__, a property) rebinding a global
# --- a helper reads: the helper's checks were folded into the entry's, so its compiled SCALE was stale

SCALE = 1.0


def scaled(z):
    return np.sum(SCALE * z ** 2)


def doubling(v):
    global SCALE
    SCALE = SCALE * 2
    return v


class Noisy:
    def __str__(self):
        doubling(0)
        return "noisy"

    @property
    def weight(self):
        doubling(0)
        return 1.0


NOISY = Noisy()


def step_sorted_key(x):
    y1 = scaled(x)
    sorted([2, 1], key=doubling)
    y = y1 + scaled(x)
    return y, dlgradient(y, x)


def plain_sorted_key(x):
    y1 = scaled(x)
    sorted([2, 1], key=doubling)
    return y1 + scaled(x)


def step_max_key(x):
    y1 = scaled(x)
    max([3, 1], key=doubling)
    y = y1 + scaled(x)
    return y, dlgradient(y, x)


def plain_max_key(x):
    y1 = scaled(x)
    max([3, 1], key=doubling)
    return y1 + scaled(x)


def step_str(x):
    y1 = scaled(x)
    str(NOISY)
    y = y1 + scaled(x)
    return y, dlgradient(y, x)


def plain_str(x):
    y1 = scaled(x)
    str(NOISY)
    return y1 + scaled(x)


def step_property(x):
    y1 = scaled(x)
    w = NOISY.weight
    y = y1 + scaled(x) * w
    return y, dlgradient(y, x)


def plain_property(x):
    y1 = scaled(x)
    w = NOISY.weight
    return y1 + scaled(x) * w


@pytest.mark.parametrize("step, plain, factor", [
    (step_sorted_key, plain_sorted_key, 5.0),     # 1 + 4: sorted calls the key on both items
    (step_max_key, plain_max_key, 5.0),
    (step_str, plain_str, 3.0),
    (step_property, plain_property, 3.0)])
def test_global_rebound_by_code_python_runs_inside_the_step(step, plain, factor):
    global SCALE
    for _ in range(2):
        SCALE = 1.0
        y, g = dlfeval(step, dlarray(X))
        # was: 2 * sum(x**2) (the second scaled() ran with the SCALE compiled in, 1.0)
        assert_close(D(y), factor * np.sum(X ** 2))
        assert_close(D(g), 2 * factor * X)
        SCALE = 1.0
        assert_close(D(y), plain(X))
    SCALE = 1.0


# --- the generated kind checks of the cache-hit path are never looser than kind_of -----------------

def test_kind_matcher_tells_modules_and_numpy_scalar_units_apart():
    import math
    from sct import kinds
    for a, b in [(np, math), (np.datetime64(1, "s"), np.datetime64(1, "D"))]:
        assert kinds.kind_of(a) != kinds.kind_of(b)
        # was True: only the type was checked (types.ModuleType, np.datetime64)
        assert not kinds.make_matcher((a,), (False,))((b,))
        assert kinds.make_matcher((a,), (False,))((a,))


def sine_through(x, m):
    y = m.sin(x) * x
    return y, dlgradient(y, x)


def test_module_argument_changing_between_calls():
    import math
    for m in (math, np, math):
        value_and_grad(sine_through, lambda v, m: np.sin(v) * v, m, x=np.array(0.4))


# --- a dataclass's own attributes that are not fields (set in __post_init__) --------------------------

from dataclasses import dataclass  # noqa: E402

import sct  # noqa: E402


@dataclass
class Linear:
    scale: float = 1.0

    def __post_init__(self):
        self.W = dlarray(np.array([1.0, 2.0, 3.0]))


def linear_loss(m, x):
    y = np.sum(m.scale * m.W * x ** 2)
    return y, dlgradient(y, m)


def linear_wrt_w(m, x):
    y = np.sum(m.W * x ** 2)
    return y, dlgradient(y, m.W)


@dataclass
class Affine:
    b: object = None

    def __post_init__(self):
        self.W = dlarray(np.array([1.0, 2.0, 3.0]))


def affine_loss(m, x):
    y = np.sum(m.W * x ** 2 + m.b * x)
    return y, dlgradient(y, m)


def test_gradient_with_respect_to_a_dataclass_holds_its_non_field_attributes_gradients():
    m = Affine(b=dlarray(np.array([0.5, 0.5, 0.5])))
    y, g = dlfeval(affine_loss, m, X)
    assert_close(D(y), np.sum(np.array([1.0, 2.0, 3.0]) * X ** 2 + 0.5 * X))
    assert_close(D(g.b), X)
    # was: g.W held W's value [1, 2, 3] (the copy's attribute, never set), silently
    assert_close(D(g.W), X ** 2)
    m = Linear()
    y, g = dlfeval(linear_loss, m, X)     # was refused: "y does not depend on any traced input"
    assert_close(D(g.W), X ** 2)
    m.scale = 3.0
    y, g = dlfeval(linear_loss, m, X)
    assert_close(D(g.W), 3.0 * X ** 2)


def test_non_field_attribute_is_traced_and_its_kind_is_checked():
    m = Linear()
    y, g = dlfeval(linear_wrt_w, m, X)    # was: "y does not depend on any traced input"
    assert_close(D(g), X ** 2)
    m.W = dlarray(np.array(2.0))          # another rank: not the entry compiled for a vector
    y, g = dlfeval(linear_wrt_w, m, X)
    assert_close(D(y), 2.0 * np.sum(X ** 2))
    assert_close(D(g), np.sum(X ** 2))


def test_optimizer_updates_a_dataclass_non_field_attribute():
    m = Linear()
    avg = sq = None
    y, g = dlfeval(linear_loss, m, X)
    new, avg, sq = sct.adamupdate(m, g, avg, sq, 1, 0.1)
    # adam's first step moves each parameter by the learning rate against its gradient's sign
    assert_close(D(new.W), np.array([1.0, 2.0, 3.0]) - 0.1, rtol=1e-5)    # was: W never updated


# --- super().f(...) is read as Defining.f(self, ...): a class between gaining f is what Python finds ---

class Root:
    def f(self, z):
        return np.sum(z ** 2)


class Middle(Root):
    pass


class Leaf(Middle):
    def f(self, z):
        return super().f(z) * 2.0


def leaf_step(x, m):
    y = m.f(x)
    return y, dlgradient(y, x)


def test_super_call_follows_a_method_added_between_the_classes_later():
    value_and_grad(leaf_step, lambda v, m: m.f(v), Leaf())
    y, _ = dlfeval(leaf_step, dlarray(X), Leaf())
    assert_close(D(y), 2.0 * np.sum(X ** 2))

    def cubed(self, z):
        return np.sum(z ** 3)

    Middle.f = cubed                 # a notebook cell patching the middle class
    try:
        # was: 2 * sum(x**2), Root.f still called
        value_and_grad(leaf_step, lambda v, m: m.f(v), Leaf())
        y, _ = dlfeval(leaf_step, dlarray(X), Leaf())
        assert_close(D(y), 2.0 * np.sum(X ** 3))
    finally:
        del Middle.f
    y, _ = dlfeval(leaf_step, dlarray(X), Leaf())
    assert_close(D(y), 2.0 * np.sum(X ** 2))


def step_key_argument(x, key):
    y1 = scaled(x)
    sorted([2, 1], key=key)
    y = y1 + scaled(x)
    return y, dlgradient(y, x)


def step_str_argument(x, obj):
    y1 = scaled(x)
    str(obj)
    y = y1 + scaled(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("step, given, factor", [
    (step_key_argument, doubling, 5.0),          # the key function an argument
    (step_str_argument, Noisy(), 3.0)])           # the object an argument
def test_global_rebound_by_code_an_argument_brings(step, given, factor):
    global SCALE
    for _ in range(2):
        SCALE = 1.0
        y, g = dlfeval(step, dlarray(X), given)
        # was: 2 * sum(x**2)
        assert_close(D(y), factor * np.sum(X ** 2))
        assert_close(D(g), 2 * factor * X)
    SCALE = 1.0


@dataclass
class Owned:
    w: object = None

    def __post_init__(self):
        self.me = self                 # a back-reference besides the fields
        self.act = np.tanh
        self.V = dlarray(np.array([0.5, -1.0, 2.0]))


def owned_loss(m, x):
    y = np.sum(m.act(m.w * x) + m.V * x)
    return y, dlgradient(y, m)


def test_dataclass_with_a_back_reference_and_a_function_besides_its_fields():
    m = Owned(dlarray(np.array([1.0, 2.0, 3.0])))
    y, g = dlfeval(owned_loss, m, X)
    w = np.array([1.0, 2.0, 3.0])
    assert_close(D(g.w), (1 - np.tanh(w * X) ** 2) * X)
    assert_close(D(g.V), X)
    assert g.act is np.tanh and g.me is m       # kept as they are
    new, _, _ = sct.adamupdate(m, g, None, None, 1, 0.1)
    assert_close(D(new.V), np.array([0.5, -1.0, 2.0]) - 0.1 * np.sign(X), rtol=1e-5)


# --- what a called function does to its arguments, read from the helpers it calls: redefining one of
# --- those (a notebook cell run again) is read again

def _leave(v):
    return None


def _triple_in_place(v):
    v *= 3.0


inner_helper = _leave


def outer_helper(v):
    inner_helper(v)


def step_outer(x):
    a = np.ones(3) * 2.0
    y1 = np.sum(a * x ** 2)
    outer_helper(a)
    y = y1 + np.sum(a * x)
    return y, dlgradient(y, x)


def plain_outer(x):
    a = np.ones(3) * 2.0
    y1 = np.sum(a * x ** 2)
    outer_helper(a)
    return y1 + np.sum(a * x)


def test_a_helper_of_a_helper_redefined_to_write_into_its_argument():
    global inner_helper
    try:
        value_and_grad(step_outer, plain_outer)
        inner_helper = _triple_in_place
        # (was: the gradient 4x + 6 (the adjoint of y1 read the tripled a), for plain Python's 4x + 2,
        # then refused as a fresh compilation refused it; since stop 43 a helper changing its parameter
        # with v *= 3.0 is read in place where the caller gives its own array: Python's a tripled,
        # after y1 read it, followed)
        value_and_grad(step_outer, plain_outer)
        inner_helper = _leave
        value_and_grad(step_outer, plain_outer)
    finally:
        inner_helper = _leave


# --- a helper found to return only an EnableHigherDerivatives=False gradient: read again when a helper
# --- it calls is redefined

def _doubled(x):
    return x * 2.0


def _cut_gradient(x):
    g = dlgradient(np.sum(x ** 2), x, EnableHigherDerivatives=False)
    return g


deepest = _doubled


def via_deepest(x):
    return deepest(x)


def step_via_deepest(x):
    y = np.sum(via_deepest(x) ** 2)
    return y, dlgradient(y, x)


def test_helper_redefined_to_return_a_cut_gradient_is_refused_as_when_fresh():
    global deepest
    try:
        value_and_grad(step_via_deepest, lambda v: np.sum((2.0 * v) ** 2))
        deepest = _cut_gradient
        # was: a zero gradient (the memo of via_deepest still said "not constant")
        with pytest.raises(sct.CompileError, match="EnableHigherDerivatives"):
            dlfeval(step_via_deepest, dlarray(X))
    finally:
        deepest = _doubled
    value_and_grad(step_via_deepest, lambda v: np.sum((2.0 * v) ** 2))


# --- a custom layer's predict found pure (sct.runtime.network._impure_predict): read again when a
# --- helper it calls is redefined to draw random numbers

def _scale_features(X):
    return X * 2.0


def _noisy_features(X):
    return X * np.random.rand()


features = _scale_features


class Featurize(sct.Layer):
    def predict(self, X):
        return features(X)


def test_custom_layer_purity_is_read_again_after_its_helper_is_redefined():
    global features
    from sct.runtime.network import _impure_layer
    layer = Featurize()
    try:
        assert _impure_layer(layer, False) is None
        features = _noisy_features        # was: still None (pure): predict run twice, drawing twice
        assert "random" in _impure_layer(layer, False)
    finally:
        features = _scale_features
    assert _impure_layer(layer, False) is None
