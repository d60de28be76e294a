import numpy as np, sct, sys
sys.path.insert(0, "../tests")
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient

c = 0.5 - 1.0j
def L(x, u):
    y = abs(x) * c
    return np.sum(np.real(np.conj(u) * y))

def first(x, u):
    l = L(x, u)
    return dlgradient(l, x)

def second(x, u, v):
    l = L(x, u)
    g = dlgradient(l, x)
    s = np.sum(np.real(np.conj(g) * v))
    return s, dlgradient(s, u)

x = np.array([1.0 + 2.0j]); u = np.array([0.7 + 0.2j]); v = np.array([0.3 - 1.0j])
print("grad x", dlfeval(first, dlarray(x), dlarray(u)).data, numerical_gradient(L, [x, u], 0))
def S(x, u, v):
    g = numerical_gradient(L, [x, u], 0)
    return np.sum(np.real(np.conj(g) * v))
s, gu = dlfeval(second, dlarray(x), dlarray(u), v)
print("s", s, S(x, u, v))
print("grad u", gu.data, numerical_gradient(lambda u: S(x, u, v), [u], 0, step=1e-4))
