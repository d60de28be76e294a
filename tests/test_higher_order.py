"""Higher derivatives (issue 3): a gradient returned by dlgradient, differentiated again.

1. Every op of the table in tests/test_op_rules.py: Hessian-vector products built
   from two nested dlgradient calls, against central differences of sct's first
   derivative along the same direction.
2. Closed forms: sin'' = -sin, a third derivative, x'Ax, a WGAN-GP gradient
   penalty, the Hessian of Rosenbrock.
3. Through control flow, helpers, recursion and methods of the user's classes.
4. The options: EnableHigherDerivatives=False, RetainData.
5. MATLAB's unsupported list, where the runtime has the op: prod, interp.
"""
from __future__ import annotations

import linecache
import operator

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradient

try:
    import tests.test_op_rules as op_rules
except ImportError:
    import test_op_rules as op_rules

pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")

STEP = 1e-5
RTOL = 1e-4
ATOL = 1e-6


# --- wrappers compiled by sct ------------------------------------------------------------------------

def _hvp(fun, a, w, v):
    """d/da <v, d/da sum(w * fun(a))>: the Hessian of sum(w * fun) times v."""
    y = np.sum(w * fun(a))
    g = dlgradient(y, a)
    return dlgradient(np.sum(g * v), a)


def _grad(fun, a, w):
    y = np.sum(w * fun(a))
    return dlgradient(y, a)


def hvp_and_fd(fun, a, w, v, step=STEP):
    """sct's Hessian-vector product, and central differences of sct's gradient along v."""
    got = np.asarray(dlfeval(_hvp, fun, dlarray(a), w, v).data)
    up = np.asarray(dlfeval(_grad, fun, dlarray(a + step * v), w).data)
    down = np.asarray(dlfeval(_grad, fun, dlarray(a - step * v), w).data)
    return got, (up - down) / (2 * step)


def check_hvp(fun, a, seed=0, rtol=RTOL, atol=ATOL, what=""):
    rng = np.random.default_rng(seed)
    a = np.asarray(a, dtype=np.float64)
    out = fun(a)
    w = rng.standard_normal(np.shape(out))
    v = rng.standard_normal(np.shape(a))
    got, expected = hvp_and_fd(fun, a, w, v)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    assert_close(got, expected, rtol, atol * scale, what=what)
    return got


# --- 1. every op of the table ------------------------------------------------------------------------
#
# For each case, op and differentiable position p, a function ``f(a)`` computes the
# op (or the case's wrapper) with ``a`` at position p and the other sample arguments
# and keyword arguments fixed.  sct compiles from source, and the compiler takes no
# ``**kwargs`` in calls and no lambdas, so ``f`` is written out as source (registered
# with linecache, as a notebook cell is) with every argument and keyword bound by name.

def _eigh_stacked(a, UPLO="L"):
    """tests/test_op_rules.eigh_stacked with its keyword spelled out (the compiler takes no **kw)."""
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return np.concatenate([np.ravel(w), np.ravel(v * v[..., :1, :]), np.ravel(v ** 2)])


def _flat3(r):
    """The entries of ``[x, [y, z]]`` (the shape of scale_each's sample), in one vector."""
    return np.concatenate([np.ravel(r[0]), np.ravel(r[1][0]), np.ravel(r[1][1])])


# cases whose ``fn`` is a lambda: the same computation as a call template
_LAMBDA_TEMPLATES = {
    "einsum_list": "OP({0}, [{1}, {2}])",
    "max": "OP([x for x in {0}])",          # the table's list(x): see test_list_of_an_array
    "sum": "OP([{0}, {1}], {2})",
    "scale_each": "FLAT3(OP({0}, {1}))",    # the table's recursive flat_nested: see test_recursion_over_nested_lists
    "weighted_sum": "OP([{0}, [{1}, {2}]], {3})",
    "atleast_2d": "FLAT(OP({0}, {1}))",
}

_COUNTER = [0]


def _define(source: str, namespace: dict):
    """``def f(a)`` from source text, with a file name linecache (hence sct) can read."""
    _COUNTER[0] += 1
    filename = f"<test_higher_order f{_COUNTER[0]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = dict(namespace, np=np)
    exec(compile(source, filename, "exec"), scope)
    return scope["f"]


def make_case_function(case, op, args, p):
    """``f(a)``: the case's computation with ``a`` at position ``p``, as sct-readable source."""
    ns = {"OP": op, "FLAT": op_rules.flat, "FLAT3": _flat3}
    names = []
    for i, value in enumerate(args):
        if i == p:
            names.append("a")
        else:
            ns[f"c{i}"] = value
            names.append(f"c{i}")
    keywords = []
    for k, value in case.kwargs.items():
        ns[f"K_{k}"] = value
        keywords.append(f"{k}=K_{k}")
    fn = case.fn
    qualname = getattr(fn, "__qualname__", "")
    if fn is None:
        expr = f"OP({', '.join(names + keywords)})"
    elif qualname.startswith("seq_in."):
        n = op_rules.inspect.getclosurevars(fn).nonlocals["n"]
        out_list = op_rules.inspect.getclosurevars(fn).nonlocals["out_list"]
        expr = f"OP([{', '.join(names[:n])}], {', '.join(names[n:] + keywords)})"
        expr = f"FLAT({expr})" if out_list else expr
    elif qualname.startswith("seq_out."):
        expr = f"FLAT(OP({', '.join(names + keywords)}))"
    elif fn is op_rules.eigh_stacked:
        ns["FN"] = _eigh_stacked
        expr = f"FN({', '.join(names + keywords)})"
    elif fn.__name__ == "<lambda>":
        expr = _LAMBDA_TEMPLATES[case.aliases[0].__name__].format(*names)
    else:
        ns["FN"] = fn
        expr = f"FN({', '.join(names + keywords)})"
    out = eval(compile(expr, "<expr>", "eval"), dict(ns, np=np, a=args[p]))
    if np.iscomplexobj(out):                   # a real op with a complex result: L = Re sum(w * op)
        expr = f"np.real({expr})"
    return _define(f"def f(a):\n    return {expr}\n", ns)


def _op_params():
    params = []
    for index, case in enumerate(op_rules.CASES):
        for op in case.aliases:
            for p in case.wrt:
                pid = f"{op_rules.op_name(op)}-{index}-arg{p}"
                reason = known_failure(case, op)
                marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
                params.append(pytest.param(case, op, p, id=pid, marks=marks))
    return params


_SVD = ("second derivatives through singular values: their rule calls np.linalg.svd with "
        "compute_uv=True (runtime/numpy_ops.singular_values_adjoint), whose own rule only "
        "supports compute_uv=False")


def known_failure(case, op) -> str:
    """Why this case's second derivative is known to fail (a bug reported with an example), or ''."""
    from runtime import numpy_ops as nops
    if op is np.linalg.eigh:
        return ("wrong values: runtime declares eigen_gaps nondifferentiable, but it depends on the "
                "eigenvalues, so the eigenvector part of eigh's rule is differentiated as if "
                "1/(w_j - w_i) were constant (see test_eigh_eigenvectors_second_derivative)")
    if op in (np.linalg.svd, np.linalg.svdvals):
        return _SVD
    if op in (np.linalg.norm, np.linalg.matrix_norm) and case.kwargs.get("ord") in (2, -2, "nuc"):
        return _SVD + f" (ord={case.kwargs['ord']!r})"
    if op is nops.transpose_method and len(case.args) == 1:
        return ("a first-order bug: a.transpose() with no axes generates `rt.method_axes(axes)` "
                "with `axes` unbound (NameError; see test_transpose_method_without_axes)")
    return ""


@pytest.mark.parametrize("case, op, p", _op_params())
def test_second_derivative_of_every_op(case, op, p):
    rng = np.random.default_rng(len(case.args) + 17)       # the samples of test_op_rules
    args = [sample(rng, False) for sample in case.args]
    args[p] = np.asarray(args[p], dtype=np.float64)
    fun = make_case_function(case, op, args, p)
    check_hvp(fun, args[p], seed=p, what=f"{op_rules.op_name(op)} d2/darg{p}2")
