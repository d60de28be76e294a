"""dlupdate differentiated through inside dlfeval (MATLAB traces it): sct/dlupdates.py writes
``q = dlupdate(fun, p, g, ...)`` out as ``fun`` called on each parameter where the structure of ``p``
is known when compiling (dict / list / tuple / dataclass, nested), so a later dlgradient through it
(MAML: the inner step's second derivatives) is exact.  Was: "dlupdate has no derivative: inside dlfeval
sct runs it as it is ...".  Values against plain Python (the runtime's dlupdate on numpy arrays, with
the inner gradient written by hand), gradients against central differences of that reference."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, dlupdate
from sct.errors import SctError
from sct.runtime import optim

from gradcheck import D, numerical_gradient


# --- the model: pairs (W, b) with a loss and its gradient written by hand ---------------------------

def pair_loss(W, b, x, y):
    h = np.tanh(W @ x + b)
    return np.sum((h - y) ** 2)


def pair_grad(W, b, x, y):
    h = np.tanh(W @ x + b)
    r = 2 * (h - y) * (1 - h ** 2)
    return np.outer(r, x), r


def loss_dict(p, x, y):
    return pair_loss(p["W"], p["b"], x, y)


def loss_seq(p, x, y):
    return pair_loss(p[0], p[1], x, y)


def loss_nested(p, x, y):
    return pair_loss(p["enc"]["W"], p["enc"]["b"], x, y) + pair_loss(p["dec"][0], p["dec"][1], x, y) + \
        np.sum(p["enc"]["b"] * p["dec"][1])


@dataclasses.dataclass
class Params:
    W: object
    b: object


def loss_dc(p, x, y):
    return pair_loss(p.W, p.b, x, y)


def grad_dict(p, x, y):
    gW, gb = pair_grad(p["W"], p["b"], x, y)
    return {"W": gW, "b": gb}


def grad_seq(p, x, y):
    gW, gb = pair_grad(p[0], p[1], x, y)
    return type(p)([gW, gb])


def grad_nested(p, x, y):
    e, d = p["enc"], p["dec"]
    gW1, gb1 = pair_grad(e["W"], e["b"], x, y)
    gW2, gb2 = pair_grad(d[0], d[1], x, y)
    return {"enc": {"W": gW1, "b": gb1 + d[1]}, "dec": [gW2, gb2 + e["b"]]}


def grad_dc(p, x, y):
    return Params(*pair_grad(p.W, p.b, x, y))


RNG = np.random.default_rng(46)
W0, B0 = RNG.standard_normal((3, 4)) * 0.5, RNG.standard_normal(3) * 0.5
W1, B1 = RNG.standard_normal((3, 4)) * 0.5, RNG.standard_normal(3) * 0.5
X, Y = RNG.standard_normal(4), RNG.standard_normal(3) * 0.5
LR = 0.1


def sgd(w, d):
    return w - LR * d


# --- structures as (leaves -> structure), and back ----------------------------------------------

def make(style, leaves):
    W, b, W2, b2 = (list(leaves) + [None, None])[:4]
    if style == "dict":
        return {"W": W, "b": b}
    if style == "list":
        return [W, b]
    if style == "tuple":
        return (W, b)
    if style == "dc":
        return Params(W, b)
    return {"enc": {"W": W, "b": b}, "dec": [W2, b2]}


def flat(style, p):
    if style == "dict":
        return [p["W"], p["b"]]
    if style in ("list", "tuple"):
        return [p[0], p[1]]
    if style == "dc":
        return [p.W, p.b]
    return [p["enc"]["W"], p["enc"]["b"], p["dec"][0], p["dec"][1]]


LOSS = {"dict": loss_dict, "list": loss_seq, "tuple": loss_seq, "dc": loss_dc, "nested": loss_nested}
GRAD = {"dict": grad_dict, "list": grad_seq, "tuple": grad_seq, "dc": grad_dc, "nested": grad_nested}
START = {"nested": [W0, B0, W1, B1]}


def start(style):
    return START.get(style, [W0, B0])


def reference(style, steps, fun, extra=None):
    """Plain Python: ``steps`` inner steps with the runtime's dlupdate on numpy arrays, then the loss."""
    def value(*leaves):
        p = make(style, [np.array(v, dtype=float) for v in leaves])
        for _ in range(steps):
            g = GRAD[style](p, X, Y)
            p = optim.dlupdate(fun, p, g) if extra is None else optim.dlupdate(fun, p, g, extra)
        return float(LOSS[style](p, X, Y))
    return value


def check(fn, style, steps, fun, extra=None, args=()):
    """dlfeval(fn) (which returns (L, dlgradient(L, p))) against the reference and central differences."""
    leaves = start(style)
    p = make(style, [dlarray(v.copy()) for v in leaves])
    L, g = dlfeval(fn, p, *args)
    ref = reference(style, steps, fun, extra)
    assert D(L).dtype == np.float64 and D(L).shape == ()
    np.testing.assert_allclose(float(D(L)), ref(*leaves), rtol=1e-10, atol=1e-12)
    assert type(g) is type(p)
    for k, (got, leaf) in enumerate(zip(flat(style, g), leaves)):
        fd = numerical_gradient(ref, list(leaves), k)
        assert D(got).shape == leaf.shape and D(got).dtype == np.float64
        np.testing.assert_allclose(D(got), fd, rtol=1e-5, atol=1e-7)
    return L, g


# --- the programs ------------------------------------------------------------------------------

def maml_dict(p):
    L = loss_dict(p, X, Y)
    g = dlgradient(L, p, EnableHigherDerivatives=True)
    q = dlupdate(lambda w, d: w - 0.1 * d, p, g)
    L2 = loss_dict(q, X, Y)
    return L2, dlgradient(L2, p)


def maml_list_def(p):
    g = dlgradient(loss_seq(p, X, Y), p)
    q = dlupdate(sgd, p, g)
    L2 = loss_seq(q, X, Y)
    return L2, dlgradient(L2, p)


def maml_tuple(p):
    g = dlgradient(loss_seq(p, X, Y), p)
    q = sct.dlupdate(sgd, p, g)             # (sct.dlupdate: the module's attribute)
    L2 = loss_seq(q, X, Y)
    return L2, dlgradient(L2, p)


def maml_nested(p):
    g = dlgradient(loss_nested(p, X, Y), p)

    def step(w, d):
        return w - LR * d
    q = dlupdate(step, p, g)
    L2 = loss_nested(q, X, Y)
    return L2, dlgradient(L2, p)


def maml_dc(p):
    g = dlgradient(loss_dc(p, X, Y), p)
    q = dlupdate(lambda w, d: w - 0.1 * d, p, g)
    L2 = loss_dc(q, X, Y)
    return L2, dlgradient(L2, p)


def maml_loop(p):
    q = p
    for i in range(3):
        g = dlgradient(loss_dict(q, X, Y), q)
        q = dlupdate(lambda w, d: w - 0.1 * d, q, g)
    L2 = loss_dict(q, X, Y)
    return L2, dlgradient(L2, p)


def inner_step(p, lr=0.1):
    g = dlgradient(loss_nested(p, X, Y), p)
    return dlupdate(lambda w, d: w - lr * d, p, g)


def maml_helper_loop(p):
    q = p
    for _ in range(2):
        q = inner_step(q)
    L2 = loss_nested(q, X, Y)
    return L2, dlgradient(L2, p)


def maml_in_call(p):
    g = dlgradient(loss_dict(p, X, Y), p)
    L2 = loss_dict(dlupdate(sgd, p, g), X, Y)
    return L2, dlgradient(L2, p)


def test_dict_lambda():
    check(maml_dict, "dict", 1, lambda w, d: w - 0.1 * d)


def test_list_def():
    check(maml_list_def, "list", 1, sgd)


def test_tuple_module_attribute():
    check(maml_tuple, "tuple", 1, sgd)


def test_nested_nested_def():
    check(maml_nested, "nested", 1, sgd)


def test_dataclass():
    _, g = check(maml_dc, "dc", 1, lambda w, d: w - 0.1 * d)
    assert type(g) is Params


def test_loop_of_inner_steps():
    check(maml_loop, "dict", 3, lambda w, d: w - 0.1 * d)


def test_helper_in_a_loop():
    check(maml_helper_loop, "nested", 2, lambda w, d: w - 0.1 * d)


def test_dlupdate_given_to_a_call():
    check(maml_in_call, "dict", 1, sgd)


# meta-SGD: a learning rate per parameter (dlupdate(fun, p, g, v)), its gradient too

def meta_sgd(p, a):
    g = dlgradient(loss_dict(p, X, Y), p)
    q = dlupdate(lambda w, d, r: w - r * d, p, g, a)
    L2 = loss_dict(q, X, Y)
    return L2, dlgradient(L2, p, a)


def test_extra_argument_and_its_gradient():
    a0 = {"W": np.full((3, 4), 0.2), "b": np.array([0.1, 0.3, 0.05])}
    p = {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())}
    L, (gp, ga) = dlfeval(meta_sgd, p, {k: dlarray(v.copy()) for k, v in a0.items()})

    def ref(W, b, aW, ab):
        q = {"W": W, "b": b}
        return float(loss_dict(optim.dlupdate(lambda w, d, r: w - r * d, q, grad_dict(q, X, Y),
                                               {"W": aW, "b": ab}), X, Y))
    args = [W0, B0, a0["W"], a0["b"]]
    np.testing.assert_allclose(float(D(L)), ref(*args), rtol=1e-10)
    for k, got in enumerate([gp["W"], gp["b"], ga["W"], ga["b"]]):
        np.testing.assert_allclose(D(got), numerical_gradient(ref, args, k), rtol=1e-5, atol=1e-7)


def none_companion(p):
    g = dlgradient(loss_dict(p, X, Y), p)
    q = dlupdate(lambda w, d, v: w - 0.1 * d if v is None else w, p, g, None)
    L2 = loss_dict(q, X, Y)
    return L2, dlgradient(L2, p)


def test_literal_none_companion():
    check(none_companion, "dict", 1, lambda w, d: w - 0.1 * d)


@dataclasses.dataclass
class Layer:
    W: object
    b: object
    name: str
    scale: float


def loss_layer(p, x, y):
    return p.scale * pair_loss(p.W, p.b, x, y)


def maml_layer(p):
    # a dataclass with a string and a float field: dlupdate keeps them (they hold no arrays)
    g = dlgradient(loss_layer(p, X, Y), p)
    q = dlupdate(lambda w, d: w - 0.1 * d, p, g)
    L2 = loss_layer(q, X, Y)
    return L2, q.name, q.scale, dlgradient(L2, p)


def test_dataclass_fields_kept():
    p = Layer(dlarray(W0.copy()), dlarray(B0.copy()), "dense", 1.5)
    L, name, scale, g = dlfeval(maml_layer, p)
    assert name == "dense" and scale == 1.5 and type(g) is Layer

    def ref(W, b):
        q = Layer(W, b, "dense", 1.5)
        gW, gb = pair_grad(W, b, X, Y)
        q2 = optim.dlupdate(lambda w, d: w - 0.1 * d, q, Layer(1.5 * gW, 1.5 * gb, "dense", 0.0))
        assert q2.name == "dense" and q2.scale == 1.5
        return float(loss_layer(q2, X, Y))
    np.testing.assert_allclose(float(D(L)), ref(W0, B0), rtol=1e-10)
    for k, got in enumerate([g.W, g.b]):
        np.testing.assert_allclose(D(got), numerical_gradient(ref, [W0, B0], k), rtol=1e-5, atol=1e-7)


def test_after_the_last_gradient_still_runs_as_is():
    def train_step(p):
        g = dlgradient(loss_dict(p, X, Y), p)
        return dlupdate(sgd, p, g)
    p = {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())}
    q = dlfeval(train_step, p)
    want = optim.dlupdate(sgd, {"W": W0, "b": B0}, grad_dict({"W": W0, "b": B0}, X, Y))
    for k in ("W", "b"):
        np.testing.assert_allclose(D(q[k]), want[k], rtol=1e-12)


# --- what stays refused (a clear sct error naming the line) -------------------------------------

def _refused(fn, *args, match=None, error=SctError):
    with pytest.raises(error, match=match) as info:
        dlfeval(fn, *args)
    assert __file__.rsplit("/", 1)[-1] in str(info.value), str(info.value)
    return info.value


def two_outputs(p):
    g = dlgradient(loss_dict(p, X, Y), p)
    q = dlupdate(lambda w, d: (w - 0.1 * d, d), p, g)
    return dlgradient(loss_dict(q[0], X, Y), p)


def returns_a_tuple(w, d):
    return w - 0.1 * d, d


def two_outputs_def(p):
    g = dlgradient(loss_dict(p, X, Y), p)
    q, v = dlupdate(returns_a_tuple, p, g)
    return dlgradient(loss_dict(q, X, Y), p)


class Model:
    def __init__(self, W, b):
        self.W, self.b = W, b


def an_object(p):
    g = dlgradient(pair_loss(p.W, p.b, X, Y), p)
    q = dlupdate(sgd, p, g)
    return dlgradient(pair_loss(q.W, q.b, X, Y), p)


def unknown_structure(p):
    r = {k: v * 1.0 for k, v in p.items()}
    g = dlgradient(loss_dict(r, X, Y), r)
    q = dlupdate(sgd, r, g)
    return dlgradient(loss_dict(q, X, Y), p)


def none_at_run_time(p, v):
    g = dlgradient(loss_dict(p, X, Y), p)
    q = dlupdate(lambda w, d, s: w - 0.1 * d, p, g, v)
    return dlgradient(loss_dict(q, X, Y), p)


def test_refused_fun_with_two_outputs():
    err = _refused(two_outputs, {"W": dlarray(W0), "b": dlarray(B0)}, match="dlupdate has no derivative")
    assert getattr(err, "lineno", None) == two_outputs.__code__.co_firstlineno + 2


def test_refused_fun_returning_a_tuple_at_run_time():
    err = _refused(two_outputs_def, {"W": dlarray(W0), "b": dlarray(B0)}, match="fun returned a tuple")
    assert "dlupdate" in str(err)


def test_refused_object_of_a_class():
    _refused(an_object, Model(dlarray(W0), dlarray(B0)), match="dlupdate has no derivative")


def test_refused_structure_unknown_when_compiling():
    _refused(unknown_structure, {"W": dlarray(W0), "b": dlarray(B0)}, match="dlupdate has no derivative")


def test_refused_none_companion_at_run_time():
    _refused(none_at_run_time, {"W": dlarray(W0), "b": dlarray(B0)}, None, match="None or empty")


# --- helpers read in place, closures over traced values, one-argument dlupdate ----------------------

def adapt(p):
    g = dlgradient(loss_dict(p, X, Y), p)
    return dlupdate(sgd, p, g)


def maml_inlined_helper(p):
    q = adapt(p)                            # (a helper taking dlgradient, read in place)
    L2 = loss_dict(q, X, Y)
    return L2, dlgradient(L2, p)


def test_helper_read_in_place():
    check(maml_inlined_helper, "dict", 1, sgd)


def closure_over_traced(p):
    g = dlgradient(loss_dict(p, X, Y), p)
    s = np.sum(p["b"] ** 2)                 # a traced step size: fun's closure (was a structure refused)
    q = dlupdate(lambda w, d: w - 0.1 * s * d, p, g)
    L2 = loss_dict(q, X, Y)
    return L2, dlgradient(L2, p)


def test_fun_closing_over_a_traced_value():
    def ref(W, b):
        q = {"W": W, "b": b}
        s = np.sum(b ** 2)
        return float(loss_dict(optim.dlupdate(lambda w, d: w - 0.1 * s * d, q, grad_dict(q, X, Y)), X, Y))
    L, g = dlfeval(closure_over_traced, {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())})
    np.testing.assert_allclose(float(D(L)), ref(W0, B0), rtol=1e-10)
    for k, got in enumerate([g["W"], g["b"]]):
        np.testing.assert_allclose(D(got), numerical_gradient(ref, [W0, B0], k), rtol=1e-5, atol=1e-7)


def squashed(p):
    q = dlupdate(np.tanh, p)                # one structure, no companions
    L2 = loss_dict(q, X, Y)
    return L2, dlgradient(L2, p)


def test_one_structure():
    def ref(W, b):
        return float(loss_dict(optim.dlupdate(np.tanh, {"W": W, "b": b}), X, Y))
    L, g = dlfeval(squashed, {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())})
    np.testing.assert_allclose(float(D(L)), ref(W0, B0), rtol=1e-12)
    for k, got in enumerate([g["W"], g["b"]]):
        np.testing.assert_allclose(D(got), numerical_gradient(ref, [W0, B0], k), rtol=1e-5, atol=1e-7)


def train_step_with_state(p, vel, lr):
    g = dlgradient(loss_dict(p, X, Y), p)
    # after the last dlgradient, with a None state (MATLAB's []): runs as it is, as before
    return dlupdate(lambda w, d, v: w - lr * d if v is None else w - lr * (d + v), p, g, vel)


def test_update_after_the_last_gradient_with_a_none_state_runs_as_is():
    p = {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())}
    q = dlfeval(train_step_with_state, p, None, 0.1)
    want = optim.dlupdate(sgd, {"W": W0, "b": B0}, grad_dict({"W": W0, "b": B0}, X, Y))
    for k in ("W", "b"):
        np.testing.assert_allclose(D(q[k]), want[k], rtol=1e-12)


def written_into_then_updated(p):
    g = dlgradient(loss_dict(p, X, Y), p)
    q = dlupdate(sgd, p, g)
    q["W"] = q["W"] * 1.0
    g2 = dlgradient(loss_dict(q, X, Y), q)
    r = dlupdate(sgd, q, g2)
    return dlgradient(loss_dict(r, X, Y), p)


def test_written_into_then_updated_is_exact():
    # (the structure q filled in place: refused until s50, whose item targets follow q["W"] to the value
    # stored there and whose recomputed regions start before a read of a root through q; exact now)
    g = dlfeval(written_into_then_updated, {"W": dlarray(W0), "b": dlarray(B0)})
    ref = reference("dict", 2, sgd)
    for k, key in enumerate(("W", "b")):
        np.testing.assert_allclose(D(g[key]), numerical_gradient(ref, [W0, B0], k), rtol=1e-5, atol=1e-7)


# --- a display as the structure; forward mode and Hessian-vector products ------------------------

def squashed_list(W):
    p = [W, np.ones(3) * 0.1]                 # (a display: its structure known)
    q = dlupdate(lambda w: np.tanh(w) * 2.0, p)
    return loss_seq(q, X, Y)


def squashed_list_plain(W):
    return float(loss_seq(optim.dlupdate(lambda w: np.tanh(w) * 2.0, [W, np.ones(3) * 0.1]), X, Y))


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_jvp_through_dlupdate_of_a_display(mode):
    V = np.linspace(-1, 1, 12).reshape(3, 4)
    val, t = sct.jvp(squashed_list, (W0,), (V,), mode=mode)
    np.testing.assert_allclose(float(D(val)), squashed_list_plain(W0), rtol=1e-12)
    e = 1e-6
    fd = (squashed_list_plain(W0 + e * V) - squashed_list_plain(W0 - e * V)) / (2 * e)
    np.testing.assert_allclose(float(D(t)), fd, rtol=1e-5, atol=1e-8)


def cubed(W):
    q = dlupdate(lambda w: np.tanh(w) * 2.0, {"W": W})
    return np.sum(q["W"] ** 3)


def test_hvp_through_dlupdate():
    V = np.linspace(-1, 1, 12).reshape(3, 4)

    def grad(W):
        return 3 * (np.tanh(W) * 2.0) ** 2 * 2.0 * (1 - np.tanh(W) ** 2)
    e = 1e-6
    np.testing.assert_allclose(D(sct.hvp(cubed, W0, V)), (grad(W0 + e * V) - grad(W0 - e * V)) / (2 * e),
                               rtol=1e-5, atol=1e-8)
