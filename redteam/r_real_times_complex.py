"""A real intermediate (abs of a complex x) multiplied by a complex constant: the gradient w.r.t. x is wrong
(the adjoint of the real intermediate is left complex)."""
import numpy as np, sct, sys
sys.path.insert(0, "../tests")
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient

def L1(x):
    return np.real(np.sum(abs(x) * (0.5 - 1.0j)))
def L2(x):
    r = np.abs(x)
    return np.real(np.sum(r * 1j))       # identically 0
def L3(x):
    r = np.real(x)
    return np.real(np.sum(r * (2 + 3j)))   # = 2 Re x -> grad 2
def L4(x):
    r = x.real ** 2
    return np.sum(np.imag(r * 1j))   # = Re(x)^2 -> grad 2 Re x
def L5(x):               # real x, complex constant: should be fine
    return np.real(np.sum(x * (0.5 - 1.0j)))

for L, x in ((L1, np.array([1.0 + 2.0j])), (L2, np.array([1.0 + 2.0j])), (L3, np.array([1.0 + 2.0j])),
             (L4, np.array([1.0 + 2.0j])), (L5, np.array([1.0, 2.0]))):
    def f(x):
        l = L(x)
        return dlgradient(l, x)
    print(L.__name__, "sct", dlfeval(f, dlarray(x)).data, "fd", numerical_gradient(L, [x], 0))
