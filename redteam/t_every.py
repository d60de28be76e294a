from common import *
from dataclasses import dataclass, field
from sct import relu, sigmoid, fullyconnect, softmax, crossentropy, leakyrelu, gelu
rng = np.random.default_rng(9)

def check_entry(name, gfun, plain, args, wrt, rtol=1e-5, atol=1e-6, conv=dlarray):
    """gfun(*args) -> (loss, grads tuple for wrt); plain(*args) -> float"""
    def go():
        dargs = [conv(a) if isinstance(a, np.ndarray) else a for a in args]
        out = dlfeval(gfun, *dargs)
        loss, grads = out[0], out[1]
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        assert_close(D(loss), plain(*args), rtol=max(rtol, 1e-7), what=name + " value")
        fargs = [a.astype(float) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
        for k, gi in zip(wrt, grads):
            gcheck(gi, plain, fargs, k, rtol=rtol, atol=atol, what=f"{name} d/arg{k}")
    run(name, go)

# 1 inplace writes into fresh array in loop
def l_inplace(x, w):
    out = np.zeros((3, 4))
    for i in range(3):
        out[i] = np.tanh(x[i] * w)
        out[i, 1:] += out[i, :-1] * 0.5
    out[:, 0] *= 2
    return np.sum(out ** 2)
def g_inplace(x, w):
    l = l_inplace(x, w)
    return l, dlgradient(l, x, w)
X34 = rng.standard_normal((3, 4)); W4 = rng.standard_normal(4)
check_entry("inplace in loop (helper)", g_inplace, l_inplace, [X34, W4], [0, 1])

def g_inplace_inline(x, w):
    out = np.zeros((3, 4))
    for i in range(3):
        out[i] = np.tanh(x[i] * w)
        out[i, 1:] += out[i, :-1] * 0.5
    out[:, 0] *= 2
    l = np.sum(out ** 2)
    return l, dlgradient(l, x, w)
check_entry("inplace in loop (inline)", g_inplace_inline, l_inplace, [X34, W4], [0, 1])

# 2 dataclass params, layer calling layer
@dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray
    def __call__(self, x):
        return x @ self.W.T + self.b

@dataclass
class MLP:
    l1: Dense
    l2: Dense
    alpha: float = 0.1
    def __call__(self, x):
        return self.l2(leakyrelu(self.l1(x), self.alpha))

def g_dc(m, x, t):
    y = m(x)
    l = np.mean((y - t) ** 2)
    return l, dlgradient(l, m)

def t_dc():
    W1, b1, W2, b2 = rng.standard_normal((5, 3)), rng.standard_normal(5), rng.standard_normal((2, 5)), rng.standard_normal(2)
    x = rng.standard_normal((4, 3)); t = rng.standard_normal((4, 2))
    m = MLP(Dense(dlarray(W1), dlarray(b1)), Dense(dlarray(W2), dlarray(b2)), 0.2)
    l, g = dlfeval(g_dc, m, x, t)
    def P(W1, b1, W2, b2):
        h = x @ W1.T + b1; h = np.where(h > 0, h, 0.2 * h)
        return float(np.mean((h @ W2.T + b2 - t) ** 2))
    args = [W1, b1, W2, b2]
    assert_close(D(l), P(*args))
    for i, gg in enumerate([g.l1.W, g.l1.b, g.l2.W, g.l2.b]):
        gcheck(gg, P, args, i)
    assert isinstance(g, MLP)
run("dataclass layers", t_dc)

# 3 closures and reassigned names
def g_closure(x, w):
    scale = w[0]
    def act(u):
        return np.sin(u * scale)
    y = act(x)
    scale2 = w[1]
    z = y * scale2
    y = act(z)          # name reassigned
    l = np.sum(y * x)
    return l, dlgradient(l, x, w)
def p_closure(x, w):
    y = np.sin(x * w[0]); z = y * w[1]; y = np.sin(z * w[0])
    return float(np.sum(y * x))
check_entry("closure + reassign", g_closure, p_closure, [rng.standard_normal(5), rng.standard_normal(2)], [0, 1])

# 4 lambda list of activations
ACTS = [np.tanh, relu, sigmoid, lambda u: u ** 2, np.sin]
def g_acts(x, ws):
    h = x
    for w, act in zip(ws, ACTS):
        h = act(h @ w)
    l = np.sum(h)
    return l, dlgradient(l, ws)
def t_acts():
    x = rng.standard_normal((2, 3)); ws = [rng.standard_normal((3, 3)) * .8 for _ in range(5)]
    l, g = dlfeval(g_acts, x, [dlarray(w) for w in ws])
    def P(*ws):
        h = x
        for w, act in zip(ws, [np.tanh, lambda u: np.maximum(u, 0), lambda u: 1 / (1 + np.exp(-u)), lambda u: u ** 2, np.sin]):
            h = act(h @ w)
        return float(np.sum(h))
    assert_close(D(l), P(*ws))
    for i in range(5):
        gcheck(g[i], P, ws, i)
run("activations from module list", t_acts)

# 5 float32 throughout, crossentropy
def g_f32(W, b, x, t):
    p = softmax(fullyconnect(x, W, b))
    l = crossentropy(p, t)
    return l, dlgradient(l, W, b)
def t_f32():
    W = rng.standard_normal((3, 4)).astype(np.float32); b = np.zeros(3, np.float32)
    x = rng.standard_normal((5, 4)).astype(np.float32); t = np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]
    l, (gW, gb) = dlfeval(g_f32, dlarray(W), dlarray(b), x, t)
    assert D(l).dtype == np.float32 and D(gW).dtype == np.float32 and D(gb).dtype == np.float32, (D(l).dtype, D(gW).dtype)
    def P(W, b):
        z = x @ W.T + b; e = np.exp(z - z.max(1, keepdims=True)); p = e / e.sum(1, keepdims=True)
        return float(-np.sum(t * np.log(p)) / 5)
    assert_close(D(l), P(W.astype(float), b.astype(float)), rtol=1e-5)
    gcheck(gW, P, [W.astype(float), b.astype(float)], 0, rtol=1e-3, atol=1e-5)
    gcheck(gb, P, [W.astype(float), b.astype(float)], 1, rtol=1e-3, atol=1e-5)
run("float32 classifier", t_f32)

# 6 helper called in a loop with accumulation into a list then stack
def cell(h, x, W, U):
    return np.tanh(x @ W + h @ U)
def g_rnn(xs, W, U):
    h = np.zeros((2, 3))
    hs = []
    for t in range(xs.shape[1]):
        h = cell(h, xs[:, t], W, U)
        hs.append(h)
    H = np.stack(hs, axis=1)
    l = np.sum(H[:, -1] ** 2) + np.mean(H)
    return l, dlgradient(l, W, U)
def p_rnn(xs, W, U):
    h = np.zeros((2, 3)); hs = []
    for t in range(xs.shape[1]):
        h = np.tanh(xs[:, t] @ W + h @ U); hs.append(h)
    H = np.stack(hs, 1)
    return float(np.sum(H[:, -1] ** 2) + np.mean(H))
check_entry("rnn helper in loop", g_rnn, p_rnn, [rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 3)), rng.standard_normal((3, 3)) * .5], [1, 2])

# 7 dict params with comprehension update inside (SGD step inside and loss after step: meta-learning)
def g_meta(p, x, t):
    def inner_loss(q):
        return np.mean((np.tanh(x @ q["w"]) - t) ** 2)
    l0 = inner_loss(p)
    g0 = dlgradient(l0, p)
    q = {k: p[k] - 0.3 * g0[k] for k in p}
    l1 = inner_loss(q)
    return l1, dlgradient(l1, p)
def t_meta():
    x = rng.standard_normal((5, 3)); t = rng.standard_normal((5, 2)); w = rng.standard_normal((3, 2))
    l, g = dlfeval(g_meta, {"w": dlarray(w)}, x, t)
    def inner(w):
        return np.mean((np.tanh(x @ w) - t) ** 2)
    def grad_inner(w):
        th = np.tanh(x @ w)
        return x.T @ (2 * (th - t) * (1 - th ** 2)) / th.size
    P = lambda w: float(inner(w - 0.3 * grad_inner(w)))
    assert_close(D(l), P(w))
    gcheck(g["w"], P, [w], 0)
run("MAML-style inner step (2nd order)", t_meta)

# 8 while loop with break and early return
def g_while(x):
    y = x
    n = 0
    while np.sum(y ** 2) < 50 and n < 10:
        y = y * 1.5 + np.sin(y)
        n += 1
        if n > 5:
            break
    l = np.sum(y)
    return l, dlgradient(l, x)
def p_while(x):
    y = x; n = 0
    while np.sum(y ** 2) < 50 and n < 10:
        y = y * 1.5 + np.sin(y); n += 1
        if n > 5: break
    return float(np.sum(y))
check_entry("while/break", g_while, p_while, [rng.standard_normal(3) * 0.5], [0])

# 9 complex: MATLAB-style FFT loss
def g_fft(x):
    X = np.fft.fft(x)
    l = np.sum(np.abs(X) ** 2) / x.size + np.real(np.sum(X * np.conj(X[::-1])))
    return l, dlgradient(l, x)
def p_fft(x):
    X = np.fft.fft(x)
    return float(np.sum(np.abs(X) ** 2) / x.size + np.real(np.sum(X * np.conj(X[::-1]))))
check_entry("fft loss real", g_fft, p_fft, [rng.standard_normal(6)], [0])
check_entry("fft loss complex", g_fft, p_fft, [rng.standard_normal(6) + 1j * rng.standard_normal(6)], [0])

# 10 builtin abs/ max / min / sum on arrays
def g_builtins(x):
    l = sum(abs(x)) + max(x[0], x[1]) * min(x[2], x[3]) + sum([v ** 2 for v in x])
    return l, dlgradient(l, x)
def p_builtins(x):
    return float(sum(abs(x)) + max(x[0], x[1]) * min(x[2], x[3]) + sum([v ** 2 for v in x]))
check_entry("python builtins", g_builtins, p_builtins, [rng.standard_normal(4)], [0])

# 11 np.linalg
def g_lin(A, b):
    x = np.linalg.solve(A @ A.T + np.eye(3), b)
    l = x @ x + np.log(np.linalg.det(A @ A.T + np.eye(3))) + np.trace(np.linalg.inv(A + 3 * np.eye(3)))
    return l, dlgradient(l, A, b)
def p_lin(A, b):
    M = A @ A.T + np.eye(3); x = np.linalg.solve(M, b)
    return float(x @ x + np.log(np.linalg.det(M)) + np.trace(np.linalg.inv(A + 3 * np.eye(3))))
check_entry("linalg", g_lin, p_lin, [rng.standard_normal((3, 3)), rng.standard_normal(3)], [0, 1])

# 12 fancy-index writes with repeated indices, last wins
def g_fancy(x):
    z = np.zeros(4)
    z[[0, 1, 0]] = x[:3] * 2
    z[np.array([3, 3])] = x[3:5] ** 2
    l = np.sum(z * np.arange(1, 5))
    return l, dlgradient(l, x)
def p_fancy(x):
    z = np.zeros(4); z[[0, 1, 0]] = x[:3] * 2; z[np.array([3, 3])] = x[3:5] ** 2
    return float(np.sum(z * np.arange(1, 5)))
check_entry("fancy repeated writes", g_fancy, p_fancy, [rng.standard_normal(5)], [0])

# 13 np.add.at
def g_addat(x, idx):
    z = np.zeros(3)
    np.add.at(z, idx, x ** 2)
    l = np.sum(z * np.array([1.0, 2.0, 3.0]))
    return l, dlgradient(l, x)
def p_addat(x, idx):
    z = np.zeros(3); np.add.at(z, idx, x ** 2)
    return float(np.sum(z * np.array([1.0, 2.0, 3.0])))
check_entry("add.at", g_addat, p_addat, [rng.standard_normal(5), np.array([0, 2, 2, 1, 0])], [0], conv=lambda a: dlarray(a) if a.dtype.kind == "f" else a)

# 14 GELU and layernorm-ish manual
def g_manual_ln(x, g_, b_):
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.var(x, axis=-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + 1e-5) * g_ + b_
    l = np.sum(gelu(y) ** 2)
    return l, dlgradient(l, x, g_, b_)
def p_manual_ln(x, g_, b_):
    from math import erf
    mu = np.mean(x, -1, keepdims=True); var = np.var(x, -1, keepdims=True)
    y = (x - mu) / np.sqrt(var + 1e-5) * g_ + b_
    ge = 0.5 * y * (1 + np.vectorize(erf)(y / np.sqrt(2)))
    return float(np.sum(ge ** 2))
check_entry("manual layernorm + gelu", g_manual_ln, p_manual_ln, [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)], [0, 1, 2])

# 15 x.sort(), np.sort, np.max with axis, argmax indexing
def g_sort(x):
    y = np.sort(x, axis=1)
    z = x.copy()
    z.sort(axis=0)
    i = np.argmax(x, axis=1)
    l = np.sum(y[:, -1] * 2) + np.sum(z[0]) + np.sum(x[np.arange(3), i] ** 2) + np.sum(np.max(x, axis=0))
    return l, dlgradient(l, x)
def p_sort(x):
    y = np.sort(x, 1); z = np.sort(x, 0); i = np.argmax(x, 1)
    return float(np.sum(y[:, -1] * 2) + np.sum(z[0]) + np.sum(x[np.arange(3), i] ** 2) + np.sum(np.max(x, 0)))
check_entry("sort/argmax/max", g_sort, p_sort, [rng.standard_normal((3, 4))], [0])

IDX = np.array([0, 2, 2, 1, 0])
def g_addat2(x):
    z = np.zeros(3)
    np.add.at(z, IDX, x ** 2)
    l = np.sum(z * np.array([1.0, 2.0, 3.0]))
    return l, dlgradient(l, x)
def p_addat2(x):
    z = np.zeros(3); np.add.at(z, IDX, x ** 2)
    return float(np.sum(z * np.array([1.0, 2.0, 3.0])))
check_entry("add.at (global idx)", g_addat2, p_addat2, [rng.standard_normal(5)], [0])
