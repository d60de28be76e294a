"""User-style functions for scripts/source_snapshot.py (compile-speed work: generated code must not change)."""
import numpy as np
from sct import dlgradient


def loop_if(x, w):
    h = x
    for i in range(4):
        h = np.tanh(w @ h)
        if np.sum(h) > 0:
            h = h * 2
        else:
            h = h - 1
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, x, w)


def while_loop(x):
    s = x
    n = 0
    while n < 5:
        s = np.sin(s) + 0.1 * s
        n += 1
    y = np.sum(s * s)
    return y, dlgradient(y, x)


def helper(a, b):
    return np.tanh(a) * b + a ** 2


def helpers_in_loop(x, w):
    acc = 0.0
    for k in range(3):
        acc = acc + np.sum(helper(x * k, w))
    return acc, dlgradient(acc, x, w)


def dict_params(p, x):
    h = np.tanh(p["W1"] @ x + p["b1"])
    y = p["W2"] @ h + p["b2"]
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, p)


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return self.W @ x + self.b


def with_class(W, b, x):
    layer = Affine(W, b)
    y = np.tanh(layer(x))
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, W, b)


def closures(x, c):
    def f(t):
        return np.exp(-c * t) * t
    y = np.sum(f(x) + f(2 * x))
    return y, dlgradient(y, x)


def slice_writes(x):
    y = x * 1.0
    y[1:3] = y[1:3] * 2 + x[0:2]
    y[0] = np.sin(x[0])
    y[::2] += 0.5 * x[::2]
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, x)


def higher(x):
    y = np.sum(np.sin(x) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, x)


def float32_net(W, x):
    y = np.maximum(W @ x, 0.0)
    loss = np.mean(y ** 2)
    return loss, dlgradient(loss, W)


def scalar_branches(x):
    y = x
    for i in range(20):
        if y > 0.5:
            y = y * 0.9 - 0.01 * np.sin(y)
        else:
            y = y + 0.1 * np.cos(y)
    return y, dlgradient(y, x)


def reductions(x, W):
    m = np.mean(x, axis=0)
    v = np.var(x, axis=0)
    z = (x - m) / np.sqrt(v + 1e-5)
    s = z @ W
    e = np.exp(s - np.max(s, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    loss = -np.mean(np.log(p[:, 0] + 1e-9))
    return loss, dlgradient(loss, W)


def listy(x):
    parts = [x[i] * (i + 1) for i in range(3)]
    t = sum(parts)
    u = np.stack([t, t * 2])
    loss = np.sum(np.abs(u)) + np.linalg.norm(x)
    return loss, dlgradient(loss, x)


def tuple_unpack(x, w):
    a, b = x[0], x[1:]
    c, d = np.tanh(a), np.exp(b) * w
    r = np.sum(d) * c
    return r, dlgradient(r, x, w)


def nested_loops(A, v):
    total = 0.0
    for i in range(3):
        for j in range(2):
            total = total + np.sum(A[i, j] * v) ** 2
    return total, dlgradient(total, A, v)


def hvp_like(x, v):
    y = np.sum(np.cos(x) * x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    gv = np.sum(g * v)
    return gv, dlgradient(gv, x)


def cases():
    """(name, function, args builder)."""
    from sct import dlarray
    rng = np.random.default_rng(7)
    d = lambda *s: dlarray(rng.standard_normal(s))
    return [
        ("loop_if", loop_if, lambda: (d(3), d(3, 3))),
        ("while_loop", while_loop, lambda: (d(4),)),
        ("helpers_in_loop", helpers_in_loop, lambda: (d(4), d(4))),
        ("dict_params", dict_params, lambda: ({"W1": d(5, 3), "b1": d(5), "W2": d(2, 5), "b2": d(2)}, d(3))),
        ("with_class", with_class, lambda: (d(3, 3), d(3), d(3))),
        ("closures", closures, lambda: (d(4), 0.5)),
        ("slice_writes", slice_writes, lambda: (d(6),)),
        ("higher", higher, lambda: (d(3),)),
        ("float32_net", float32_net, lambda: (dlarray(rng.standard_normal((4, 3)).astype(np.float32)),
                                              dlarray(rng.standard_normal(3).astype(np.float32)))),
        ("scalar_branches", scalar_branches, lambda: (dlarray(0.3),)),
        ("scalar_branches_py", scalar_branches, lambda: (0.3,)),
        ("reductions", reductions, lambda: (d(8, 4), d(4, 3))),
        ("listy", listy, lambda: (d(3),)),
        ("tuple_unpack", tuple_unpack, lambda: (d(4), d(3))),
        ("nested_loops", nested_loops, lambda: (d(3, 2, 4), d(4))),
        ("hvp_like", hvp_like, lambda: (d(5), d(5))),
    ]
