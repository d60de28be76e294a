"""Red team O (Dec 26): wrong values found in today's changes.

dllaplacian(u, x, dim) with points of u coupled only through second derivatives: the independence
check compared first derivatives, so a coupling term whose gradient vanishes at the points (a mean
of x ** 2 over the batch, at x = 0) passed it, and the Laplacian of the sum of u came back silently
for each point's own ([-2, -2, -2] where each point's Laplacian is -2/3).  The check now compares
the weighted sum's Laplacian with each point's too.  Values against finite differences of each
point's u, refusals where points are coupled."""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient, dllaplacian, EvaluationError


def laplacian_fd(u_of, x, h=1e-4):
    """Each point's own Laplacian: u_of(x) with only that point moved."""
    out = np.zeros(len(x))
    for b in range(len(x)):
        for i in range(x.shape[1]):
            e = np.zeros_like(x)
            e[b, i] = h
            out[b] += (u_of(x + e)[b] - 2 * u_of(x)[b] + u_of(x - e)[b]) / h ** 2
    return out


def coupled_second_order(x):
    return np.sum(x ** 3, axis=1) - np.mean(x ** 2)


def coupled_cos(x):
    return np.sum(np.sin(x), axis=1) + np.mean(np.cos(x))


@pytest.mark.parametrize("u_of, x", [
    (coupled_second_order, np.zeros((3, 2))),
    (coupled_cos, np.zeros((4, 2))),
    (coupled_cos, np.full((3, 3), np.pi)),
])
def test_coupling_of_second_derivatives_is_refused(u_of, x):
    def f(x):
        return dllaplacian(u_of(x), x, 0)
    # (the first derivatives of the coupling term are zero at these points: the gradient check passed)
    assert np.abs(laplacian_fd(u_of, x) - laplacian_fd(lambda z: np.array([np.sum(u_of(z))] * len(z)), x)).max() > 0.1
    with pytest.raises(EvaluationError, match="not independent"):
        dlfeval(f, dlarray(x))


def independent(x):
    return np.sum(x ** 3, axis=1) * np.sin(x[:, 0]) + np.exp(-np.sum(x ** 2, axis=1))


@pytest.mark.parametrize("x", [np.zeros((3, 2)), np.array([[1.0, 2.0], [3.0, 4.0], [0.5, -0.2]])])
def test_independent_points_keep_their_values(x):
    got = dlfeval(lambda x: dllaplacian(independent(x), x, 0), dlarray(x))
    np.testing.assert_allclose(np.asarray(got.data).ravel(), laplacian_fd(independent, x), rtol=1e-5, atol=1e-6)


@pytest.mark.heavy      # (CI skips it: tests/conftest.py; 10-50 s)
def test_pinn_loss_differentiated_again():
    def loss(w, x):
        u = np.tanh(x @ w[:, None])[:, 0] + np.sum(x ** 2, axis=1) * w[0]
        lap = dllaplacian(u, x, 0, EnableHigherDerivatives=True)
        return np.sum(lap ** 2)

    def f(w, x):
        L = loss(w, x)
        return L, dlgradient(L, w)

    def plain(w, x):
        def u_of(z):
            return np.tanh(z @ w[:, None])[:, 0] + np.sum(z ** 2, axis=1) * w[0]
        # closed form of each point's Laplacian: |w|^2 tanh''(x.w) + 2 d w0
        t = np.tanh(x @ w)
        return np.sum((np.sum(w ** 2) * (-2 * t * (1 - t ** 2)) + 2 * x.shape[1] * w[0]) ** 2)

    w = np.array([0.3, -0.8])
    x = np.array([[0.2, 0.5], [-1.0, 0.4], [0.7, 0.1]])
    L, g = dlfeval(f, dlarray(w), dlarray(x))
    np.testing.assert_allclose(float(L), plain(w, x), rtol=1e-10)
    eps = 1e-6
    num = [(plain(w + eps * e, x) - plain(w - eps * e, x)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(np.asarray(g.data), num, rtol=1e-6, atol=1e-8)


# --- a gradient descent differentiated through, in a loop over a `range` that is not Python's ------
# sct/unroll.py wrote `for i in range(3)` out as i = 0, 1, 2 whatever `range` named: a module's own
# range (or a parameter of that name) gave a silent wrong value and gradient ([2, 0, 1] ran as
# [0, 1, 2]); now the loop is written out only where `range` is the builtin, the refusal kept else.

META_SOURCE = '''
import builtins
import numpy as np
from sct import dlgradient

WT = np.array([1.0, 2.0, 3.0])


def range(*a):
    return [2, 0, 1][:builtins.len(builtins.range(*a))]


def inner(w, i):
    return np.sum((w - 1.0 - 0.3 * i) ** 2 * WT) + np.sum(np.sin(w))


def inner_grad(w, i):
    return 2 * (w - 1.0 - 0.3 * i) * WT + np.cos(w)


def meta(w0):
    w = w0 * 1.0
    for i in range(3):
        w = w - (0.1 + 0.1 * i) * dlgradient(inner(w, i), w)
    L = np.sum(w ** 2) + np.sum(w * w0)
    return L, dlgradient(L, w0)


def meta_plain(w0):
    w = w0 * 1.0
    for i in range(3):
        w = w - (0.1 + 0.1 * i) * inner_grad(w, i)
    return np.sum(w ** 2) + np.sum(w * w0)


def reversed_range(*a):
    return builtins.list(builtins.reversed(builtins.range(*a)))


def meta_param(w0, range=reversed_range):
    w = w0 * 1.0
    for i in range(3):
        w = w - (0.1 + 0.1 * i) * dlgradient(inner(w, i), w)
    L = np.sum(w ** 2) + np.sum(w * w0)
    return L, dlgradient(L, w0)


def meta_param_plain(w0, range=reversed_range):
    w = w0 * 1.0
    for i in range(3):
        w = w - (0.1 + 0.1 * i) * inner_grad(w, i)
    return np.sum(w ** 2) + np.sum(w * w0)
'''


@pytest.fixture
def shadowing_module(tmp_path):
    import importlib.util
    path = tmp_path / "shadowed_range_dec26o.py"
    path.write_text(META_SOURCE)
    spec = importlib.util.spec_from_file_location("shadowed_range_dec26o", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["meta", "meta_param"])
def test_unrolled_loop_over_a_range_that_is_not_pythons(shadowing_module, name):
    from sct import CompileError
    fun, plain = getattr(shadowing_module, name), getattr(shadowing_module, name + "_plain")
    w0 = np.array([0.2, -0.3, 0.5])
    try:
        L, g = dlfeval(fun, dlarray(w0))
    except CompileError as error:
        assert "loop" in str(error)      # refused: acceptable
        return
    np.testing.assert_allclose(float(L), plain(w0), rtol=1e-12)
    eps = 1e-6
    num = [(plain(w0 + eps * e) - plain(w0 - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(np.asarray(g.data), num, rtol=1e-6, atol=1e-8)


# --- forward mode through dllaplacian --------------------------------------------------------------
# The independence check was an op linear in the gradient: its forward-mode tangent ran the check on
# the tangent against the value's weighted gradient, so jvp(mode="forward") of independent points
# was refused ("not independent"); the checks now return nothing and rt.after_check passes the value on.

def lap_of_w(w, x):
    u = np.sum(np.tanh(x * w) ** 2, axis=1)
    return dllaplacian(u, x, 0, EnableHigherDerivatives=True)


def lap_of_w_plain(w, x):
    t = np.tanh(x * w)
    s2 = 1 - t ** 2
    return np.sum(w ** 2 * (2 * s2 ** 2 - 4 * t ** 2 * s2), axis=1)


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_jvp_through_dllaplacian(mode):
    import sct
    rng = np.random.default_rng(0)
    w, x, v = rng.standard_normal(3), rng.standard_normal((4, 3)), rng.standard_normal(3)
    y, jv = sct.jvp(lap_of_w, (w, x), (v, np.zeros_like(x)), mode=mode)
    eps = 1e-6
    want = (lap_of_w_plain(w + eps * v, x) - lap_of_w_plain(w - eps * v, x)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(y.data).ravel(), lap_of_w_plain(w, x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(jv.data).ravel(), want, rtol=1e-6, atol=1e-8)


def test_jvp_of_coupled_points_is_refused():
    import sct

    def f(w, x):
        u = np.sum(np.tanh(x * w) ** 2, axis=1) - np.mean(x ** 2)
        return dllaplacian(u, x, 0, EnableHigherDerivatives=True)
    with pytest.raises(EvaluationError, match="not independent"):
        sct.jvp(f, (np.ones(2), np.zeros((3, 2))), (np.ones(2), np.zeros((3, 2))), mode="forward")


# --- for k, v in d.items(): d[k] = ... where `list`, `dict` or `isinstance` is the user's ----------
# sct/normalize_loops.py wrote the loop as `for k in list(d)` after `assert isinstance(d, dict)`,
# names looked up in the user's code: a module's `list = sorted` walked the keys sorted (a silent
# wrong value and gradient), a local list named `list` made the loop call it.  Now Python's own.

ITEMS_SOURCE = '''
import numpy as np

list = sorted


def update(x):
    d = {"b": x * 1.0, "a": x * 2.0}
    order = []
    for k, v in d.items():
        order.append(np.sum(v))
        d[k] = v * x
    return np.sum(d["a"] * d["b"]) + order[0] * 3.0
'''


def local_list_named_list(x):
    list = [1.0, 2.0]
    dict = {"b": x * 1.0, "a": x * 2.0}
    for k, v in dict.items():
        dict[k] = v * x * list[0]
    return np.sum(dict["a"] * dict["b"]) + list[1]


def test_items_loop_with_list_named_so(tmp_path):
    import importlib.util
    path = tmp_path / "shadowed_list_dec26o.py"
    path.write_text(ITEMS_SOURCE)
    spec = importlib.util.spec_from_file_location("shadowed_list_dec26o", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.array([0.3, -0.7])

    def f(x):
        y = module.update(x)
        return y, dlgradient(y, x)
    y, g = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(float(y), module.update(x), rtol=1e-12)
    eps = 1e-6
    num = [(module.update(x + eps * e) - module.update(x - eps * e)) / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(np.asarray(g.data), num, rtol=1e-6, atol=1e-8)


def test_items_loop_with_local_list_and_dict():
    from gradcheck import check_grads
    check_grads(local_list_named_list, np.array([0.3, -0.7]))


# --- a generator given to the module's own `sum` ----------------------------------------------------
# sct builds a generator expression whole where a builtin (sum, list, ...) walks it once; a module's
# own `def sum(g): return g` was read as the builtin, so a generator it kept and walked after a name
# it reads was rebound gave the old value (Python's generator is lazy: 5x, sct's 3x).  Refused now,
# as a generator passed to any helper is.

GEN_SOURCE = '''
import numpy as np


def sum(g):
    return g


def lazy(x):
    h = [x, x * 2.0]
    c = x * 3.0
    t = sum(v * c for v in h)
    c = x * 5.0
    r = list(t)
    return np.sum(r[0])


def eager(x):
    h = [x, x * 2.0]
    return np.sum(list(v * v for v in h)[1])
'''


def test_generator_given_to_a_module_function_named_sum(tmp_path):
    import importlib.util
    from sct import CompileError
    path = tmp_path / "shadowed_sum_dec26o.py"
    path.write_text(GEN_SOURCE)
    spec = importlib.util.spec_from_file_location("shadowed_sum_dec26o", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.array([0.3, -0.7])

    def f(x):
        y = module.lazy(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match="generator expression passed to a function"):
        dlfeval(f, dlarray(x))
    # list() is still Python's own there: the generator built whole, as Python walks it once
    from gradcheck import check_grads
    check_grads(module.eager, x)
