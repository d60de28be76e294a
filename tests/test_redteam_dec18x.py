"""Red team of 11a2e25 (a gradient with respect to one result of a helper whose other results y reads;
second names of tuples) and 0e80808 (Grad-CAM: predict/forward written twice, the feature map given).

Found and fixed here:
- a helper returning another helper's results (``return two(x)``, ``h, o = two(x); return h, o * 3``):
  the inner call was left a call, ``dlgradient(sum(out), h)`` gave zeros (or was refused); the helper
  chain is now read in place (sct/inline_helpers.py: the names a returned value holds join the roots);
- dljacobian / dldivergence with x an item of a tuple (``h, out = helper(x)``, ``h = t[0]``, ``t[0]``):
  zeros; x is now followed to the item's own name (sct/sites.py ``_origin_selection``);
- ``a, b = t`` with t of three items took the first two (``(fm,) = predict(net, X, Outputs=["act"])``
  took the first row of the activation): now Python's ValueError (sct/unpack_objects.py);
- Grad-CAM differentiated again was refused with an internal message (the given-runner's cache seen
  as a write): the runner is found by a non-differentiable ``given_runner``;
- Grad-CAM through a custom layer whose predict draws random numbers or changes something ran it
  twice (other values than Python's; the effect repeated): refused; a pure one is computed.
"""
import numpy as np
import pytest

import sct
from sct import (additionLayer, dlarray, dlfeval, dldivergence, dlgradient, dljacobian, dlnetwork, extractdata,
                 featureInputLayer, fullyConnectedLayer, predict, tanhLayer)
from sct.runtime.layers import Layer

from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, 0.5])
T = np.tanh(X)
XB = np.array([[0.3, 0.5], [0.1, -0.2], [0.7, 0.4]])
TB = np.tanh(XB)


# --- 1. helper chains --------------------------------------------------------------------------

def two(x):
    h = np.tanh(x)
    out = h * 2
    return h, out


def passes_on(x):
    return two(x)


def passes_on_named(x):
    r = two(x)
    return r


def scales(x):
    h, out = two(x)
    return h, out * 3


def three_deep(x):
    h, out = scales(x)
    return h, out + h


def chain_direct(x):
    h, out = passes_on(x)
    return dlgradient(np.sum(out), h)


def chain_named(x):
    h, out = passes_on_named(x)
    return dlgradient(np.sum(out ** 2), h)


def chain_scaled(x):
    h, out = scales(x)
    return dlgradient(np.sum(out), h)


def chain_three(x):
    h, out = three_deep(x)
    return dlgradient(np.sum(out * out), h)


def chain_second_order(x):
    h, out = scales(x)
    g = dlgradient(np.sum(out ** 2), h)          # 72 h (out = 6 h)
    return dlgradient(np.sum(g * x), x)          # d/dx sum(72 tanh(x) x)


def test_helper_chains_follow_the_inner_helper():
    x = dlarray(X)
    assert_close(extractdata(dlfeval(chain_direct, x)), [2.0, 2.0])         # was [0, 0]
    assert_close(extractdata(dlfeval(chain_named, x)), 8 * T)                # d sum(4h^2)/dh
    assert_close(extractdata(dlfeval(chain_scaled, x)), [6.0, 6.0])         # was refused
    assert_close(extractdata(dlfeval(chain_three, x)), 2 * 49 * T)          # out = 7h
    assert_close(extractdata(dlfeval(chain_second_order, x)), 72 * (1 - T ** 2) * X + 72 * T)
    assert_close(extractdata(sct.accelerate(chain_direct)(x)), [2.0, 2.0])

    def via_h(h):
        return np.sum((7 * h) ** 2)
    assert_close(extractdata(dlfeval(chain_three, x)), numerical_gradient(via_h, [T], 0), rtol=1e-6)


# --- 2. dljacobian / dldivergence with x a tuple item ----------------------------------------------

def jac_of_helper_result(x):
    h, out = two(x)
    return dljacobian(out, h, 0)


def div_of_helper_result(x):
    h, out = scales(x)
    return dldivergence(out, h, 0)


def jac_of_second_name(x):
    a = np.tanh(x)
    t = (a, a * 2)
    u = t
    h = u[0]
    return dljacobian(u[1], h, 0)


def div_of_item(x):
    a = np.tanh(x)
    t = (a, a * a)
    return dldivergence(t[1], t[0], 0)


def test_jacobian_and_divergence_follow_tuple_items():
    x = dlarray(XB)
    eye2 = np.broadcast_to(np.eye(2), (3, 2, 2))
    assert_close(extractdata(dlfeval(jac_of_helper_result, x)), 2 * eye2)        # was zeros
    assert_close(extractdata(dlfeval(div_of_helper_result, x)), [12.0] * 3)      # was zeros
    assert_close(extractdata(dlfeval(jac_of_second_name, x)), 2 * eye2)          # was zeros
    assert_close(extractdata(dlfeval(div_of_item, x)), 2 * TB.sum(1))            # was refused


# --- 3. more second names of a tuple ---------------------------------------------------------------

def star_unpacked(x):
    a = np.tanh(x)
    t = (a, a * 2, a * 3)
    h, *rest = t
    return dlgradient(np.sum(rest[1]), h)


def sliced(x):
    a = np.tanh(x)
    t = (a, a * 2, a * 3)
    s = t[1:]
    h = t[0]
    return dlgradient(np.sum(s[0]), h)


def ident(t):
    return t


def through_identity(x):
    a = np.tanh(x)
    t = (a, a * 2)
    u = ident(t)
    h = u[0]
    return dlgradient(np.sum(u[1]), h)


def test_other_second_names_are_followed():
    x = dlarray(X)
    assert_close(extractdata(dlfeval(star_unpacked, x)), [3.0, 3.0])
    assert_close(extractdata(dlfeval(sliced, x)), [2.0, 2.0])
    assert_close(extractdata(dlfeval(through_identity, x)), [2.0, 2.0])


def slice_then_item(x):
    a = np.tanh(x)
    t = (a, a * 2, a * 3)
    s = t[:2]
    h = s[0]
    return dlgradient(np.sum(t[1]), h)


def test_a_slice_of_a_tuple_not_followed_is_refused():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(slice_then_item, dlarray(X))
    assert info.value.filename == __file__


# --- 8. unpacking another number of items ------------------------------------------------------------

def unpack_three_into_two(x):
    t = (x, x * 2, x * 3)
    a, b = t
    return dlgradient(np.sum(b), x)


def three_items(x):
    return x, x * 2, x * 3


def unpack_helper_three(x):
    a, b = three_items(x)
    return dlgradient(np.sum(b), x)


def unpack_list_display(x):
    _, b = [x, x * 2, x * 3]
    return dlgradient(np.sum(b), x)


def unpack_rows(x):
    (r,) = x * 2
    return dlgradient(np.sum(r), x)


def unpack_in_comprehension(x):
    triples = [(x, x * 2, x * 3)]
    ys = [a + b for a, b in triples]
    return dlgradient(np.sum(ys[0]), x)


def unpack_in_loop(x):
    triples = [(x, x * 2, x * 3)]
    tot = 0.0
    for a, b in triples:
        tot = tot + np.sum(a + b)
    return dlgradient(tot, x)


def unpack_two(x):
    pair = three_items(x)[:2]
    a, b = pair
    return dlgradient(np.sum(a * b), x)


@pytest.mark.parametrize("fn", [unpack_three_into_two, unpack_helper_three, unpack_list_display, unpack_rows,
                                unpack_in_comprehension, unpack_in_loop])
def test_unpacking_another_count_raises_pythons_value_error(fn):
    with pytest.raises(ValueError):                  # as Python: the function itself
        fn(np.array([0.3, 0.5]))
    with pytest.raises(sct.SctError) as info:
        dlfeval(fn, dlarray(X))
    assert isinstance(info.value.__cause__, ValueError)


def test_unpacking_the_right_count_is_unchanged():
    assert_close(extractdata(dlfeval(unpack_two, dlarray(X))), 4 * X)


# --- Grad-CAM: 4 second order, 5 one output unpacked, 6 a port of a multi-output layer, 7 custom layers --

RNG = np.random.default_rng(18)
W1, B1 = RNG.standard_normal((3, 2)), RNG.standard_normal(3)
W2, B2 = RNG.standard_normal((2, 3)), RNG.standard_normal(2)
XN = RNG.standard_normal((4, 2))


def _net(*extra):
    return dlnetwork([featureInputLayer(2, Name="in"), fullyConnectedLayer(3, Weights=W1, Bias=B1, Name="fc1"),
                      tanhLayer(Name="act"), *extra, fullyConnectedLayer(2, Weights=W2, Bias=B2, Name="fc2")])


def gradcam_again(net, X):
    scores, fm = predict(net, X, Outputs=["fc2", "act"])
    g = dlgradient(np.sum(scores[:, 0] ** 2), fm)
    return dlgradient(np.sum(g), X), dlgradient(np.sum(g * fm), X)


def test_gradcam_differentiated_again():
    d1, d2 = dlfeval(gradcam_again, _net(), dlarray(XN))
    a = np.tanh(XN @ W1.T + B1)
    s0 = a @ W2[0] + B2[0]
    # sum(g) = 2 s0 sum(W2[0]);  sum(g * a) = 2 s0 (s0 - b0)
    assert_close(extractdata(d1), (2 * W2[0].sum() * W2[0] * (1 - a ** 2)) @ W1, rtol=1e-10, atol=1e-12)
    dy_da = (4 * s0 - 2 * B2[0])[:, None] * W2[0]
    assert_close(extractdata(d2), (dy_da * (1 - a ** 2)) @ W1, rtol=1e-10, atol=1e-12)


def one_output_unpacked(net, X):
    (fm,) = predict(net, X, Outputs=["act"])
    return dlgradient(np.sum(fm), X)


def test_one_output_unpacked_raises_as_python():
    net = _net()
    with pytest.raises(ValueError):
        one_output_unpacked(net, XN)          # predict returns the activation itself: 4 rows
    with pytest.raises(sct.SctError) as info:
        dlfeval(one_output_unpacked, net, dlarray(XN))    # was: the first row's gradient, the others 0
    assert isinstance(info.value.__cause__, ValueError)


class Split(Layer):
    NumOutputs = 2

    def predict(self, A):
        return np.tanh(A), np.sin(A)


class Chained(Layer):
    NumOutputs = 2

    def predict(self, A):
        z = np.tanh(A)
        return z, 2 * z             # the second output computed from the first


def gradcam_port(net, X):
    scores, fm = predict(net, X, Outputs=["fc2", "split/out1"])
    return scores, dlgradient(np.sum(scores[:, 0] * scores[:, 1]), fm)


@pytest.mark.parametrize("layer", [Split, Chained])
def test_gradcam_at_a_port_of_a_multi_output_layer_is_refused(layer):
    # the layer may compute its other outputs from the one given (Chained: out2 = 2 out1, which MATLAB's
    # trace follows: d/d out1 has the path through out2 too); the second run computed out2 from the
    # layer's input (was: the path through out2 left out, silently)
    sp = layer()
    sp.Name = "split"
    net = dlnetwork([featureInputLayer(2, Name="in"), fullyConnectedLayer(3, Weights=W1, Bias=B1, Name="fc1"),
                     sp, additionLayer(2, Name="add"), fullyConnectedLayer(2, Weights=W2, Bias=B2, Name="fc2")],
                    Connections=[("in", "fc1"), ("fc1", "split"), ("split/out1", "add/in1"),
                                 ("split/out2", "add/in2"), ("add", "fc2")])
    with pytest.raises(sct.SctError, match="one of the 2 outputs of layer 'split'"):
        dlfeval(gradcam_port, net, dlarray(XN))


class Noisy(Layer):
    def predict(self, X):
        return X + 0.1 * np.random.standard_normal(X.shape)


CALLS = []


class Counting(Layer):
    def predict(self, X):
        CALLS.append(1)
        return X * 2.0


class Doubler(Layer):
    def predict(self, X):
        return self.scaled(np.sin(X))

    def scaled(self, X):
        return X * 2.0


def gradcam(net, X):
    scores, fm = predict(net, X, Outputs=["fc2", "act"])
    return scores, dlgradient(np.sum(scores[:, 0]), fm)


def _named(layer):
    layer.Name = "custom"
    return layer


@pytest.mark.parametrize("layer", [Noisy, Counting])
def test_gradcam_through_a_custom_layer_with_effects_is_refused(layer):
    with pytest.raises(sct.SctError, match="custom layer 'custom'"):     # was: a second draw, the values not Python's
        dlfeval(gradcam, _net(_named(layer())), dlarray(XN))


def test_gradcam_through_a_pure_custom_layer():
    s, g = dlfeval(gradcam, _net(_named(Doubler())), dlarray(XN))
    a = np.tanh(XN @ W1.T + B1)
    assert_close(extractdata(s), 2 * np.sin(a) @ W2.T + B2, rtol=1e-10, atol=1e-12)
    assert_close(extractdata(g), 2 * np.cos(a) * W2[0], rtol=1e-10, atol=1e-12)


# --- helpers left a call, or read in place with a loop; second names of a call's result --------------

def two_loop(x):
    h = np.tanh(x)
    out = h * 1
    for i in range(2):
        out = out * 2
    return h, out


class Pair:
    def two(self, x):
        h = np.tanh(x)
        return h, h * 2


def loop_helper_second_name(x):
    r = two_loop(x)
    s = r
    h, out = s
    return dlgradient(np.sum(out), h)


def method_result_second_name(x):
    m = Pair()
    r = m.two(x)
    s = r
    h = s[0]
    return dlgradient(np.sum(s[1]), h)


def whole_result_second_name(x):
    m = Pair()
    r = m.two(x)
    s = r
    return dlgradient(np.sum(r[1]), s)


def jac_loop_helper(x):
    h, out = two_loop(x)
    return dljacobian(out, h, 0)


def div_loop_helper(x):
    r = two_loop(x)
    s = r
    h = s[0]
    return dldivergence(s[1], h, 0)


def test_items_of_a_tuple_whose_other_item_a_loop_rebinds():
    # out_t = (h, out) of the helper read in place, out rebound by its loop: the item h is followed
    # (was: refused, naming the compiler's out_t; dljacobian / dldivergence gave zeros)
    assert_close(extractdata(dlfeval(loop_helper_second_name, dlarray(X))), [4.0, 4.0])
    eye2 = np.broadcast_to(np.eye(2), (3, 2, 2))
    assert_close(extractdata(dlfeval(jac_loop_helper, dlarray(XB))), 4 * eye2)
    assert_close(extractdata(dlfeval(div_loop_helper, dlarray(XB))), [8.0] * 3)


def test_a_second_name_of_a_calls_result_is_refused_not_zero():
    # was: zeros; then refused; exact since s56 (a method's result read by its second name: d sum(2h)/dh = 2)
    assert_close(extractdata(dlfeval(method_result_second_name, dlarray(X))), 2.0 * np.ones_like(np.asarray(X)))
    # the whole result by its second name: the same value as r, y reads r's item: computed (s56: h's gradient is
    # the total derivative through r[1] = 2h, as dlgradient(np.sum(out), h, out) gives where the values are named)
    g = dlfeval(whole_result_second_name, dlarray(X))
    assert_close(extractdata(g[0]), [2.0, 2.0])
    assert_close(extractdata(g[1]), [1.0, 1.0])


def unpack_dict(x):
    d = {0: x, 1: x * 2}
    a, b = d                      # Python: the keys 0 and 1
    return dlgradient(np.sum(x * b), x)


def test_unpacking_a_dict_is_refused_not_read_by_position():
    with pytest.raises(sct.SctError, match="gives its keys"):          # was: d[0], d[1], silently
        dlfeval(unpack_dict, dlarray(X))


# --- tuples made from tuples: the same items --------------------------------------------------------

def concatenated(x):
    a = np.tanh(x)
    t1 = (a,)
    t2 = (a * 2,)
    t = t1 + t2
    h = t[0]
    return dlgradient(np.sum(t[1]), h)


def retupled(x):
    a = np.tanh(x)
    t = (a, a * 2)
    u = tuple(t)
    h = u[0]
    return dlgradient(np.sum(u[1]), h)


def relisted(x):
    a = np.tanh(x)
    t = (a, a * 2)
    u = list(t)
    h = u[0]
    return dlgradient(np.sum(u[1]), h)


def jac_concatenated(x):
    a = np.tanh(x)
    t = (a,) + (a * 2,)
    h = t[0]
    return dljacobian(t[1], h, 0)


@pytest.mark.parametrize("fn", [concatenated, retupled, relisted, jac_concatenated])
def test_items_of_tuples_made_from_tuples_are_refused_not_zero(fn):
    # (each gave zeros: h is an item of t1, whose value y reaches through t too)
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fn, dlarray(XB))
    assert info.value.filename == __file__


class NoisyInTraining(Layer):
    def predict(self, X):
        return X * 2.0

    def forward(self, X):
        return X * 2.0 + 0.1 * np.random.standard_normal(X.shape)


def gradcam_forward(net, X):
    (scores, fm), state = sct.forward(net, X, Outputs=["fc2", "act"])
    return scores, dlgradient(np.sum(scores[:, 0]), fm)


def test_gradcam_forward_through_custom_layers():
    # a pure custom layer (its forward is its predict): computed (was: every custom layer refused)
    s, g = dlfeval(gradcam_forward, _net(_named(Doubler())), dlarray(XN))
    a = np.tanh(XN @ W1.T + B1)
    assert_close(extractdata(g), 2 * np.cos(a) * W2[0], rtol=1e-10, atol=1e-12)
    # one whose forward draws: refused; its predict is pure: predict computed
    with pytest.raises(sct.SctError, match="forward of the custom layer 'custom'"):
        dlfeval(gradcam_forward, _net(_named(NoisyInTraining())), dlarray(XN))
    s, g = dlfeval(gradcam, _net(_named(NoisyInTraining())), dlarray(XN))
    assert_close(extractdata(g), np.broadcast_to(2 * W2[0], (4, 3)), rtol=1e-10, atol=1e-12)


# --- a helper returning a dict of another helper's results ----------------------------------------

def as_dict(x):
    h, out = two(x)
    return {"h": h, "out": out}


def as_dict_scaled(x):
    r = two(x)
    return {"h": r[0], "out": r[1] * 3}


def dict_chain(x):
    d = as_dict(x)
    return dlgradient(np.sum(d["out"]), d["h"])


def dict_chain_scaled(x):
    d = as_dict_scaled(x)
    h = d["h"]
    return dlgradient(np.sum(d["out"] ** 2), h)


def test_a_dict_of_an_inner_helpers_results_is_followed():
    # (was refused, naming the compiler's names of the inner call's results)
    assert_close(extractdata(dlfeval(dict_chain, dlarray(X))), [2.0, 2.0])
    assert_close(extractdata(dlfeval(dict_chain_scaled, dlarray(X))), 72 * T)


# --- a starred target's list of a helper's results ---------------------------------------------------

def three_results(x):
    h = np.tanh(x)
    return h, h * 2, h * 3


class Three:
    def results(self, x):
        h = np.tanh(x)
        return h, h * 2, h * 3


def starred_front(x):
    *front, last = three_results(x)
    return dlgradient(np.sum(last), front[0])


def starred_front_of_method(x):
    m = Three()
    *front, last = m.results(x)
    return dlgradient(np.sum(last), front[0])


@pytest.mark.parametrize("fn", [starred_front, starred_front_of_method])
def test_an_item_of_a_starred_targets_list_is_refused_not_zero(fn):
    # (gave 0 for 3: front = rt.listed(t[:-1]) was not followed into the call's results)
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fn, dlarray(X))
    assert info.value.filename == __file__


def _shake(X):
    return X + 0.01 * np.random.standard_normal(X.shape)


def _jitter_module():
    import types
    mod = types.ModuleType("jitter_mod")        # (a module of the user's, as the layer sees it)
    mod.shake = _shake
    return mod


jitter_mod = _jitter_module()


class ShakenByModule(Layer):
    def predict(self, X):
        return jitter_mod.shake(X)


class ShakenByField(Layer):
    def __init__(self):
        self.act = lambda X: X + 0.01 * np.random.standard_normal(X.shape)

    def predict(self, X):
        return self.act(X)


@pytest.mark.parametrize("layer", [ShakenByModule, ShakenByField])
def test_gradcam_through_code_the_check_cannot_read_is_refused(layer):
    # (a function of another module, a function kept in a field: ran twice, another draw)
    with pytest.raises(sct.SctError, match="custom layer 'custom'"):
        dlfeval(gradcam, _net(_named(layer())), dlarray(XN))


def gradcam_penalty(net, X):
    (s, fm), state = sct.forward(net, X, Outputs=["fc2", "act"])
    g = dlgradient(np.sum(s[:, 0] ** 2), fm)
    y = np.sum(g ** 2)
    return y, dlgradient(y, X)


def test_gradcam_penalty_through_forward_by_finite_differences():
    y, d = dlfeval(gradcam_penalty, _net(), dlarray(XN))

    def penalty(X):
        a = np.tanh(X @ W1.T + B1)
        s0 = a @ W2[0] + B2[0]
        return np.sum((2 * s0[:, None] * W2[0]) ** 2)
    assert_close(float(extractdata(y)), penalty(XN), rtol=1e-12)
    assert_close(extractdata(d), numerical_gradient(penalty, [XN], 0), rtol=1e-5, atol=1e-6)


class Wrapping(Layer):
    def __init__(self, inner):
        self.inner = inner

    def predict(self, X):
        return self.inner.predict(X) * 2.0


def test_gradcam_through_a_layer_holding_a_layer():
    # a built-in layer inside: pure, computed; a noisy custom one inside: refused
    s, g = dlfeval(gradcam, _net(_named(Wrapping(tanhLayer()))), dlarray(XN))
    a = np.tanh(XN @ W1.T + B1)
    assert_close(extractdata(s), 2 * np.tanh(a) @ W2.T + B2, rtol=1e-10, atol=1e-12)
    assert_close(extractdata(g), 2 * (1 - np.tanh(a) ** 2) * W2[0], rtol=1e-10, atol=1e-12)
    with pytest.raises(sct.SctError, match="custom layer 'custom'"):
        dlfeval(gradcam, _net(_named(Wrapping(Noisy()))), dlarray(XN))
