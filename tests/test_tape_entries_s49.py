"""A sweep is handed only what it reads, and the forward keeps on its tape only what some sweep pops
(Issue 8: "tape entries only for values the adjoint reads").

* A layer writing constant fields (a batch norm's running mean, a call counter) on an object whose
  gamma is traced: the adjoints of those writes ran on the zero marker and read the forward's
  ``self_mul``, ``self_mul_1``, ``self_n`` only for that, so the sweep was handed them
  (sct/optimize.py ``ZeroFacts.fields``: an object's adjoint made by ``rt.attribute_adjoint`` holds
  only that field, so ``rt.getattr_or_zero`` of another is the marker).
* A gradient with respect to a value an earlier loop does not reach: the sweep walked that loop's
  tape (``for _ in range(n_i): tape.pop()``) and was handed ``n_i`` and a copy of the tape, the
  forward pushed for it (sct/tape_entries.py: trailing walks dropped, then the tape and counters).

Each case: every parameter of every sweep is read by its body, the names above are gone, and the
values and gradients are plain Python's / central differences of the same code run by numpy."""
import ast

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import D, numerical_gradient

pytestmark = pytest.mark.usefixtures("fresh_cache")

R = np.random.default_rng(49)
X = R.standard_normal((4, 2))
W0 = np.array([[0.3, -0.5], [0.8, 0.2]])
G0 = np.array([1.5, 0.7])
A0, B0, C0 = (R.standard_normal(3) for _ in range(3))


def sweeps(source):
    """{name: (parameters, the names its body reads)} of each dlgradient sweep in ``source``."""
    out = {}
    for fn in ast.parse(source).body:
        if isinstance(fn, ast.FunctionDef) and "_dlgradient_line" in fn.name:
            read = {n.id for s in fn.body for n in ast.walk(s) if isinstance(n, ast.Name) and
                    isinstance(n.ctx, ast.Load)}
            out[fn.name] = ([a.arg for a in fn.args.args], read)
    assert out, source
    return out


def assert_reads_all(source):
    for name, (params, read) in sweeps(source).items():
        assert [p for p in params if p not in read] == [], (name, source)


# --- a batch-norm layer's constant fields ----------------------------------------------------------

class BatchNorm:
    def __init__(self, gamma):
        self.gamma = gamma
        self.running_mean = np.zeros(2)
        self.n = 0

    def __call__(self, h):
        mu = h.mean(axis=0)
        self.running_mean = 0.9 * self.running_mean + 0.1 * extractdata(mu)
        self.n += 1
        return self.gamma * (h - mu)


class Net:
    def __init__(self, W, gamma):
        self.W = W
        self.bn = BatchNorm(gamma)

    def __call__(self, x):
        return self.bn(x @ self.W)


def net_loss(net, x):
    loss = np.sum(np.tanh(net(x)))
    return loss, dlgradient(loss, net.W, net.bn.gamma)


def plain_net(W, g, x=X):
    h = x @ W
    return float(np.sum(np.tanh(g * (h - h.mean(axis=0)))))


def test_batch_norm_sweep_is_handed_only_what_it_reads():
    source = sct.source(net_loss, Net(dlarray(W0), dlarray(G0)), X)
    assert_reads_all(source)
    (params, _), = sweeps(source).values()
    assert not {"self_mul", "self_mul_1", "self_n", "self_running_mean"} & set(params), params
    assert "getattr_or_zero" not in source and "drop_attribute" not in source


def test_batch_norm_values_gradients_and_state():
    net = Net(dlarray(W0), dlarray(G0))
    running = np.zeros(2)
    for calls in (1, 2):
        loss, (gW, gg) = dlfeval(net_loss, net, X)
        running = 0.9 * running + 0.1 * (X @ W0).mean(axis=0)
        assert float(D(loss)) == pytest.approx(plain_net(W0, G0), rel=1e-12)
        np.testing.assert_allclose(net.bn.running_mean, running, rtol=1e-12)
        assert net.bn.n == calls and type(net.bn.n) is int
        np.testing.assert_allclose(D(gW), numerical_gradient(plain_net, [W0.copy(), G0.copy()], 0), rtol=1e-6,
                                   atol=1e-9)
        np.testing.assert_allclose(D(gg), numerical_gradient(plain_net, [W0.copy(), G0.copy()], 1), rtol=1e-6,
                                   atol=1e-9)


class Counted:
    """Constant fields written on each call and read back (the scale): their adjoints are spent on
    each write, twice per loss; the traced field ``w`` is read only."""
    def __init__(self, w):
        self.w = w
        self.calls = 0
        self.scale = 1.0

    def __call__(self, x):
        self.calls = self.calls + 1
        self.scale = 0.5 * self.scale + 0.25 * self.calls
        return np.sin(self.w * x) * self.scale


def counted_loss(m, x):
    y = np.sum(m(x)) + np.sum(m(x) ** 2)
    return y, dlgradient(y, m.w)


def plain_counted(w, x=A0):
    y1 = np.sin(w * x) * 0.75           # scale 0.5 * 1.0 + 0.25 * 1
    y2 = np.sin(w * x) * 0.875          # 0.5 * 0.75 + 0.25 * 2
    return float(np.sum(y1) + np.sum(y2 ** 2))


def test_fields_written_twice_and_read_back():
    assert_reads_all(sct.source(counted_loss, Counted(dlarray(B0)), A0))
    m = Counted(dlarray(B0))
    y, g = dlfeval(counted_loss, m, A0)
    assert float(D(y)) == pytest.approx(plain_counted(B0), rel=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(plain_counted, [B0.copy()], 0), rtol=1e-6, atol=1e-9)
    assert m.calls == 2 and m.scale == 0.875


# --- tape walks no adjoint reads --------------------------------------------------------------------

def two_sites(x, w, b):
    s = x
    for i in range(4):
        s = np.tanh(s * w) + 0.1
    y = np.sum(s ** 2) + np.sum(np.sin(b))
    ga = dlgradient(y, w)
    gb = dlgradient(y, b)
    return y, ga, gb


def plain_two_sites(x, w, b):
    s = x
    for i in range(4):
        s = np.tanh(s * w) + 0.1
    return float(np.sum(s ** 2) + np.sum(np.sin(b)))


def only_b(x, b):
    s = x
    for i in range(3):
        if s[0] > 0:
            s = s * 0.5
        else:
            s = s + 1.0
    y = np.sum(s ** 2) + np.sum(np.sin(b))
    return y, dlgradient(y, b)


def plain_only_b(x, b):
    s = x
    for i in range(3):
        s = s * 0.5 if s[0] > 0 else s + 1.0
    return float(np.sum(s ** 2) + np.sum(np.sin(b)))


def walked_then_read(x, v):
    s = x
    for i in range(3):
        s = np.sin(s) * 0.9 + v
    u = v
    for j in range(3):
        u = np.tanh(u + 0.5)
    y = np.sum(u ** 2) + 0.1 * np.sum(s)
    gu = dlgradient(np.sum(u), v)
    return y, gu, dlgradient(y, x)


def plain_walked_then_read(x, v):
    s = x
    for i in range(3):
        s = np.sin(s) * 0.9 + v
    u = v
    for j in range(3):
        u = np.tanh(u + 0.5)
    return float(np.sum(u ** 2) + 0.1 * np.sum(s))


def plain_u(x, v):
    u = v
    for j in range(3):
        u = np.tanh(u + 0.5)
    return float(np.sum(u))


def test_second_site_takes_no_tape():
    source = sct.source(two_sites, dlarray(A0), dlarray(B0), dlarray(C0))
    assert_reads_all(source)
    found = sweeps(source)
    (w_params, _), (b_params, _) = (found[k] for k in sorted(found, key=lambda k: int(k.rsplit("line", 1)[1])))
    assert "tape" in w_params and "tape" not in b_params and "n_i" not in b_params, (w_params, b_params)
    y, gw, gb = dlfeval(two_sites, dlarray(A0), dlarray(B0), dlarray(C0))
    assert float(D(y)) == pytest.approx(plain_two_sites(A0, B0, C0), rel=1e-12)
    for k, g in ((1, gw), (2, gb)):
        np.testing.assert_allclose(D(g), numerical_gradient(plain_two_sites, [A0, B0, C0], k), rtol=1e-6,
                                   atol=1e-9)


def test_forward_keeps_no_tape_nobody_walks():
    source = sct.source(only_b, dlarray(A0), dlarray(B0))
    assert_reads_all(source)
    assert "tape" not in source and "n_i" not in source, source
    for x in (A0, -np.abs(A0) - 0.5):            # both branches
        y, g = dlfeval(only_b, dlarray(x), dlarray(B0))
        assert float(D(y)) == pytest.approx(plain_only_b(x, B0), rel=1e-12)
        np.testing.assert_allclose(D(g), numerical_gradient(plain_only_b, [x, B0], 1), rtol=1e-6, atol=1e-9)


def test_walk_dropped_where_another_sweep_still_pops():
    source = sct.source(walked_then_read, dlarray(A0), dlarray(B0))
    assert_reads_all(source)
    y, gu, gx = dlfeval(walked_then_read, dlarray(A0), dlarray(B0))
    assert float(D(y)) == pytest.approx(plain_walked_then_read(A0, B0), rel=1e-12)
    np.testing.assert_allclose(D(gu), numerical_gradient(plain_u, [A0, B0], 1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(D(gx), numerical_gradient(plain_walked_then_read, [A0, B0], 0), rtol=1e-6,
                               atol=1e-9)


def nested_after_walk(x, b):
    s = x
    for i in range(3):
        if s[0] > 0:
            s = s * 0.5
        else:
            s = np.sin(s)
    y = np.sum(s ** 2) + np.sum(np.sin(b) ** 3)
    g = dlgradient(y, b, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * b), b)


def plain_nested_g(x, b):
    return np.sum(3 * np.sin(b) ** 2 * np.cos(b) * b)


def test_second_order_over_a_walked_loop():
    assert_reads_all(sct.source(nested_after_walk, dlarray(A0), dlarray(B0)))
    for x in (A0, -np.abs(A0) - 0.5):
        h = dlfeval(nested_after_walk, dlarray(x), dlarray(B0))
        np.testing.assert_allclose(D(h), numerical_gradient(lambda b: plain_nested_g(x, b), [B0.copy()], 0),
                                   rtol=1e-6, atol=1e-8)
