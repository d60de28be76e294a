"""``python -m sct.demo``: the seed page's examples, with the generated adjoint source."""
from __future__ import annotations

import numpy as np

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata


def rosenbrock(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    dydx = dlgradient(y, x)
    return y, dydx


def rosenbrock2(x1, x2):
    y = 100*(x2 - x1**2)**2 + (1 - x1)**2
    dydx1, dydx2 = dlgradient(y, x1, x2)
    return y, dydx1, dydx2


def complex_fun(x):
    y = (2+3j)*x
    return y


def grad_fun(x):
    y = complex_fun(x)
    y = np.real(y)
    grad = dlgradient(np.sum(y), x)
    return y, grad


def hessian_vector_product(x, A, v):
    y = x @ A @ x
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * v), x)


def main() -> None:
    x0 = dlarray([-1, 2])
    fval, gradval = dlfeval(rosenbrock, x0)
    print("[fval, gradval] = dlfeval(rosenbrock, dlarray([-1, 2]))")
    print("fval =", fval, "gradval =", gradval, sep="\n")

    fval, d1, d2 = dlfeval(rosenbrock2, dlarray(-1), dlarray(2))
    print("rosenbrock2: fval =", float(fval), " dydx1 =", float(d1), " dydx2 =", float(d2))

    res = np.linspace(-2, 2, 11)
    x = dlarray(res + 1j * res[:, None])
    _, grad = dlfeval(grad_fun, x)
    print("complex example: grad(1,1) =", extractdata(grad)[0, 0],
          "(the same everywhere:", bool(np.allclose(extractdata(grad), 2 - 3j)), ")")

    A = np.array([[1.0, 2.0], [0.5, 3.0]])
    v = np.array([1.0, -1.0])
    hv = dlfeval(hessian_vector_product, dlarray([0.3, 0.7]), A, v)
    print("Hessian-vector product of x'Ax:", extractdata(hv), " (A + A') v =", (A + A.T) @ v)

    print("\nThe generated forward and adjoint code of rosenbrock:\n")
    print(sct.source(rosenbrock, x0))


if __name__ == "__main__":
    main()
