"""Adjoint statements no gradient reads are not computed (sct/dead_adjoints.py, issue 8).

Was: ``h = np.tanh(x @ p["W"] + state["rnn"]["h"] @ p["U"]); state["rnn"]["h"] = h`` then
``dlgradient(loss, p)``: the write made ``state`` active (the activity analysis is flow-insensitive),
so the sweep computed ``d_h_t = rt.matmul_adjoint_2d_a(...)`` (a whole matmul), ``d_state_item`` and
``d_state``, which nothing returned, and the forward kept a tape entry of ``state`` for them.
"""
import ast

import gast
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.dead_adjoints import PURE_ADJOINT_RT, remove_dead_adjoints
from sct.optimize import _PURE_NP_CALLS
from sct.runtime import numpy_ops, support

from gradcheck import assert_close


def _fd(f, arrays, k, step=1e-6):
    """Central differences of the real scalar ``f(*arrays)`` with respect to ``arrays[k]``."""
    base = [np.array(a, dtype=float) for a in arrays]
    out = np.zeros_like(base[k])
    for i in np.ndindex(base[k].shape):
        up = [a.copy() for a in base]
        down = [a.copy() for a in base]
        up[k][i] += step
        down[k][i] -= step
        out[i] = (f(*up) - f(*down)) / (2 * step)
    return out


def _sweep_source(fun, *args) -> str:
    text = sct.source(fun, *args)
    return text[text.index("_dlgradient_line"):]


# --- the state dict written after it is read (the brief's step) -----------------------------------

def rnn_step(p, state, x):
    h = np.tanh(x @ p["W"] + state["rnn"]["h"] @ p["U"])
    state["rnn"]["h"] = h
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, p)


def _plain_step(W, U, h0, x):
    h = np.tanh(x @ W + h0 @ U)
    return np.sum(h ** 2)


def _step_args(seed=0):
    rng = np.random.default_rng(seed)
    W, U, x, h0 = (rng.standard_normal(s) * 0.5 for s in [(3, 3), (3, 3), (2, 3), (2, 3)])
    return W, U, x, h0


def test_state_step_sweep_computes_no_adjoint_of_state():
    W, U, x, h0 = _step_args()
    p = {"W": dlarray(W), "U": dlarray(U)}
    sweep = _sweep_source(rnn_step, p, {"rnn": {"h": h0.copy()}}, dlarray(x))
    assert "d_state" not in sweep
    assert "d_h_t" not in sweep                     # (was: rt.matmul_adjoint_2d_a(d_h_matmul_1, h_t, p_item_1))
    assert "matmul_adjoint_2d_a" not in sweep and "matmul_adjoint_a" not in sweep
    assert "tape" not in sweep                      # (was: a pop of state for the index adjoint)


def test_state_step_gradient_and_state_exact():
    W, U, x, h0 = _step_args(1)
    state = {"rnn": {"h": h0.copy()}}
    loss, g = dlfeval(rnn_step, {"W": dlarray(W), "U": dlarray(U)}, state, dlarray(x))
    assert_close(np.asarray(loss.data), _plain_step(W, U, h0, x), 1e-12, 1e-12)
    assert_close(np.asarray(state["rnn"]["h"]), np.tanh(x @ W + h0 @ U), 1e-12, 1e-12)
    assert_close(np.asarray(g["W"].data), _fd(_plain_step, [W, U, h0, x], 0), 1e-6, 1e-7)
    assert_close(np.asarray(g["U"].data), _fd(_plain_step, [W, U, h0, x], 1), 1e-6, 1e-7)
    # a second call (the cached code) reads the state the first wrote
    h1 = np.asarray(state["rnn"]["h"]).copy()
    loss, g = dlfeval(rnn_step, {"W": dlarray(W), "U": dlarray(U)}, state, dlarray(x))
    assert_close(np.asarray(loss.data), _plain_step(W, U, h1, x), 1e-12, 1e-12)
    assert_close(np.asarray(g["U"].data), _fd(_plain_step, [W, U, h1, x], 1), 1e-6, 1e-7)


def rnn_state_loop(p, state, xs):
    for t in range(xs.shape[0]):
        state["h"] = np.tanh(xs[t] @ p["W"] + state["h"] @ p["U"])
    loss = np.sum(state["h"] ** 2)
    return loss, dlgradient(loss, p["W"])


def _plain_loop(W, U, h0, xs):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W + h @ U)
    return np.sum(h ** 2)


def test_state_written_in_a_loop_gradient_exact():
    rng = np.random.default_rng(2)
    W, U = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((3, 3)) * 0.5
    h0, xs = rng.standard_normal((2, 3)), rng.standard_normal((4, 2, 3))
    state = {"h": h0.copy()}
    loss, g = dlfeval(rnn_state_loop, {"W": dlarray(W), "U": dlarray(U)}, state, dlarray(xs))
    assert_close(np.asarray(loss.data), _plain_loop(W, U, h0, xs), 1e-12, 1e-12)
    assert_close(np.asarray(g.data), _fd(_plain_loop, [W, U, h0, xs], 0), 1e-6, 1e-7)


# --- a name read before a branch rebinds it (flow-insensitive activity) ------------------------------

def read_then_rebound(w, x, flag):
    h = x
    y = np.sum(h * 3.0)
    if flag:
        h = h @ w
    loss = np.sum(h ** 2) + y
    return loss, dlgradient(loss, w)


def test_read_before_rebinding_has_no_adjoint_in_the_sweep():
    rng = np.random.default_rng(3)
    w, x = rng.standard_normal((3, 3)), rng.standard_normal((2, 3))
    sweep = _sweep_source(read_then_rebound, dlarray(w), dlarray(x), True)
    assert "d_y" not in sweep and "matmul_adjoint_2d_a" not in sweep   # (was: d_h of x's uses, a matmul)
    for flag in (True, False):
        loss, g = dlfeval(read_then_rebound, dlarray(w), dlarray(x), flag)
        plain = (lambda w_: np.sum((x @ w_ if flag else x) ** 2) + np.sum(x * 3.0))
        assert_close(np.asarray(loss.data), plain(w), 1e-12, 1e-12)
        expected = _fd(lambda w_, x_: plain(w_), [w, x], 0)
        assert_close(np.asarray(g.data) if flag else np.asarray(getattr(g, "data", g)), expected, 1e-6, 1e-7)


def read_then_rebound_second(w, x):
    h = x * 1.0
    y = np.sum(h * 3.0)
    for i in range(2):
        h = np.tanh(h @ w)
    loss = np.sum(h ** 2) + y
    g = dlgradient(loss, w, EnableHigherDerivatives=True)
    q = np.sum(g ** 2)
    return q, dlgradient(q, w)


def test_second_derivative_through_a_pruned_pattern_exact():
    rng = np.random.default_rng(4)
    w, x = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((2, 3))

    def grad_w(w_):
        out = dlfeval(lambda a, b: read_then_rebound_second(a, b), dlarray(w_), dlarray(x))
        return out

    q, g2 = grad_w(w)

    def q_of(w_):
        # q = |dL/dw|^2 with L = sum(tanh(tanh(x w) w)^2) + const: dL/dw by hand
        a1 = np.tanh(x @ w_)
        a2 = np.tanh(a1 @ w_)
        d2 = 2 * a2 * (1 - a2 ** 2)
        gw = a1.T @ d2
        d1 = (d2 @ w_.T) * (1 - a1 ** 2)
        gw = gw + x.T @ d1
        return np.sum(gw ** 2)
    assert_close(np.asarray(q.data), q_of(w), 1e-10, 1e-10)
    assert_close(np.asarray(g2.data), _fd(lambda w_, x_: q_of(w_), [w, x], 0, 1e-6), 1e-5, 1e-6)


# --- helpers, a subset of the arguments, a data argument ---------------------------------------------

def _layer(W, b, x):
    return np.tanh(x @ W + b)


def helper_state(p, state, x):
    z = _layer(p["W"], p["b"], state["h"])        # the helper reads the state before the write
    h = np.tanh(x @ p["U"] + z)
    state["h"] = h
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, p["W"])


def test_helper_and_subset_gradient_exact():
    rng = np.random.default_rng(5)
    W, U, b, x, h0 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3), \
        rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    state = {"h": h0.copy()}
    loss, g = dlfeval(helper_state, {"W": dlarray(W), "U": dlarray(U), "b": dlarray(b)}, state, dlarray(x))
    plain = lambda W_, U_, b_, h_, x_: np.sum(np.tanh(x_ @ U_ + np.tanh(h_ @ W_ + b_)) ** 2)    # noqa: E731
    assert_close(np.asarray(loss.data), plain(W, U, b, h0, x), 1e-12, 1e-12)
    assert_close(np.asarray(state["h"]), np.tanh(x @ U + np.tanh(h0 @ W + b)), 1e-12, 1e-12)
    assert_close(np.asarray(g.data), _fd(plain, [W, U, b, h0, x], 0), 1e-6, 1e-7)


# --- the pass itself: what it keeps ------------------------------------------------------------------

def _function(src: str) -> gast.FunctionDef:
    return gast.parse(src).body[0]


def _names_assigned(fn) -> set:
    return {n.id for n in gast.walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def test_pass_keeps_calls_it_does_not_know_and_writes_and_dels():
    fn = _function(
        "def s(a, b, tape):\n"
        "    d_a = rt.matmul_adjoint_a(b, a, b)\n"          # dead, pure: removed
        "    d_b = rt.check_finite(b)\n"                     # dead but not known pure: kept
        "    d_c = np.add(a, b, out=a)\n"                    # dead but writes a: kept
        "    d_d = layer_bwd(a, b)\n"                        # a helper's adjoint: kept
        "    d_e = a * 2\n"                                  # read by a del: kept
        "    del d_e\n"
        "    x = rt.unbroadcast(a, b)\n"                     # not an adjoint name: kept
        "    d_f = rt.unbroadcast(a, b)\n"                   # read by the kept if's test
        "    if d_f is not rt.ZERO:\n"
        "        d_g = d_f * 2\n"                            # dead: the if is emptied and dropped ...
        "    d_h = rt.unbroadcast(a, b)\n"
        "    if d_h is not rt.ZERO:\n"
        "        tape.pop()\n"                               # ... this one is not (a pop)
        "    return d_a if False else None\n")
    adjoints = frozenset({"d_a", "d_b", "d_c", "d_d", "d_e", "d_f", "d_g", "d_h"})
    fn.body[-1] = gast.Return(value=gast.Constant(value=None, kind=None))
    removed = remove_dead_adjoints(fn, adjoints, "rt", "np", _PURE_NP_CALLS)
    kept = _names_assigned(fn)
    assert {"d_b", "d_c", "d_d", "d_e", "x", "d_h"} <= kept
    assert not kept & {"d_a", "d_f", "d_g"}
    assert removed == (4, False)


def test_pass_liveness_through_loops_and_branches():
    fn = _function(
        "def s(n, a, c):\n"
        "    d_x = rt.ZERO\n"
        "    d_y = rt.ZERO\n"
        "    for _ in range(n):\n"
        "        d_y = d_x * 2\n"            # read by the next pass's d_x: live
        "        d_x = d_y + a\n"
        "        d_z = d_y * 3\n"            # read by nothing: removed
        "    if c:\n"
        "        d_w = d_x\n"
        "    else:\n"
        "        d_w = a\n"
        "    return d_w\n")
    remove_dead_adjoints(fn, frozenset({"d_x", "d_y", "d_z", "d_w"}), "rt", "np")
    kept = _names_assigned(fn)
    assert {"d_x", "d_y", "d_w"} <= kept and "d_z" not in kept
    from sct.rt_namespace import RT
    ns = {"rt": RT}
    exec(compile(ast.fix_missing_locations(gast.gast_to_ast(gast.Module(body=[fn], type_ignores=[]))), "<s>", "exec"), ns)
    assert ns["s"](3, 1.0, True) == ((0 * 2 + 1) * 2 + 1) * 2 + 1


@pytest.mark.parametrize("name", sorted(PURE_ADJOINT_RT))
def test_pure_helpers_exist_in_the_runtime(name):
    # (every helper the pass may remove a call of is a runtime function generated code reaches)
    from sct.rt_namespace import RT
    assert callable(getattr(RT, name))


# --- dlgradient with respect to one key of a dict: the other keys' adjoints ---------------------------

def subset_key(p, x):
    y = np.tanh(x @ p["W"] + p["b"])
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, p["W"])


def test_other_keys_adjoints_not_computed_and_gradient_exact():
    rng = np.random.default_rng(6)
    W, b, x = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((2, 3))
    sweep = _sweep_source(subset_key, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    assert "'b'" not in sweep and "p_item_1" not in sweep       # (was: unbroadcast and index_adjoint of b)
    loss, g = dlfeval(subset_key, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    plain = lambda W_, b_, x_: np.sum(np.tanh(x_ @ W_ + b_) ** 2)     # noqa: E731
    assert_close(np.asarray(g.data), _fd(plain, [W, b, x], 0), 1e-6, 1e-7)


def test_rnn_over_steps_with_one_key_skips_the_other_weights_adjoint():
    rng = np.random.default_rng(7)
    W, U = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((3, 3)) * 0.5
    h0, xs = rng.standard_normal((2, 3)), rng.standard_normal((4, 2, 3))
    sweep = _sweep_source(rnn_state_loop, {"W": dlarray(W), "U": dlarray(U)}, {"h": h0.copy()}, dlarray(xs))
    assert "'U'" not in sweep and sweep.count("matmul_adjoint") == 2     # (was 3: U's, one per step)


def both_keys(p, x):
    y = np.tanh(x @ p["W"] + p["b"])
    loss = np.sum(y ** 2)
    gW, gb = dlgradient(loss, p["W"], p["b"])
    return loss, gW, gb


def rebound_dict(p, x):
    p = {"W": p["W"] * 2.0, "b": p["b"]}
    y = np.tanh(x @ p["W"] + p["b"])
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, p["b"])


def list_params(p, x):
    y = np.tanh(x @ p[0] + p[1])
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, p[0])


def test_keys_read_kept_rebound_dicts_and_lists_exact():
    rng = np.random.default_rng(8)
    W, b, x = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((2, 3))
    plain = lambda W_, b_, x_: np.sum(np.tanh(x_ @ W_ + b_) ** 2)     # noqa: E731
    _, gW, gb = dlfeval(both_keys, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    assert_close(np.asarray(gW.data), _fd(plain, [W, b, x], 0), 1e-6, 1e-7)
    assert_close(np.asarray(gb.data), _fd(plain, [W, b, x], 1), 1e-6, 1e-7)
    _, g = dlfeval(rebound_dict, {"W": dlarray(W), "b": dlarray(b)}, dlarray(x))
    assert_close(np.asarray(g.data), _fd(lambda W_, b_, x_: plain(2.0 * W_, b_, x_), [W, b, x], 1), 1e-6, 1e-7)
    _, g = dlfeval(list_params, [dlarray(W), dlarray(b)], dlarray(x))
    assert_close(np.asarray(g.data), _fd(plain, [W, b, x], 0), 1e-6, 1e-7)


def test_pass_keys_of_a_dict_parameter():
    fn = _function(
        "def s(p, g, h, c):\n"
        "    d_p = rt.index_adjoint(g, p, 'b')\n"                    # key b read by nothing: d_p = rt.ZERO
        "    d_p = rt.add_grad(d_p, rt.index_adjoint(h, p, 'W'))\n"
        "    d_q = rt.index_adjoint(g, p, 'b')\n"                    # read whole (the test): kept
        "    if d_q is not rt.ZERO:\n"
        "        c = c + 1\n"
        "    d_q = rt.add_grad(d_q, rt.index_adjoint(h, p, 'c'))\n"   # key c read by nothing: gone
        "    return rt.select_item(d_p, p, 'W'), rt.select_item(d_q, p, 'b'), c\n")
    remove_dead_adjoints(fn, frozenset({"d_p", "d_q"}), "rt", "np", _PURE_NP_CALLS, frozenset({"p"}))
    from sct.emit import to_source
    text = to_source([fn])
    assert "d_p = rt.ZERO" in text and "'W'))" in text and "'c'" not in text and "d_q = rt.index_adjoint(g, p, 'b')" in text
    from sct.rt_namespace import RT
    ns = {"rt": RT}
    exec(compile(ast.fix_missing_locations(gast.gast_to_ast(gast.Module(body=[fn], type_ignores=[]))), "<s>", "exec"), ns)
    got = ns["s"]({"W": 1.0, "b": 2.0, "c": 3.0}, 5.0, 7.0, 0)
    assert got == (7.0, 5.0, 1)
    # the same function not told p is a dict: nothing of it changes
    fn2 = _function(to_source([_function(
        "def s(p, g, h):\n"
        "    d_p = rt.index_adjoint(g, p, 'b')\n"
        "    d_p = rt.add_grad(d_p, rt.index_adjoint(h, p, 'W'))\n"
        "    return rt.select_item(d_p, p, 'W')\n")]).strip() + "\n")
    assert remove_dead_adjoints(fn2, frozenset({"d_p"}), "rt", "np", _PURE_NP_CALLS) == (0, False)


def rnn_step_W(p, state, x):
    h = np.tanh(x @ p["W"] + state["rnn"]["h"] @ p["U"])
    state["rnn"]["h"] = h
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, p["W"])


def test_accelerated_step_with_one_key_exact():
    W, U, x, h0 = _step_args(9)
    step = sct.dlaccelerate(rnn_step_W)
    for _ in range(2):                  # (the second call: the accelerated function's cached code)
        state = {"rnn": {"h": h0.copy()}}
        loss, g = dlfeval(step, {"W": dlarray(W), "U": dlarray(U)}, state, dlarray(x))
        assert_close(np.asarray(loss.data), _plain_step(W, U, h0, x), 1e-12, 1e-12)
        assert_close(np.asarray(state["rnn"]["h"]), np.tanh(x @ W + h0 @ U), 1e-12, 1e-12)
        assert_close(np.asarray(g.data), _fd(_plain_step, [W, U, h0, x], 0), 1e-6, 1e-7)
