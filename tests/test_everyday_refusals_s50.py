"""False refusals and crashes of everyday code (session 50, red teams red50 / fuzz50): each program was
refused (or crashed) before its fix; now it runs exactly (value against plain numpy, gradients against
central differences of the plain program), and the variants that must stay refused are refused."""
import dataclasses
import functools

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import CompileError, SctError

from gradcheck import numerical_gradient

RNG = np.random.default_rng(50)


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


# ---------------------------------------------------------------- 1. getattr(self, f"fc{i}") in a loop

class Linear:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return x @ self.W


class MLP:
    def __init__(self, Ws):
        for i in range(3):
            setattr(self, f"fc{i}", Linear(Ws[i]))

    def __call__(self, x):
        for i in range(3):
            x = np.tanh(getattr(self, f"fc{i}")(x))
        return x


class MLPPercent(MLP):
    def __call__(self, x):
        for i in range(3):
            x = np.tanh(getattr(self, "fc%d" % i)(x))
        return x


class MLPUnknown(MLP):
    def __call__(self, x):
        for i in range(len(vars(self))):
            x = np.tanh(getattr(self, f"fc{i}")(x))
        return x


def _mlp_plain(Ws, x, names=("fc0", "fc1", "fc2")):
    for name in names:
        x = np.tanh(x @ Ws[int(name[2:])])
    return float(np.sum(x ** 2))


def mlp_loss(m, x):
    L = np.sum(m(x) ** 2)
    return L, dlgradient(L, m)


def names_loss(m, x):
    for name in ("fc0", "fc2"):
        x = np.tanh(getattr(m, name)(x))
    L = np.sum(x ** 2)
    return L, dlgradient(L, m)


@pytest.mark.parametrize("cls", [MLP, MLPPercent])
def test_getattr_of_a_formatted_name_in_a_constant_loop(cls):
    sct.clear_cache()
    Ws = [RNG.standard_normal((3, 3)) for _ in range(3)]
    x = RNG.standard_normal((2, 3))
    L, g = dlfeval(mlp_loss, cls([dlarray(w) for w in Ws]), x)
    assert np.isclose(float(D(L)), _mlp_plain(Ws, x))
    for k in range(3):
        fd = numerical_gradient(lambda w: _mlp_plain(Ws[:k] + [w] + Ws[k + 1:], x), [Ws[k]], 0)
        assert np.allclose(D(getattr(g, f"fc{k}").W), fd, atol=1e-6)


def test_getattr_of_each_name_of_a_tuple():
    sct.clear_cache()
    Ws = [RNG.standard_normal((3, 3)) for _ in range(3)]
    x = RNG.standard_normal((2, 3))
    L, g = dlfeval(names_loss, MLP([dlarray(w) for w in Ws]), x)
    assert np.isclose(float(D(L)), _mlp_plain(Ws, x, ("fc0", "fc2")))
    for k in (0, 2):
        fd = numerical_gradient(lambda w: _mlp_plain(Ws[:k] + [w] + Ws[k + 1:], x, ("fc0", "fc2")), [Ws[k]], 0)
        assert np.allclose(D(getattr(g, f"fc{k}").W), fd, atol=1e-6)
    assert np.allclose(D(g.fc1.W), 0.0)


def test_getattr_of_a_name_known_only_when_it_runs_stays_refused():
    sct.clear_cache()
    Ws = [dlarray(RNG.standard_normal((3, 3))) for _ in range(3)]
    with pytest.raises(CompileError, match="getattr.*known only when it runs") as info:
        dlfeval(mlp_loss, MLPUnknown(Ws), RNG.standard_normal((2, 3)))
    assert "test_everyday_refusals_s50.py" in str(info.value)


# ---------------------------------------------------------------- 2. fuzz50: einsum broadcast, 0-d reduce

@pytest.mark.parametrize("spec,sb,sa", [("ij,ij->i", (1, 3), (3, 1)), ("ij,ij->j", (3, 1), (1, 3)),
                                        ("...i,...i->...", (1, 3), (3, 1)), ("ij,ij->i", (3, 1), (1, 3))])
def test_einsum_of_operands_broadcast_along_a_size_one_axis(spec, sb, sa):
    sct.clear_cache()
    b0, a0 = RNG.standard_normal(sb), RNG.standard_normal(sa)

    def f(b, a):
        v = np.einsum(spec, b, a)
        L = np.sum(v * v)
        return L, dlgradient(L, b, a)

    def plain(b, a):
        return float(np.sum(np.einsum(spec, b, a) ** 2))
    L, (gb, ga) = dlfeval(f, dlarray(b0), dlarray(a0))
    assert np.isclose(float(D(L)), plain(b0, a0))
    assert np.allclose(D(gb), numerical_gradient(plain, [b0, a0], 0), atol=1e-6)
    assert np.allclose(D(ga), numerical_gradient(plain, [b0, a0], 1), atol=1e-6)


@pytest.mark.parametrize("ufunc", [np.maximum, np.logaddexp, np.minimum])
@pytest.mark.parametrize("axis", [0, -1])
def test_ufunc_reduce_of_a_zero_d_value_along_axis_zero(ufunc, axis):
    sct.clear_cache()

    def f(b):
        v2 = ufunc.reduce(np.square(b), axis=axis)
        L = np.sum(np.sin(v2))
        return L, dlgradient(L, b)

    def plain(b):
        return float(np.sum(np.sin(ufunc.reduce(np.square(b), axis=axis))))
    b0 = np.array(1.5)
    L, g = dlfeval(f, dlarray(b0))
    assert np.isclose(float(D(L)), plain(b0))
    assert np.allclose(D(g), numerical_gradient(plain, [b0], 0), atol=1e-6)


# ---------------------------------------------------------------- 3. functools.partial of a ufunc, of a lambda

def partial_ufunc(w, x):
    m = functools.partial(np.multiply, w)
    return np.sum(np.tanh(m(x))) + np.sum(functools.partial(np.add, w)(x) ** 2)


def partial_lambda(w, x):
    m = functools.partial(lambda a, b: a * np.sin(b) + b, w)
    return np.sum(m(x) ** 2)


@pytest.mark.parametrize("f", [partial_ufunc, partial_lambda])
def test_partial_of_a_ufunc_or_a_lambda(f):
    sct.clear_cache()
    w0, x0 = RNG.standard_normal(3), RNG.standard_normal(3)

    def loss(w, x):
        L = f(w, x)
        return L, dlgradient(L, w)
    L, g = dlfeval(loss, dlarray(w0), x0)
    assert np.isclose(float(D(L)), f(w0, x0))
    assert np.allclose(D(g), numerical_gradient(f, [w0, x0], 0), atol=1e-6)
    d = RNG.standard_normal(3)
    value, tangent = sct.jvp(f, (w0, x0), (d, np.zeros(3)))
    assert np.isclose(float(D(value)), f(w0, x0))
    assert np.isclose(float(D(tangent)), numerical_gradient(f, [w0, x0], 0) @ d, atol=1e-6)


# ---------------------------------------------------------------- 5. optimizer steps inside dlfeval (red50 FR2)

XS, YS = RNG.standard_normal((6, 3)), RNG.standard_normal(6)


def opt_loss(p, X, Y):
    return np.mean((np.tanh(X @ p["w"]) + p["b"] - Y) ** 2)


def opt_train(p, X, Y):
    vel = None
    for it in range(3):
        L = opt_loss(p, X, Y)
        g = dlgradient(L, p)
        p, vel = sct.sgdmupdate(p, g, vel, 0.1, 0.9)
    return p, L


def opt_through(p, X, Y):
    L = opt_loss(p, X, Y)
    g = dlgradient(L, p)
    q, vel = sct.sgdmupdate(p, g, None, 0.1, 0.9)
    Lq = opt_loss(q, X, Y)
    return Lq, dlgradient(Lq, p)


def opt_alias(x):
    h = {"w": np.sin(x)}
    q, vel = sct.sgdmupdate(h, {"w": np.ones(2)}, None, 0.1, 0.9)
    r = h
    L = np.sum(r["w"]) + np.sum(q["w"])
    return L, dlgradient(L, r)


def test_sgdmupdate_steps_each_gradient_with_respect_to_the_current_parameters():
    sct.clear_cache()
    w0, b0 = RNG.standard_normal(3), 0.1
    p, L = dlfeval(opt_train, {"w": dlarray(w0), "b": dlarray(b0)}, XS, YS)
    q, vel = {"w": w0, "b": np.float64(b0)}, None        # the plain loop, each gradient exact
    for it in range(3):
        Lq = opt_loss(q, XS, YS)
        gw = numerical_gradient(lambda w: opt_loss({"w": w, "b": q["b"]}, XS, YS), [q["w"]], 0)
        gb = numerical_gradient(lambda b: opt_loss({"w": q["w"], "b": b}, XS, YS), [np.array(q["b"])], 0)
        q, vel = sct.sgdmupdate(q, {"w": gw, "b": gb}, vel, 0.1, 0.9)
    assert np.isclose(float(D(L)), Lq)
    assert np.allclose(D(p["w"]), q["w"], atol=1e-7) and np.allclose(D(p["b"]), q["b"], atol=1e-7)


@pytest.mark.parametrize("f,args", [(opt_through, lambda: ({"w": dlarray(RNG.standard_normal(3)), "b": dlarray(0.1)},
                                                           XS, YS)),
                                    (opt_alias, lambda: (dlarray(np.array([0.5, 1.0])),))])
def test_a_derivative_through_sgdmupdate_stays_refused(f, args):
    sct.clear_cache()
    with pytest.raises(CompileError, match="sgdmupdate has no derivative") as info:
        dlfeval(f, *args())
    assert "test_everyday_refusals_s50.py" in str(info.value)


# ---------------------------------------------------------------- 4. dlupdate through a dataclass with a 0-d field

@dataclasses.dataclass
class PW:
    W: object
    b: object


XM, YM = RNG.standard_normal((4, 2)), RNG.standard_normal(4)


def maml_loss(p, x, y):
    return np.mean((np.tanh(x @ p.W) + p.b - y) ** 2)


def maml(p, x, y):
    L = maml_loss(p, x, y)
    g = dlgradient(L, p)
    q = sct.dlupdate(lambda w, d: w - 0.5 * d, p, g)
    Lq = maml_loss(q, x, y)
    return Lq, dlgradient(Lq, p)


def _maml_plain(W, b):
    t = np.tanh(XM @ W)
    r = t + b - YM
    gW = XM.T @ (2 * r * (1 - t ** 2)) / len(YM)
    gb = np.mean(2 * r)
    return float(np.mean((np.tanh(XM @ (W - 0.5 * gW)) + (b - 0.5 * gb) - YM) ** 2))


def test_dlupdate_differentiated_through_on_a_dataclass_with_a_zero_d_field():
    sct.clear_cache()
    W0, b0 = RNG.standard_normal(2), np.array(0.3)
    Lq, g = dlfeval(maml, PW(dlarray(W0), dlarray(b0)), XM, YM)
    assert np.isclose(float(D(Lq)), _maml_plain(W0, b0))
    assert np.allclose(D(g.W), numerical_gradient(_maml_plain, [W0, b0], 0), atol=1e-6)
    assert np.allclose(D(g.b), numerical_gradient(_maml_plain, [W0, b0], 1), atol=1e-6)


# ---------------------------------------------------------------- 2. fuzz50: writes through views of fresh arrays

def two_view_writes(a):
    v = a.copy()
    w = v[::2]
    w *= 3.0
    w += 1.0
    return np.sum(v * v) + np.sum(np.sin(w))


def three_view_writes(a):
    v = np.tanh(a)
    w = v[1:]
    w *= a[:-1]
    w -= 0.5
    w **= 2
    return np.sum(v * a) + np.sum(w)


@pytest.mark.parametrize("f", [two_view_writes, three_view_writes])
def test_augmented_writes_through_a_view_of_a_fresh_array(f):
    sct.clear_cache()
    a0 = RNG.standard_normal(5)

    def loss(a):
        L = f(a)
        return L, dlgradient(L, a)
    L, g = dlfeval(loss, dlarray(a0))
    assert np.isclose(float(D(L)), f(a0.copy()))
    assert np.allclose(D(g), numerical_gradient(f, [a0], 0), atol=1e-6)


def test_einsum_broadcast_second_order():
    sct.clear_cache()
    b0, a0 = RNG.standard_normal((1, 3)), RNG.standard_normal((3, 1))

    def f(b, a):
        v = np.einsum('ij,ij->i', b, a)
        L = np.sum(v ** 3)
        gb = dlgradient(L, b, EnableHigherDerivatives=True)
        s = np.sum(gb * gb)
        return s, dlgradient(s, a)

    def plain(b, a):
        v = np.einsum('ij,ij->i', b, a)
        return float(np.sum(np.full_like(b, np.sum(3 * v ** 2 * a[:, 0])) ** 2))
    s, ga = dlfeval(f, dlarray(b0), dlarray(a0))
    assert np.isclose(float(D(s)), plain(b0, a0))
    assert np.allclose(D(ga), numerical_gradient(plain, [b0, a0], 1), rtol=1e-6, atol=1e-5)


class MLPConcat(MLP):
    def __call__(self, x):
        for i in range(3):
            x = np.tanh(getattr(self, "fc" + str(i))(x))
        return x


class MLPRebound(MLP):
    def __call__(self, x):
        for i in range(2):
            i = i + 1
            x = np.tanh(getattr(self, f"fc{i}")(x))
        return x


def test_getattr_of_a_concatenated_name_and_a_rebound_loop_variable():
    sct.clear_cache()
    Ws = [RNG.standard_normal((3, 3)) for _ in range(3)]
    x = RNG.standard_normal((2, 3))
    L, g = dlfeval(mlp_loss, MLPConcat([dlarray(w) for w in Ws]), x)
    assert np.isclose(float(D(L)), _mlp_plain(Ws, x))
    fd = numerical_gradient(lambda w: _mlp_plain([w] + Ws[1:], x), [Ws[0]], 0)
    assert np.allclose(D(g.fc0.W), fd, atol=1e-6)
    with pytest.raises(CompileError, match="getattr.*known only when it runs"):
        dlfeval(mlp_loss, MLPRebound([dlarray(w) for w in Ws]), x)
