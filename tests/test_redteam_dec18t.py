"""Red team T (training-loop toolkit): optimizers given user model objects with ``__call__``, plain
float fields read through a sub-object's ``__call__``, Sequential-style lists of layers holding numpy
ufuncs, self-referencing parameters, onehotencode/onehotdecode of labels outside the classes,
minibatchqueue of formatted data, batchnorm's running statistics in float32."""
import functools

import numpy as np
import pytest

import sct
from sct import (adamupdate, dlarray, dlfeval, dlgradient, dlupdate, rmspropupdate, sgdmupdate)

from gradcheck import D, assert_close, numerical_gradient

RNG = np.random.default_rng(18)
X = RNG.standard_normal((5, 3))


class Linear:
    def __init__(self, i, o, scale=1.0):
        self.W = dlarray(RNG.standard_normal((i, o)) * 0.5)
        self.b = dlarray(np.zeros(o))
        self.scale = scale

    def __call__(self, x):
        return (x @ self.W + self.b) * self.scale


class Model:
    def __init__(self):
        self.l1 = Linear(3, 4)
        self.l2 = Linear(4, 1)

    def __call__(self, x):
        return self.l2(np.tanh(self.l1(x)))


class Holder:
    """Not callable itself, holding a callable layer (was: the layer skipped by the optimizers)."""

    def __init__(self):
        self.l1 = Linear(3, 2)


def model_loss(m, x):
    loss = np.sum(m(x) ** 2)
    return loss, dlgradient(loss, m)


def holder_loss(h, x):
    loss = np.sum(h.l1(x) ** 2)
    return loss, dlgradient(loss, h)


def _plain_model(m, x):
    def lin(l, z):
        return (z @ D(l.W) + D(l.b)) * l.scale
    return float(np.sum(lin(m.l2, np.tanh(lin(m.l1, x))) ** 2))


# --- 1. optimizers walk into user objects with __call__ -------------------------------------------


@pytest.mark.parametrize("update", ["sgdm", "adam", "rmsprop", "dlupdate"])
def test_optimizer_updates_callable_model_object(update):
    m = Model()
    _, g = dlfeval(model_loss, m, X)
    expected_w1 = numerical_gradient(lambda w: _plain_model(_with(m, "l1", w), X), [D(m.l1.W)], 0)
    assert_close(D(g.l1.W), expected_w1, rtol=1e-5, atol=1e-6)
    if update == "sgdm":
        new, vel = sgdmupdate(m, g, None, 0.1, 0.9)
        step = -0.1 * D(g.l1.W)
    elif update == "adam":
        new, _, _ = adamupdate(m, g, None, None, 1, 0.1)
        gw = D(g.l1.W)                      # first step: m = 0.1 g, v = 0.001 g^2, rate 0.1 sqrt(0.001) / 0.1
        step = -0.1 * np.sqrt(0.001) / 0.1 * (0.1 * gw) / (np.sqrt(0.001 * gw * gw) + 1e-8)
    elif update == "rmsprop":
        new, _ = rmspropupdate(m, g, None, 0.01)
        gw = D(g.l1.W)
        step = -0.01 * gw / (np.sqrt(0.1 * gw * gw) + 1e-8)
    else:
        new = dlupdate(lambda p, d: p - 0.1 * d, m, g)
        step = -0.1 * D(g.l1.W)
    assert type(new) is Model and type(new.l1) is Linear
    assert_close(D(new.l1.W), D(m.l1.W) + step, rtol=1e-4, atol=1e-6)
    assert not np.allclose(D(new.l2.W), D(m.l2.W))       # the second layer too
    assert new.l1 is not m.l1                              # the input is not changed


def _with(m, name, w):
    import copy
    out = copy.copy(m)
    layer = copy.copy(getattr(m, name))
    layer.W = dlarray(w)
    setattr(out, name, layer)
    return out


def test_optimizer_updates_callable_layer_inside_plain_object():
    h = Holder()
    _, g = dlfeval(holder_loss, h, X)
    new, _ = sgdmupdate(h, g, None, 0.5, 0.0)
    assert_close(D(new.l1.W), D(h.l1.W) - 0.5 * D(g.l1.W))
    assert np.abs(D(g.l1.W)).max() > 0


def test_training_loop_on_model_object_lowers_loss():
    m = Model()
    first = _plain_model(m, X)
    avg = avg_sq = None
    for i in range(1, 31):
        _, g = dlfeval(model_loss, m, X)
        m, avg, avg_sq = adamupdate(m, g, avg, avg_sq, i, 0.05)
    assert _plain_model(m, X) < 0.1 * first


# --- 2. plain float fields read through a sub-object's __call__ -----------------------------------


def test_float_field_through_call_is_a_setting_not_its_value():
    m = Model()
    m.l1.scale = 1.5
    _, g = dlfeval(model_loss, m, X)
    # was: 1.5, the field's value; then its derivative through __call__, while read directly in the
    # function it was a constant (a field read both ways got a part of its derivative): a Python number
    # field is a setting, a constant however it is read (a scalar to train is a dlarray)
    assert_close(D(g.l1.scale), 0.0)
    m.l1.scale = dlarray(1.5)
    _, g = dlfeval(model_loss, m, X)

    def f(s):
        m.l1.scale = float(s)
        return _plain_model(m, X)
    expected = numerical_gradient(f, [np.array(1.5)], 0)
    m.l1.scale = 1.5
    assert_close(D(g.l1.scale), expected, rtol=1e-5)
    assert abs(float(D(g.l1.scale))) > 1e-3


def test_float_field_read_directly_is_a_constant_not_its_value():
    class P:
        def __init__(self):
            self.w = dlarray(np.array([1.0, 2.0]))
            self.s = 5.0

    def f(p):
        loss = np.sum(p.w * p.s)
        return loss, dlgradient(loss, p)
    _, g = dlfeval(f, P())
    assert_close(D(g.w), [5.0, 5.0])
    assert_close(D(g.s), 0.0)                               # was: 5.0 (the value)


def test_optimizer_leaves_python_float_fields_as_settings():
    # a Python float field is a setting (an epsilon, a temperature): Adam's steps of about learnRate
    # whatever the gradient would drive an epsilon of 1e-5 negative; a scalar to train is a dlarray
    m = Model()
    _, g = dlfeval(model_loss, m, X)
    assert float(D(g.l2.scale)) == 0.0                      # a setting: a constant
    new, _, _ = adamupdate(m, g, None, None, 1, 0.1)
    assert new.l2.scale == 1.0 and type(new.l2.scale) is float
    m.l2.scale = dlarray(1.0)
    _, g = dlfeval(model_loss, m, X)
    new, _ = sgdmupdate(m, g, None, 0.1, 0.0)
    assert_close(D(new.l2.scale), 1.0 - 0.1 * D(g.l2.scale))
    assert abs(float(D(g.l2.scale))) > 1e-3


# --- 6. Sequential-style lists with numpy ufuncs ----------------------------------------------------


def _run(layers, x):
    y = x
    for layer in layers:
        y = layer(y)
    return y


def seq_loss(layers, x):
    loss = np.sum(_run(layers, x) ** 2)
    return loss, dlgradient(loss, layers)


def _plain_seq(layers, x):
    y = x
    for layer in layers:
        y = (y @ D(layer.W) + D(layer.b)) * layer.scale if isinstance(layer, Linear) else layer(y)
    return float(np.sum(np.asarray(y) ** 2))


@pytest.mark.parametrize("acts", [[np.tanh], [np.sin, np.exp], [sct.relu],
                                  [functools.partial(np.clip, a_min=-0.5, a_max=0.5)]],
                         ids=["tanh", "sin-exp", "relu", "partial"])
def test_list_of_layers_with_ufuncs(acts):
    layers = [Linear(3, 4)] + acts + [Linear(4, 2)]
    loss, g = dlfeval(seq_loss, layers, X)
    assert_close(D(loss), _plain_seq(layers, X))
    w = D(layers[0].W).copy()

    def f(w0):
        layers[0].W = dlarray(w0)
        return _plain_seq(layers, X)
    expected = numerical_gradient(f, [w], 0)
    layers[0].W = dlarray(w)
    assert_close(D(g[0].W), expected, rtol=1e-5, atol=1e-6)
    new, avg, avg_sq = adamupdate(layers, g, None, None, 1, 0.1)      # the ufuncs passed through
    assert new[1] is acts[0] and avg[1] is None
    assert not np.allclose(D(new[0].W), w)
    new, avg, avg_sq = adamupdate(new, g, avg, avg_sq, 2, 0.1)
    assert new[1] is acts[0]


def test_list_of_layers_with_ufunc_second_order():
    layers = [Linear(3, 4), np.tanh, Linear(4, 1)]

    def f(layers, x):
        s = np.sum(_run(layers, x))
        gx = dlgradient(s, x, EnableHigherDerivatives=True)
        loss = np.sum(gx ** 2)
        return loss, dlgradient(loss, layers)
    loss, g = dlfeval(f, layers, dlarray(X))
    b, w2 = D(layers[0].b), D(layers[2].W)[:, 0]

    def plain(w0):
        h = np.tanh(X @ w0 + b)
        return float(np.sum((((1 - h ** 2) * w2) @ w0.T) ** 2))
    assert_close(D(loss), plain(D(layers[0].W)))
    assert_close(D(g[0].W), numerical_gradient(plain, [D(layers[0].W)], 0), rtol=1e-5, atol=1e-6)


# --- 7. structures holding themselves ----------------------------------------------------------------


class SelfHolding:
    def __init__(self):
        self.w = dlarray(np.array([1.0, 2.0]))
        self.me = self

    def __call__(self, x):
        return self.w * x


def test_self_holding_object_gradient_is_refused_clearly():
    def f(m, x):
        loss = np.sum(m(x) ** 2)
        return loss, dlgradient(loss, m)
    with pytest.raises(sct.EvaluationError, match="holds itself"):
        dlfeval(f, SelfHolding(), np.ones(2))
    with pytest.raises(sct.EvaluationError, match="holds itself"):          # through a dict
        m = SelfHolding()
        m.me = {"m": m}
        dlfeval(lambda d, x: (np.sum(d["m"](x)), dlgradient(np.sum(d["m"](x)), d)), m.me, np.ones(2))

    def g(m, x):
        loss = np.sum(m(x) ** 2)
        return loss, dlgradient(loss, m.w)                     # its arrays: computed
    _, gw = dlfeval(g, SelfHolding(), np.ones(2))
    assert_close(D(gw), [2.0, 4.0])


def test_self_holding_dataclass_gradient_is_refused_clearly():
    import dataclasses

    @dataclasses.dataclass
    class Node:
        w: object
        other: object = None
    node = Node(dlarray(np.array([1.0, 2.0])))
    node.other = node

    def f(d, x):
        loss = np.sum(d.w * x)
        return loss, dlgradient(loss, d)
    with pytest.raises(sct.EvaluationError, match="holds itself"):           # was: RecursionError
        dlfeval(f, node, np.ones(2))


@pytest.mark.parametrize("make", ["dict", "list", "object"])
@pytest.mark.parametrize("update", ["sgdm", "adam", "rmsprop", "dlupdate"])
def test_self_holding_parameters_refused_by_optimizers(make, update):
    if make == "dict":
        p = {"w": np.array([1.0, 2.0])}
        p["me"] = p
    elif make == "list":
        p = [np.array([1.0, 2.0])]
        p.append(p)
    else:
        p = SelfHolding()
    run = {"sgdm": lambda: sgdmupdate(p, p, None), "adam": lambda: adamupdate(p, p, None, None, 1),
           "rmsprop": lambda: rmspropupdate(p, p, None), "dlupdate": lambda: dlupdate(lambda v: v * 2, p)}[update]
    with pytest.raises(ValueError, match="holds itself"):
        run()


def test_missing_gradient_refused_by_name():
    with pytest.raises(ValueError, match="no gradient for a parameter"):
        adamupdate({"w": np.ones(2), "v": np.ones(3)}, {"w": np.ones(2), "v": None}, None, None, 1)


# --- 3. onehotencode of labels outside the classes; onehotdecode of NaN vectors -------------------


def test_onehotencode_label_outside_classes_is_nan():
    out = sct.onehotencode(np.array([0, 1, 5]), 3)
    assert_close(out[:2], [[1, 0, 0], [0, 1, 0]])
    assert np.isnan(out[2]).all()                           # was: zeros
    out = sct.onehotencode(np.array([[2, 7]]), 0, ClassNames=[0, 1, 2])   # MATLAB's featureDim form
    assert_close(out[:, 0], [0, 0, 1])
    assert np.isnan(out[:, 1]).all()
    out = sct.onehotencode(np.array(["a", "z"]), ["a", "b"], np.float32)
    assert out.dtype == np.float32 and np.isnan(out[1]).all()
    assert np.isnan(sct.onehotencode(np.array([0.0, np.nan]), 2)[1]).all()
    with pytest.raises(ValueError, match="cannot hold"):
        sct.onehotencode(np.array([0, 5]), 3, TypeName="logical")
    assert sct.onehotencode(np.array([0, 1]), 2, TypeName="logical").dtype == np.bool_


def test_onehotdecode_nan_vectors_are_undefined():
    encoded = sct.onehotencode(np.array([0, 2, 5]), 3)
    decoded = sct.onehotdecode(encoded, 3)
    assert decoded[:2].tolist() == [0, 2] and np.isnan(decoded[2])          # was: 0, the first class
    assert sct.onehotdecode(encoded, ["x", "y", "z"]).tolist() == ["x", "z", None]
    assert sct.onehotdecode(dlarray(encoded.T, "CB"), ["x", "y", "z"]).tolist() == ["x", "z", None]
    assert sct.onehotdecode(np.array([[np.nan, 0.2, 0.1]]), 3).tolist() == [1]   # NaN passed over (max)
    assert sct.onehotdecode(np.array([[0.1, 0.9]]), ["a", "b"]).dtype.kind == "U"   # no NaN: as before


# --- 4. minibatchqueue batches formatted data along B -------------------------------------------------


@pytest.mark.parametrize("fmt, shape", [("SSCB", (3, 4, 2, 10)), ("CB", (2, 10)), ("CBT", (3, 10, 5)),
                                        ("BC", (10, 2)), ("SCBT", (4, 2, 10, 3))])
def test_minibatchqueue_batches_along_b(fmt, shape):
    data = np.arange(np.prod(shape), dtype=float).reshape(shape)
    b = fmt.index("B")
    mbq = sct.minibatchqueue(dlarray(data, fmt), np.arange(10), MiniBatchSize=4)
    batches = list(mbq)
    assert [len(t) for _, t in batches] == [4, 4, 2]
    for (x, t) in batches:
        assert sct.dims(x) == fmt
        assert_close(D(x), np.take(data, D(t).astype(int), axis=b))   # was: cut along axis 0


def test_minibatchqueue_formatted_with_options():
    data = RNG.standard_normal((3, 4, 2, 10))
    mbq = sct.minibatchqueue(dlarray(data, "SSCB"), MiniBatchSize=4, OutputCast="single")
    x = next(mbq)
    assert x.dtype == np.float32 and sct.dims(x) == "SSCB" and x.shape == (3, 4, 2, 4)
    mbq = sct.minibatchqueue(dlarray(data, "SSCB"), MiniBatchSize=4, MiniBatchFormat="BSSC")
    x = next(mbq)
    assert sct.dims(x) == "BSSC"
    assert_close(D(x), np.transpose(data[..., :4], (3, 0, 1, 2)))
    mbq = sct.minibatchqueue(dlarray(data, "SSCB"), MiniBatchSize=4, OutputAsDlarray=False)
    assert type(next(mbq)) is np.ndarray
    with pytest.raises(ValueError, match="without a B"):
        sct.minibatchqueue(dlarray(data[..., 0], "SSC"))
    with pytest.raises(ValueError, match="MiniBatchFormat"):
        next(sct.minibatchqueue(dlarray(data, "SSCB"), MiniBatchSize=4, MiniBatchFormat="CB"))


def test_minibatchqueue_minibatchfcn_formatted_output_kept():
    # a MiniBatchFcn that labels its output: MiniBatchFormat of the same labels keeps it (was: its axis 0
    # moved to B as if it held the observations)
    data = RNG.standard_normal((10, 3, 4, 2))
    mbq = sct.minibatchqueue(data, MiniBatchSize=4, MiniBatchFcn=lambda x: dlarray(np.transpose(x, (1, 2, 3, 0)), "SSCB"),
                             MiniBatchFormat="SSCB")
    x = next(mbq)
    assert x.shape == (3, 4, 2, 4)
    assert_close(D(x), np.transpose(data[:4], (1, 2, 3, 0)))


# --- 5. batchnorm's running statistics stay float32 -------------------------------------------------


X32 = RNG.standard_normal((8, 3)).astype(np.float32)
OFF32, SC32 = np.zeros(3, np.float32), np.ones(3, np.float32)


def _reference_stats(x, mu, var, md=0.1, vd=0.1):
    m = x.shape[0]
    return (md * x.mean(0) + (1 - md) * mu, vd * m / (m - 1) * x.var(0) + (1 - vd) * var)


@pytest.mark.parametrize("stats", ["float32", "float64"])
@pytest.mark.parametrize("decay", [0.1, np.float64(0.1), np.array(0.1)], ids=["float", "np.float64", "0-d"])
def test_batchnorm_running_statistics_stay_float32(stats, decay):
    mu, var = np.full(3, 0.5, stats), np.full(3, 2.0, stats)
    _, m, v = sct.batchnorm(X32, OFF32, SC32, mu, var, MeanDecay=decay, VarianceDecay=decay, nargout=3)
    assert m.dtype == np.float32 and v.dtype == np.float32          # was: float64
    em, ev = _reference_stats(X32.astype(float), 0.5, 2.0)
    assert_close(m, em, rtol=1e-5)
    assert_close(v, ev, rtol=1e-5)

    def f(x, off, sc):
        y, m, v = sct.batchnorm(x, off, sc, mu, var, MeanDecay=decay, VarianceDecay=decay, nargout=3)
        loss = np.sum(y ** 2)
        return loss, dlgradient(loss, off), m, v
    _, g, m, v = dlfeval(f, dlarray(X32), dlarray(OFF32), dlarray(SC32))
    assert D(m).dtype == np.float32 and D(v).dtype == np.float32
    assert_close(D(m), em, rtol=1e-5)
    assert_close(D(v), ev, rtol=1e-5)


def test_batchnorm_layer_state_float32_with_float32_data():
    net = sct.dlnetwork([sct.featureInputLayer(3), sct.batchNormalizationLayer(), sct.fullyConnectedLayer(2)])
    mu0 = D(net.State.Value[0]).copy()
    var0 = D(net.State.Value[1]).copy()

    def loss_fn(net, x):
        y, state = sct.forward(net, x)
        loss = np.sum(y ** 2)
        return loss, dlgradient(loss, net.Learnables), state
    for run in (lambda: sct.forward(net, dlarray(X32, "BC"))[1], lambda: dlfeval(loss_fn, net, dlarray(X32, "BC"))[2]):
        state = run()
        assert [D(v).dtype for v in state.Value] == [np.float32, np.float32]     # was: float64
        em, ev = _reference_stats(X32.astype(float), mu0, var0)
        assert_close(D(state.Value[0]), em, rtol=1e-5)
        assert_close(D(state.Value[1]), ev, rtol=1e-5)
    layer = sct.batchNormalizationLayer(TrainedMean=np.zeros(3, np.float32), TrainedVariance=np.ones(3, np.float32))
    assert layer.TrainedMean.dtype == np.float32                               # was: made float64


def test_optimizer_passes_functions_but_refuses_slotted_layers():
    class Slotted:
        __slots__ = ("W",)

        def __init__(self):
            self.W = np.ones(2)

        def __call__(self, x):
            return x * self.W
    with pytest.raises(TypeError, match="cannot update a Slotted"):        # never passed over silently
        sgdmupdate([Slotted(), np.tanh], [Slotted(), None], None)
    vec = np.vectorize(abs)
    new, vel = sgdmupdate([np.ones(2), np.tanh, vec], [np.ones(2), None, None], None, 0.1)
    assert_close(new[0], [0.9, 0.9])
    assert new[1] is np.tanh and new[2] is vec and vel[1] is None


def test_dlupdate_several_outputs_over_layers_with_ufuncs():
    layers = [Linear(3, 2), np.tanh]
    grads = [Linear(3, 2), np.tanh]
    new, doubled = dlupdate(lambda p, g: (p - 0.1 * g, 2 * g), layers, grads)
    assert_close(D(new[0].W), D(layers[0].W) - 0.1 * D(grads[0].W))
    assert_close(D(doubled[0].W), 2 * D(grads[0].W))
    assert new[1] is np.tanh and doubled[1] is None        # (as an optimizer state of it)


def test_lbfgs_on_model_object_with_ufunc_layers():
    class Seq:
        def __init__(self):
            self.layers = [Linear(3, 4), np.tanh, Linear(4, 1)]

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
    t = np.sin(X[:, :1])

    def f(m, x, t):
        loss = np.mean((m(x) - t) ** 2)
        return loss, dlgradient(loss, m)
    m, state = Seq(), None
    first = float(D(dlfeval(f, m, X, t)[0]))
    for _ in range(20):
        m, state = sct.lbfgsupdate(m, lambda mm: dlfeval(f, mm, X, t), state)
    assert m.layers[1] is np.tanh
    assert float(D(state.Loss)) < 0.2 * first


class ScaledNT(__import__("typing").NamedTuple):
    w: object
    s: float

    def __call__(self, x):
        return self.w * self.s * x


@pytest.mark.parametrize("wrap", ["bare", "list", "dict"])
def test_namedtuple_layer_float_field_through_call(wrap):
    # a namedtuple with its own __call__ is a layer, an object: its Python float field is a setting, a
    # constant however it is read, as a dataclass's (was, for a while: its derivative through __call__
    # only, while read directly it was a constant); its dlarray is differentiated
    x = np.array([1.0, 1.0])
    layer = ScaledNT(dlarray(np.array([1.0, 2.0])), 5.0)
    arg = {"bare": layer, "list": [layer], "dict": {"a": layer}}[wrap]

    def f(p, x):
        one = p if wrap == "bare" else p[0] if wrap == "list" else p["a"]
        loss = np.sum(one(x))
        return loss, dlgradient(loss, p)
    loss, g = dlfeval(f, arg, x)
    one = g if wrap == "bare" else g[0] if wrap == "list" else g["a"]
    assert_close(D(loss), 15.0)
    assert_close(D(one.s), 0.0)
    assert_close(D(one.w), [5.0, 5.0])


def test_batchnorm_traced_settings_differentiated():
    # the running statistics' cast keeps the derivatives with respect to a traced Epsilon or decay
    x = RNG.standard_normal((8, 3))
    zeros, ones = np.zeros(3), np.ones(3)

    def f(x, e, d):
        y, m, v = sct.batchnorm(x, zeros, ones, zeros, ones, Epsilon=e, MeanDecay=d, VarianceDecay=d, nargout=3)
        loss = np.sum(y ** 3) + np.sum(m ** 2) + np.sum(v ** 2)
        return loss, dlgradient(loss, (e, d))

    def plain(e, d):
        e, d = float(e), float(d)
        y = (x - x.mean(0)) / np.sqrt(x.var(0) + e)
        return float(np.sum(y ** 3) + np.sum((d * x.mean(0)) ** 2) + np.sum((d * 8 / 7 * x.var(0) + 1 - d) ** 2))
    loss, (ge, gd) = dlfeval(f, dlarray(x), dlarray(0.01), dlarray(0.2))
    assert_close(D(loss), plain(0.01, 0.2))
    assert_close(D(ge), numerical_gradient(lambda e: plain(e, 0.2), [np.array(0.01)], 0), rtol=1e-5)
    assert_close(D(gd), numerical_gradient(lambda d: plain(0.01, d), [np.array(0.2)], 0), rtol=1e-5)


def test_array_datastore_of_formatted_data_reads_along_b():
    data = np.arange(2 * 3 * 1 * 5, dtype=float).reshape(2, 3, 1, 5)
    ds = sct.arrayDatastore(dlarray(data, "SSCB"))
    assert ds.NumObservations == 5                                      # was: 2 (the rows)
    assert_close(sct.read(ds)[0], data[..., 0])
    mbq = sct.minibatchqueue(sct.combine(sct.arrayDatastore(dlarray(data, "SSCB")), sct.arrayDatastore(np.arange(5))),
                             MiniBatchSize=2)
    x, t = next(mbq)
    assert_close(D(x), np.moveaxis(data, 3, 0)[:2])
    assert D(t).tolist() == [0, 1]
    assert sct.arrayDatastore(np.zeros((4, 2)), IterationDimension=1).NumObservations == 2
    with pytest.raises(ValueError, match="without a B"):
        sct.arrayDatastore(dlarray(np.zeros((4, 2)), "SC"))


def test_list_holding_itself_inside_an_object_names_the_cycle():
    class M:
        def __init__(self):
            self.w = dlarray(np.array([1.0, 2.0]))
            self.log = [1.0]
            self.log.append(self.log)

        def __call__(self, x):
            return self.w * x

    def f(m, x):
        loss = np.sum(m(x) ** 2)
        return loss, dlgradient(loss, m)
    with pytest.raises(sct.EvaluationError, match="holds itself") as caught:
        dlfeval(f, M(), np.ones(2))
    assert caught.value.lineno == f.__code__.co_firstlineno + 2     # (the dlgradient's: its projection)


def _dense(x, W):
    return x @ W


def test_partial_holding_a_parameter_is_refused_not_passed_over():
    w1 = dlarray(RNG.standard_normal((3, 2)))
    layers = [functools.partial(_dense, W=w1), np.tanh, Linear(2, 2)]

    def f(layers, x):
        y = x
        for layer in layers:
            y = layer(y)
        loss = np.sum(y ** 2)
        return loss, dlgradient(loss, layers)
    # was: the partial itself given as its "gradient" (holding w1's value) and passed over by the optimizers
    with pytest.raises(sct.EvaluationError, match="holding a dlarray for its calls"):
        dlfeval(f, layers, X)
    with pytest.raises(TypeError, match="cannot update the dlarrays a partial holds"):
        sgdmupdate(layers, [None, None, layers[2]], None)

    def g(layers, x):                      # a gradient with respect to the rest: computed
        y = x
        for layer in layers:
            y = layer(y)
        loss = np.sum(y ** 2)
        return loss, dlgradient(loss, layers[2])
    _, g2 = dlfeval(g, layers, X)
    h = np.tanh(X @ D(w1))

    def plain(w):
        return float(np.sum((h @ w) ** 2))
    assert_close(D(g2.W), numerical_gradient(plain, [D(layers[2].W)], 0), rtol=1e-5, atol=1e-6)
    clip = functools.partial(np.clip, a_min=0.0)                       # no parameters: passed through
    assert sgdmupdate([clip, np.ones(2)], [None, np.ones(2)], None, 0.5)[0][0] is clip


class _ClassHeldLayer:
    shared = Linear(3, 2)                   # a layer held by the class, not by its instances

    def __init__(self):
        self.scale = dlarray(2.0)

    def __call__(self, x):
        return self.shared(x) * self.scale


def test_layer_held_by_the_class_is_refused_not_given_its_value_as_gradient():
    def f(m, x):
        loss = np.sum(m(x) ** 2)
        return loss, dlgradient(loss, m)
    # was: g.shared.W == shared.W (the parameter's value, read through the class) and never updated
    with pytest.raises(sct.EvaluationError, match="class attribute shared holds dlarrays"):
        dlfeval(f, _ClassHeldLayer(), X)
    with pytest.raises(TypeError, match="class attribute shared"):
        sgdmupdate(_ClassHeldLayer(), {"scale": 1.0}, None)

    def g(m, x):                               # the instance's own parameter: computed
        loss = np.sum(m(x) ** 2)
        return loss, dlgradient(loss, m.scale)
    _, gs = dlfeval(g, _ClassHeldLayer(), X)
    y = (X @ D(_ClassHeldLayer.shared.W) + D(_ClassHeldLayer.shared.b)) * _ClassHeldLayer.shared.scale
    assert_close(D(gs), 2 * 2.0 * np.sum(y ** 2))
