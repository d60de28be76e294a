"""Builtin abs() of a complex array times a complex number: wrong gradient; np.abs is right."""
import numpy as np, sys
sys.path.insert(0, "../tests")
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient

def L_builtin(x):
    return np.real(np.sum(abs(x) * (0.5 - 1.0j)))
def L_np(x):
    return np.real(np.sum(np.abs(x) * (0.5 - 1.0j)))
def L_builtin_real(x):
    return np.sum(abs(x) * 2.0)
def L_builtin_imag(x):
    return np.real(np.sum(abs(x) * 1j))

x = np.array([1.0 + 2.0j, -0.3 + 0.4j])
for L in (L_builtin, L_np, L_builtin_real, L_builtin_imag):
    def f(x):
        l = L(x)
        return dlgradient(l, x)
    print(f"{L.__name__:16s} sct", dlfeval(f, dlarray(x)).data, "fd", numerical_gradient(L, [x], 0))
