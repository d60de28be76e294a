"""The optimiser's statement removal keeps the user's statements that may run user code or raise
(red team opt53, F1-F3: with SCT_OPTIMIZE=1, ``prune_dead`` (a helper's forward whose value is only
seeded, sct.hvp's forward) and ``dead_assignments`` removed user reads as effect-free).

Every value is checked against plain Python, every gradient against central differences of the
plain function, every exception against the one Python raises."""
import collections

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

X = np.array([0.3, -0.7, 1.1])
V = np.array([1.0, 2.0, -0.5])


@pytest.fixture(autouse=True)
def _optimised(monkeypatch):
    monkeypatch.setenv("SCT_OPTIMIZE", "1")
    sct.clear_cache()
    yield
    sct.clear_cache()


def central(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# --- F3: a helper whose value is only seeded ------------------------------------------------------

def loss_defaultdict(x):
    d = collections.defaultdict(float)
    _ = d["a"]                          # inserts "a": len(d) is 1
    return np.sum(x ** 3) * len(d)


def seeded_defaultdict(x):
    s = loss_defaultdict(x)
    return dlgradient(s, x)


class Counting(dict):
    def __getitem__(self, k):
        self.hits = getattr(self, "hits", 0) + 1
        return 1.0


def loss_counting(x):
    d = Counting()
    _ = d["a"]
    _ = d["b"]
    return np.sum(x ** 3) * d.hits


def seeded_counting(x):
    s = loss_counting(x)
    return dlgradient(s, x)


class Less:
    def __init__(self):
        self.n = 1

    def __lt__(self, other):
        self.n += 1
        return True


def loss_less(x):
    c = Less()
    _ = c < 1
    return np.sum(x ** 3) * c.n


def seeded_less(x):
    s = loss_less(x)
    return dlgradient(s, x)


@pytest.mark.parametrize("loss, seeded", [(loss_defaultdict, seeded_defaultdict),
                                          (loss_counting, seeded_counting),
                                          (loss_less, seeded_less)])
def test_seeded_helper_keeps_user_reads(loss, seeded):
    # was: zeros (defaultdict, counting __getitem__) or half the gradient (__lt__)
    got = np.asarray(dlfeval(seeded, dlarray(X)))
    np.testing.assert_allclose(got, central(loss, X), rtol=1e-6, atol=1e-8)


def loss_index(x):
    y = np.array([1.0, 2.0, 3.0])
    _ = y[7]
    return np.sum(x ** 3)


def seeded_index(x):
    s = loss_index(x)
    return dlgradient(s, x)


def loss_reshape(x):
    _ = np.reshape(x, (5,))
    return np.sum(x ** 3)


def seeded_reshape(x):
    s = loss_reshape(x)
    return dlgradient(s, x)


def loss_matmul(x):
    _ = x @ np.ones(4)
    return np.sum(x ** 3)


def seeded_matmul(x):
    s = loss_matmul(x)
    return dlgradient(s, x)


@pytest.mark.parametrize("loss, seeded", [(loss_index, seeded_index), (loss_reshape, seeded_reshape),
                                          (loss_matmul, seeded_matmul)])
def test_seeded_helper_raises_like_python(loss, seeded):
    # was: a gradient, the exception gone
    with pytest.raises(Exception) as plain:
        loss(X)
    with pytest.raises(Exception) as got:
        dlfeval(seeded, dlarray(X))
    assert type(plain.value).__name__ in str(got.value), str(got.value)
    assert "_ = " in str(got.value)


# --- F1: sct.hvp's forward ------------------------------------------------------------------------

def test_hvp_keeps_defaultdict_read():
    # was: zeros
    got = np.asarray(sct.hvp(loss_defaultdict, X, V))
    np.testing.assert_allclose(got, 6 * X * V, rtol=1e-12)


def hvp_index(x):
    y = [1.0, 2.0]
    _ = y[5]
    return np.sum(x ** 3)


def test_hvp_raises_like_python():
    # was: a Hessian-vector product, the IndexError gone
    with pytest.raises(Exception, match="IndexError"):
        sct.hvp(hvp_index, X, V)


def rosen(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


@pytest.mark.parametrize("n", [5, 3000])
def test_hvp_rosen_against_differences(n):
    # the adjoint's primal statements kept where the forward keeps more: ``rt.type_only`` must not
    # stand in for a name whose value a tangent statement reads (shared Name nodes)
    x = np.linspace(-1.0, 1.0, n)
    v = np.cos(np.arange(n))
    h = 1e-5
    expected = (rosen_grad(x + h * v) - rosen_grad(x - h * v)) / (2 * h)
    got = np.asarray(sct.hvp(rosen, x, v))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)


# --- F2: dead_assignments and names that may be unbound ----------------------------------------

def unbound_local(x):
    if x.shape[0] > 5:
        y = 1.0
    t = y       # noqa: F841 (UnboundLocalError in Python)
    s = np.sum(x ** 2)
    return s, dlgradient(s, x)


def undefined_global(x):
    t = no_such_global_s53      # noqa: F821,F841 (NameError in Python)
    s = np.sum(x ** 2)
    return s, dlgradient(s, x)


@pytest.mark.parametrize("fn, error", [(unbound_local, "UnboundLocalError"), (undefined_global, "NameError")])
def test_dead_read_of_unbound_name_raises(fn, error):
    # was: a value and a gradient
    with pytest.raises(Exception) as got:
        dlfeval(fn, dlarray(X))
    assert error in str(got.value) and "t = " in str(got.value), str(got.value)


def bound_copy(x):
    y = x * 2.0
    t = y       # noqa: F841 (dead, bound: removed, nothing changes)
    s = np.sum(y ** 2)
    return s, dlgradient(s, x)


def test_dead_copy_of_bound_name():
    s, g = dlfeval(bound_copy, dlarray(X))
    np.testing.assert_allclose(float(np.asarray(s)), np.sum((2 * X) ** 2), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), central(lambda x: np.sum((2 * x) ** 2), X), rtol=1e-6)


def test_prune_dead_user_code_by_default():
    # the pass itself: a user's subscript/arithmetic/comparison/numpy call stays; a dead copy of a
    # bound name, an ``is`` test and sct's own runtime helpers go; tangents named as such are sct's own
    import gast
    from sct import optimize as opt
    fn = gast.parse("""
def f(x, d, dot_x):
    a = d["a"]
    b = x + 1
    c = x < 1
    e = np.reshape(x, (5,))
    k = x
    z = rt.zero_adjoint(x)
    q = x is None
    dot_b = dot_x * 2
    return None
""").body[0]
    opt.prune_dead(fn, {"rt"}, "np", frozenset({"dot_b"}))
    text = "\n".join(gast.dump(s) for s in fn.body)
    for kept in ("'a'", "Add", "Lt", "reshape"):
        assert kept in text, kept
    for gone in ("id='k'", "zero_adjoint", "id='q'", "id='dot_b'"):
        assert gone not in text, gone
