"""Classes for tests/test_redteam_dec3d.py (sct reads __init__'s source: a real module)."""
import numpy as np


class Shared:
    pool = {"w": 0.0}                 # a class attribute: one dict every instance shares

    def __init__(self, w):
        self.pool["w"] = w            # changes the class's dict in place (every instance sees it)
        self.w = w


class History:
    hist = []

    def __init__(self, w):
        self.hist.append(w * 2.0)     # the class's list
        self.w = w


class Total:
    total = np.zeros(6)

    def __init__(self, w):
        self.total += w               # ndarray += : the class's array, in place
        self.w = w


class Scale:
    scale = 2.0                       # numbers: `self.scale *= w` rebinds (exact)
    count = 0

    def __init__(self, w):
        self.scale *= w
        self.count += 1
        self.total = np.zeros(6)      # set on the object first: its own array
        self.total += w
        self.pool = {}
        self.pool = {"w": w * 4.0}


def make_shared(x):
    return Shared(x * 2.0)


def shared_direct(x, v):
    s1 = Shared(x * 2.0)
    s2 = Shared(x * v[0])
    return np.sum(s1.pool["w"] * s1.w) + np.sum(s2.w)


def shared_helper(x, v):
    s1 = make_shared(x)
    s2 = make_shared(x * v[0])
    return np.sum(s1.pool["w"] ** 2) + 0.0 * np.sum(s2.w)


def history(x, v):
    a = History(x * 2.0)
    b = History(x * v[0])
    return np.sum(a.hist[0] * a.hist[-1])


def total(x, v):
    a = Total(x * 2.0)
    b = Total(x * v[0])
    return np.sum(a.total ** 2) + np.sum(b.w)


def make_scale(x):
    return Scale(x)


def scale(x, v):
    tot = 0.0
    for k in range(2):
        s = make_scale(x * v[k])
        tot = tot + np.sum(s.scale ** 2) + np.sum(s.total ** 3) + s.count + np.sum(s.pool["w"] * s.scale)
    return tot


def repeated_add(x, v):
    y = x.copy()
    y[[0, 0, 1]] += v                 # numpy: y[0] = x[0] + v[1] (the last write wins), v[0] unused
    y[y < 0.5] *= 3.0
    return np.sum(y * y * np.arange(1.0, 7.0))
