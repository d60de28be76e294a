"""Red team 53h's false refusals and internal error (/work/red53h_report.md), fixed exactly: every value is
plain Python's, every gradient central differences of the plain program; what stays refused names the
user's line and the user's names."""
import dataclasses
import types

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import D, numerical_gradient

X = np.array([0.3, -0.5, 0.7])
V = np.array([1.0, 0.5, -0.2])


def _fd(F, x, h=1e-6):
    return numerical_gradient(lambda a: float(F(a)), [np.array(x, dtype=float)], 0, h)


def _close(a, b, tol=1e-6):
    np.testing.assert_allclose(D(a), np.asarray(b, dtype=float), rtol=tol, atol=tol)


# --- FR2: a local (or argument) container handed to a helper, then written ---------------------------

def helper(x, d):
    return np.sum(np.sin(x * d["c"]) * x ** 2)


def helper_l(x, L):
    return np.sum(np.sin(x * L[0]) * x ** 2)


def helper_loc(x, d):
    c = d["c"]
    t = np.sin(x * c)
    return np.sum(t * x ** 2) + d.get("k", 0.0)


def plain(x, c=1.0):
    return np.sum(np.sin(x * c) * x ** 2)


def fr2_counter(x):
    cfg = {"c": 1.0, "n": 0}
    y = helper(x, cfg)
    cfg["n"] += 1
    return y, dlgradient(y, x), cfg["n"]


def fr2_after_gradient(x):
    d = {"c": 1.0}
    y = helper(x, d)
    g = dlgradient(y, x)
    d["c"] = 3.0
    return y, g, d["c"]


def fr2_update(x):
    d = {"c": 1.0}
    y = helper(x, d)
    d.update(n=1)
    return y, dlgradient(y, x), d["n"]


def fr2_list_append(x):
    L = [1.0]
    y = helper_l(x, L)
    L.append(2.0)
    return y, dlgradient(y, x), len(L)


def fr2_list_set(x):
    L = [1.0, 0]
    y = helper_l(x, L)
    L[1] = 5
    return y, dlgradient(y, x), L[1]


def fr2_arg_dict(x, d):
    y = helper(x, d)
    d["n"] = d.get("n", 0) + 1
    return y, dlgradient(y, x), d["n"]


@pytest.mark.parametrize("f,extra,last", [(fr2_counter, (), 1), (fr2_after_gradient, (), 3.0),
                                          (fr2_update, (), 1), (fr2_list_append, (), 2), (fr2_list_set, (), 5)])
def test_fr2_local_container_written_after_helper(f, extra, last):
    # was: "writing into cfg[...] ... y holds it (it was put in a list, dict or object ...)"
    y, g, n = dlfeval(f, dlarray(X), *extra)
    _close(y, plain(X))
    _close(g, _fd(plain, X))
    assert n == last


def test_fr2_argument_dict_written_after_helper():
    d = {"c": 1.0}
    y, g, n = dlfeval(fr2_arg_dict, dlarray(X), d)
    _close(y, plain(X))
    _close(g, _fd(plain, X))
    assert n == 1 and d == {"c": 1.0, "n": 1}        # the caller's dict changed, as in Python


def fr2_read_again(x):
    cfg = {"c": 1.0}
    y = helper_loc(x, cfg)
    cfg["k"] = 3.0
    cfg["c"] = 2.0
    s = y * helper_loc(x, cfg)
    return s, dlgradient(s, x)


def test_fr2_written_then_read_again_through_helper():
    F = lambda x: plain(x) * (plain(x, 2.0) + 3.0)      # noqa: E731
    s, g = dlfeval(fr2_read_again, dlarray(X))
    _close(s, F(X))
    _close(g, _fd(F, X))


def fr2_forward(x):
    d = {"c": 1.0}
    y = helper_loc(x, d)
    d["c"] = 3.0
    return y + helper_loc(x, d)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_fr2_jvp(mode):
    F = lambda x: plain(x) + plain(x, 3.0)              # noqa: E731
    y, t = sct.jvp(fr2_forward, (X,), (V,), mode=mode)
    _close(y, F(X))
    _close(t, _fd(F, X) @ V)


def test_fr2_hvp():
    F = lambda x: plain(x) + plain(x, 3.0)              # noqa: E731
    H = np.array([_fd(lambda a: _fd(F, a, 1e-6)[i], X, 1e-4) for i in range(3)])
    _close(sct.hvp(fr2_forward, X, V), H @ V, 1e-5)


def helper_item(x, d):
    return d["a"]


def fr2_returns_the_item(x):
    d = {"a": x * 2.0}
    y = helper_item(x, d)
    d["a"][0] = 5.0           # y is d["a"]: its change must be seen, or refused
    s = np.sum(y * x)
    return s, dlgradient(s, x)


def test_fr2_helper_returning_an_item_still_refused():
    with pytest.raises(sct.CompileError, match=r"line \d+: writing into d\['a'\]"):
        dlfeval(fr2_returns_the_item, dlarray(X))


# --- FR4: a gradient with respect to each item of a tuple or list display walked ---------------------

W = np.array([[0.5, -0.2], [0.1, 0.3]])
A0, A1 = np.array([[0.2, 0.4]]), np.array([[-0.3, 0.1]])


def _tanh_grad(x):
    t = np.tanh(x @ W)
    return (2 * t * (1 - t ** 2)) @ W.T


def fr4_tuple(X0, X1):
    gs = []
    for x in (X0, X1):
        gs.append(dlgradient(np.sum(np.tanh(x @ W) ** 2), x))
    return gs


def fr4_list(X0, X1):
    gs = []
    for x in [X0, X1]:
        gs.append(dlgradient(np.sum(np.tanh(x @ W) ** 2), x))
    return gs


@pytest.mark.parametrize("f", [fr4_tuple, fr4_list])
def test_fr4_loop_over_a_display_of_inputs(f):
    # was: "cannot differentiate with respect to 'x': ... a value that 'seq_t' holds too"
    g0, g1 = dlfeval(f, dlarray(A0), dlarray(A1))
    F = lambda a: np.sum(np.tanh(a @ W) ** 2)          # noqa: E731
    _close(g0, _fd(F, A0))
    _close(g1, _fd(F, A1))
    _close(g0, _tanh_grad(A0))


def fr4_reads_the_input_too(X0, X1):
    gs = []
    for x in (X0, X1):
        gs.append(dlgradient(np.sum(np.tanh(x @ W) ** 2 * X0), x))
    return gs


def test_fr4_display_item_read_elsewhere_refused_with_users_names():
    # (y reads X0 besides x: the gradient with respect to x, X0 in the first pass, has those uses too)
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fr4_reads_the_input_too, dlarray(A0), dlarray(A1))
    message = str(info.value)
    assert "line" in message and "seq_t" not in message and "(X0, X1)" in message


# --- FR1: a MAML step writing an item of the updated parameters -----------------------------------

XM = np.array([[1.0, 2.0], [0.5, -1.0], [0.3, 0.7]])
YM = np.array([0.1, -0.2, 0.3])


def inner_loss(w):
    return np.mean((np.tanh(XM @ w) - YM) ** 2)


def maml_item(w):
    p = w
    for i in range(2):
        g = dlgradient(inner_loss(p), p, EnableHigherDerivatives=True)
        p = p - 0.5 * g
        p[0] = p[0] * 0.9
    L = inner_loss(p)
    return L, dlgradient(L, w)


def maml_item_q(w):
    p = w
    for i in range(2):
        g = dlgradient(inner_loss(p), p, EnableHigherDerivatives=True)
        q = p - 0.5 * g
        q[0] = q[0] * 0.9
        p = q
    L = inner_loss(p)
    return L, dlgradient(L, w)


def maml_item_copy(w):
    p = w
    for i in range(2):
        g = dlgradient(inner_loss(p), p, EnableHigherDerivatives=True)
        p = (p - 0.5 * g).copy()
        p[0] = p[0] * 0.9
    L = inner_loss(p)
    return L, dlgradient(L, w)


def _plain_maml(w):
    p = np.array(w, dtype=float)
    for i in range(2):
        t = np.tanh(XM @ p)
        g = XM.T @ (2 * (t - YM) * (1 - t ** 2)) / len(YM)
        p = p - 0.5 * g
        p[0] = p[0] * 0.9
    return inner_loss(p)


@pytest.mark.parametrize("f", [maml_item, maml_item_q, maml_item_copy])
def test_fr1_maml_item_write(f):
    # was: "cannot differentiate with respect to 'p' ... a list, dict or object ... filled ... from 'p_1'"
    w = np.array([0.3, -0.2])
    L, g = dlfeval(f, dlarray(w))
    _close(L, _plain_maml(w))
    _close(g, _fd(_plain_maml, w), 1e-5)


# --- C1: jvp of a dataclass or object primal --------------------------------------------------------

@dataclasses.dataclass
class Params:
    W: np.ndarray
    b: np.ndarray


def of_params(p):
    return np.tanh(p.W * 2.0 + p.b)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_c1_jvp_dataclass_primal_refused_cleanly(mode):
    p = Params(np.array([0.1, 0.2]), np.array([0.3, -0.1]))
    with pytest.raises(sct.SctError, match="jvp: a primal is a dataclass of class Params; primals are arrays"):
        sct.jvp(of_params, (p,), (p,), mode=mode)
    o = types.SimpleNamespace(W=p.W, b=p.b)
    with pytest.raises(sct.SctError, match="jvp: a primal is an object of class SimpleNamespace"):
        sct.jvp(of_params, (o,), (o,))
    # (numbers of numpy's and Python's still run)
    y, t = sct.jvp(lambda x: x * 3.0, (np.float32(2.0),), (1.0,))
    assert float(D(y)) == 6.0 and float(D(t)) == 3.0


# --- FR4 in a comprehension: ``[dlgradient(f(x), x) for x in xs]`` ----------------------------------

def fr4_comprehension(xs):
    return [dlgradient(np.sum(np.tanh(x @ W) ** 2), x) for x in xs]


def fr4_comprehension_tuple(X0, X1):
    return [dlgradient(np.sum(np.tanh(x @ W) ** 2), x) for x in (X0, X1)]


def test_fr4_comprehension_over_inputs():
    # was: "cannot differentiate with respect to 'seq_as_sequence' or what it holds"
    F = lambda a: np.sum(np.tanh(a @ W) ** 2)          # noqa: E731
    for g0, g1 in (dlfeval(fr4_comprehension, [dlarray(A0), dlarray(A1)]),
                   dlfeval(fr4_comprehension_tuple, dlarray(A0), dlarray(A1))):
        _close(g0, _fd(F, A0))
        _close(g1, _fd(F, A1))


def fr4_comprehension_reads_list(xs):
    return [dlgradient(np.sum(np.tanh(x @ W) ** 2) + np.sum(xs[0] * 3.0), x) for x in xs]


def test_fr4_comprehension_reading_the_list_refused_with_users_names():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(fr4_comprehension_reads_list, [dlarray(A0), dlarray(A1)])
    message = str(info.value)
    assert "line" in message and "'x'" in message and "x_1" not in message and "seq_" not in message


# --- FR4: ``for k, p in P.items(): dlgradient(L, p)`` ---------------------------------------------

def fr4_items(P):
    L = np.sum(np.tanh(P["a"] @ W) ** 2) + np.sum(np.tanh(P["b"] @ W) ** 2)
    out = {}
    for k, p in P.items():
        out[k] = dlgradient(L, p)
    return out


def fr4_items_inside(P):
    out = {}
    for k, p in P.items():
        y = np.sum(p ** 2) + np.sum(np.sin(P["a"]))
        out[k] = dlgradient(y, p)       # p is P[k]: for "a", the uses through P["a"] count
    return out


def fr4_items_written(P):
    out = {}
    for k, p in P.items():
        P[k] = p * 2.0
        y = np.sum(P["a"] ** 2)
        out[k] = dlgradient(y, p)
    return out


def test_fr4_items_of_a_dict_argument():
    # was: "cannot differentiate with respect to 'p': on line ... a value that 'P' holds too"
    F = lambda a: np.sum(np.tanh(a @ W) ** 2)          # noqa: E731
    g = dlfeval(fr4_items, {"a": dlarray(A0), "b": dlarray(A1)})
    _close(g["a"], _fd(F, A0))
    _close(g["b"], _fd(F, A1))
    a, b = np.array([0.2, 0.4]), np.array([-0.3, 0.1])
    g = dlfeval(fr4_items_inside, {"a": dlarray(a), "b": dlarray(b)})
    _close(g["a"], _fd(lambda v: np.sum(v ** 2) + np.sum(np.sin(v)), a))
    _close(g["b"], _fd(lambda v: np.sum(v ** 2) + np.sum(np.sin(a)), b))
    with pytest.raises(sct.CompileError, match=r"line \d+: dlgradient"):
        dlfeval(fr4_items_written, {"a": dlarray(a), "b": dlarray(b)})


def fr2_other_key_list(x):
    d = {"c": 1.0, "log": []}
    y = helper(x, d)
    d["log"].append(1)
    return y, dlgradient(y, x), len(d["log"])


def helper_list_of(x, d):
    return d["log"] * 2


def fr2_helper_makes_a_list(x):
    d = {"c": 1.0, "log": [1.0, 2.0]}
    t = helper_list_of(x, d)
    d["log"].append(3.0)
    y = helper(x, d) * len(t)
    return y, dlgradient(y, x), t


def test_fr2_dict_with_a_list_item_written_after_helper():
    y, g, n = dlfeval(fr2_other_key_list, dlarray(X))
    _close(y, plain(X))
    _close(g, _fd(plain, X))
    assert n == 1
    y, g, t = dlfeval(fr2_helper_makes_a_list, dlarray(X))
    _close(y, 4 * plain(X))
    _close(g, 4 * _fd(plain, X))
    assert t == [1.0, 2.0, 1.0, 2.0]       # a new list: the append did not change it


# --- messages name the user's values, not the normalizer's ----------------------------------------

def h_ret_view(x, d):
    d["h"] = x * 2.0
    return d["h"][:]


def msg_view(x):
    d = {}
    y = h_ret_view(x, d)
    d["h"][0] = 5.0
    s = np.sum(y ** 2) + np.sum(np.sin(x))
    return s, dlgradient(s, x)


def helper_nested(x, d):
    return np.sum(np.sin(x * d["c"][0]) * x ** 2)


def msg_helper_result(x):
    d = {"c": [1.0, [2.0]]}
    y = helper_nested(x, d)
    d["c"].append(3.0)
    return y, dlgradient(y, x)


def test_messages_name_no_generated_value():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(msg_view, dlarray(X))
    assert "line" in str(info.value) and "out_t" not in str(info.value) and "y is a view or an item of" in \
        str(info.value)
    # (a helper's result, not "put in a list, dict or object")
    with pytest.raises(sct.CompileError, match=r"line \d+: d\['c'\]\.append\(\.\.\.\) .* y may hold it \(y is the "
                                               r"result of helper_nested\(\), a call given it"):
        dlfeval(msg_helper_result, dlarray(X))


# --- FR3: MAML over a list of tasks: the loop's own limit said with the first refusal ------------------

def maml_tasks(P, tasks):
    total = 0.0
    for (xs, ys) in tasks:
        fast = P
        L = np.mean((np.tanh(xs @ fast["w"]) - ys) ** 2)
        gs = dlgradient(L, fast, EnableHigherDerivatives=True)
        fast = {k: fast[k] - 0.1 * gs[k] for k in fast}
        total = total + np.mean((np.tanh(xs @ fast["w"]) - ys) ** 2)
    return total, dlgradient(total, P)


def test_fr3_maml_over_tasks_names_the_loop_limit():
    tasks = [(XM, YM), (XM * 0.5, YM)]
    with pytest.raises(sct.CompileError, match=r"line \d+: dlgradient: cannot differentiate .*Note too: a gradient "
                                               r"computed inside a loop can be differentiated again only where the "
                                               r"loop is `for i in range\(n\)`"):
        dlfeval(maml_tasks, {"w": dlarray(np.array([0.3, -0.2]))}, tasks)
