from common import *
from sct import dljacobian, dllaplacian, dldivergence, fullyconnect, softmax, sigmoid
rng = np.random.default_rng(5)
B, d, H = 4, 3, 5
X = rng.standard_normal((B, d))
P = {"W1": rng.standard_normal((H, d)) * .7, "b1": rng.standard_normal(H) * .1,
     "w2": rng.standard_normal((1, H)) * .7, "b2": np.zeros(1)}

def mlp(p, x):
    h = np.tanh(fullyconnect(x, p["W1"], p["b1"]))
    return fullyconnect(h, p["w2"], p["b2"])            # (B,1)

def pinn_loss(p, x, f):
    u = mlp(p, x)
    lap = dllaplacian(u, x, 0)
    loss = np.mean((lap.reshape(-1) - f) ** 2)
    return loss, dlgradient(loss, p), lap

def lap_ref(W1, b1, w2, x):
    z = x @ W1.T + b1
    t = np.tanh(z)
    return (w2[0] * (-2 * t * (1 - t ** 2))) @ (W1 ** 2).sum(axis=1)

def t1():
    f = rng.standard_normal(B)
    p = {k: dlarray(v) for k, v in P.items()}
    loss, g, lap = dlfeval(pinn_loss, p, dlarray(X), f)
    assert_close(D(lap).reshape(-1), lap_ref(P["W1"], P["b1"], P["w2"], X))
    L = lambda W1, b1, w2: float(np.mean((lap_ref(W1, b1, w2, X) - f) ** 2))
    assert_close(D(loss), L(P["W1"], P["b1"], P["w2"]))
    for i, k in enumerate(["W1", "b1", "w2"]):
        gcheck(g[k], L, [P["W1"], P["b1"], P["w2"]], i, what=k)
    assert np.all(D(g["b2"]) == 0)
run("PINN laplacian -> params grad (3rd order)", t1)

# helper computing the PDE residual, with dlgradient inside the helper
def residual(p, x):
    u = mlp(p, x)
    ux = dlgradient(np.sum(u), x, EnableHigherDerivatives=True)
    return ux[:, 0] + np.sum(u * u, axis=1)

def helper_loss(p, x):
    r = residual(p, x)
    loss = np.sum(r ** 2)
    return loss, dlgradient(loss, p)

def grad_ref(W1, b1, w2, x):
    t = np.tanh(x @ W1.T + b1)
    return ((1 - t ** 2) * w2[0]) @ W1       # (B,d)

def t2():
    p = {k: dlarray(v) for k, v in P.items()}
    loss, g = dlfeval(helper_loss, p, dlarray(X))
    def L(W1, b1, w2, b2):
        u = np.tanh(X @ W1.T + b1) @ w2.T + b2
        r = grad_ref(W1, b1, w2, X)[:, 0] + np.sum(u * u, axis=1)
        return float(np.sum(r ** 2))
    args = [P["W1"], P["b1"], P["w2"], P["b2"]]
    assert_close(D(loss), L(*args))
    for i, k in enumerate(["W1", "b1", "w2", "b2"]):
        gcheck(g[k], L, args, i, what=k)
run("dlgradient in helper, higher derivs", t2)

def jac_loss(W, x):
    y = softmax(fullyconnect(x, W, 0))
    J = dljacobian(y, x, 0)             # (B, C, d)
    loss = np.sum(J ** 2)
    return loss, dlgradient(loss, W), J

def t3():
    W = rng.standard_normal((4, d))
    loss, g, J = dlfeval(jac_loss, dlarray(W), dlarray(X))
    def Jref(W):
        z = X @ W.T; e = np.exp(z - z.max(1, keepdims=True)); s = e / e.sum(1, keepdims=True)
        # ds_i/dz_k = s_i(δik - s_k); dz_k/dx_j = W_kj
        dsdz = s[:, :, None] * (np.eye(4)[None] - s[:, None, :])
        return dsdz @ W
    assert_close(D(J), Jref(W))
    gcheck(g, lambda W: float(np.sum(Jref(W) ** 2)), [W], 0)
run("dljacobian softmax(fullyconnect) penalty", t3)

def div_loss(W, x):
    u = sigmoid(x @ W)
    dv = dldivergence(u, x, 0)
    loss = np.sum(dv ** 2)
    return loss, dlgradient(loss, W), dv

def t4():
    W = rng.standard_normal((d, d))
    loss, g, dv = dlfeval(div_loss, dlarray(W), dlarray(X))
    def dref(W):
        s = 1 / (1 + np.exp(-(X @ W)))
        return (s * (1 - s)) @ np.diag(W) if False else np.sum(s * (1 - s) * np.diag(W)[None, :], axis=1)
    assert_close(D(dv), dref(W))
    gcheck(g, lambda W: float(np.sum(dref(W) ** 2)), [W], 0)
run("dldivergence sigmoid", t4)

def lap_dim1(x):
    # points along axis 1: x is (d, B)
    u = np.sum(np.sin(x) * x, axis=0, keepdims=True)
    lap = dllaplacian(u, x, 1)
    return lap

def t5():
    xt = X.T.copy()
    lap = dlfeval(lap_dim1, dlarray(xt))
    ref = np.sum(2 * np.cos(xt) - xt * np.sin(xt), axis=0)
    assert_close(D(lap).reshape(-1), ref)
run("dllaplacian dim=1", t5)

def jac_neg_dim(x):
    y = np.stack([x[:, 0] * x[:, 1], np.exp(x[:, 2])], axis=1)
    return dljacobian(y, x, -2)

def t6():
    J = dlfeval(jac_neg_dim, dlarray(X))
    ref = np.zeros((B, 2, d))
    ref[:, 0, 0] = X[:, 1]; ref[:, 0, 1] = X[:, 0]; ref[:, 1, 2] = np.exp(X[:, 2])
    assert_close(D(J), ref)
run("dljacobian negative dim", t6)

def third(x):
    y = np.sum(np.sin(x) * x ** 2)
    g = dlgradient(y, x)
    h = dlgradient(np.sum(g * g), x)
    t = dlgradient(np.sum(h * x), x)
    return t

def t7():
    x = rng.standard_normal(3)
    t = dlfeval(third, dlarray(x))
    gp = lambda x: np.cos(x) * x ** 2 + 2 * x * np.sin(x)
    gpp = lambda x: -np.sin(x) * x ** 2 + 4 * x * np.cos(x) + 2 * np.sin(x)
    # h = d/dx sum(g^2) = 2 g g'; t = d/dx sum(h x) = h + x h'
    H = lambda x: 2 * gp(x) * gpp(x)
    gcheck(t, lambda x: float(np.sum(H(x) * x)), [x], 0)
run("third derivative chain", t7)
