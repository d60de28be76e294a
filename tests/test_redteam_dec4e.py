"""Red team (dec4e): higher derivatives and forward mode (nested dlgradient, sct.hvp, sct.jvp).

Every second derivative is checked against central differences of the generated first derivative
(tests/gradcheck.py) or a closed form; every jvp against central differences of the program.

Bugs found and fixed here:
- a module passed to a helper as a value (``helper(x, np)``, the array-API style ``xp``) made
  ``kinds.kind_of`` walk numpy's module dict: RecursionError surfaced as an EvaluationError (fixed:
  a module's kind is the module itself);
- an object graph with a back-pointer (a layer holding its owner, ``self.me = self``) passed to a
  helper or method: the same endless walk (fixed: a container met again while its parts are read is
  ``("back", levels up)``);
- ``xp.squeeze(a, axis=0)`` with ``xp`` a module argument: a signature message about ``axis`` that
  did not say why (the call is compiled as the array method of ``xp``); the message now says so.
"""
import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient, dllaplacian, extractdata

from gradcheck import assert_close, numerical_gradient

X0 = np.array([0.7, -1.3, 0.4])
V0 = np.array([0.3, 0.5, -0.8])


def _np(a):
    return np.asarray(extractdata(a))


def _grad(f, x):
    def kernel(z):
        return dlgradient(f(z), z)
    return _np(dlfeval(kernel, dlarray(x)))


def _hvp_numeric(f, x, v, h=1e-5):
    return (_grad(f, x + h * v) - _grad(f, x - h * v)) / (2 * h)


def _nested_hvp(f, x, v):
    def kernel(z, w):
        g = dlgradient(f(z), z, EnableHigherDerivatives=True)
        return dlgradient(np.sum(g * w), z)
    return _np(dlfeval(kernel, dlarray(x), dlarray(v)))


# --- user programs -----------------------------------------------------------------------------------

def f_where(x):
    return np.sum(np.where(x > 0, x**3, -x**2))


def f_solve(x):
    A = np.array([[3.0, 1.0, 0.2], [1.0, 4.0, 0.5], [0.2, 0.5, 5.0]]) + np.diag(x)
    return np.sum(np.linalg.solve(A, np.array([1.0, 2.0, 3.0]) * x) ** 2)


def f_det_inv(x):
    A = np.outer(x, x[::-1]) + 2 * np.eye(3)
    return np.linalg.det(A) ** 2 + np.sum(np.linalg.inv(A))


def f_chol(x):
    A = np.outer(x, x) + 3 * np.eye(3)
    L = np.linalg.cholesky(A)
    return np.sum(L**2 * np.arange(3.0)) + np.sum(np.diag(L)**3)


def f_norms(x):
    M = np.outer(x, x + 1)
    return np.linalg.norm(x, 1)**2 + np.linalg.norm(x, np.inf)**2 + \
        np.sum(np.linalg.norm(M, axis=0)**3) + np.linalg.norm(M, 'fro')


def f_logsumexp_softmax(x):
    m = np.max(x)
    e = np.exp(x - m)
    p = e / np.sum(e)
    return m + np.log(np.sum(e)) + np.sum(p**2 * np.arange(3.0))


def f_loop_inplace(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x[i] * x[(i + 1) % 3]
    y[1] += x[0]**2
    return np.sum(y**2)


def f_while(x):
    y = x
    k = 0
    while np.sum(y**2) < 50 and k < 10:
        y = y * 1.5 + np.sin(y)
        k += 1
    return np.sum(y * x)


def f_branch(x):
    if x[0] > 0:
        s = np.sum(x**3)
    else:
        s = np.sum(np.exp(x))
    for k in range(2):
        if s > 1:
            s = s * x[1]
        else:
            s = s + x[2]**2
    return s


def f_sort_index(x):
    i = np.argmax(x)
    o = np.argsort(x)
    return x[i]**3 + np.sum(x[o] * np.array([1.0, 2.0, 3.0]) * x) + np.sum(np.sort(x)**2 * x)


def f_qr_svd_eigh(x):
    A = np.outer(x, x) + np.diag([1.0, 2.0, 3.0])
    Q, R = np.linalg.qr(A)
    s = np.linalg.svd(A, compute_uv=False)
    w, _ = np.linalg.eigh(A)
    return np.sum(np.abs(np.diag(R))**2) + np.sum(Q[:, 0]**2 * x) + np.sum(s**3) + w[0]


def f_methods(x):
    M = x.reshape(3, 1) * x.reshape(1, 3)
    return M.sum() + M.max(axis=0).sum() + (M.T @ x).mean() + x.clip(-0.5, 0.5).dot(x) + x.prod()


PROGRAMS = [f_where, f_solve, f_det_inv, f_chol, f_norms, f_logsumexp_softmax, f_loop_inplace, f_while,
            f_branch, f_sort_index, f_qr_svd_eigh, f_methods]


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_hvp_nested_and_jvp_against_differences(f):
    g = _grad(f, X0)
    assert_close(g, numerical_gradient(f, [X0], 0), rtol=1e-5, atol=1e-6, what="gradient")
    expected = _hvp_numeric(f, X0, V0)
    assert_close(_np(sct.hvp(f, X0, V0)), expected, rtol=1e-5, atol=1e-6, what="hvp")
    assert_close(_nested_hvp(f, X0, V0), expected, rtol=1e-5, atol=1e-6, what="nested dlgradient")
    y, jv = sct.jvp(f, X0, V0)
    assert float(_np(y)) == pytest.approx(f(X0), rel=1e-12)
    jn = (f(X0 + 1e-6 * V0) - f(X0 - 1e-6 * V0)) / 2e-6
    assert float(_np(jv)) == pytest.approx(jn, rel=1e-5, abs=1e-6)
    assert float(_np(jv)) == pytest.approx(float(np.sum(g * V0)), rel=1e-10, abs=1e-12)


# --- third derivatives, EnableHigherDerivatives=False ------------------------------------------------

def third_sin(x):
    y = np.sum(np.sin(x) * x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    h = dlgradient(np.sum(g), x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(h), x)


def test_third_derivative_closed_form():
    # f = x sin x: f''' = -3 sin x - x cos x
    assert_close(_np(dlfeval(third_sin, dlarray(X0))), -3*np.sin(X0) - X0*np.cos(X0), rtol=1e-12, atol=1e-12)


def no_higher(x):
    g = dlgradient(np.sum(x**3), x, EnableHigherDerivatives=False)
    return dlgradient(np.sum(g), x)


def no_higher_helper_grad(x):
    return dlgradient(np.sum(x**3), x, EnableHigherDerivatives=False)


def no_higher_helper(x):
    g = no_higher_helper_grad(x)
    return dlgradient(np.sum(g), x)


@pytest.mark.parametrize("fn", [no_higher, no_higher_helper])
def test_enable_higher_false_then_again_refused_at_user_line(fn):
    with pytest.raises(CompileError) as info:
        dlfeval(fn, dlarray(X0))
    assert info.value.filename == __file__ and info.value.lineno
    assert "EnableHigherDerivatives=False" in str(info.value)


def mixed_false(x):
    g = dlgradient(np.sum(x**3), x, EnableHigherDerivatives=False)
    return dlgradient(np.sum(g * x), x)      # g is a constant: 3 x^2


def mixed_true(x):
    g = dlgradient(np.sum(x**3), x)
    return dlgradient(np.sum(g * x), x)      # 3 x^2 + 6 x^2


def test_enable_higher_false_is_a_constant_true_is_not():
    assert_close(_np(dlfeval(mixed_false, dlarray(X0))), 3*X0**2, rtol=1e-12, atol=0)
    assert_close(_np(dlfeval(mixed_true, dlarray(X0))), 9*X0**2, rtol=1e-12, atol=0)


# --- mixed partials, several outputs, gradient modified in place ------------------------------------

def two_grads(x, w):
    gx, gw = dlgradient(np.sum(x**2 * w**3), x, w, EnableHigherDerivatives=True)
    return dlgradient(np.sum(gx * gw), x, w)


def test_second_derivative_of_two_gradients():
    w = np.array([0.3, 1.2, -0.4])
    dx, dw = dlfeval(two_grads, dlarray(X0), dlarray(w))
    assert_close(_np(dx), 18*X0**2*w**5, rtol=1e-12, atol=1e-14)     # d/dx 6 x^3 w^5
    assert_close(_np(dw), 30*X0**3*w**4, rtol=1e-12, atol=1e-14)


def grad_written(x):
    g = dlgradient(np.sum(x**3 * np.sin(x)), x, EnableHigherDerivatives=True)
    g[0] = 0.0
    g[1:] = g[1:] * x[:2]
    return dlgradient(np.sum(g**2), x)


def test_gradient_written_in_place_then_differentiated():
    def plain(x):
        g = 3*x**2*np.sin(x) + x**3*np.cos(x)
        g[0] = 0
        g[1:] = g[1:] * x[:2]
        return np.sum(g**2)
    assert_close(_np(dlfeval(grad_written, dlarray(X0))), numerical_gradient(plain, [X0], 0), rtol=1e-6, atol=1e-7)


# --- WGAN-GP penalty and PINN (Burgers) as in MATLAB's examples -------------------------------------

def critic(W, z):
    return np.sum(np.tanh(W @ z), axis=0)


def gradient_penalty(W, xr, xf, eps):
    xh = eps * xr + (1 - eps) * xf
    gx = dlgradient(np.sum(critic(W, xh)), xh, EnableHigherDerivatives=True)
    pen = np.mean((np.sqrt(np.sum(gx**2, axis=0) + 1e-12) - 1)**2)
    return pen, dlgradient(pen, W)


def test_wgan_gp_gradient_of_gradient_norm():
    rng = np.random.default_rng(0)
    W0, xr, xf, eps = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.random((1, 4))

    def plain(W):
        xh = eps*xr + (1 - eps)*xf
        gx = W.T @ (1 - np.tanh(W @ xh)**2)
        return np.mean((np.sqrt(np.sum(gx**2, axis=0) + 1e-12) - 1)**2)
    pen, g = dlfeval(gradient_penalty, dlarray(W0), dlarray(xr), dlarray(xf), dlarray(eps))
    assert float(_np(pen)) == pytest.approx(plain(W0), rel=1e-12)
    assert_close(_np(g), numerical_gradient(plain, [W0], 0), rtol=1e-6, atol=1e-8)


def burgers_model(p, x, t):
    h = np.tanh(p["W1"] @ np.concatenate([x, t], axis=0) + p["b1"])
    return p["W2"] @ h + p["b2"]


def burgers_loss(p, x, t):
    u = burgers_model(p, x, t)
    ux, ut = dlgradient(np.sum(u), x, t, EnableHigherDerivatives=True)
    uxx = dlgradient(np.sum(ux), x, EnableHigherDerivatives=True)
    f = ut + u * ux - (0.01 / np.pi) * uxx
    loss = np.mean(f**2)
    return loss, dlgradient(loss, p)


def test_pinn_burgers_parameter_gradients():
    rng = np.random.default_rng(1)
    P = {"W1": rng.standard_normal((5, 2)), "b1": rng.standard_normal((5, 1)),
         "W2": rng.standard_normal((1, 5)), "b2": rng.standard_normal((1, 1))}
    xs, ts = rng.standard_normal((1, 6)), rng.random((1, 6))

    def plain(W1, b1, W2, b2):
        h = np.tanh(W1 @ np.concatenate([xs, ts]) + b1)
        d = 1 - h**2
        u = W2 @ h + b2
        ux, ut, uxx = W2 @ (d * W1[:, :1]), W2 @ (d * W1[:, 1:2]), W2 @ (-2*h*d * W1[:, :1]**2)
        return np.mean((ut + u*ux - 0.01/np.pi*uxx)**2)
    loss, g = dlfeval(burgers_loss, {k: dlarray(v) for k, v in P.items()}, dlarray(xs), dlarray(ts))
    assert float(_np(loss)) == pytest.approx(plain(**P), rel=1e-12)
    names = list(P)
    for i, k in enumerate(names):
        assert_close(_np(g[k]), numerical_gradient(plain, [P[n] for n in names], i), rtol=1e-6, atol=1e-8, what=k)


def laplacian_loss(W, X):
    L = dllaplacian(np.sum(np.tanh(X @ W)**2, axis=1), X, 0)
    return L, dlgradient(np.sum(L**2), W)


def test_laplacian_then_parameter_gradient():
    rng = np.random.default_rng(2)
    W0, X0 = rng.standard_normal((2, 3)), rng.standard_normal((4, 2))

    def lap(W):
        t = np.tanh(X0 @ W)
        s = 1 - t**2
        return (2*s**2 - 4*t**2*s) @ np.sum(W**2, axis=0)
    L, g = dlfeval(laplacian_loss, dlarray(W0), dlarray(X0))
    assert_close(_np(L), lap(W0), rtol=1e-12, atol=1e-12)
    assert_close(_np(g), numerical_gradient(lambda W: np.sum(lap(W)**2), [W0], 0), rtol=1e-6, atol=1e-7)


# --- hvp/jvp through methods, closures, several arguments, float32, complex -------------------------

class Quadratic:
    def __init__(self, A):
        self.A = A

    def energy(self, x):
        return 0.5 * x @ (self.A @ x) + np.sum(np.cos(x))


def scaled_cube(scale):
    def f(x):
        return scale * np.sum(x**3)
    return f


def two_args(x, w):
    return np.sum(w * x**3) + np.sum(np.sin(x * w))


def test_hvp_jvp_method_closure_and_one_of_several_arguments():
    A = np.array([[2.0, 0.5, 0.0], [0.5, 3.0, 0.2], [0.0, 0.2, 1.0]])
    assert_close(_np(sct.hvp(Quadratic(A).energy, X0, V0)), A @ V0 - np.cos(X0) * V0, rtol=1e-12, atol=1e-14)
    assert_close(_np(sct.hvp(scaled_cube(2.0), X0, V0)), 12*X0*V0, rtol=1e-12, atol=0)
    assert float(_np(sct.jvp(scaled_cube(2.0), X0, V0)[1])) == pytest.approx(6*np.sum(X0**2*V0), rel=1e-12)
    w = np.array([0.5, 2.0, -1.0])
    assert_close(_np(sct.hvp(lambda x: two_args(x, w), X0, V0)),
                 6*w*X0*V0 - w**2*np.sin(X0*w)*V0, rtol=1e-12, atol=1e-14)
    jv = sct.jvp(two_args, (X0, w), (V0, np.zeros(3)))[1]
    assert float(_np(jv)) == pytest.approx(np.sum((3*w*X0**2 + w*np.cos(X0*w))*V0), rel=1e-12)


def exp_square(x):
    return np.sum(np.exp(x) * x**2)


def test_float32_hvp_and_jvp_keep_float32():
    x, v = X0.astype(np.float32), V0.astype(np.float32)
    h = _np(sct.hvp(exp_square, x, v))
    jv = _np(sct.jvp(exp_square, x, v)[1])
    assert h.dtype == np.float32 and jv.dtype == np.float32
    assert_close(h, np.exp(X0)*(X0**2 + 4*X0 + 2)*V0, rtol=1e-5, atol=1e-6)


def abs4(z):
    return np.sum(np.abs(z)**4)


def test_complex_hvp_against_differences_of_the_gradient():
    z, v = np.array([1 + 2j, -0.5 + 0.3j]), np.array([0.2 - 0.1j, 1 + 1j])
    assert_close(_np(sct.hvp(abs4, z, v)), _hvp_numeric(abs4, z, v), rtol=1e-6, atol=1e-8)


# --- bugs fixed: a module or a cyclic object passed to a helper --------------------------------------

def h_exp(x, xp):
    return np.sum(xp.exp(x))


def h_sum(x, xp):
    return xp.sum(x**3)


def h_squeeze(x, xp):
    return np.sum(xp.squeeze(x, axis=0)**3)


def grad_h_exp(x):
    return dlgradient(h_exp(x, np), x)


def grad_h_sum(x):
    return dlgradient(h_sum(x, np), x)


def grad_h_squeeze(x):
    return dlgradient(h_squeeze(x.reshape(1, 3), np), x)


def test_module_passed_to_a_helper_gives_values_or_a_refusal_at_its_line():
    assert_close(_np(dlfeval(grad_h_exp, dlarray(X0))), np.exp(X0), rtol=1e-12, atol=0)
    assert_close(_np(sct.hvp(lambda x: h_exp(x, np), X0, V0)), np.exp(X0)*V0, rtol=1e-12, atol=0)
    assert float(_np(sct.jvp(lambda x: h_exp(x, np), X0, V0)[1])) == pytest.approx(np.sum(np.exp(X0)*V0), rel=1e-12)
    with pytest.raises(EvaluationError) as info:        # was a RecursionError
        dlfeval(grad_h_sum, dlarray(X0))
    assert info.value.filename == __file__ and "module numpy" in str(info.value)
    # xp.squeeze(x, axis=0) of a namespace: the namespace's own function (was refused, "holds a module")
    assert_close(_np(dlfeval(grad_h_squeeze, dlarray(X0))), 3 * X0 ** 2, rtol=1e-12, atol=0)


class Layer:
    def __init__(self, w):
        self.w = w
        self.owner = None


class Net:
    def __init__(self):
        self.layers = [Layer(2.0), Layer(3.0)]
        for layer in self.layers:
            layer.owner = self


def net_helper(x, net):
    return np.sum(x**3) * net.layers[0].w + np.sum(x**2) * net.layers[1].owner.layers[1].w


def grad_net(x, net):
    return dlgradient(net_helper(x, net), x)


class SelfRef:
    def __init__(self, a):
        self.a = a
        self.me = self

    def energy(self, x):
        return np.sum(self.me.a * x**3)


def test_object_with_a_back_pointer_passed_to_a_helper():
    net = Net()
    assert_close(_np(dlfeval(grad_net, dlarray(X0), net)), 6*X0**2 + 6*X0, rtol=1e-12, atol=0)
    net.layers[0].w = 5.0
    assert_close(_np(dlfeval(grad_net, dlarray(X0), net)), 15*X0**2 + 6*X0, rtol=1e-12, atol=0)
    assert_close(_np(sct.hvp(SelfRef(2.0).energy, X0, V0)), 12*X0*V0, rtol=1e-12, atol=0)
    assert_close(_np(sct.hvp(SelfRef(5.0).energy, X0, V0)), 30*X0*V0, rtol=1e-12, atol=0)
    assert float(_np(sct.jvp(SelfRef(2.0).energy, X0, V0)[1])) == pytest.approx(np.sum(6*X0**2*V0), rel=1e-12)


def test_kind_of_cycles_and_modules():
    from sct.kinds import kind_of
    a, b = SelfRef(1.0), SelfRef(2.0)
    assert kind_of(a) == kind_of(b)
    import math
    assert kind_of(np) != kind_of(math)
    assert kind_of((np, np)) == kind_of((np, np))


# --- bug fixed: forward mode and reverse-over-reverse followed an EnableHigherDerivatives=False gradient --

def inner_constant_gradient(x):
    g = dlgradient(np.sum(x**3), x, EnableHigherDerivatives=False)
    return np.sum(g * x)          # g is a constant: the gradient of this is g (3 x^2), its Hessian 0


def outer_of_constant(x):
    return inner_constant_gradient(x) * 2.0 + np.sum(x)


def grad_outer_of_constant(x):
    return dlgradient(outer_of_constant(x), x)


def nested_over_constant(x, v):
    g = dlgradient(inner_constant_gradient(x), x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def test_constant_gradient_is_constant_to_jvp_hvp_and_nested_dlgradient():
    g = _np(dlfeval(grad_outer_of_constant, dlarray(X0)))
    assert_close(g, 6*X0**2 + 1, rtol=1e-12, atol=0)
    # jvp must be grad . v (was the derivative of sum(3 x^3): 9 x^2 . v)
    for mode in ("forward", "transpose"):
        jv = float(_np(sct.jvp(outer_of_constant, X0, V0, mode=mode)[1]))
        assert jv == pytest.approx(float(np.sum(g * V0)), rel=1e-12), mode
    assert float(_np(sct.jvp(inner_constant_gradient, X0, V0)[1])) == pytest.approx(np.sum(3*X0**2*V0), rel=1e-12)
    # the gradient is 3 x^2 read as a constant: its derivative is 0 (was 6 x v)
    assert_close(_np(sct.hvp(inner_constant_gradient, X0, V0)), np.zeros(3), rtol=0, atol=0)
    assert_close(_np(sct.hvp(outer_of_constant, X0, V0)), np.zeros(3), rtol=0, atol=0)
    assert_close(_np(sct.jvp(lambda x: dlfeval(grad_outer_of_constant, x), X0, V0)[1]), np.zeros(3), rtol=0, atol=0)
    assert_close(_np(dlfeval(nested_over_constant, dlarray(X0), dlarray(V0))), np.zeros(3), rtol=0, atol=0)
