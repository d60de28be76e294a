"""Red team dec19 z2: custom training loops as a MATLAB dlarray user ports them (model-loss functions
returning loss, gradients and state; parameters in dicts, dataclasses, networks; the user's own
gradient clipping, weight decay and freezing written into the gradients; optimizer steps checked
against MATLAB's documented formulas).

1. A write into an item of an attribute of the gradients of an object (``g = dlgradient(loss,
   net.Learnables); g.Value[i] = g.Value[i] * s``, MATLAB's ``gradients.Value{i} = ...``; a dataclass's
   ``g.w[0] = ...``) was made on a copy: the gradients came back unchanged (per-parameter clipping
   silently not applied).  sct/points_to.py: the gradients of any structure hold their items;
   sct/copy_aliases.py: ``w = g.attr`` changed in place is written back (``g.attr = w``)."""
import dataclasses

import numpy as np
import pytest

import sct
from sct import (dlarray, dlfeval, dlgradient, dlnetwork, extractdata, featureInputLayer, forward,
                 fullyConnectedLayer, mse, predict, sgdmupdate)

from gradcheck import assert_close, numerical_gradient


# --- 1. writes into an attribute's items of the gradients of an object -------------------------------

@dataclasses.dataclass
class Params:
    w: list
    b: object


class Obj:
    def __init__(self, W, b):
        self.W = W
        self.b = b


X2 = np.array([1.0, 2.0])


def _params():
    x = dlarray(X2)
    return Params([x * 1.0, x * 2.0], x * 3.0)


def dc_item_scaled(p):
    y = np.sum(p.w[0] ** 2) + np.sum(p.b ** 2)
    g = dlgradient(y, p)
    g.w[0] = g.w[0] * 0.5
    return g


def dc_clip_loop(p):
    y = np.sum(p.w[0] ** 2) + np.sum(p.b ** 2)
    g = dlgradient(y, p)
    for i in range(len(g.w)):
        g.w[i] = np.clip(g.w[i], -1.0, 1.0)
    return g


def dc_array_element(p):
    y = np.sum(p.w[0] ** 2) + np.sum(p.b ** 2)
    g = dlgradient(y, p)
    g.b[0] = 0.0
    return g


def dc_second_name(p):
    y = np.sum(p.w[0] ** 2) + np.sum(p.b ** 2)
    g = dlgradient(y, p)
    h = g.w
    h[0] = h[0] * 0.5
    h.append(p.b * 0)
    return g


def obj_element_and_update(p):
    y = np.sum(p.W ** 2) + np.sum(p.b ** 2)
    g = dlgradient(y, p)
    g.W[1] = 7.0
    g.b = g.b + 1.0
    return g


def test_dataclass_gradient_item_write():
    g = dlfeval(dc_item_scaled, _params())
    assert_close(extractdata(g.w[0]), X2)                 # 2 x * 0.5 (was 2 x: the write lost)
    assert_close(extractdata(g.w[1]), [0.0, 0.0])
    assert_close(extractdata(g.b), 6 * X2)


def test_dataclass_gradient_clipped_in_a_loop():
    g = dlfeval(dc_clip_loop, _params())
    assert_close(extractdata(g.w[0]), [1.0, 1.0])         # clip(2 x) (was 2 x)


def test_dataclass_gradient_array_element():
    g = dlfeval(dc_array_element, _params())
    assert_close(extractdata(g.b), [0.0, 12.0])           # (was [6, 12])


def test_dataclass_gradient_second_name():
    g = dlfeval(dc_second_name, _params())
    assert len(g.w) == 3
    assert_close(extractdata(g.w[0]), X2)


def test_object_gradient_element():
    x = dlarray(X2)
    g = dlfeval(obj_element_and_update, Obj(x * 1.0, x * 2.0))
    assert_close(extractdata(g.W), [2.0, 7.0])             # (was [2, 4])
    assert_close(extractdata(g.b), [5.0, 9.0])


def dc_second_order(p):
    y = np.sum(np.sin(p.w[0]) * p.w[1])
    g = dlgradient(y, p)
    g.w[0] = g.w[0] * 3.0
    pen = np.sum(g.w[0] ** 2) + np.sum(g.w[1] ** 2)
    return pen, dlgradient(pen, p)


def test_dataclass_gradient_item_write_differentiated_again():
    a, b = np.array([0.3, -0.7]), np.array([1.1, 0.4])
    pen, h = dlfeval(dc_second_order, Params([dlarray(a), dlarray(b)], None))

    def plain(a, b):
        return np.sum((3 * np.cos(a) * b) ** 2) + np.sum(np.sin(a) ** 2)
    assert_close(float(pen), plain(a, b))
    assert_close(extractdata(h.w[0]), numerical_gradient(plain, [a.copy(), b.copy()], 0))
    assert_close(extractdata(h.w[1]), numerical_gradient(plain, [a.copy(), b.copy()], 1))


THRESHOLD = 0.05


def net_loss_clipped(net, X, T):
    Y = forward(net, X, nargout=1)
    loss = mse(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    for i in range(len(gradients.Value)):           # MATLAB's thresholdL2Norm, per parameter
        n = np.sqrt(np.sum(gradients.Value[i] ** 2))
        if n > THRESHOLD:
            gradients.Value[i] = gradients.Value[i] * THRESHOLD / n
    return loss, gradients


def net_loss_frozen(net, X, T):
    Y = forward(net, X, nargout=1)
    loss = mse(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    for i in range(len(gradients.Value)):
        if gradients.Layer[i] == "fc1":
            gradients.Value[i] = 0 * gradients.Value[i]
    return loss, gradients


def _net_and_data():
    rng = np.random.default_rng(3)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc1"), fullyConnectedLayer(2, Name="fc2")],
                    Seed=0)
    return net, rng.standard_normal((6, 3)), rng.standard_normal((6, 2))


def _fd_gradients(net, X, T):
    values = [np.array(extractdata(v), dtype=float) for v in net.Learnables.Value]

    def loss_of(vals):
        Y = extractdata(predict(net.with_learnables([dlarray(v) for v in vals]), X))
        return np.sum((Y - T) ** 2) / 2 / X.shape[0]
    out = []
    for i in range(len(values)):
        def part(v, i=i):
            vals = list(values)
            vals[i] = v
            return loss_of(vals)
        out.append(numerical_gradient(part, [values[i].copy()], 0))
    return out


def test_learnables_gradient_clipped_per_parameter():
    net, X, T = _net_and_data()
    loss, g = dlfeval(net_loss_clipped, net, X, T)
    for i, gn in enumerate(_fd_gradients(net, X, T)):
        n = np.sqrt(np.sum(gn ** 2))
        expected = gn * THRESHOLD / n if n > THRESHOLD else gn
        assert_close(extractdata(g.Value[i]), expected, rtol=1e-4, atol=1e-8, what=str(i))


def test_learnables_gradient_frozen_layer_then_sgdm():
    net, X, T = _net_and_data()
    loss, g = dlfeval(net_loss_frozen, net, X, T)
    fd = _fd_gradients(net, X, T)
    for i in range(len(fd)):
        expected = 0 * fd[i] if g.Layer[i] == "fc1" else fd[i]
        assert_close(extractdata(g.Value[i]), expected, rtol=1e-4, atol=1e-8, what=str(i))
    net2, vel = sgdmupdate(net, g, None, 0.1, 0.9)
    for i, (new, old) in enumerate(zip(net2.Learnables.Value, net.Learnables.Value)):
        # MATLAB's sgdmupdate from vel = 0: vel = -lr g; p = p + vel
        assert_close(extractdata(new), extractdata(old) - 0.1 * extractdata(g.Value[i]))


def frozen_dc(p):
    y = np.sum(p.w[0] ** 2) + np.sum(p.b ** 2)
    g = dlgradient(y, p)
    g.w[0] = g.w[0] * 0.5
    return g


def test_frozen_dataclass_gradient_refused():
    @dataclasses.dataclass(frozen=True)
    class Frozen:
        w: list
        b: object
    x = dlarray(X2)
    with pytest.raises(sct.SctError, match="plain attribute"):
        dlfeval(frozen_dc, Frozen([x * 1.0, x * 2.0], x * 3.0))


NET_X = np.ones((2, 3))


def _small_net():
    return dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Name="fc1")], Seed=0)


def net_gradient_nested_write(net, X):
    loss = np.sum(forward(net, X, nargout=1))
    g = dlgradient(loss, net)
    g.Learnables.Value[0] = g.Learnables.Value[0] * 0.5
    return g


def table_gradient_several_x(net, X):
    loss = np.sum(forward(net, X, nargout=1))
    g, gx = dlgradient(loss, net.Learnables, X)
    g.Value[0] = g.Value[0] * 0.5
    return g, gx


def list_of_dicts_gradient(p):
    y = np.sum(p[0]["a"] ** 2)
    g = dlgradient(y, p)
    g[0]["a"] = g[0]["a"] * 0.5
    return g


def test_network_gradient_nested_attribute_write():
    g = dlfeval(net_gradient_nested_write, _small_net(), dlarray(NET_X))
    assert_close(extractdata(g.Learnables.Value[0]), np.full((2, 3), 1.0))     # (was 2)
    assert_close(extractdata(g.Learnables.Value[1]), [2.0, 2.0])


def test_list_of_dicts_gradient_item_write():
    g = dlfeval(list_of_dicts_gradient, [{"a": dlarray(X2)}])
    assert_close(extractdata(g[0]["a"]), X2)                  # 2 x * 0.5 (was refused)


def test_several_x_gradient_item_write():
    # (was: the write lost, g.Value[0] returned as 2) -- each x's gradient its own object now
    net, X = _small_net(), dlarray(NET_X)
    g, gx = dlfeval(table_gradient_several_x, net, X)
    assert_close(extractdata(g.Value[0]), np.full((2, 3), 1.0))
    assert_close(extractdata(g.Value[1]), [2.0, 2.0])
    W = extractdata(net.Learnables.Value[0])
    assert_close(extractdata(gx), np.tile(W.sum(axis=0), (2, 1)))


A2, B2 = np.array([1.0, 2.0]), np.array([3.0, -1.0])


def several_dicts(p, q):
    y = np.sum(p["w"][0] ** 2) + np.sum(q["w"] ** 2)
    g, h = dlgradient(y, p, q)
    g["w"][0] = g["w"][0] * 0.5
    h["w"] = h["w"] * 0.5
    return g, h


def several_list_and_array(p, q):
    y = np.sum(p[0] ** 2) + np.sum(q ** 2)
    g, h = dlgradient(y, p, q)
    g[0] *= 0.5
    h[1] = 9.0
    return g, h


def test_several_x_gradients_edited_each():
    # (both were refused: the two gradients were one object to the analysis)
    g, h = dlfeval(several_dicts, {"w": [dlarray(A2), dlarray(B2)]}, {"w": dlarray(B2)})
    assert_close(extractdata(g["w"][0]), A2)
    assert_close(extractdata(g["w"][1]), [0.0, 0.0])
    assert_close(extractdata(h["w"]), B2)
    g, h = dlfeval(several_list_and_array, [dlarray(A2), dlarray(B2)], dlarray(2 * B2))
    assert_close(extractdata(g[0]), A2)
    assert_close(extractdata(h), [4 * B2[0], 9.0])


# --- the common spellings of per-parameter edits of a Learnables gradient ----------------------------

BN_X = np.arange(6.0).reshape(2, 3)


def _bn_net():
    return dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Name="fc1"), sct.batchNormalizationLayer(Name="bn")],
                     Seed=0)


def _bn_loss(net, X):
    Y, state = forward(net, X)
    return np.sum(Y * np.arange(2.0)), state


def bn_gradients(net, X):
    return dlgradient(_bn_loss(net, X)[0], net.Learnables)


def values_by_second_name(net, X):
    loss, state = _bn_loss(net, X)
    g = dlgradient(loss, net.Learnables)
    vals = g.Value
    for i in range(len(vals)):
        vals[i] = vals[i] * 0.5
    return g


def values_by_slice(net, X):
    loss, state = _bn_loss(net, X)
    g = dlgradient(loss, net.Learnables)
    g.Value[:] = [v * 0.5 for v in g.Value]
    return g


def values_augmented(net, X):
    loss, state = _bn_loss(net, X)
    g = dlgradient(loss, net.Learnables)
    for i in range(len(g.Value)):
        g.Value[i] *= 0.5
    return g


def values_loop_walked(net, X):
    loss, state = _bn_loss(net, X)
    g = dlgradient(loss, net.Learnables)
    for v in g.Value:
        v *= 0.5
    return g


@pytest.mark.parametrize("f", [values_by_second_name, values_by_slice, values_augmented])
def test_learnables_gradient_halved(f):
    net, X = _bn_net(), dlarray(BN_X)
    ref = dlfeval(bn_gradients, net, X)
    got = dlfeval(f, net, X)               # (each was the unhalved gradient: the writes lost)
    assert any(np.any(extractdata(v) != 0) for v in ref.Value)
    for a, b in zip(got.Value, ref.Value):
        assert_close(extractdata(a), 0.5 * extractdata(b))


def test_learnables_gradient_changed_through_loop_variable_refused():
    # (was: the unhalved gradient) -- Python changes each array in place: refused, naming the line
    with pytest.raises(sct.CompileError, match=r"v \*= \.\.\."):
        dlfeval(values_loop_walked, _bn_net(), dlarray(BN_X))


def dict_of_lists_augmented(p):
    y = np.sum(p["w"][0] ** 2)
    g = dlgradient(y, p)
    for i in range(len(g["w"])):
        g["w"][i] *= 0.5
    return g


def test_gradient_dict_of_lists_augmented_in_a_loop():
    x = dlarray(X2)
    g = dlfeval(dict_of_lists_augmented, {"w": [x * 1.0, x * 2.0]})    # (was refused)
    assert_close(extractdata(g["w"][0]), X2)
    assert_close(extractdata(g["w"][1]), [0.0, 0.0])


def dict_of_lists_augmented_by_name(p, s):
    y = np.sum(p["w"][0] ** 2)
    g = dlgradient(y, p)
    for i in range(len(g["w"])):
        g["w"][i] *= s
    return g


def test_augmented_item_refusal_names_the_users_spelling():
    x = dlarray(X2)
    # an int s would make a list item `l * s` a longer list, so this may be refused when it runs; the
    # message then spells g['w'] (was the normalizer's g_item_1); followed, the values are exact
    try:
        g = dlfeval(dict_of_lists_augmented_by_name, {"w": [x * 1.0, x * 2.0]}, 0.5)
    except sct.EvaluationError as error:
        assert "g['w']" in str(error) and "g_item" not in str(error)
    else:
        assert_close(extractdata(g["w"][0]), X2)


# --- what the write-backs must not follow: a gradient's item held at a second place -------------------

@dataclasses.dataclass
class WB:
    w: object
    b: object


def item_stored_twice_then_written(p):
    y = np.sum(p["w"] ** 2) + np.sum(p["b"] ** 3)
    g = dlgradient(y, p)
    g["a"] = g["b"]
    g["a"][0] = 5.0            # (Python: g["b"] changes too)
    return g


def attribute_stored_twice_then_written(p):
    y = np.sum(p.w ** 2) + np.sum(p.b ** 3)
    g = dlgradient(y, p)
    g.w = g.b
    g.w[0] = 5.0
    return g


def attribute_kept_then_written(p):
    y = np.sum(p.w ** 2) + np.sum(p.b ** 3)
    g = dlgradient(y, p)
    keep = g.b
    g.b[0] = 5.0               # (Python: keep changes too)
    return g, keep


@pytest.mark.parametrize("f, make", [
    (item_stored_twice_then_written, lambda x: {"w": x * 1.0, "b": x * 2.0}),
    (attribute_stored_twice_then_written, lambda x: WB(x * 1.0, x * 2.0)),
    (attribute_kept_then_written, lambda x: WB(x * 1.0, x * 2.0))])
def test_gradient_item_seen_elsewhere_refused(f, make):
    with pytest.raises(sct.CompileError, match="test_redteam_dec19z2.py"):
        dlfeval(f, make(dlarray(X2)))


def namedtuple_gradient_item_write(p):
    y = np.sum(p.w[0] ** 2) + np.sum(p.b)
    g = dlgradient(y, p)
    g.w[0] = g.w[0] * 0.5
    return g


def test_namedtuple_gradient_item_write_refused_in_the_users_words():
    import collections
    NT = collections.namedtuple("NT", "w b")
    x = dlarray(X2)
    # (was: the write lost, g.w[0] returned unhalved) -- a namedtuple's field is not set back
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(namedtuple_gradient_item_write, NT([x * 1.0, x * 2.0], x * 3.0))
    assert "g.w is changed in place" in str(info.value) and "g_w" not in str(info.value)


def _penalty_net():
    return dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc1"), sct.tanhLayer(),
                      fullyConnectedLayer(2, Name="fc2")], Seed=0)


def penalty_written_in_place(net, X, T):
    loss = mse(forward(net, X, nargout=1), T)
    g = dlgradient(loss, net.Learnables)
    for i in range(len(g.Value)):
        g.Value[i] = g.Value[i] * (i + 1.0)
    pen = sum(np.sum(v ** 2) for v in g.Value)
    return pen, dlgradient(loss + pen, net.Learnables)


def penalty_rebuilt(net, X, T):
    loss = mse(forward(net, X, nargout=1), T)
    g = dlgradient(loss, net.Learnables)
    vals = [g.Value[i] * (i + 1.0) for i in range(len(g.Value))]
    pen = sum(np.sum(v ** 2) for v in vals)
    return pen, dlgradient(loss + pen, net.Learnables)


def test_gradient_penalty_through_written_learnables_gradient():
    rng = np.random.default_rng(2)
    net, X, T = _penalty_net(), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    a, ga = dlfeval(penalty_written_in_place, net, X, T)
    b, gb = dlfeval(penalty_rebuilt, net, X, T)
    assert_close(float(a), float(b), rtol=1e-12)
    for u, v in zip(ga.Value, gb.Value):
        assert_close(extractdata(u), extractdata(v), rtol=1e-10, atol=1e-12)


# --- writes into items of items of the gradients (MATLAB's gradients.Value{i}(idx) = c) ---------------

def _sum_squares_gradient(net, X):
    return dlgradient(np.sum(forward(net, X, nargout=1) ** 2), net.Learnables)


def value_masked(net, X):
    g = _sum_squares_gradient(net, X)
    for i in range(len(g.Value)):
        g.Value[i][g.Value[i] > 1.0] = 1.0
    return g


def value_masked_by_name(net, X):
    g = _sum_squares_gradient(net, X)
    for i in range(len(g.Value)):
        v = g.Value[i]
        v[v > 1.0] = 1.0
    return g


def value_rows(net, X):
    g = _sum_squares_gradient(net, X)
    W = g.Value[0]
    W[0, :] = 0.0
    W[1] *= 0.5
    return g


def listed_table_gradient(net, X):
    loss = np.sum(forward(net, X, nargout=1))
    g = dlgradient(loss, [net.Learnables, X])
    g[0].Value[0] = g[0].Value[0] * 0.5
    return g


def nested_dict_element(p):
    y = np.sum(p["l1"]["w"] ** 2)
    g = dlgradient(y, p)
    g["l1"]["w"][0] = 5.0
    return g


def _reference(net, X):
    return [extractdata(v) for v in dlfeval(_sum_squares_gradient, net, X).Value]


@pytest.mark.parametrize("f", [value_masked, value_masked_by_name])
def test_learnables_gradient_masked_elements(f):
    net, X = _small_net(), dlarray(NET_X)
    ref = _reference(net, X)
    assert any(np.any(r > 1.0) for r in ref)
    got = dlfeval(f, net, X)                       # (was the unmasked gradient: the write lost)
    for a, r in zip(got.Value, ref):
        assert_close(extractdata(a), np.minimum(r, 1.0))


def test_learnables_gradient_rows_written():
    net, X = _small_net(), dlarray(NET_X)
    ref = _reference(net, X)
    got = dlfeval(value_rows, net, X)
    expected = ref[0].copy()
    expected[0, :] = 0.0
    expected[1] *= 0.5
    assert_close(extractdata(got.Value[0]), expected)
    assert_close(extractdata(got.Value[1]), ref[1])


def test_listed_table_gradient_item_write():
    net, X = _small_net(), dlarray(NET_X)
    g = dlfeval(listed_table_gradient, net, X)
    assert_close(extractdata(g[0].Value[0]), np.full((2, 3), 1.0))     # d sum / dW = 2 (rows of X) * 0.5
    assert_close(extractdata(g[0].Value[1]), [2.0, 2.0])
    W = extractdata(net.Learnables.Value[0])
    assert_close(extractdata(g[1]), np.tile(W.sum(axis=0), (2, 1)))


def test_nested_gradient_dict_element():
    g = dlfeval(nested_dict_element, {"l1": {"w": dlarray(X2)}})        # (was refused)
    assert_close(extractdata(g["l1"]["w"]), [5.0, 4.0])


# --- a gradient refused in its projection names the dlgradient line -----------------------------------

class TiedDense:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(x @ self.W)


def tied_layers_loss(layers, X):
    h = X
    for L in layers:
        h = L(h)
    loss = np.sum(h)
    g = dlgradient(loss, layers)
    return loss, g


def test_tied_weights_run_exactly():
    # (was refused at the dlgradient line; since session 50 each place's gradient is the sum of the places'
    # adjoints, the tied array's gradient)
    T0 = np.array([[0.5, -0.2], [0.1, 0.3]])
    W = dlarray(T0)
    plain = lambda w: float(np.sum(np.tanh(np.tanh(np.ones((2, 2)) @ w) @ w)))     # noqa: E731
    loss, g = dlfeval(tied_layers_loss, [TiedDense(W), TiedDense(W)], np.ones((2, 2)))
    assert_close(extractdata(loss), plain(T0))
    for part in g:
        assert_close(extractdata(part.W), numerical_gradient(plain, [T0], 0), atol=1e-6)


def values_scaled_by_argument(net, X, s):
    g = dlgradient(np.sum(forward(net, X, nargout=1)), net.Learnables)
    for i in range(len(g.Value)):
        g.Value[i] *= s
    return g


def values_clipped_per_norm(net, X, s):
    g = dlgradient(np.sum(forward(net, X, nargout=1)), net.Learnables)
    for i in range(len(g.Value)):
        n = np.sqrt(np.sum(g.Value[i] ** 2))
        g.Value[i] *= s / n
    return g


def test_learnables_gradient_scaled_by_a_name():
    # (was refused when it ran: `t * s` of an item might have been a list times an int, which holds
    # its items twice -- an operation's new list, never the gradients' own list)
    net, X = _small_net(), dlarray(NET_X)
    g = dlfeval(values_scaled_by_argument, net, X, 0.5)
    assert_close(extractdata(g.Value[0]), np.full((2, 3), 1.0))
    assert_close(extractdata(g.Value[1]), [1.0, 1.0])
    g = dlfeval(values_clipped_per_norm, net, X, 0.5)
    assert_close(extractdata(g.Value[0]), np.full((2, 3), 2.0 * 0.5 / np.sqrt(24.0)))
    assert_close(extractdata(g.Value[1]), np.full(2, 2.0 * 0.5 / np.sqrt(8.0)))


def list_times_int_then_item_update(x):
    a = x * 1.0
    c = [a] * 2
    c[0] += x                  # (Python: c[1] is the same array and changes too)
    y = np.sum(c[1] * c[0])
    return y, dlgradient(y, x)


def test_list_times_int_item_update_still_refused():
    with pytest.raises(sct.SctError, match=r"\[a\] \* 2"):       # (when compiled or when it runs)
        dlfeval(list_times_int_then_item_update, dlarray(X2))


# --- clipping written with a while loop and a branch, the threshold a global changed between calls ----

@dataclasses.dataclass
class Stack:
    layers: list
    head: object


CLIP = 1.0


def stack_clipped(p, x):
    h = x
    for L in p.layers:
        h = np.tanh(h * L)
    y = np.sum(h * p.head)
    g = dlgradient(y, p)
    i = 0
    while i < len(g.layers):
        n = np.sqrt(np.sum(g.layers[i] ** 2))
        if n > CLIP:
            g.layers[i] *= CLIP / n
        i += 1
    if np.sum(g.head ** 2) > CLIP ** 2:
        g.head = g.head * 0
    return g


def _stack_reference(layers, head, x):
    def loss(*vals):
        h = x
        for L in vals[:-1]:
            h = np.tanh(h * L)
        return np.sum(h * vals[-1])
    vals = [np.array(v, float) for v in layers] + [np.array(head, float)]
    grads = [numerical_gradient(loss, [v.copy() for v in vals], i) for i in range(len(vals))]
    out = [gi * CLIP / np.sqrt(np.sum(gi ** 2)) if np.sqrt(np.sum(gi ** 2)) > CLIP else gi for gi in grads[:-1]]
    return out, grads[-1] * 0 if np.sum(grads[-1] ** 2) > CLIP ** 2 else grads[-1]


@pytest.mark.parametrize("clip", [1.0, 0.1, 100.0])
def test_stack_gradient_clipped_in_a_while_loop(clip, monkeypatch):
    monkeypatch.setitem(globals(), "CLIP", clip)
    rng = np.random.default_rng(3)
    layers, head, x = [rng.standard_normal(3) for _ in range(3)], rng.standard_normal(3), rng.standard_normal(3)
    g = dlfeval(stack_clipped, Stack([dlarray(v) for v in layers], dlarray(head)), x)
    out, gh = _stack_reference(layers, head, x)
    for a, b in zip(g.layers, out):
        assert_close(extractdata(a), b, rtol=1e-5, atol=1e-7)
    assert_close(extractdata(g.head), gh, rtol=1e-5, atol=1e-7)


def penalty_masked_and_scaled_in_place(net, X, T):
    loss = mse(forward(net, X, nargout=1), T)
    g = dlgradient(loss, net.Learnables)
    for i in range(len(g.Value)):
        v = g.Value[i]
        v[v > 0.05] = 0.05
        g.Value[i] *= 2.0
    pen = sum(np.sum(v ** 2) for v in g.Value)
    return pen, dlgradient(loss + pen, net.Learnables)


def penalty_masked_and_scaled_rebuilt(net, X, T):
    loss = mse(forward(net, X, nargout=1), T)
    g = dlgradient(loss, net.Learnables)
    vals = [np.where(v > 0.05, 0.05, v) * 2.0 for v in g.Value]
    pen = sum(np.sum(v ** 2) for v in vals)
    return pen, dlgradient(loss + pen, net.Learnables)


def test_gradient_penalty_through_masked_and_scaled_learnables_gradient():
    # (was refused: `t * 2.0` of an item seemed a list that could hold the items of g)
    rng = np.random.default_rng(2)
    net, X, T = _penalty_net(), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    a, ga = dlfeval(penalty_masked_and_scaled_in_place, net, X, T)
    b, gb = dlfeval(penalty_masked_and_scaled_rebuilt, net, X, T)
    assert_close(float(a), float(b), rtol=1e-12)
    for u, v in zip(ga.Value, gb.Value):
        assert_close(extractdata(u), extractdata(v), rtol=1e-10, atol=1e-12)
