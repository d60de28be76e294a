"""Stop 45: plain float values given to dlfeval beside dlarrays in one dict, list or tuple.

Such a value is a constant (README: zero gradient) where the function reads it from the argument as
given.  sct follows whether a value is traced per variable, not per item, so a structure computed
from that argument (a copy, a comprehension, a training loop rebinding it) held it as a traced
item, and so did a helper compiled on its own given it (generated code runs on plain arrays): a
dlgradient with respect to them gave the constant the gradient of a variable, and a training loop
moved it.  Now refused at the user's line (sct/plain_leaves.py); the argument as given still gives
zeros, and structures of dlarrays only are not affected.
"""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import numerical_gradient


def loss(p, x):
    h = np.tanh(p["W"] @ p["z"] + p["b"])
    return np.sum(h ** 2) + np.sum(x * p["z"] ** 2)


def step(p, x):
    g = dlgradient(loss(p, x), p)
    return {k: p[k] - 0.2 * g[k] for k in p}


def step_pair(p, x):
    g = dlgradient(loss(p, x), p)
    return {k: p[k] - 0.2 * g[k] for k in p}, g


def data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 4)) * 0.6, rng.standard_normal(3) * 0.5, rng.standard_normal(4), \
        np.linspace(-0.5, 0.5, 4)


def mixed(W, b, z):
    return {"W": dlarray(W), "b": dlarray(b), "z": z.copy()}


# --- in the function dlfeval runs ----------------------------------------------------------------

def own_loop(p, x):
    for _ in range(3):
        g = dlgradient(loss(p, x), p)
        p = {k: p[k] - 0.2 * g[k] for k in p}
    return loss(p, x)


def own_twice(p, x):
    g = dlgradient(loss(p, x), p)
    p = {k: p[k] - 0.2 * g[k] for k in p}
    g = dlgradient(loss(p, x), p)
    return g["z"]


def own_copy(p, x):
    q = dict(p)
    return dlgradient(loss(q, x), q)["z"]


def own_comprehension(p, x):
    q = {k: v * 1.0 for k, v in p.items()}
    return dlgradient(loss(q, x), q)["z"]


def own_item_of_copy(p, x):
    q = {k: v * 1.0 for k, v in p.items()}
    z = q["z"]
    return dlgradient(loss(q, x), z)


@pytest.mark.parametrize("fn", [own_loop, own_twice, own_copy, own_comprehension, own_item_of_copy])
def test_structure_computed_from_mixed_argument_refused(fn):
    W, b, z, x = data()
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fn, mixed(W, b, z), dlarray(x))
    text = str(info.value)
    assert "test_plain_s45.py" in text and "p['z'] is a plain (not dlarray) float value" in text
    assert "dlgradient" in text and "Traceback" not in text


def as_given_whole(p, x):
    return dlgradient(loss(p, x), p)


def as_given_items(p, x):
    L = loss(p, x)
    return dlgradient(L, [p["W"], p["z"]])


def as_given_name(p, x):
    z = p["z"]
    W = p["W"]
    L = loss(p, x)
    return dlgradient(L, W, z)


def test_argument_as_given_still_gives_zeros_to_its_constant():
    W, b, z, x = data()
    g = dlfeval(as_given_whole, mixed(W, b, z), dlarray(x))
    np.testing.assert_array_equal(np.asarray(g["z"]), np.zeros(4))
    want = numerical_gradient(lambda W_: float(loss({"W": W_, "b": b, "z": z}, x)), [W], 0)
    np.testing.assert_allclose(np.asarray(g["W"]), want, rtol=1e-6, atol=1e-8)
    gW, gz = dlfeval(as_given_items, mixed(W, b, z), dlarray(x))
    np.testing.assert_array_equal(np.asarray(gz), np.zeros(4))
    np.testing.assert_allclose(np.asarray(gW), want, rtol=1e-6, atol=1e-8)
    gW, gz = dlfeval(as_given_name, mixed(W, b, z), dlarray(x))
    np.testing.assert_array_equal(np.asarray(gz), np.zeros(4))
    np.testing.assert_allclose(np.asarray(gW), want, rtol=1e-6, atol=1e-8)


def built_then_copied(W, z, x):
    q = {"W": W, "z": z}
    q2 = {k: v * 1.0 for k, v in q.items()}
    return dlgradient(loss({"W": q2["W"], "b": 0.0, "z": q2["z"]}, x), q2)["z"]


def test_structure_built_in_function_then_computed_from_refused():
    """The function itself puts a plain argument beside a dlarray (q = {"W": W, "z": z}): a
    structure computed from q held z as traced (was: z's gradient, 2 x z + ...)."""
    W, _, z, x = data()
    with pytest.raises(sct.CompileError, match=r"'q2', computed from 'q': q holds the plain .* value 'z'"):
        dlfeval(built_then_copied, dlarray(W), z.copy(), dlarray(x))


# --- a helper taking dlgradient, compiled on its own -----------------------------------------------

def helper_loop(p, x):
    for _ in range(3):
        p = step(p, x)
    return loss(p, x)


def helper_once(p, x):
    p, g = step_pair(p, x)
    return loss(p, x), g["z"]


def helper_list(ws, x):
    for _ in range(2):
        g = dlgradient(np.sum(np.tanh(ws[0] @ ws[1]) ** 2) + np.sum(x * ws[1]), ws)
        ws = [w - 0.1 * d for w, d in zip(ws, g)]
    return np.sum(ws[1])


def filled_in_function(p0, z, x):
    p = dict(p0)
    p["z"] = z
    for _ in range(2):
        p = step(p, x)
    return loss(p, x)


def test_helper_given_mixed_structure_refused():
    W, b, z, x = data()
    for fn in (helper_loop, helper_once):
        with pytest.raises(sct.CompileError) as info:
            dlfeval(fn, mixed(W, b, z), dlarray(x))
        text = str(info.value)
        assert "step" in text and f"{fn.__name__}()'s argument 'p' holds a plain" in text and "p['z']" in text
        assert "test_plain_s45.py" in text
    with pytest.raises(sct.CompileError, match=r"ws\[1\] is a plain"):
        dlfeval(helper_list, [dlarray(W), z.copy()], dlarray(x))
    with pytest.raises(sct.CompileError, match="puts the plain .* value 'z' beside traced values"):
        dlfeval(filled_in_function, {"W": dlarray(W), "b": dlarray(b)}, z.copy(), dlarray(x))


def test_helper_context_is_part_of_the_cache_key():
    """The same helper compiled for dlarrays only runs, and is not reused where the structure is
    mixed (refused there), in either order; accelerate too."""
    W, b, z, x = data()

    def run_dl():
        return float(np.asarray(dlfeval(helper_loop, {"W": dlarray(W), "b": dlarray(b), "z": dlarray(z)},
                                        dlarray(x))))

    def ref(W_, b_, z_):
        p = {"W": W_, "b": b_, "z": z_}
        for _ in range(3):
            p = _np_step(p, x)
        return float(loss(p, x))

    first = run_dl()
    assert first == pytest.approx(ref(W, b, z), rel=1e-12)
    with pytest.raises(sct.CompileError, match="holds a plain"):
        dlfeval(helper_loop, mixed(W, b, z), dlarray(x))
    assert run_dl() == first
    with pytest.raises(sct.CompileError, match="holds a plain"):
        dlfeval(helper_loop, mixed(W, b, z), dlarray(x))
    fast = sct.accelerate(helper_loop)
    with pytest.raises(sct.SctError, match="holds a plain"):
        fast(mixed(W, b, z), dlarray(x))
    assert float(np.asarray(fast({"W": dlarray(W), "b": dlarray(b), "z": dlarray(z)}, dlarray(x)))) == \
        pytest.approx(first, rel=1e-12)


def _np_step(p, x):
    """step's hand-written numpy gradient (z and b and W all variables)."""
    W, b, z = p["W"], p["b"], p["z"]
    a = W @ z + b
    h = np.tanh(a)
    da = 2 * h * (1 - h ** 2)
    g = {"W": np.outer(da, z), "b": da, "z": W.T @ da + 2 * x * z}
    return {k: p[k] - 0.2 * g[k] for k in p}


def outer_of_steps(p, x):
    for _ in range(2):
        p = step(p, x)
    L = loss(p, x)
    return L, dlgradient(L, x)


def test_dlarrays_only_unaffected():
    """Structures of dlarrays only (and plain arrays passed apart from them) run, values and the
    outer gradient against finite differences of the hand-written steps."""
    W, b, z, x = data()
    L, gx = dlfeval(outer_of_steps, {"W": dlarray(W), "b": dlarray(b), "z": dlarray(z)}, dlarray(x))

    def ref(x_):
        p = {"W": W, "b": b, "z": z}
        for _ in range(2):
            p = _np_step(p, x_)
        return float(loss(p, x_))
    assert float(np.asarray(L)) == pytest.approx(ref(x), rel=1e-12)
    np.testing.assert_allclose(np.asarray(gx), numerical_gradient(ref, [x], 0), rtol=1e-6, atol=1e-8)


# --- a dlgradient in a loop with respect to a name that is a constant on the loop's first pass --------
# (activity is one fact per name: the later passes' traced values made the first pass's plain value a
# variable; the same dlgradient outside the loop is refused, and MATLAB's trace refuses the first pass)

def L_of(W, z, x):
    return np.sum(np.tanh(W @ z) ** 2) + np.sum(x * z ** 2)


def step2(W, z, x):
    gW, gz = dlgradient(L_of(W, z, x), W, z)
    return W - 0.2 * gW, z - 0.2 * gz


def first_pass_own(W, z, x):
    for _ in range(3):
        gW, gz = dlgradient(L_of(W, z, x), W, z)
        W, z = W - 0.2 * gW, z - 0.2 * gz
    return L_of(W, z, x), z


def first_pass_item(p, x):
    W, z = p["W"], p["z"]
    for _ in range(3):
        gW, gz = dlgradient(L_of(W, z, x), W, z)
        W, z = W - 0.2 * gW, z - 0.2 * gz
    return L_of(W, z, x), z


def first_pass_helper(W, z, x):
    for _ in range(3):
        W, z = step2(W, z, x)
    return L_of(W, z, x), z


def first_pass_helper_item(p, x):
    W, z = p["W"], p["z"]
    for _ in range(3):
        W, z = step2(W, z, x)
    return L_of(W, z, x), z


class Trainer:
    def __init__(self, lr):
        self.lr = lr

    def step(self, W, z, x):
        gW, gz = dlgradient(L_of(W, z, x), W, z)
        return W - self.lr * gW, z - self.lr * gz


def first_pass_method(t, W, z, x):
    for _ in range(3):
        W, z = t.step(W, z, x)
    return L_of(W, z, x), z


def test_first_pass_constant_refused():
    W, _, z, x = data()
    cases = [(first_pass_own, (dlarray(W), z.copy(), dlarray(x)), "a plain argument of dlfeval"),
             (first_pass_item, ({"W": dlarray(W), "z": z.copy()}, dlarray(x)), "a constant (bound on line"),
             (first_pass_helper, (dlarray(W), z.copy(), dlarray(x)), "step2() takes dlgradient"),
             (first_pass_helper_item, ({"W": dlarray(W), "z": z.copy()}, dlarray(x)), "step2() takes dlgradient"),
             (first_pass_method, (Trainer(0.2), dlarray(W), z.copy(), dlarray(x)), "step() takes dlgradient")]
    for fn, args, words in cases:
        with pytest.raises(sct.CompileError) as info:
            dlfeval(fn, *args)
        text = str(info.value)
        assert words in text and "'z'" in text and "test_plain_s45.py" in text, text


def rnn_like(W, x):
    h = np.zeros(3)
    for _ in range(3):
        h = np.tanh(W @ np.concatenate([h, x[:1]]))
        g = dlgradient(np.sum(h ** 2), W)
    return np.sum(h), g


def test_first_pass_traced_still_runs():
    """z a dlarray (the same loop and helper): values and gradients against the hand-written steps;
    a name bound in the loop before the site (an RNN's state starting at zeros) is not refused."""
    W, _, z, x = data()
    L, zz = dlfeval(first_pass_own, dlarray(W), dlarray(z), dlarray(x))
    L2, zz2 = dlfeval(first_pass_helper, dlarray(W), dlarray(z), dlarray(x))

    def ref(W_, z_):
        for _ in range(3):
            a = W_ @ z_
            da = 2 * np.tanh(a) * (1 - np.tanh(a) ** 2)
            W_, z_ = W_ - 0.2 * np.outer(da, z_), z_ - 0.2 * (W_.T @ da + 2 * x * z_)
        return float(L_of(W_, z_, x)), z_
    want, wz = ref(W, z)
    for got, gz in ((L, zz), (L2, zz2)):
        assert float(np.asarray(got)) == pytest.approx(want, rel=1e-12)
        np.testing.assert_allclose(np.asarray(gz), wz, rtol=1e-12)
    W3 = np.random.default_rng(3).standard_normal((3, 4)) * 0.5
    s, g = dlfeval(rnn_like, dlarray(W3), dlarray(x))

    def last_loss(W_):
        h = np.zeros(3)
        for _ in range(3):
            h = np.tanh(W_ @ np.concatenate([h, x[:1]]))
        return float(np.sum(h ** 2))
    np.testing.assert_allclose(np.asarray(g), numerical_gradient(last_loss, [W3], 0), rtol=1e-6, atol=1e-8)


# --- a training state built in the function: {"params": p, "lr": 0.1, "step": 0} -------------------------
# (the float literal beside the traced parameters makes the context; a helper's dlgradient with respect to
# the part under another constant key, state["params"], is not refused: the red team's wider detection of
# plain values refused it at first)

def loss_b(p, x):
    return np.sum(np.tanh(p["W"] @ x + p["b"]) ** 2)


def train_step(state, x):
    g = dlgradient(loss_b(state["params"], x), state["params"])
    p = {k: v - state["lr"] * g[k] for k, v in state["params"].items()}
    return {"params": p, "lr": state["lr"], "step": state["step"] + 1}


def train_whole(state, x):
    g = dlgradient(loss_b(state["params"], x) + state["lr"] ** 2, state)
    return {k: state[k] - 0.1 * g[k] for k in ("params", "lr")}


def with_state(p, x):
    state = {"params": p, "lr": 0.1, "step": 0}
    for _ in range(3):
        state = train_step(state, x)
    return loss_b(state["params"], x), state["step"]


def with_state_whole(p, x):
    state = {"params": p, "lr": 0.1}
    for _ in range(2):
        state = train_whole(state, x)
    return state["lr"]


def test_training_state_with_a_setting_runs():
    rng = np.random.default_rng(0)
    W, b, x = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal(4)
    L, steps = dlfeval(with_state, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    P = {"W": W.copy(), "b": b.copy()}
    for _ in range(3):
        t = np.tanh(P["W"] @ x + P["b"])
        da = 2 * t * (1 - t ** 2)
        P = {"W": P["W"] - 0.1 * np.outer(da, x), "b": P["b"] - 0.1 * da}
    assert float(np.asarray(L)) == pytest.approx(float(loss_b(P, x)), rel=1e-12)
    assert steps == 3
    with pytest.raises(sct.CompileError, match="train_whole"):
        dlfeval(with_state_whole, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))


# --- a state dict (a traced running mean beside a plain variance) passed beside the parameters -----------
# (the structure mixes plain and traced values, but the helper differentiates only its other parameter:
# not refused; a value computed by the helper from the state, ``p, mu = step(p, state, x)``, holds none
# of the state's items)

def bn_forward(p, state, x):
    h = p["W"] @ x
    mu = np.mean(h)
    hn = (h - mu) / np.sqrt(state["var"] + 1e-5)
    return np.sum(np.tanh(hn + p["b"]) ** 2), mu


def bn_step(p, state, x):
    L, mu = bn_forward(p, state, x)
    g = dlgradient(L, p)
    return {k: p[k] - 0.1 * g[k] for k in p}, mu


def bn_loop(p, state, x):
    for _ in range(3):
        p, mu = bn_step(p, state, x)
        state = {"mean": 0.9 * state["mean"] + 0.1 * np.mean(x), "var": state["var"]}
    return bn_forward(p, state, x)[0], state["mean"]


def test_state_dict_beside_parameters_runs():
    rng = np.random.default_rng(0)
    W, b, x = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal(4)
    var = np.array([1.0, 2.0, 0.5])
    L, mean = dlfeval(bn_loop, {"W": dlarray(W), "b": dlarray(b)}, {"mean": np.zeros(3), "var": var}, x)

    def loss_of(W_, b_):
        return float(bn_forward({"W": W_, "b": b_}, {"var": var}, x)[0])
    W_, b_ = W.copy(), b.copy()
    for _ in range(3):
        gW, gb = numerical_gradient(loss_of, [W_, b_], 0), numerical_gradient(loss_of, [W_, b_], 1)
        W_, b_ = W_ - 0.1 * gW, b_ - 0.1 * gb
    assert float(np.asarray(L)) == pytest.approx(loss_of(W_, b_), rel=1e-6)
    np.testing.assert_allclose(np.asarray(mean), np.full(3, 0.1 * np.mean(x) * (1 + 0.9 + 0.81)), rtol=1e-12)
