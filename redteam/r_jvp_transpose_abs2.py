"""jvp(mode="transpose") of a complex-valued output built from a real-valued intermediate of a complex
input (abs(x) * y): wrong tangent; mode="forward" is right."""
import numpy as np, sct
from sct import dlarray

def f(x, y):
    return abs(x) * y

x = np.array([1.0 + 2.0j]); y = np.array([0.5 - 1.0j])
vx = np.array([0.3 - 1.0j]); vy = np.array([0.0 + 0.0j])
fd = (f(x + 1e-6 * vx, y + 1e-6 * vy) - f(x - 1e-6 * vx, y - 1e-6 * vy)) / 2e-6
for mode in ("forward", "transpose"):
    _, jv = sct.jvp(f, (dlarray(x), dlarray(y)), (vx, vy), mode=mode)
    print(mode, np.asarray(jv.data), "expected", fd)

def f1(x):
    return abs(x) * (0.5 - 1.0j)
fd = (f1(x + 1e-6 * vx) - f1(x - 1e-6 * vx)) / 2e-6
for mode in ("forward", "transpose"):
    _, jv = sct.jvp(f1, (dlarray(x),), (vx,), mode=mode)
    print("const", mode, np.asarray(jv.data), "expected", fd)
