"""`out[i, 1:] += out[i, :-1] * 0.5` on a fresh np.zeros array inside a loop is refused at run time, the
message claiming `out` may be shared, and the error names the `for` line instead of the `+=` line."""
import sys; sys.path.insert(0, "..")
import numpy as np
import sct
from sct import dlarray, dlfeval, dlgradient

def f(x):
    out = np.zeros((3, 4))
    for i in range(3):
        out[i] = x[i] * 2.0
        out[i, 1:] += out[i, :-1] * 0.5
    l = np.sum(out ** 2)
    return l, dlgradient(l, x)

def g(x):                                  # the same without the loop: refused at compile time, at the += line
    out = np.zeros((3, 4))
    out[0] = x[0] * 2.0
    out[0, 1:] += out[0, :-1] * 0.5
    l = np.sum(out ** 2)
    return l, dlgradient(l, x)

x = np.random.default_rng(0).standard_normal((3, 4))
for fun in (g, f):
    try:
        print(dlfeval(fun, dlarray(x))[0])
    except sct.SctError as e:
        print(fun.__name__, type(e).__name__, "line", e.lineno, ":", str(e)[:300])
