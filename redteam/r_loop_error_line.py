"""A run-time error inside a loop body is reported at the `for` line, not at the line that failed."""
import sys; sys.path.insert(0, "..")
import numpy as np
import sct
from sct import dlarray, dlfeval, dlgradient

def h(x):
    s = 0.0
    for i in range(3):
        y = x[i] * 2.0
        z = y @ np.ones((5, 2))          # line 11: shape mismatch (x[i] has 4 entries)
        s = s + np.sum(z)
    return s, dlgradient(s, x)

def h_plain(x):
    s = 0.0
    for i in range(3):
        y = x[i] * 2.0
        z = y @ np.ones((5, 2))          # line 19
        s = s + np.sum(z)
    return s

x = np.ones((3, 4))
try:
    h_plain(x)
except ValueError as e:
    print("plain Python:", e.__traceback__.tb_next.tb_lineno)
for fun in (h, h_plain):
    try:
        dlfeval(fun, dlarray(x))
    except sct.SctError as e:
        print(fun.__name__, type(e).__name__, "reported line", e.lineno, ":", str(e)[:160])
