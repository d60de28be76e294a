"""jvp(mode="transpose") of abs of a complex input: wrong tangent (forward mode is right)."""
import numpy as np, sct
from sct import dlarray

def f(x):
    return abs(x)

def g(x):
    return np.real(x) * 2.0

def h(x):
    return np.abs(x) * 1j

z = np.array([1.0 + 2.0j, -0.5 + 0.3j]); v = np.array([0.3 - 1.0j, 1.0 + 0.5j])
for fun in (f, g, h):
    fd = (fun(z + 1e-6 * v) - fun(z - 1e-6 * v)) / 2e-6
    for mode in ("forward", "transpose"):
        y, jv = sct.jvp(fun, (dlarray(z),), (v,), mode=mode)
        print(fun.__name__, mode, np.round(np.asarray(jv.data), 6), "expected", np.round(fd, 6))
