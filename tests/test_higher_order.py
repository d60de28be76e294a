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

import numpy as np
from sct.runtime import numpy_ops
from sct.runtime import support as support_ops
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


def check_hvp(fun, a, seed=0, rtol=RTOL, atol=ATOL, what="", inline=None):
    """sct's Hessian-vector product of sum(w * fun(a)) against finite differences of its gradient.

    ``inline(a, w, v)``, when given, computes the same product in one function (fun's body
    written in it) and must agree too."""
    rng = np.random.default_rng(seed)
    a = np.asarray(a, dtype=np.float64)
    out = fun(a)
    w = rng.standard_normal(np.shape(out))
    v = rng.standard_normal(np.shape(a))
    got, expected = hvp_and_fd(fun, a, w, v)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    assert_close(got, expected, rtol, atol * scale, what=what)
    if inline is not None:
        got_inline = np.asarray(dlfeval(inline, dlarray(a), w, v).data)
        assert_close(got_inline, expected, rtol, atol * scale, what=what + " (inline)")
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


# cases whose ``fn`` is a lambda: the same computation as a call template
_LAMBDA_TEMPLATES = {
    "einsum_list": "OP({0}, [{1}, {2}])",
    "max": "OP([x for x in {0}])",          # the table's list(x): see test_list_of_an_array
    "sum": "OP([{0}, {1}], {2})",
    "scale_each": "FLAT_NESTED(OP({0}, {1}))",
    "weighted_sum": "OP([{0}, [{1}, {2}]], {3})",
    "extremum_adjoint": "OP({0}, {1})[0][1]",
    "extremum_transpose": "OP([{0}, {1}], {2})",
    "atleast_2d": "FLAT(OP({0}, {1}))",
    "tolist_method": "np.array({0}.tolist())",
    "nested_to_array": "OP({0}.tolist(), {1})",
    "nested_adjoints": "np.array(OP({0}))",
    "fsum_value": "OP({0}, [{0}])",
    "dict_get": 'OP({{"a": {0}}}, {2}, {1})',
    "dict_get_adjoint": 'OP({0}, {{"k": 1.0}}, "k")["k"]',
    "dict_entry_adjoint": 'OP({{"p": {0}, "q": {1}}}, ("p", "q", "p"), 2)',
    "flat_assigned": "OP({0}, np.zeros((3, 4)), slice(None, None, 2))",     # x.flat[::2] = v of a (3, 4) x
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
    """``f(a)``: the case's computation with ``a`` at position ``p``, as sct-readable source,
    and ``inline(a, w, v)``: the Hessian-vector product with the op written in the
    differentiated function itself (its rule inlined in the first sweep, not a helper's)."""
    ns = {"OP": op, "FLAT": op_rules.flat, "FLAT_NESTED": op_rules.flat_nested}
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
    inline = _define(f"def f(a, w, v):\n"
                     f"    y = np.sum(w * {expr})\n"
                     f"    g = dlgradient(y, a)\n"
                     f"    return dlgradient(np.sum(g * v), a)\n", dict(ns, dlgradient=dlgradient))
    return _define(f"def f(a):\n    return {expr}\n", ns), inline


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


def known_failure(case, op) -> str:
    """Why this case's second derivative is known to fail (a bug reported with an example), or ''."""
    return ""


@pytest.mark.parametrize("case, op, p", _op_params())
def test_second_derivative_of_every_op(case, op, p):
    if op in (support_ops.sequence_adjoint, support_ops.list_of_rows, support_ops.dict_items,
              support_ops.dict_values, numpy_ops.stacked_arguments, numpy_ops.unstacked_arguments):
        pytest.skip("an adjoint helper whose table case is a lambda over its list form")
    if op in (support_ops.iterated_adjoint, support_ops.iterated_items):
        pytest.skip("an adjoint helper between a list and a record of an object's fields (second "
                    "derivatives through it: tests/test_objs_dec3.py)")
    rng = np.random.default_rng(len(case.args) + 17)       # the samples of test_op_rules
    args = [sample(rng, False) for sample in case.args]
    args[p] = np.asarray(args[p], dtype=np.float64)
    fun, inline = make_case_function(case, op, args, p)
    check_hvp(fun, args[p], seed=p, what=f"{op_rules.op_name(op)} d2/darg{p}2", inline=inline)


# the deep-learning ops of runtime.nn (not in the table of test_op_rules)
def _nn_cases():
    import sct.runtime.nn as nn
    R, C, Case = op_rules.R, op_rules.C, op_rules.Case
    away = R(2, 3, lo=0.2, hi=1.5)
    return [
        Case(nn.relu, [away]),
        Case(nn.relu, [R(2, 3, lo=-1.5, hi=-0.2)]),
        Case(nn.leakyrelu, [R(2, 3, lo=-1.5, hi=-0.2), C(0.2)]),
        Case(nn.leakyrelu, [R(2, 3, lo=-1.5, hi=-0.2), R(3, lo=0.1, hi=0.3)], (0, 1)),
        Case(nn.sigmoid, [R(2, 3, lo=-3, hi=3)]),
        Case(nn.softmax, [R(2, 3, lo=-2, hi=2)]),
        Case(nn.softmax, [R(2, 3, lo=-2, hi=2)], kwargs=dict(axis=0)),
        Case(nn.fullyconnect, [R(4, 3), R(2, 3), R(2)], (0, 1, 2)),
        Case(nn.crossentropy, [lambda rng, c: rng.uniform(0.1, 0.9, (4, 3)),
                               lambda rng, c: rng.uniform(0.1, 0.9, (4, 3))], (0, 1)),
        Case(nn.crossentropy, [lambda rng, c: rng.uniform(0.1, 0.9, (4, 3)),
                               lambda rng, c: rng.uniform(0.1, 0.9, (4, 3))], (0,),
             kwargs=dict(axis=0, reduction="sum")),
        Case(nn.mse, [R(4, 3), R(4, 3)], (0, 1)),
    ]


@pytest.mark.parametrize("case, p", [pytest.param(c, p, id=f"{c.ops.__name__}-{i}-arg{p}")
                                     for i, c in enumerate(_nn_cases()) for p in c.wrt])
def test_second_derivative_of_nn_ops(case, p):
    rng = np.random.default_rng(5)
    args = [sample(rng, False) for sample in case.args]
    args[p] = np.asarray(args[p], dtype=np.float64)
    fun, inline = make_case_function(case, case.ops, args, p)
    check_hvp(fun, args[p], seed=p, what=f"{case.ops.__name__} d2/darg{p}2", inline=inline)


def test_the_op_table_is_covered():
    """Every case and op of test_op_rules has at least one differentiable position here."""
    params = _op_params()
    assert len(params) >= sum(len(c.aliases) for c in op_rules.CASES)
    assert all(c.wrt for c in op_rules.CASES)


# --- 2. closed forms -----------------------------------------------------------------------------------

def second_of_sin(x):
    g = dlgradient(np.sum(np.sin(x)), x)
    return dlgradient(np.sum(g), x)


def test_second_derivative_of_sin_is_minus_sin():
    x = np.linspace(-3, 3, 7)
    got = dlfeval(second_of_sin, dlarray(x))
    assert_close(extractdata(got), -np.sin(x), 1e-12, 1e-12)


def third_of_polynomial(x):
    y = 2 * x ** 4 - 3 * x ** 3 + x ** 2 - 5 * x + 1
    d1 = dlgradient(y, x)
    d2 = dlgradient(d1, x)
    d3 = dlgradient(d2, x)
    return y, d1, d2, d3


def third_of_polynomial_vector(x):
    y = np.sum(x ** 5 - 2 * x ** 3)
    d1 = dlgradient(y, x)
    d2 = dlgradient(np.sum(d1), x)
    return dlgradient(np.sum(d2), x)


@pytest.mark.parametrize("x", [1.5, -0.7, 0.0])
def test_third_derivative_of_a_polynomial(x):
    y, d1, d2, d3 = dlfeval(third_of_polynomial, dlarray(x))
    assert_close(extractdata(y), 2 * x ** 4 - 3 * x ** 3 + x ** 2 - 5 * x + 1, 1e-12, 1e-12)
    assert_close(extractdata(d1), 8 * x ** 3 - 9 * x ** 2 + 2 * x - 5, 1e-12, 1e-12)
    assert_close(extractdata(d2), 24 * x ** 2 - 18 * x + 2, 1e-12, 1e-12)
    assert_close(extractdata(d3), 48 * x - 18, 1e-12, 1e-12)


def test_third_derivative_elementwise():
    x = np.array([-1.0, 0.5, 2.0])
    got = dlfeval(third_of_polynomial_vector, dlarray(x))
    assert_close(extractdata(got), 60 * x ** 2 - 12, 1e-12, 1e-12)


def hvp_quadratic_form(x, A, v):
    y = x @ A @ x
    g = dlgradient(y, x)
    return dlgradient(np.sum(g * v), x)


def test_hessian_vector_product_of_quadratic_form():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4))
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    got = dlfeval(hvp_quadratic_form, dlarray(x), A, v)
    assert_close(extractdata(got), (A + A.T) @ v, 1e-12, 1e-12)
    # and at another point, the same (the Hessian is constant)
    got = dlfeval(hvp_quadratic_form, dlarray(x + 1.0), A, v)
    assert_close(extractdata(got), (A + A.T) @ v, 1e-12, 1e-12)


def critic(w, x):
    return np.sum(np.tanh(w @ x))


def wgan_gp_loss(w, x):
    d = critic(w, x)
    g = dlgradient(d, x, EnableHigherDerivatives=True)
    loss = (np.linalg.norm(g) - 1) ** 2 + d
    return loss, dlgradient(loss, w)


def wgan_gp_loss_inline(w, x):
    d = np.sum(np.tanh(w @ x))
    g = dlgradient(d, x, EnableHigherDerivatives=True)
    loss = (np.linalg.norm(g) - 1) ** 2 + d
    return loss, dlgradient(loss, w)


def wgan_gp_loss_frozen(w, x):
    d = critic(w, x)
    g = dlgradient(d, x, EnableHigherDerivatives=False)
    loss = (np.linalg.norm(g) - 1) ** 2 + d
    return loss, dlgradient(loss, w)


def wgan_gp_numpy(w, x):
    """The same loss by hand: dD/dx = w' (1 - tanh(w x)^2)."""
    t = np.tanh(w @ x)
    g = w.T @ (1 - t ** 2)
    return (np.linalg.norm(g) - 1) ** 2 + np.sum(t)


@pytest.mark.parametrize("fun", [wgan_gp_loss, wgan_gp_loss_inline])
def test_wgan_gradient_penalty(fun):
    rng = np.random.default_rng(4)
    w, x = 0.5 * rng.standard_normal((3, 4)), rng.standard_normal(4)
    loss, dw = dlfeval(fun, dlarray(w), dlarray(x))
    assert_close(extractdata(loss), wgan_gp_numpy(w, x), 1e-12, 1e-12)
    expected = numerical_gradient(wgan_gp_numpy, [w, x], 0)
    assert_close(extractdata(dw), expected, 1e-6, 1e-8)
    assert dw.shape == w.shape


def test_wgan_gradient_penalty_without_higher_derivatives():
    """EnableHigherDerivatives=False: the penalty's gradient is a constant, only D contributes."""
    rng = np.random.default_rng(4)
    w, x = 0.5 * rng.standard_normal((3, 4)), rng.standard_normal(4)
    loss, dw = dlfeval(wgan_gp_loss_frozen, dlarray(w), dlarray(x))
    assert_close(extractdata(loss), wgan_gp_numpy(w, x), 1e-12, 1e-12)
    expected = numerical_gradient(lambda w: np.sum(np.tanh(w @ x)), [w], 0)
    assert_close(extractdata(dw), expected, 1e-6, 1e-8)


def rosenbrock_hessian(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    g = dlgradient(y, x)
    h0 = dlgradient(g[0], x)
    h1 = dlgradient(g[1], x)
    return y, g, np.stack([h0, h1])


def test_rosenbrock_hessian():
    y, g, h = dlfeval(rosenbrock_hessian, dlarray([-1.0, 2.0]))
    assert_close(extractdata(y), 104.0, 0, 1e-12)
    assert_close(extractdata(g), [396.0, 200.0], 0, 1e-12)
    assert_close(extractdata(h), [[402.0, 400.0], [400.0, 200.0]], 0, 1e-12)


def rosenbrock_hessian_loop(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    g = dlgradient(y, x)
    rows = []
    for i in range(2):
        rows.append(dlgradient(g[i], x))
    return np.stack(rows)


def test_rosenbrock_hessian_rows_in_a_loop():
    h = dlfeval(rosenbrock_hessian_loop, dlarray([-1.0, 2.0]))
    assert_close(extractdata(h), [[402.0, 400.0], [400.0, 200.0]], 0, 1e-12)


# --- 3. through control flow, helpers, recursion, methods ----------------------------------------------
#
# Each ``cf_*`` function is differentiated twice by ``_hvp`` (check_hvp), against central
# differences of sct's first derivative.

try:
    import tests.helper_module as helper_module
except ImportError:
    import helper_module

SCALE = 0.7


def cf_if(a):
    s = np.sum(a)
    if s > 0.5:
        y = np.sin(a) * s
    elif s > -0.5:
        y = a ** 3
    else:
        y = np.exp(a) / s
    return y


def cf_conditional_expression_and_bool_ops(a):
    y = a ** 2 if np.max(a) > 0 and np.min(a) < 10 else np.cos(a)
    return y * np.sum(a ** 3) if not np.sum(a) > 100 or False else y


def cf_for_range(a):
    y = a
    for i in range(3):
        y = np.sin(y) * a + i * y ** 2 * SCALE
    return y


def cf_for_over_rows_enumerate_zip(a):
    total = 0.0
    for i, row in enumerate(a):
        total = total + (i + 1) * np.sum(row ** 3)
    for p, q in zip(a[0], a[1]):
        total = total + p * q * q
    return total


def cf_while(a):
    y = a
    n = 0
    while np.sum(y ** 2) < 40.0 and n < 20:      # the trip count depends on the values
        y = y * 1.3 + 0.1 * a ** 2
        n = n + 1
    return y


def cf_break_continue(a):
    total = 0.0
    for i in range(10):
        if i % 2 == 1:
            continue
        total = total + np.sum(np.tanh(a * (i + 1)))
        if total > 1e6 or i >= 6:
            break
    return total * a


def _early_return_helper(a, k):
    for i in range(k):
        if np.sum(a) > 100.0 * i:
            return np.exp(a / (i + 1))
    return a ** 3


def cf_early_return(a):
    return _early_return_helper(a, 4) + _early_return_helper(-a, 4) ** 2


def cf_list_comprehension(a):
    parts = [np.sin(a * k) for k in range(1, 4)]
    return sum(parts) * parts[0]


def _inner_helper(x):
    return np.log1p(x ** 2)


def _outer_helper(x, y):
    return _inner_helper(x) * y + helper_module.scaled(x * y) * np.sum(x)


def cf_helpers(a):
    return _outer_helper(a, np.cos(a))


def _power(x, n):
    if n == 0:
        return np.ones_like(x)
    return x * _power(x, n - 1)


def cf_recursion(a):
    return _power(a, 4) + _power(np.sin(a), 3)


def _tree_sum(t):
    if isinstance(t, list):
        return _tree_sum(t[0]) * _tree_sum(t[1])
    return np.sum(t ** 2)


def cf_recursion_over_nested_lists(a):
    return _tree_sum([a, [np.sin(a), [a ** 2, a[0]]]])


class Quadratic:
    def __init__(self, A, b):
        self.A = A
        self.b = b

    def energy(self, x):
        return 0.5 * x @ self.A @ x + self.b @ x + self.tail(x)

    def tail(self, x):
        return np.sum(np.cosh(x)) * self.b[0]


A_FIXED = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])
B_FIXED = np.array([0.2, -1.0, 0.4])
MODEL = Quadratic(A_FIXED, B_FIXED)


def cf_method_of_global_object(a):
    return MODEL.energy(a)


def cf_class_constructed_inside(a):
    model = Quadratic(A_FIXED * np.sum(a ** 2), np.sin(a))      # parameters traced from a
    return model.energy(a) * model.b


class Layer:
    def __init__(self, scale):
        self.scale = scale

    def __call__(self, x):
        return np.tanh(self.scale * x)

    def twice(self, x):
        return self(self(x))


def cf_callable_object(a):
    layer = Layer(1.5)
    return layer.twice(a) + Layer(a)(a)


CONTROL_FLOW = [cf_if, cf_conditional_expression_and_bool_ops, cf_for_range, cf_for_over_rows_enumerate_zip,
                cf_while, cf_break_continue, cf_early_return, cf_list_comprehension, cf_helpers, cf_recursion,
                cf_recursion_over_nested_lists, cf_method_of_global_object, cf_class_constructed_inside,
                cf_callable_object]

POINTS = {
    "positive": np.array([0.9, 0.4, 0.6]),
    "middle": np.array([0.3, -0.5, 0.1]),
    "negative": np.array([-0.9, -0.4, -0.6]),
    "matrix": np.array([[0.3, -0.6, 0.8], [0.5, 0.2, -0.4]]),
}
VECTOR_ONLY = {cf_method_of_global_object, cf_class_constructed_inside}
MATRIX_ONLY = {cf_for_over_rows_enumerate_zip}

KNOWN_CONTROL_FLOW_FAILURES = {}   # (cf_callable_object works since bound-method pairs are generated)


def _control_flow_params():
    params = []
    for fun in CONTROL_FLOW:
        for point, a in POINTS.items():
            if (fun in VECTOR_ONLY and a.ndim != 1) or (fun in MATRIX_ONLY and a.ndim != 2):
                continue
            reason = KNOWN_CONTROL_FLOW_FAILURES.get(fun)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(fun, point, id=f"{fun.__name__}-{point}", marks=marks))
    return params


def check_first_derivative(fun, a, seed=0):
    """sct's first derivative of sum(w * fun(a)) against central differences of plain numpy."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(np.shape(fun(a)))
    got = np.asarray(dlfeval(_grad, fun, dlarray(a), w).data)
    expected = numerical_gradient(lambda x: np.sum(w * fun(x)), [a], 0)
    assert_close(got, expected, 1e-5, 1e-6, what="first derivative")


@pytest.mark.parametrize("fun, point", _control_flow_params())
def test_second_derivative_through_control_flow(fun, point):
    a = POINTS[point]
    check_first_derivative(fun, a)          # so the finite differences below start from a right gradient
    check_hvp(fun, a, what=fun.__name__)


def early_return_in_loop(a, k):
    for i in range(k):
        if np.sum(a) > 100.0 * i:
            return np.exp(a)
    return a


def second_through_early_return(a):
    g = dlgradient(np.sum(early_return_in_loop(a, 2)), a)
    return dlgradient(np.sum(g), a)


def test_early_return_in_loop_minimal():
    a = np.array([0.9, 0.4])
    assert_close(extractdata(dlfeval(second_through_early_return, dlarray(a))), np.exp(a), 1e-12, 1e-12)


LAYER = Layer(1.5)


def grad_through_call(a):
    return dlgradient(np.sum(LAYER(a)), a)


def grad_through_explicit_dunder_call(a):
    return dlgradient(np.sum(LAYER.__call__(a)), a)


def test_callable_object_minimal():
    a = np.array([0.9, 0.4])
    got = dlfeval(grad_through_call, dlarray(a))
    assert_close(extractdata(got), 1.5 / np.cosh(1.5 * a) ** 2, 1e-12, 1e-12)


def test_explicit_dunder_call_minimal():
    a = np.array([0.9, 0.4])
    got = dlfeval(grad_through_explicit_dunder_call, dlarray(a))
    assert_close(extractdata(got), 1.5 / np.cosh(1.5 * a) ** 2, 1e-12, 1e-12)


# Control flow and calls around the dlgradient calls themselves: ``s_*(x)`` computes a scalar
# from a gradient; ``_second`` differentiates it again (so dlgradient runs inside a helper),
# and the ``*_inline`` forms do both in one function.

V3 = np.array([0.5, -1.0, 2.0])


def s_loop_and_branch(x):
    g = dlgradient(np.sum(np.sin(x) * x ** 2), x)
    s = 0.0
    for i in range(3):
        if i % 2 == 0:
            s = s + np.sum(g * x) * (i + 1)
        else:
            s = s + np.sum(g ** 2)
    return s


def s_while(x):
    g = dlgradient(np.sum(np.exp(x) * x), x)
    s = np.sum(g * V3)
    n = 0
    while s < 50.0 and n < 10:
        s = s * 1.5 + np.sum(g ** 2)
        n = n + 1
    return s


def s_branch_between(x):
    g = dlgradient(np.sum(x ** 3 + np.cos(x)), x)
    if np.sum(x) > 0:
        s = np.sum(g * V3)
    else:
        s = np.sum(g * g)
    return s


def _gradient_helper(x):
    return dlgradient(np.sum(np.sin(x) ** 2 * x), x)


def s_gradient_in_helper(x):
    g = _gradient_helper(x)
    return np.sum(g * V3) + np.sum(g ** 2)


class Energy:
    def __init__(self, scale):
        self.scale = scale

    def value(self, x):
        return self.scale * np.sum(np.cosh(x) * x)

    def gradient(self, x):
        return dlgradient(self.value(x), x)


def s_gradient_in_method(x):
    energy = Energy(1.5)
    g = energy.gradient(x)
    return np.sum(g * V3 * x)


def _second(s_fun, x):
    return dlgradient(s_fun(x), x)


def second_loop_and_branch_inline(x):
    g = dlgradient(np.sum(np.sin(x) * x ** 2), x)
    s = 0.0
    for i in range(3):
        if i % 2 == 0:
            s = s + np.sum(g * x) * (i + 1)
        else:
            s = s + np.sum(g ** 2)
    return dlgradient(s, x)


def second_gradient_in_method_inline(x):
    energy = Energy(1.5)
    g = energy.gradient(x)
    return dlgradient(np.sum(g * V3 * x), x)


S_FUNCTIONS = [s_loop_and_branch, s_while, s_branch_between, s_gradient_in_helper, s_gradient_in_method]
INLINE = {s_loop_and_branch: second_loop_and_branch_inline, s_gradient_in_method: second_gradient_in_method_inline}


def fd_of_first_order(s_fun, x, step=1e-5):
    """Central differences of the scalar s_fun(x), itself computed with sct's first derivative."""
    return numerical_gradient(lambda z: float(extractdata(dlfeval(s_fun, dlarray(z)))), [x], 0, step=step)


@pytest.mark.parametrize("x", [np.array([0.9, 0.4, 0.6]), np.array([-0.7, -0.2, 0.3])], ids=["pos", "neg"])
@pytest.mark.parametrize("s_fun", S_FUNCTIONS, ids=lambda f: f.__name__)
def test_second_derivative_around_dlgradient(s_fun, x):
    expected = fd_of_first_order(s_fun, x)
    got = extractdata(dlfeval(_second, s_fun, dlarray(x)))
    assert_close(got, expected, RTOL, ATOL * max(1.0, np.max(np.abs(expected))), what=s_fun.__name__)
    if s_fun in INLINE:
        assert_close(extractdata(dlfeval(INLINE[s_fun], dlarray(x))), got, 1e-12, 1e-12, what="inline")


def mixed_partials(x, y, v):
    f = np.sum(np.sin(x * y) + x ** 2 * y)
    gx, gy = dlgradient(f, x, y)
    s = np.sum(gx * v)
    return dlgradient(s, x, y)


def test_mixed_second_derivatives():
    """d/dy of <v, df/dx>: the off-diagonal block of the Hessian, with the diagonal one."""
    x, y, v = np.array([0.3, -0.8]), np.array([1.2, 0.5]), np.array([0.7, -1.1])
    dx, dy = dlfeval(mixed_partials, dlarray(x), dlarray(y), v)
    # f = sum(sin(x y) + x^2 y): d2f/dx2 = -y^2 sin(xy) + 2y, d2f/dxdy = cos(xy) - xy sin(xy) + 2x
    assert_close(extractdata(dx), v * (-y ** 2 * np.sin(x * y) + 2 * y), 1e-12, 1e-12)
    assert_close(extractdata(dy), v * (np.cos(x * y) - x * y * np.sin(x * y) + 2 * x), 1e-12, 1e-12)


def container_hvp(params, x, V):
    y = np.sum(np.tanh(params["w"] @ x + params["b"]) ** 2)
    g = dlgradient(y, params)
    s = np.sum(g["w"] * V) + np.sum(g["b"] ** 2)
    return s, dlgradient(s, params)


def container_s(params, x, V):
    y = np.sum(np.tanh(params["w"] @ x + params["b"]) ** 2)
    g = dlgradient(y, params)
    return np.sum(g["w"] * V) + np.sum(g["b"] ** 2)


def test_second_derivative_with_respect_to_a_dict_of_parameters():
    rng = np.random.default_rng(8)
    w, b, x, V = rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(3), rng.standard_normal((2, 3))
    s, g = dlfeval(container_hvp, {"w": dlarray(w), "b": dlarray(b)}, x, V)
    assert set(g) == {"w", "b"} and g["w"].shape == (2, 3) and g["b"].shape == (2,)

    def value(w_, b_):
        return float(extractdata(dlfeval(container_s, {"w": dlarray(w_), "b": dlarray(b_)}, x, V)))
    assert_close(extractdata(s), value(w, b), 1e-12, 1e-12)
    assert_close(extractdata(g["w"]), numerical_gradient(value, [w, b], 0, step=1e-5), RTOL, ATOL)
    assert_close(extractdata(g["b"]), numerical_gradient(value, [w, b], 1, step=1e-5), RTOL, ATOL)


def gradient_inside_a_branch(x):
    h = x
    if np.sum(x) > 0:
        h = dlgradient(np.sum(x ** 3), x)
    return h


def test_gradient_inside_a_branch_minimal():
    x = np.array([0.3, 0.7])
    assert_close(extractdata(dlfeval(gradient_inside_a_branch, dlarray(x))), 3 * x ** 2, 1e-12, 1e-12)


def second_inside_a_branch(x, v):
    g = dlgradient(np.sum(x ** 3), x)
    h = x
    if np.sum(x) > 0:
        h = dlgradient(np.sum(g * v), x)
    return h


def test_second_derivative_inside_a_branch_minimal():
    x, v = np.array([0.3, 0.7]), np.array([1.0, -2.0])
    assert_close(extractdata(dlfeval(second_inside_a_branch, dlarray(x), v)), 6 * x * v, 1e-12, 1e-12)


# --- 4. the options ------------------------------------------------------------------------------------

def hvp_default(x, v):
    g = dlgradient(np.sum(x ** 3), x)
    return g, dlgradient(np.sum(g * v) + np.sum(x), x)


def hvp_enabled(x, v):
    g = dlgradient(np.sum(x ** 3), x, EnableHigherDerivatives=True)
    return g, dlgradient(np.sum(g * v) + np.sum(x), x)


def hvp_disabled(x, v):
    g = dlgradient(np.sum(x ** 3), x, EnableHigherDerivatives=False)
    return g, dlgradient(np.sum(g * v) + np.sum(x), x)


def hvp_disabled_snake_case(x, v):
    g = dlgradient(np.sum(x ** 3), x, enable_higher_derivatives=False)
    return g, dlgradient(np.sum(g * v) + np.sum(x), x)


def hvp_disabled_in_helper(x, v):
    g = _frozen_gradient(x)
    return g, dlgradient(np.sum(g * v) + np.sum(x), x)


def _frozen_gradient(x):
    return dlgradient(np.sum(x ** 3), x, EnableHigherDerivatives=False)


def only_frozen_gradient(x, v):
    g = dlgradient(np.sum(x ** 3), x, EnableHigherDerivatives=False)
    return dlgradient(np.sum(g * v), x)


def test_enable_higher_derivatives_defaults_to_true():
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, -0.5])
    for fun in (hvp_default, hvp_enabled):
        g, h = dlfeval(fun, dlarray(x), v)
        assert_close(extractdata(g), 3 * x ** 2, 1e-12, 1e-12)
        assert_close(extractdata(h), 6 * x * v + 1, 1e-12, 1e-12)


@pytest.mark.parametrize("fun", [hvp_disabled, hvp_disabled_snake_case, hvp_disabled_in_helper],
                         ids=lambda f: f.__name__)
def test_enable_higher_derivatives_false_makes_the_gradient_a_constant(fun):
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, -0.5])
    g, h = dlfeval(fun, dlarray(x), v)
    assert_close(extractdata(g), 3 * x ** 2, 1e-12, 1e-12)          # the gradient itself is unchanged
    assert_close(extractdata(h), np.ones(3), 1e-12, 1e-12)           # only sum(x) is differentiated


def test_a_y_made_only_of_a_frozen_gradient_is_an_error():
    """As for any y with no traced input (SPEC semantics 3): a clear SctError."""
    with pytest.raises(sct.SctError):
        dlfeval(only_frozen_gradient, dlarray(np.array([0.3, -0.7])), np.array([1.0, 2.0]))


def retain_twice_true(x):
    y = np.sum(np.sin(x) * x)
    g1 = dlgradient(y, x, RetainData=True)
    g2 = dlgradient(y, x, RetainData=True)
    return g1, g2, dlgradient(np.sum(g1 * g2), x, RetainData=True)


def retain_twice_false(x):
    y = np.sum(np.sin(x) * x)
    g1 = dlgradient(y, x, RetainData=False)
    g2 = dlgradient(y, x, retain_data=False)
    return g1, g2, dlgradient(np.sum(g1 * g2), x, RetainData=False)


def retain_twice_default(x):
    y = np.sum(np.sin(x) * x)
    g1 = dlgradient(y, x)
    g2 = dlgradient(y, x)
    return g1, g2, dlgradient(np.sum(g1 * g2), x)


def test_retain_data_never_changes_results():
    x = np.array([0.3, -0.7, 1.1])
    d1 = np.sin(x) + x * np.cos(x)                        # d/dx sin(x) x
    d2 = 2 * np.cos(x) - x * np.sin(x)
    results = [dlfeval(f, dlarray(x)) for f in (retain_twice_true, retain_twice_false, retain_twice_default)]
    for g1, g2, h in results:
        assert_close(extractdata(g1), d1, 1e-12, 1e-12)
        assert_close(extractdata(g2), d1, 1e-12, 1e-12)
        assert_close(extractdata(h), 2 * d1 * d2, 1e-12, 1e-12)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(extractdata(a), extractdata(b))


def test_repeated_calls_give_the_same_second_derivatives():
    """The compiled, cached code is reused: a second call (and new values) work either way."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((3, 3))
    for _ in range(3):
        x, v = rng.standard_normal(3), rng.standard_normal(3)
        got = dlfeval(hvp_quadratic_form, dlarray(x), A, v)
        assert_close(extractdata(got), (A + A.T) @ v, 1e-12, 1e-12)


# --- 5. MATLAB's unsupported list: prod and interp1 (np.prod, np.interp) --------------------------------

def hvp_prod(x, v):
    g = dlgradient(np.prod(x), x)
    return dlgradient(np.sum(g * v), x)


def prod_hessian(x):
    """d2 prod(x) / dx_i dx_j: the product of the others but i and j off the diagonal, 0 on it."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                h[i, j] = np.prod([x[k] for k in range(n) if k not in (i, j)])
    return h


@pytest.mark.parametrize("x", [[0.5, 1.5, -2.0, 0.8], [2.0, 0.0, 3.0, 4.0], [2.0, 0.0, 3.0, 0.0],
                               [0.0, 0.0, 0.0, 1.0]], ids=["no-zero", "one-zero", "two-zeros", "three-zeros"])
def test_second_derivative_of_prod(x):
    x = np.array(x)
    H = prod_hessian(x)
    for k in range(len(x)):
        e = np.eye(len(x))[k]
        assert_close(extractdata(dlfeval(hvp_prod, dlarray(x), e)), H @ e, 1e-12, 1e-12, what=f"column {k}")


def prod_axis(a):
    return np.sum(np.prod(a, axis=1) ** 2) * np.cumprod(a, axis=0)[-1]


def test_second_derivative_of_prod_along_an_axis():
    check_hvp(prod_axis, np.array([[0.5, 1.5, -2.0], [0.0, 0.7, 1.2]]), what="prod axis=1")


XP = np.array([0.0, 1.0, 2.5, 3.0])


def interp_squared(x, fp):
    return np.sum(np.interp(x, XP, fp) ** 2)


def hvp_interp_x(x, fp, v):
    g = dlgradient(interp_squared(x, fp), x)
    return dlgradient(np.sum(g * v), x)


def hvp_interp_fp(x, fp, v):
    g = dlgradient(interp_squared(x, fp), fp)
    return dlgradient(np.sum(g * v), fp)


def mixed_interp(x, fp, v):
    g = dlgradient(interp_squared(x, fp), x)
    return dlgradient(np.sum(g * v), fp)


def interp_gradient_x(x, fp, v):
    return np.sum(dlgradient(interp_squared(x, fp), x) * v)


def test_second_derivatives_of_interp():
    x = np.array([0.3, 1.7, 2.8, 0.9])                     # inside segments, away from the knots
    fp = np.array([1.0, -0.5, 2.0, 0.3])
    v = np.array([0.6, -1.2, 0.4, 2.0])
    k = np.searchsorted(XP, x) - 1
    slope = (fp[k + 1] - fp[k]) / (XP[k + 1] - XP[k])
    # d2/dx2 interp(x)^2 = 2 slope^2 (interp is linear in x within a segment)
    assert_close(extractdata(dlfeval(hvp_interp_x, dlarray(x), dlarray(fp), v)), 2 * slope ** 2 * v, 1e-12, 1e-12)
    # with respect to fp: interp = J fp, so the Hessian is 2 J'J
    J = np.stack([np.interp(x, XP, np.eye(4)[j]) for j in range(4)], axis=1)
    u = np.array([0.3, -0.4, 1.0, 0.8])
    assert_close(extractdata(dlfeval(hvp_interp_fp, dlarray(x), dlarray(fp), u)), 2 * J.T @ (J @ u), 1e-12, 1e-12)
    # mixed: d/dfp <v, d/dx sum(interp^2)>, against finite differences of sct's first derivative
    got = extractdata(dlfeval(mixed_interp, dlarray(x), dlarray(fp), v))
    expected = numerical_gradient(
        lambda f: float(extractdata(dlfeval(interp_gradient_x, dlarray(x), dlarray(f), v))), [fp], 0, step=1e-5)
    assert_close(got, expected, RTOL, ATOL)


def interp_outside(x):
    return np.interp(x, XP, np.array([1.0, -0.5, 2.0, 0.3]), left=-1.0) * x ** 2


def test_second_derivative_of_interp_outside_the_knots():
    check_hvp(interp_outside, np.array([-0.5, 3.5, 1.2]), what="interp outside xp")


# --- minimal examples of the known failures named above (and one fixed since) ------------------------------------------------

SPD = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.2], [0.5, -0.2, 2.0]])


def eigh_values(a):
    w, q = np.linalg.eigh(a)
    return w ** 2


def eigh_vectors_squared(a):
    w, q = np.linalg.eigh(a)
    return q ** 2                         # independent of the eigenvectors' signs


def test_eigh_eigenvalues_second_derivative():
    check_hvp(eigh_values, SPD, what="eigh eigenvalues")


def test_eigh_eigenvectors_second_derivative():
    check_hvp(eigh_vectors_squared, SPD, what="eigh eigenvectors")


def transpose_without_axes(a):
    return a.transpose() ** 2


def test_transpose_method_without_axes():
    check_hvp(transpose_without_axes, np.array([[0.3, -0.6, 0.8], [0.5, 0.2, -0.4]]), what="a.transpose()")


def max_of_list_of_array(a):
    return max(list(a)) ** 2


def test_list_of_an_array():
    check_hvp(max_of_list_of_array, np.array([0.3, -0.6, 0.8]), what="max(list(a))")


def _flatten(nested):
    out = []
    for x in nested:
        out += _flatten(x) if isinstance(x, list) else [x]
    return out


def recursion_over_nested_lists(a):
    return np.concatenate(_flatten([a, [2 * a, a ** 2]])) ** 2


def test_recursion_over_nested_lists():
    check_hvp(recursion_over_nested_lists, np.array([0.3, -0.6, 0.8]), what="recursive flatten")
