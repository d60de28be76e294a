"""comp55 (red team red55u).

W1: a name sct makes for the user's (a comprehension's ``L`` lowered as ``L_1``) was not among the
names bound in the function, so normalizing read ``L_1.lin.v`` as a global's attribute chain
(``np.linalg``) and kept it whole; activity does not follow a chain, so the derivative through
``b.fc.W`` for b in a comprehension, generator, ``map``'s lambda body... was silently dropped (or
"y does not depend on any traced input" where nothing else reached the parameters).  A ``match``
capture (``case [L]:``, a string in the tree, not a Name) had the same fate.
"""
import dataclasses

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, fullyconnect
from gradcheck import D, assert_close, numerical_gradients


class A:
    def __init__(self, v, w):
        self.v = dlarray(v)
        self.d = {"W": dlarray(w)}


class B:
    def __init__(self, v, w):
        self.lin = A(v, w)


class C:
    def __init__(self, v, w):
        self.b = B(v, w)


class Deep:
    def __init__(self, v, w):
        self.c = C(v, w)


@dataclasses.dataclass
class DC:
    lin: A


def _pen(xs):
    return sum(np.sum(q.lin.v ** 2) for q in xs)


def deep2(ls): return sum(np.sum(L.lin.v ** 2) for L in ls)
def deep4(ls): return sum(np.sum(L.c.b.lin.v ** 2 * L.c.b.lin.d["W"]) for L in ls)
def sub(ls): return sum(np.sum(L.lin.d["W"] ** 3) for L in ls)
def nested(ls): return sum([np.sum(w ** 2) for L in ls for w in [L.lin.v, L.lin.d["W"]]])
def nested_vars(ls): return sum(np.sum(w * w) for L in ls for w in vars(L.lin).values() if not isinstance(w, dict))
def dict_comp(ls):
    d = {i: np.sum(L.lin.v ** 2) for i, L in enumerate(ls)}
    return d[0] + 2 * d[1]
def max_gen(ls): return max(np.sum(L.lin.v ** 2) for L in ls)
def stacked(ls): return np.sum(np.stack([L.lin.v ** 2 * L.lin.d["W"] for L in ls]))
def mapped(ls): return np.sum(sum(map(lambda L: L.lin.v ** 2, ls)))
def zipped(ls): return sum(np.sum(a.lin.v * b.lin.d["W"]) for a, b in zip(ls, ls[::-1]))
def filtered(ls): return sum(np.sum(L.lin.v) for L in ls if np.all(L.lin.v > -10))
def by_getattr(ls): return sum(np.sum(getattr(L, "lin").v ** 2) for L in ls)
def helper_in_loop(ls):
    t = 0
    for L in ls:
        t = t + _pen([L])
    return t
def captured(ls):
    match ls:
        case [L, *rest]:
            return np.sum(L.lin.v ** 2) + sum(np.sum(r.lin.v) for r in rest)
    return 0.0
def closure(ls):
    m = ls[1]
    def g():
        return np.sum(m.lin.v ** 3)
    return g() + sum(np.sum(L.lin.v) for L in ls)


PLAIN = [deep2, sub, nested, nested_vars, dict_comp, max_gen, stacked, mapped, zipped, filtered, by_getattr,
         helper_in_loop, captured, closure]
VALUES = [np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([-0.3, 1.5]), np.array([2.0, 0.7])]


def _make(cls):
    return lambda vals: [cls(vals[0], vals[1]), cls(vals[2], vals[3])]


def _check(fn, make, accelerate=False):
    def loss(ls):
        y = fn(ls)
        return y, dlgradient(y, ls)
    run = sct.accelerate(loss) if accelerate else loss
    y, g = dlfeval(run, make([v.copy() for v in VALUES]))
    plain = float(D(fn(make([v.copy() for v in VALUES]))))
    assert_close(D(y), plain, what="value")
    want = numerical_gradients(lambda vals: float(D(fn(make(vals)))), VALUES)
    leaf = (lambda o: o.c.b.lin) if isinstance(g[0], Deep) else (lambda o: o.lin)
    got = [leaf(g[0]).v, leaf(g[0]).d["W"], leaf(g[1]).v, leaf(g[1]).d["W"]]
    for k, (a, w) in enumerate(zip(got, want)):
        assert_close(D(a), w, what=f"gradient {k}")


@pytest.mark.parametrize("fn", PLAIN, ids=lambda f: f.__name__)
def test_field_of_field_in_comprehensions(fn):
    _check(fn, _make(B))


def test_four_levels_deep():
    _check(deep4, _make(Deep))


def test_dataclass_items():
    _check(deep2, lambda vals: [DC(A(vals[0], vals[1])), DC(A(vals[2], vals[3]))])


def test_accelerated():
    _check(stacked, _make(B), accelerate=True)


class FC:
    def __init__(self, W, b):
        self.W = dlarray(W)
        self.b = dlarray(b)


class Head:
    def __init__(self, W, b):
        self.head = FC(W, b)


X = np.array([[0.3, -0.2, 1.0], [0.4, -0.5, 0.8]])       # 2 observations, 3 channels


def _ensemble(ms):
    return np.stack([fullyconnect(X, m.head.W, m.head.b) for m in ms])


def test_ensemble_helper_and_inline():
    """W1_ensemble_zero_grad: a helper's list (all-zero gradient) and inline (refused)."""
    vals = [np.array([[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]]), np.array([0.1, -0.1]),
            np.array([[0.7, -0.2, 0.3], [0.0, 0.5, -0.6]]), np.array([0.2, 0.3])]
    make = lambda vs: [Head(vs[0], vs[1]), Head(vs[2], vs[3])]

    def plain(ms):
        return np.sum(np.tanh(_ensemble(ms)) ** 2)

    def helper(ms):
        y = np.sum(np.tanh(_ensemble(ms)) ** 2)
        return y, dlgradient(y, ms)

    def inline(ms):
        y = np.sum(np.tanh(np.stack([fullyconnect(X, m.head.W, m.head.b) for m in ms])) ** 2)
        return y, dlgradient(y, ms)
    want = numerical_gradients(lambda vs: float(D(plain(make(vs)))), vals)
    for f in (helper, inline, sct.accelerate(helper)):
        y, g = dlfeval(f, make([v.copy() for v in vals]))
        assert_close(D(y), float(D(plain(make(vals)))))
        got = [g[0].head.W, g[0].head.b, g[1].head.W, g[1].head.b]
        for a, w in zip(got, want):
            assert_close(D(a), w)


class Block:
    def __init__(self, W):
        self.fc = FC(W, np.zeros(W.shape[0]))

    def __call__(self, x):
        return np.tanh(fullyconnect(x, self.fc.W, self.fc.b))


class Model:
    def __init__(self, W0, W1):
        self.blocks = [Block(W0), Block(W1)]

    def __call__(self, x):
        for b in self.blocks:
            x = b(x)
        return x

    def l2(self):
        return sum(np.sum(b.fc.W ** 2) for b in self.blocks)


def test_method_l2_penalty():
    """W1b: a model's ``l2`` method, ``sum(np.sum(b.fc.W ** 2) for b in self.blocks)``: lost +0.2 W."""
    x = np.ones((3, 2))

    def plain(m):
        return np.sum(m(x) ** 2) + 0.1 * m.l2()

    def loss(m):
        y = plain(m)
        return y, dlgradient(y, m)
    vals = [np.eye(2), np.array([[2.0, 0.5], [-0.3, 1.0]])]
    y, g = dlfeval(loss, Model(*vals))
    assert_close(D(y), float(D(plain(Model(*vals)))))
    want = numerical_gradients(lambda vs: float(D(plain(Model(*vs)))), vals)
    assert_close(D(g.blocks[0].fc.W), want[0])
    assert_close(D(g.blocks[1].fc.W), want[1])


def test_global_named_like_the_made_name():
    """A module global that has the name sct makes for the comprehension's variable (``L_1``) is not read."""
    _check(deep2_global_clash, _make(B))


L_1 = B(np.array([100.0, 100.0]), np.array([100.0, 100.0]))


def deep2_global_clash(ls):
    return sum(np.sum(L.lin.v ** 2) for L in ls)


# --- W2: returned types as Python leaves them ---------------------------------------------------

XM = np.arange(6.0).reshape(3, 2)
LABELS = np.array([1, 0, 1])


def _metrics(y):
    pred = np.argmax(y, axis=1)
    return np.mean(pred == LABELS), float(np.mean(pred == LABELS)), np.sum(pred == LABELS), (y > 2).mean()


def _with_metrics(w):
    y = XM * w
    loss = np.sum(y ** 2)
    return (loss, dlgradient(loss, w)) + _metrics(y)


def _accuracy(w):
    y = XM * w
    acc = np.mean(np.argmax(y, 1) == np.argmax(np.eye(2)[LABELS], axis=1))
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, w), acc


@pytest.mark.parametrize("accelerate", [False, True])
def test_metric_types_as_python(accelerate):
    w = dlarray(np.array([1.0, 1.5]))
    plain = _metrics(XM * w)
    got = dlfeval(sct.accelerate(_with_metrics) if accelerate else _with_metrics, w)
    assert [type(a) for a in got[2:]] == [type(a) for a in plain]
    for a, b in zip(got[2:], plain):
        assert_close(D(a), D(b))
    acc = dlfeval(sct.accelerate(_accuracy) if accelerate else _accuracy, w)[2]
    want = np.mean(np.argmax(XM * w, 1) == LABELS)
    assert type(acc) is type(want) is np.float64 and acc == want


def test_rebound_global_compiles_anew():
    """The type read from a global (``LABELS``) is guarded: a dlarray there later gives what Python gives."""
    global LABELS
    w = dlarray(np.array([1.0, 1.5]))
    saved = LABELS
    try:
        assert type(dlfeval(_with_metrics, w)[2]) is np.float64
        LABELS = dlarray(np.array([1.0, 0.0, 1.0]))
        got, plain = dlfeval(_with_metrics, w)[2:], _metrics(XM * w)
        assert [type(a) for a in got] == [type(a) for a in plain]
        assert type(got[0]) is dlarray
    finally:
        LABELS = saved


# --- C1: text and flags among the parameters -------------------------------------------------------

def _fc_loss(p, x):
    l = np.sum(fullyconnect(x, p["W"], p["b"]) ** 2)
    return l, dlgradient(l, p)


@pytest.mark.parametrize("opt", ["sgdm", "adam", "rmsprop", "dlupdate"])
def test_updaters_pass_settings_through(opt):
    """``{"type": "fc", "W": ..., "b": ...}``: dlgradient gives the text back, the updaters leave it (and a flag) as
    it is and update the arrays as without it (was: TypeError "params['type']: cannot update a str")."""
    x = np.array([[1.0, 0.5, -0.2], [0.3, -1.0, 2.0]])
    W, b = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]), np.array([0.1, -0.1])
    with_text = {"type": "fc", "W": dlarray(W), "b": dlarray(b), "bias": True}
    arrays = {"W": dlarray(W), "b": dlarray(b)}
    step = {"sgdm": lambda p, g, s: sct.sgdmupdate(p, g, s), "adam": lambda p, g, s: sct.adamupdate(p, g, *s, 1),
            "rmsprop": lambda p, g, s: sct.rmspropupdate(p, g, s),
            "dlupdate": lambda p, g, s: (sct.dlupdate(lambda w, d: w - 0.1 * d, p, g),)}[opt]
    states = {}
    for name, p in (("text", with_text), ("arrays", arrays)):
        _, g = dlfeval(_fc_loss, p, x)
        if name == "text":
            assert g["type"] == "fc"
        out = step(p, g, (None, None) if opt == "adam" else None)
        states[name] = out[0]
    assert states["text"]["type"] == "fc" and states["text"]["bias"] is True
    for k in ("W", "b"):
        assert_close(D(states["text"][k]), D(states["arrays"][k]))
        assert not np.allclose(D(states["arrays"][k]), W if k == "W" else b)        # (a step was taken)


def test_text_against_an_array_is_refused():
    """A text parameter whose gradient or state holds something else (structures that do not match): refused."""
    with pytest.raises(TypeError, match=r"params\['type'\] is the text 'fc'.*holds a ndarray"):
        sct.sgdmupdate({"type": "fc", "W": np.ones(2)}, {"type": np.ones(3), "W": np.ones(2)}, None)
