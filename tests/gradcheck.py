"""The one gradient checker every test uses: central differences in float64.

Complex inputs follow MATLAB's convention: the gradient of a real L at a
complex x is dL/dRe(x) + i dL/dIm(x).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def D(v):
    """The ndarray of a dlarray, a number or an array (to compare with numpy's)."""
    return np.asarray(v.data) if type(v).__name__ == "dlarray" else np.asarray(v)


def leaves(v):
    """The arrays and numbers of a result nested in lists, tuples and dicts, in order."""
    if isinstance(v, (list, tuple)):
        for e in v:
            yield from leaves(e)
    elif isinstance(v, dict):
        for e in v.values():
            yield from leaves(e)
    else:
        yield v


def numerical_gradient(f: Callable[..., float], args: Sequence, index: int,
                       step: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the real scalar ``f(*args)`` w.r.t. ``args[index]``."""
    # C-ordered copies: the flat view below must write into the array f reads (a transposed,
    # Fortran-ordered argument would otherwise be perturbed in a copy and give zeros)
    args = [np.array(a, dtype=np.result_type(a, np.float64), order="C") if _numeric(a) else a
            for a in args]
    x = args[index]
    grad = np.zeros_like(x)
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    assert np.shares_memory(flat_x, x) or x.size == 0, "numerical_gradient: no flat view of the argument"
    directions = [1.0, 1j] if np.iscomplexobj(x) else [1.0]
    for k in range(flat_x.size):
        for d in directions:
            orig = flat_x[k]
            flat_x[k] = orig + step * d
            up = float(np.real(f(*args)))
            flat_x[k] = orig - step * d
            down = float(np.real(f(*args)))
            flat_x[k] = orig
            flat_g[k] += d * (up - down) / (2 * step)
    return grad


def numerical_gradients(f: Callable[[list], float], values: Sequence, step: float = 1e-6) -> list:
    """Central-difference gradients of the real scalar ``f(list of arrays)`` w.r.t. each array."""
    return [numerical_gradient(lambda *vs: f(list(vs)), values, k, step) for k in range(len(values))]


def _numeric(a) -> bool:
    return isinstance(a, (int, float, complex, np.ndarray, np.number))


def vjp_objective(op: Callable, cotangent) -> Callable:
    """L(args) = Re <cotangent, op(args)>: its gradient is the rule's output for g=cotangent."""
    def objective(*args):
        return np.real(np.sum(np.conj(cotangent) * op(*args)))
    return objective


def assert_close(actual, expected, rtol: float = 1e-5, atol: float = 1e-6, what: str = ""):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def check_rule(op: Callable, rule: Callable, args: Sequence, wrt: Sequence[int],
               kwargs=None, rtol: float = 1e-5, atol: float = 1e-6, seed: int = 0):
    """Check a rule function ``rule(g, ans, *args)`` against finite differences of ``op``."""
    kwargs = kwargs or {}
    rng = np.random.default_rng(seed)
    ans = op(*args, **kwargs)
    g = rng.standard_normal(np.shape(ans))
    if np.iscomplexobj(ans):
        g = g + 1j * rng.standard_normal(np.shape(ans))
    results = rule(g, ans, *args, **kwargs)
    if len(wrt) == 1 and not isinstance(results, tuple):
        results = (results,)
    f = vjp_objective(lambda *a: op(*a, **kwargs), g)
    for position, got in zip(wrt, results):
        expected = numerical_gradient(f, args, position)
        got = np.asarray(got)
        if not np.iscomplexobj(args[position]):
            got = np.real(got)
        got = np.broadcast_to(got, np.shape(expected)) if got.shape != expected.shape and got.size == 1 else got
        assert_close(got, expected, rtol, atol, what=f"{getattr(op, '__name__', op)} d/darg{position}")


def _gradient_of_1(fun, a):
    y = fun(a)
    return y, dlgradient(y, a)


def _gradient_of_2(fun, a, b):
    y = fun(a, b)
    return y, dlgradient(y, a, b)


def _gradient_of_3(fun, a, b, c):
    y = fun(a, b, c)
    return y, dlgradient(y, a, b, c)


def sct_gradients(fun: Callable, *args):
    """sct's value and gradients of the real scalar ``fun(*args)`` w.r.t. every argument."""
    from sct import dlarray, dlfeval
    wrapper = [_gradient_of_1, _gradient_of_2, _gradient_of_3][len(args) - 1]
    value, grads = dlfeval(wrapper, fun, *[dlarray(a) for a in args])
    if len(args) == 1:
        grads = (grads,)
    return value, [np.asarray(g.data) for g in grads]


def check_grads(fun: Callable, *args, rtol: float = 1e-5, atol: float = 1e-6):
    """Check sct's gradient of the real scalar ``fun(*args)`` against central differences.

    ``fun`` is an ordinary function of arrays (it may call helpers, loop,
    branch); it is differentiated with respect to every argument, in float64
    unless an argument is complex.
    """
    arrays = [np.array(a, dtype=np.result_type(a, np.float64)) for a in args]
    value, got = sct_gradients(fun, *arrays)
    np.testing.assert_allclose(np.asarray(value.data), np.real(fun(*arrays)), rtol=1e-10, atol=1e-12,
                               err_msg=f"{fun.__name__}: value")
    for position, g in enumerate(got):
        expected = numerical_gradient(fun, arrays, position)
        assert_close(g, expected, rtol, atol, what=f"{fun.__name__} d/darg{position}")
        assert g.dtype == arrays[position].dtype, f"{fun.__name__}: gradient dtype {g.dtype}"
    return got


from sct import dlgradient  # noqa: E402  (the wrappers above are compiled by sct)


def _gradient_norm(fun, a):
    g = dlgradient(fun(a), a, EnableHigherDerivatives=True)
    z = np.sum(g * g)
    return z, dlgradient(z, a)


def check_tangent(fun: Callable, x, v, step: float = 1e-6, rtol: float = 1e-6):
    """Check ``sct.jvp`` of the real scalar ``fun(x)`` (one float64 array) in the direction ``v``:
    the value against Python's, the tangent against a central difference along ``v``."""
    from sct import jvp
    x, v = np.array(x, dtype=np.float64), np.array(v, dtype=np.float64)
    y, t = jvp(fun, (x.copy(),), (v,))
    assert_close(np.asarray(y), fun(x.copy()), rtol=1e-12, atol=1e-12, what=f"{fun.__name__}: value")
    assert_close(np.asarray(t), (fun(x + step * v) - fun(x - step * v)) / (2 * step), rtol=rtol, atol=1e-7,
                 what=f"{fun.__name__}: tangent")


def check_second_order(fun: Callable, x, step: float = 1e-5, rtol: float = 1e-5, atol: float = 1e-5):
    """Check sct's second derivative of the real scalar ``fun(x)`` (one float64 array): the gradient of
    ``z = sum(g * g)``, ``g`` the gradient taken with EnableHigherDerivatives, against central
    differences of sct's own first-order gradient (which ``check_grads`` checks)."""
    from sct import dlarray, dlfeval
    x = np.array(x, dtype=np.float64)

    def z_of(a):
        _, (g,) = sct_gradients(fun, a)
        return np.sum(g * g)

    z, h = dlfeval(_gradient_norm, fun, dlarray(x.copy()))
    assert_close(D(z), z_of(x.copy()), rtol=1e-12, atol=1e-12, what=f"{fun.__name__}: z")
    assert_close(D(h), numerical_gradient(z_of, [x.copy()], 0, step), rtol, atol,
                 what=f"{fun.__name__} d2")
    return D(h)


# --- a case(x, t) -> scalar differentiated first and second order (tests/test_idioms_dec*.py) ----

from sct import dlarray, dlfeval, extractdata  # noqa: E402


def first(f, x, t):
    """``f(x, t)`` and its gradients (a function dlfeval runs)."""
    y = f(x, t)
    return y, dlgradient(y, x, t)


def second(f, x, t):
    """A function of ``f``'s gradients and its gradients (second order)."""
    y = f(x, t)
    gx, gt = dlgradient(y, x, t, EnableHigherDerivatives=True)
    z = np.sum(gx * gx) + np.sum(np.sin(gt))
    return z, dlgradient(z, x, t)


def check_two_inputs(case, x, t, order=2):
    """case(x, t) -> scalar, differentiated through ``first`` (and ``second``)."""
    expected = case(x.copy(), t.copy())
    y, (gx, gt) = dlfeval(first, case, dlarray(x), dlarray(t))
    assert_close(extractdata(y), expected, rtol=1e-12, atol=1e-12, what="value")
    fx = lambda a: case(a, t.copy())
    ft = lambda b: case(x.copy(), b)
    assert_close(extractdata(gx), numerical_gradient(fx, [x.copy()], 0), what="d/dx")
    assert_close(extractdata(gt), numerical_gradient(ft, [t.copy()], 0), what="d/dt")
    if order < 2:
        return

    def z_of(a, b):
        _, (ga, gb) = dlfeval(first, case, dlarray(a), dlarray(b))
        ga, gb = extractdata(ga), extractdata(gb)
        return np.sum(ga * ga) + np.sum(np.sin(gb))
    z, (zx, zt) = dlfeval(second, case, dlarray(x), dlarray(t))
    assert_close(extractdata(z), z_of(x, t), rtol=1e-10, what="second-order value")
    assert_close(extractdata(zx), numerical_gradient(lambda a: z_of(a, t.copy()), [x.copy()], 0),
                 rtol=1e-4, atol=1e-5, what="d2/dx")
    assert_close(extractdata(zt), numerical_gradient(lambda b: z_of(x.copy(), b), [t.copy()], 0),
                 rtol=1e-4, atol=1e-5, what="d2/dt")
