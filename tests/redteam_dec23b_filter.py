"""Red team B (Dec 23): programs calling the builtin filter (tests/test_redteam_dec23b.py)."""
import numpy as np
from sct import dlgradient

def positive(v):
    return v > 0

def f_lambda_traced(x):
    return sum(filter(lambda v: v > 0.2, x)) + np.sum(np.array(list(filter(lambda v: v < 0.5, x * 2))))

def f_none(x):
    return sum(filter(None, [x[0], x[1] * 0.0, x[2]]))

def f_named(x):
    kept = list(filter(positive, np.sin(x)))
    return sum(k ** 2 for k in kept) + len(kept)

def f_loop(x):
    tot = 0.0
    for v in filter(lambda v: abs(v) > 0.3, x):
        tot = tot + v * tot + v
    return tot

def f_arrays(W):
    rows = list(filter(lambda r: np.linalg.norm(r) > 1.0, W))
    return sum(np.sum(r ** 2) for r in rows)

def helper(xs):
    return [v * 3 for v in filter(lambda v: v > 0, xs)]

def f_helper(x):
    return sum(helper(x)) + sum(helper(-x))

def f_dict(p):
    keys = list(filter(lambda k: k.startswith("w"), sorted(p)))
    return sum(np.sum(p[k] ** 2) for k in keys)

def f_closure_var(x):
    t = 0.1
    out = list(filter(lambda v: v > t, x))
    t = 100.0
    return sum(out)

def f_lazy_var(x):
    t = 0.1
    g = filter(lambda v: v > t, x)
    t = 0.6
    return sum(g)

def f_second(x):
    y = sum(filter(lambda v: v > 0.2, x ** 2))
    g = dlgradient(y, x)
    return np.sum(g * g)
