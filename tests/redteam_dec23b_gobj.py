"""Red team B (Dec 23): methods named like numpy's of a global or closure object (tests/test_redteam_dec23b.py)."""
import numpy as np
from sct import dlgradient

class Acc:
    def __init__(self, w):
        self.w = w
    def sum(self, x):
        return np.sum(x * self.w)
    def get(self, x, k):
        return x[k] * self.w[k]
    def mean(self, x):
        return np.mean(x) * 2.0

AGG = Acc(np.array([1.0, 2.0, 3.0]))

def uses_global(x):
    return AGG.sum(x ** 2) + AGG.get(x, 1) + AGG.mean(np.sin(x))

def make(w):
    agg = Acc(w)
    def inner(x):
        return agg.sum(np.exp(x)) + agg.get(x, 2) ** 2
    return inner

def first(f, x):
    y = f(x)
    return y, dlgradient(y, x)
