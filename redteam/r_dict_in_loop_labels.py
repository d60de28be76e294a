"""Minor: formatted values stored into a dict inside a loop come back from dlfeval without their labels
(the same value returned directly keeps 'SSCB'). Labels lost, not wrong."""
import sys; sys.path.insert(0, "..")
import numpy as np, sct
from sct import dlarray, dlfeval, dims, dlconv, relu

P = {"a": np.ones((3, 3, 2, 2)) * 0.1, "b": np.ones((3, 3, 2, 2)) * 0.1}

def f(x, params):
    h = x
    acts = {}
    for name in ["a", "b"]:
        h = relu(dlconv(h, params[name], 0, Padding="same"))
        acts[name] = h
    return h, acts

h, acts = dlfeval(f, dlarray(np.ones((5, 5, 2, 3)), "SSCB"), P)
print("h:", repr(dims(h)), " acts:", {k: dims(v) for k, v in acts.items()}, "(MATLAB: SSCB for all)")
