from common import *
from sct import dlconv, relu
rng = np.random.default_rng(0)
P = {"a": rng.standard_normal((3, 3, 2, 2)), "b": rng.standard_normal((3, 3, 2, 2))}

def loop_h(x, params):
    h = x
    for name in ["a", "b"]:
        h = relu(dlconv(h, params[name], 0, Padding="same"))
    return h, dims(h)

def loop_h2(x, params):
    h = x
    for i in range(2):
        h = h * 2.0
    return h, dims(h)

x = dlarray(rng.standard_normal((5, 5, 2, 3)), "SSCB")
for f in (loop_h, loop_h2):
    h, d = dlfeval(f, x, P)
    print(f.__name__, repr(dims(h)), repr(d))
