"""False refusals of everyday code (session 51, last stop's red teams): each program was refused before its
fix; now it runs exactly (value against plain numpy, gradients against central differences of the plain
program), and the nearby programs that must stay refused are refused, naming the line."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import CompileError

from gradcheck import numerical_gradient

RNG = np.random.default_rng(51)


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


def _line(fn, k):
    return fn.__code__.co_firstlineno + k


# ---------------------------------------------------------------- 1. p["w"] = f(p["w"], p["b"]); p["b"] = g(p["b"])

def _f(w, b):
    return np.tanh(w * 1.5 + b)


def _g(b):
    return np.tanh(b) * 0.9 + 0.1


def _keep(w, b):
    return w


def loop_of_stores_inline(p0, x):
    p = {k: v for k, v in p0.items()}
    for i in range(3):
        p["w"] = np.tanh(p["w"] * 1.5 + p["b"])
        p["b"] = np.tanh(p["b"]) * 0.9 + 0.1
    y = np.sum((p["w"] * x) ** 2) + np.sum(p["b"] ** 3)
    return y, dlgradient(y, p)


def loop_of_stores_helpers(p0, x):
    p = {k: v for k, v in p0.items()}
    for i in range(3):
        p["w"] = _f(p["w"], p["b"])
        p["b"] = _g(p["b"])
    y = np.sum((p["w"] * x) ** 2) + np.sum(p["b"] ** 3)
    return y, dlgradient(y, p)


@pytest.mark.parametrize("fn", [loop_of_stores_inline, loop_of_stores_helpers])
def test_loop_of_stores_each_key_replaced_runs(fn):
    w, b, x = RNG.standard_normal(3), RNG.standard_normal(3), RNG.standard_normal(3)
    y, g = dlfeval(fn, {"w": dlarray(w), "b": dlarray(b)}, x)
    for i in range(3):
        w, b = _f(w, b), _g(b)

    def plain(w, b):
        return np.sum((w * x) ** 2) + np.sum(b ** 3)
    assert np.allclose(D(y), plain(w, b), rtol=1e-12)
    assert np.allclose(D(g["w"]), numerical_gradient(plain, [w, b], 0), rtol=1e-6, atol=1e-8)
    assert np.allclose(D(g["b"]), numerical_gradient(plain, [w, b], 1), rtol=1e-6, atol=1e-8)


def store_of_b_in_branch(p0, x):
    p = {k: v for k, v in p0.items()}
    for i in range(3):
        p["w"] = np.tanh(p["w"] * 1.5 + p["b"])
        if i < 1:
            p["b"] = p["b"] * 0.9 + 0.1
    y = np.sum((p["w"] * x) ** 2) + np.sum(p["b"])
    return y, dlgradient(y, p)


def helper_keeping_its_argument(p0, x):
    p = {k: v for k, v in p0.items()}
    a = p["w"] * 1.0
    p["w"] = _keep(a, p["b"])
    y = np.sum(a) + np.sum((p["w"] * x) ** 2)
    return y, dlgradient(y, p)


@pytest.mark.parametrize("fn, k", [(store_of_b_in_branch, 7), (helper_keeping_its_argument, 5)])
def test_loop_of_stores_not_always_replaced_stays_refused(fn, k):
    # p["b"] read in the last passes is the value at the site (its store only in the first); _keep returns
    # the array y also reads as a: the gradient through p alone would miss those uses
    with pytest.raises(CompileError) as info:
        dlfeval(fn, {"w": dlarray(RNG.standard_normal(3)), "b": dlarray(RNG.standard_normal(3))},
                RNG.standard_normal(3))
    assert info.value.lineno == _line(fn, k)


# ---------------------------------------------------------------- 2. super().__call__(*args, **kwargs) given a keyword

class Module:
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


class Lin(Module):
    def __init__(self, W):
        self.W = W

    def forward(self, x, scale=1.0):
        return np.tanh(x @ self.W) * scale


class Hooked(Lin):
    def __call__(self, *args, **kwargs):
        return super().__call__(*args, **kwargs) + 1.0


class Scaled(Lin):
    def __call__(self, x):
        return super().__call__(x, scale=2.0) + 1.0


class Gained(Lin):
    def __call__(self, *args, **kwargs):
        return super().__call__(*args, **kwargs) + 1.0

    def forward(self, x, scale=1.0, shift=0.0):
        return np.tanh(x @ self.W + shift) * scale


def module_loss(m, x):
    y = np.sum(m(x, scale=2.0) ** 2)
    return y, dlgradient(y, m.W)


def module_loss_positional(m, x):
    y = np.sum(m(x) ** 2)
    return y, dlgradient(y, m.W)


def module_loss_shift(m, x):
    y = np.sum(m(x, shift=0.5) ** 2)
    g = dlgradient(y, m.W)
    return y, g


@pytest.mark.parametrize("cls, fn, scale, shift", [(Hooked, module_loss, 2.0, 0.0),
                                                   (Scaled, module_loss_positional, 2.0, 0.0),
                                                   (Gained, module_loss_shift, 1.0, 0.5),
                                                   (Gained, module_loss, 2.0, 0.0)])
def test_super_call_given_a_keyword_runs(cls, fn, scale, shift):
    W, x = RNG.standard_normal((3, 2)), RNG.standard_normal((4, 3))

    def plain(W):
        return np.sum((np.tanh(x @ W + shift) * scale + 1.0) ** 2)
    for _ in range(2):          # the compiled call, then the cached one
        y, g = dlfeval(fn, cls(dlarray(W)), x)
        assert np.allclose(D(y), plain(W), rtol=1e-12)
        assert np.allclose(D(g), numerical_gradient(plain, [W], 0), rtol=1e-6, atol=1e-8)


class Reading(Module):
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs) * kwargs.get("scale", 1.0)


class ReadingLin(Reading):
    def __init__(self, W):
        self.W = W

    def forward(self, x, scale=1.0):
        return np.tanh(x @ self.W) * scale


class HookedReading(ReadingLin):
    def __call__(self, *args, **kwargs):
        return super().__call__(*args, **kwargs) + 1.0


def test_super_call_to_a_call_reading_its_kwargs_stays_refused():
    # the base's __call__ reads kwargs itself: not a plain forwarder, the keywords are not passed by position
    with pytest.raises(Exception) as info:
        dlfeval(module_loss, HookedReading(dlarray(RNG.standard_normal((3, 2)))), RNG.standard_normal((4, 3)))
    assert "**kwargs" in str(info.value) and "line" in str(info.value)


# ---------------------------------------------------------------- 3. a traced value through a helper's **kw

def kw_layer(x, **kw):
    return np.tanh(x * kw["w"]) + kw.get("b", 0.0)


def kw_layer_default(x, act=None, **kw):
    h = x * kw["w"]
    return act(h) if act is not None else h + 1.0


def kw_star_layer(x, *args, **kw):
    out = np.tanh(x * kw["w"])
    for a in args:
        out = out + a
    return out


def kw_loss_star(W, B, x):
    y = np.sum(kw_star_layer(x, w=W) ** 2) + np.sum(kw_star_layer(x, B, B * 2.0, w=W) ** 3)
    return y, dlgradient(y, W), dlgradient(y, B)


def _kw_star_plain(W, B, x):
    return np.sum(np.tanh(x * W) ** 2) + np.sum((np.tanh(x * W) + 3 * B) ** 3)


def kw_loss(W, B, x):
    y = np.sum(kw_layer(x, w=W) ** 2) + np.sum(kw_layer(x, b=B, w=W * 2.0) ** 3)
    return y, dlgradient(y, W), dlgradient(y, B)


def kw_loss_default(W, B, x):
    y = np.sum(kw_layer_default(x, w=W) * B) + np.sum(kw_layer_default(x, act=np.tanh, w=B))
    return y, dlgradient(y, W), dlgradient(y, B)


def _kw_plain(W, B, x):
    return np.sum(np.tanh(x * W) ** 2) + np.sum((np.tanh(x * W * 2.0) + B) ** 3)


def _kw_default_plain(W, B, x):
    return np.sum((x * W + 1.0) * B) + np.sum(np.tanh(x * B))


@pytest.mark.parametrize("fn, plain", [(kw_loss, _kw_plain), (kw_loss_default, _kw_default_plain),
                                       (kw_loss_star, _kw_star_plain)])
def test_traced_value_through_a_helpers_kwargs_runs(fn, plain):
    W, B, x = RNG.standard_normal(3), RNG.standard_normal(3), RNG.standard_normal(3)
    for _ in range(2):
        y, gW, gB = dlfeval(fn, dlarray(W), dlarray(B), x)
        assert np.allclose(D(y), plain(W, B, x), rtol=1e-12)
        assert np.allclose(D(gW), numerical_gradient(plain, [W, B, x], 0), rtol=1e-6, atol=1e-8)
        assert np.allclose(D(gB), numerical_gradient(plain, [W, B, x], 1), rtol=1e-6, atol=1e-8)


def kw_writing_layer(x, **kw):
    kw["w"] = kw["w"] * 2.0
    return np.tanh(x * kw["w"])


def kw_loss_writing(W, x):
    y = np.sum(kw_writing_layer(x, w=W) ** 2)
    return y, dlgradient(y, W)


def test_helper_writing_into_its_kwargs_stays_refused():
    # (Python's kw is a new dict each call; sct reads it as the caller's: refused, never a wrong gradient)
    with pytest.raises(CompileError) as info:
        dlfeval(kw_loss_writing, dlarray(RNG.standard_normal(3)), RNG.standard_normal(3))
    assert info.value.lineno == _line(kw_writing_layer, 1)


# ---------------------------------------------------------------- 4. dlgradient of items read through a user __getitem__

class ParamBox:
    def __init__(self, d):
        self.d = d

    def __getitem__(self, k):
        return self.d[k]


class RenamedBox(ParamBox):
    def __getitem__(self, k):
        return self.d["w" if k == "v" else k]


class PropertyBox(ParamBox):
    def __init__(self, d):
        self._d = d

    @property
    def d(self):
        return self._d


def box_loss(P, x):
    y = np.sum(np.tanh(x @ P["w"]) + P["b"] * P["w"][0])
    return y, dlgradient(y, P["w"]), dlgradient(y, P["b"])


def box_loss_renamed(P, x):
    y = np.sum(np.tanh(x @ P["w"]) + P["b"])
    return y, dlgradient(y, P["v"])


def test_gradient_of_items_read_through_getitem_runs():
    W, b, x = RNG.standard_normal((3, 2)), RNG.standard_normal(2), RNG.standard_normal((4, 3))

    def plain(W, b):
        return np.sum(np.tanh(x @ W) + b * W[0])
    for _ in range(2):
        y, gW, gb = dlfeval(box_loss, ParamBox({"w": dlarray(W), "b": dlarray(b)}), x)
        assert np.allclose(D(y), plain(W, b), rtol=1e-12)
        assert np.allclose(D(gW), numerical_gradient(plain, [W, b], 0), rtol=1e-6, atol=1e-8)
        assert np.allclose(D(gb), numerical_gradient(plain, [W, b], 1), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("cls, fn, k", [(RenamedBox, box_loss_renamed, 2), (PropertyBox, box_loss, 2)])
def test_gradient_through_other_getitems_stays_refused(cls, fn, k):
    # a __getitem__ choosing another key, or a field behind a property: not read as an item of the field
    with pytest.raises(CompileError) as info:
        dlfeval(fn, cls({"w": dlarray(RNG.standard_normal((3, 2))), "b": dlarray(RNG.standard_normal(2))}),
                RNG.standard_normal((4, 3)))
    assert info.value.lineno == _line(fn, k)


# ---------------------------------------------------------------- 5. a batch-norm helper through a dict item / two helpers

G0 = RNG.standard_normal(3)


class RunningNorm:
    def __init__(self):
        self.g = dlarray(G0.copy())
        self.rm = np.zeros(3)

    def __call__(self, h):
        mu = h.mean(axis=1)
        self.rm = 0.9 * self.rm + 0.1 * extractdata(mu)
        return self.g[:, None] * (h - mu[:, None])


class TracedNorm(RunningNorm):
    def __call__(self, h):
        mu = h.mean(axis=1)
        self.rm = 0.9 * self.rm + 0.1 * mu          # a traced value kept on the object
        return self.g[:, None] * (h - mu[:, None])


class NormNet:
    def __init__(self, W, norm):
        self.W = dlarray(W.copy())
        self.bn = norm


def norm_forward(W, bn, x):
    return bn(W @ x)


def norm_body(net, x):
    return np.tanh(norm_forward(net.W, net.bn, x))


def norm_by_item(W, p, x):
    L = (norm_forward(W, p["bn"], x) ** 2).sum()
    return L, dlgradient(L, W, p["bn"].g)


def norm_two_deep(net, x):
    L = (norm_body(net, x) ** 2).sum()
    return L, dlgradient(L, net.W, net.bn.g)


def _norm_plain(W, g, x, deep):
    h = W @ x
    z = g[:, None] * (h - h.mean(axis=1)[:, None])
    return float(((np.tanh(z) if deep else z) ** 2).sum())


@pytest.mark.parametrize("deep", [False, True])
def test_batch_norm_helper_by_item_or_two_deep_runs(deep):
    W, x = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))
    bn = RunningNorm()
    rm = np.zeros(3)
    for _ in range(2):
        if deep:
            L, (gW, gg) = dlfeval(norm_two_deep, NormNet(W, bn), x)
        else:
            L, (gW, gg) = dlfeval(norm_by_item, dlarray(W), {"bn": bn}, x)
        rm = 0.9 * rm + 0.1 * (W @ x).mean(axis=1)
        assert np.allclose(bn.rm, rm, rtol=1e-12)
        assert np.allclose(D(L), _norm_plain(W, G0, x, deep), rtol=1e-12)
        assert np.allclose(D(gW), numerical_gradient(lambda W: _norm_plain(W, G0, x, deep), [W], 0), rtol=1e-6,
                           atol=1e-8)
        assert np.allclose(D(gg), numerical_gradient(lambda g: _norm_plain(W, g, x, deep), [G0.copy()], 0),
                           rtol=1e-6, atol=1e-8)


def test_batch_norm_helper_keeping_a_traced_value_runs_exact():
    # the running mean computed from traced values (no extractdata), read back by nothing in the function but its
    # own update: stored as Python stores it, a dlarray (was refused, the derivative kept on the caller's object
    # not followed; refuse55a, sct/dead_fields.py)
    W = RNG.standard_normal((3, 4))
    bn = TracedNorm()
    rm = np.zeros(3)
    for _ in range(2):
        x = RNG.standard_normal((4, 5))
        L, (gW, gg) = dlfeval(norm_by_item, dlarray(W), {"bn": bn}, x)
        rm = 0.9 * rm + 0.1 * (W @ x).mean(axis=1)
        assert type(bn.rm) is dlarray and np.allclose(D(bn.rm), rm, rtol=1e-12)
        assert np.allclose(D(L), _norm_plain(W, G0, x, False), rtol=1e-12)
        assert np.allclose(D(gW), numerical_gradient(lambda W: _norm_plain(W, G0, x, False), [W], 0), rtol=1e-6,
                           atol=1e-8)
        assert np.allclose(D(gg), numerical_gradient(lambda g: _norm_plain(W, g, x, False), [G0.copy()], 0),
                           rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- 6. net.step + 1 in a loss with tied weights

class TiedLin:
    def __init__(self, W, b):
        self.W, self.b = W, b


class TiedNet:
    def __init__(self, A, b0):
        W = dlarray(A.copy())
        self.embed, self.head = TiedLin(W, dlarray(b0.copy())), TiedLin(W, dlarray(np.zeros(3)))
        self.step = 0


def tied_loss_counting(net, x):
    net.step = net.step + 1
    L = ((net.head.W @ np.tanh(net.embed.W @ x + net.embed.b)) ** 2).sum()
    return L, dlgradient(L, net.embed.W)


def tied_loss_new_place(net, x):
    net.step = net.embed.W
    L = ((net.head.W @ np.tanh(net.step @ x + net.embed.b)) ** 2).sum()
    return L, dlgradient(L, net.embed.W)


def test_step_counter_in_a_tied_loss_runs():
    A, b0, x = RNG.standard_normal((3, 3)), RNG.standard_normal(3), RNG.standard_normal(3)

    def plain(W):
        return float(((W @ np.tanh(W @ x + b0)) ** 2).sum())
    net = TiedNet(A, b0)
    for k in range(2):
        L, g = dlfeval(tied_loss_counting, net, x)
        assert net.step == k + 1
        assert np.allclose(D(L), plain(A), rtol=1e-12)
        assert np.allclose(D(g), numerical_gradient(plain, [A], 0), rtol=1e-6, atol=1e-8)   # both places


def test_tied_weight_stored_into_a_number_field_stays_refused():
    # the field now holds a place of the tied array: not the places dlfeval passed
    A, b0, x = RNG.standard_normal((3, 3)), RNG.standard_normal(3), RNG.standard_normal(3)
    with pytest.raises(Exception) as info:
        dlfeval(tied_loss_new_place, TiedNet(A, b0), x)
    assert "more than one place" in str(info.value) or isinstance(info.value, CompileError)


# ---------------------------------------------------------------- 7. blocks in a list; RNN state on self.cell.h

class ListBlock:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(x @ self.W)


class ListDeep:
    def __init__(self, Ws):
        self.blocks = [ListBlock(W) for W in Ws]

    def __call__(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class StateCell:
    def __init__(self, Wx, Wh):
        self.Wx, self.Wh = Wx, Wh
        self.h = None

    def __call__(self, x):
        h = np.zeros((x.shape[0], self.Wh.shape[0])) if self.h is None else self.h
        self.h = np.tanh(x @ self.Wx + h @ self.Wh)
        return self.h


class StateRNN:
    def __init__(self, Wx, Wh):
        self.cell = StateCell(Wx, Wh)

    def __call__(self, xs):
        self.cell.h = None
        for t in range(xs.shape[0]):
            out = self.cell(xs[t])
        return out


def list_deep_loss(net, x):
    L = np.sum(net(x) ** 2)
    return L, dlgradient(L, net)


def state_rnn_loss(net, xs):
    L = np.sum(net(xs) ** 2)
    return L, dlgradient(L, net.cell.Wx, net.cell.Wh)


def test_blocks_kept_in_a_list_run():
    Ws, x = [RNG.standard_normal((3, 3)) * 0.5 for _ in range(3)], RNG.standard_normal((2, 3))

    def plain(*Ws):
        h = x
        for W in Ws:
            h = np.tanh(h @ W)
        return np.sum(h ** 2)
    L, g = dlfeval(list_deep_loss, ListDeep([dlarray(W) for W in Ws]), x)
    assert np.allclose(D(L), plain(*Ws), rtol=1e-12)
    for i in range(3):
        assert np.allclose(D(g.blocks[i].W), numerical_gradient(plain, Ws, i), rtol=1e-6, atol=1e-8)


def test_rnn_state_on_a_field_objects_field_stays_refused():
    # kept on purpose (s51): a traced value stored on net.cell, an object sct follows by that path only (another
    # name of it would read the old value); the message says how to pass the state instead
    with pytest.raises(CompileError) as info:
        dlfeval(state_rnn_loss, StateRNN(dlarray(RNG.standard_normal((3, 4))), dlarray(RNG.standard_normal((4, 4)))),
                RNG.standard_normal((5, 2, 3)))
    assert info.value.lineno == _line(StateRNN.__call__, 1) and "Pass the state in" in str(info.value)
