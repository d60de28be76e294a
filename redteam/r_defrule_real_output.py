"""A user's op declared real_output=True (a true fact) and multiplied by a complex number: the gradient
w.r.t. the complex x is wrong (the adjoint of the real result is not projected onto the reals)."""
import numpy as np, sct, sys
sys.path.insert(0, "../tests")
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient

def mag2(z):
    return np.real(z * np.conj(z))

@sct.defrule(mag2, real_output=True, elementwise=True)
def mag2_rule(g, ans, z):
    return 2 * g * z

def L(x):
    return np.real(np.sum(mag2(x) * (0.5 - 1.0j)))

def f(x):
    l = L(x)
    return dlgradient(l, x)

x = np.array([1.0 + 2.0j, -0.3 + 0.4j])
print("sct", dlfeval(f, dlarray(x)).data, "fd", numerical_gradient(L, [x], 0))
