"""issue 6, items 8, 13, 16, 17, 19, 20: rules, jumps, dtypes, index tricks, float()/item().

Every test compares sct's value with plain Python on the same function and its gradient with
central differences (tests/gradcheck.py), or checks a clean refusal (CompileError with the
user's file and line).
"""
from __future__ import annotations

import importlib.util
import random
import textwrap
import warnings

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata

from gradcheck import check_grads, leaves, numerical_gradient


def load_module(source: str, name: str, folder):
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sct_grad(fun, *args):
    """Value and gradient of fun (which returns y, dlgradient(y, args[0]))."""
    y, g = dlfeval(fun, *[dlarray(a) if i == 0 else a for i, a in enumerate(args)])
    return np.asarray(y.data if hasattr(y, "data") else y), np.asarray(g.data)


# --- item 13: break / continue / early return at every nesting depth --------------------------------

def _nest(rng, depth, maxdepth, ind, loopvars, allow_return, n):
    lines = []
    lv = f"i{depth}"
    pad = "    " * ind
    kind = rng.choice(["for", "while", "while_value"])
    count = rng.randint(2, 3)
    if kind == "for":
        lines.append(f"{pad}for {lv} in range({count}):")
    else:
        lines.append(f"{pad}k{depth} = 0")
        if kind == "while":
            lines.append(f"{pad}while k{depth} < {count}:")
        else:
            lines.append(f"{pad}while k{depth} < {count + 1} and y < {rng.uniform(1.5, 3.0):.2f}:")
    inner = "    " * (ind + 1)
    if kind != "for":
        lines.append(f"{inner}k{depth} = k{depth} + 1")
        lines.append(f"{inner}{lv} = k{depth} - 1")
    vars_ = loopvars + [lv]
    idx = " + ".join(vars_)
    lines.append(f"{inner}y = y * 0.9 + np.sin(x[({idx}) % {n}] * y)")
    jump = rng.choice(["break", "continue"] + (["return y"] if allow_return else []))
    cond = rng.choice([f"{lv} == {rng.randint(0, 1)}", f"{idx} > {rng.randint(0, 2)}",
                       f"y > {rng.uniform(-0.5, 1.0):.2f}",
                       f"x[{lv} % {n}] * y < {rng.uniform(-0.3, 0.3):.2f}"])
    jump_lines = [f"{inner}if {cond}:", f"{inner}    {jump}"]
    if rng.random() < 0.3:
        jump_lines = [f"{inner}if {cond}:", f"{inner}    y = y - 0.25 * x[{lv} % {n}]",
                      f"{inner}    {jump}", f"{inner}else:", f"{inner}    y = y + 0.1"]
    before = rng.random() < 0.5
    if before:
        lines += jump_lines
    lines.append(f"{inner}y = y + x[({idx} + 1) % {n}] ** 2 * 0.3")
    if depth < maxdepth:
        lines += _nest(rng, depth + 1, maxdepth, ind + 1, vars_, allow_return, n)
    if not before:
        lines += jump_lines
    lines.append(f"{inner}y = np.tanh(y) + x[{lv} % {n}] * 0.1")
    return lines


def jump_program(seed: int, n: int = 3):
    rng = random.Random(seed)
    allow_return = rng.random() < 0.4
    body = ["    y = x[0] * 0.5"] + _nest(rng, 1, rng.randint(1, 3), 1, [], allow_return, n)
    src = ["import numpy as np", "from sct import dlgradient", "", "def f(x):"] + body + ["    return y", ""]
    if not allow_return:
        src += ["def top(x):"] + body + ["    return y, dlgradient(y, x)", ""]
        src += ["def hv_top(x, v):"] + body + ["    g = dlgradient(y, x)",
                                                "    return dlgradient(np.sum(g * v), x)", ""]
    src += ["def via_helper(x):", "    y = f(x)", "    return y, dlgradient(y, x)", "",
            "def hv(x, v):", "    y = f(x)", "    g = dlgradient(y, x)",
            "    return dlgradient(np.sum(g * v), x)", ""]
    return "\n".join(src), allow_return


@pytest.mark.parametrize("seed", range(40))
def test_jumps_in_nested_loops(seed, tmp_path):
    source, has_return = jump_program(seed)
    m = load_module(source, f"jump_program_{seed}", tmp_path)
    x = np.random.default_rng(seed).uniform(-1, 1, 3)
    v = np.random.default_rng(seed + 1).uniform(-1, 1, 3)
    expected = m.f(x)
    numeric = numerical_gradient(m.f, [x], 0)
    try:
        for fun in ([] if has_return else [m.top]) + [m.via_helper]:
            y, g = sct_grad(fun, x)
            assert float(y) == float(expected), (fun.__name__, "value")
            np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6, err_msg=fun.__name__)
        # second derivatives: Hessian-vector products against differences of sct's gradient
        hess = numerical_gradient(lambda xx: float(np.sum(sct_grad(m.via_helper, xx)[1] * v)), [x], 0)
        for fun in ([] if has_return else [m.hv_top]) + [m.hv]:
            hv = np.asarray(dlfeval(fun, dlarray(x), v).data)
            np.testing.assert_allclose(hv, hess, rtol=1e-4, atol=1e-5, err_msg=fun.__name__)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nprogram:\n{textwrap.indent(source, '    ')}") from None


def nested_break(x):
    y = 0.0
    for i in range(3):
        for j in range(3):
            if j > i:
                break
            y = y + x[j] * x[i]
    return y


def nested_continue_while(x):
    y = x[0]
    i = 0
    while i < 3:
        i = i + 1
        j = 0
        while j < 3:
            j = j + 1
            if j == i:
                continue
            y = y * 0.5 + np.sin(x[j - 1] * y)
    return y


def return_from_inner_loop(x):
    y = x[0]
    for i in range(3):
        for j in range(3):
            y = y + x[j] * x[i]
            if y > 2.0:
                return y * 2.0
        y = y * 0.5
    return y


def break_inside_with(x):
    import contextlib
    y = x[0]
    for i in range(3):
        with contextlib.nullcontext():
            for j in range(3):
                if j == 2:
                    break
                y = y * np.cos(x[j])
    return y


@pytest.mark.parametrize("fun", [nested_break, nested_continue_while, return_from_inner_loop,
                                 break_inside_with])
def test_reported_nested_jumps(fun):
    check_grads(fun, np.array([0.7, 0.4, 0.9]))


def test_reported_nested_break_at_top_level():
    def f(x):
        y = 0.0
        for i in range(3):
            for j in range(3):
                if j > i:
                    break
                y = y + x[j] * x[i]
        return y, dlgradient(y, x)
    x = np.array([1.0, 2.0, 3.0])
    y, g = sct_grad(f, x)
    assert float(y) == nested_break(x)
    np.testing.assert_allclose(g, [7.0, 8.0, 9.0])


# --- item 17: powers at zero -----------------------------------------------------------------------

def pow_zero_float(x):
    return np.sum(x ** 0.0)


def pow_zero_int(x):
    return np.sum(x ** 0)


def pow_one(x):
    return np.sum(x ** 1)


def pow_two(x):
    return np.sum(x ** 2)


def pow_three(x):
    return np.sum(x ** 3)


def pow_array(x):
    return np.sum(x ** np.array([0.0, 1.0, 2.0, 3.0]))


def np_powers(x):
    return np.sum(np.power(x, 0.0) + np.float_power(x, 2.0) + np.power(x, 1))


def zero_base(x):
    return np.sum(np.zeros(4) ** (x ** 2 + 1.0) + np.zeros(4) ** (x * 0.0))


POWERS = [pow_zero_float, pow_zero_int, pow_one, pow_two, pow_three, pow_array, np_powers, zero_base]


@pytest.mark.parametrize("fun", POWERS)
@pytest.mark.parametrize("x", [np.zeros(4), np.array([-2.0, -1.0, 0.0, 3.0])], ids=["zeros", "mixed"])
def test_powers_at_zero_and_negatives(fun, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)     # no 0 * inf behind the result
        got = check_grads(fun, x)
    assert np.all(np.isfinite(got[0]))


@pytest.mark.parametrize("fun", POWERS)
def test_forward_mode_powers_at_zero(fun):
    x = np.array([0.0, -1.0, 0.0, 2.0])
    dx = np.array([1.0, 0.5, -1.0, 2.0])
    value, tangent = sct.jvp(fun, (x,), (dx,))
    expected = numerical_gradient(fun, [x], 0) @ dx
    np.testing.assert_allclose(np.asarray(value.data if hasattr(value, "data") else value), fun(x))
    np.testing.assert_allclose(float(np.asarray(tangent.data if hasattr(tangent, "data") else tangent)),
                               expected, rtol=1e-6, atol=1e-7)


def traced_base_and_exponent(x):
    return np.sum(x[:2] ** x[2:])


def test_power_of_traced_base_and_exponent_at_zero():
    x = np.array([0.0, 2.0, 0.0, 1.5])
    value, tangent = sct.jvp(traced_base_and_exponent, (x,), (np.ones(4),))
    assert np.isfinite(float(np.asarray(tangent.data)))
    # d/db of 0 ** b at b = 0 has no finite difference (0 ** -h is inf): checked by hand
    from gradcheck import sct_gradients
    value, (g,) = sct_gradients(traced_base_and_exponent, x)
    np.testing.assert_allclose(g, [0.0, 1.5 * 2.0 ** 0.5, 0.0, 2.0 ** 1.5 * np.log(2.0)])
    np.testing.assert_allclose(float(np.asarray(tangent.data)), 1.5 * 2.0 ** 0.5 + 2.0 ** 1.5 * np.log(2.0))


def second_derivatives_of_powers(x):
    g = dlgradient(np.sum(x ** 1) + np.sum(x ** 0.0) + np.sum(x ** 2) + np.sum(x ** 3), x)
    return dlgradient(np.sum(g), x)


@pytest.mark.parametrize("x", [np.zeros(3), np.array([-1.0, 0.0, 2.0])])
def test_second_derivatives_of_powers_at_zero(x):
    got = np.asarray(dlfeval(second_derivatives_of_powers, dlarray(x)).data)
    np.testing.assert_allclose(got, 2.0 + 6.0 * x)


# --- item 8: every traced argument of an op is covered by its rule, or refused -------------------

def linspace_stop(x):
    return np.sum(np.linspace(0.0, x[0], 5) ** 2) + np.sum(x)


def linspace_both(x):
    return np.sum(np.sin(np.linspace(x[0], x[1], 7, endpoint=False)))


def linspace_arrays(x):
    return np.sum(np.linspace(x[:2], x[2:] * 2.0, 4, axis=1) ** 2)


@pytest.mark.parametrize("fun", [linspace_stop, linspace_both, linspace_arrays])
def test_linspace_endpoints_are_differentiated(fun):
    check_grads(fun, np.array([0.3, -0.8, 1.1, 0.4]))


def test_linspace_second_derivative():
    def f(x):
        g = dlgradient(np.sum(np.linspace(x[0], x[1], 4) ** 3), x)
        return dlgradient(np.sum(g), x)
    x = np.array([0.5, -0.7])
    t = np.linspace(0, 1, 4)
    samples = x[0] * (1 - t) + x[1] * t
    # d/dx_k sum_i (dL/dx0 + dL/dx1) = sum_i 6 s_i * ((1-t_i) + t_i) * w_k(i)
    expected = np.array([np.sum(6 * samples * (1 - t)), np.sum(6 * samples * t)])
    np.testing.assert_allclose(np.asarray(dlfeval(f, dlarray(x)).data), expected)


def interp_traced_left(x, t, fp):
    # (a traced xp is differentiated since issue 7; a traced left= value is not)
    y = np.sum(np.interp(t, np.array([0.0, 1.0, 2.0]), fp, left=x[0])) + np.sum(x)
    return y, dlgradient(y, x)


def arange_traced_start(x):
    y = np.sum(np.arange(x[0], 5.0)) + np.sum(x)
    return y, dlgradient(y, x)


def pad_traced_value(x):
    y = np.sum(np.pad(x, 1, constant_values=x[0]) ** 2)
    return y, dlgradient(y, x)


def nan_to_num_traced(x):
    y = np.sum(np.nan_to_num(x, nan=x[0]))
    return y, dlgradient(y, x)


def max_default_traced(x):
    y = max([], default=x[0]) + x[1]
    return y, dlgradient(y, x)


def var_ddof_traced(x):
    y = np.var(x, ddof=x[0]) + x[1]
    return y, dlgradient(y, x)


def in_helper(t, low):
    return np.interp(t, np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 4.0]), left=low)


def interp_in_helper(x):
    y = np.sum(in_helper(np.array([-0.5, 1.5]), x[0])) + np.sum(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, args, op, param", [
    (interp_traced_left, (np.array([-1.5, 2.5]), np.array([0.0, 1.0, 4.0])), "np.interp", "left"),
    (arange_traced_start, (), "np.arange", "start"),
    (pad_traced_value, (), "np.pad", "constant_values"),
    (nan_to_num_traced, (), "np.nan_to_num", "nan"),
    (max_default_traced, (), "max", "default"),
    (var_ddof_traced, (), "np.var", "ddof"),
    (interp_in_helper, (), "np.interp", "left"),
])
def test_traced_argument_without_rule_is_refused(fun, args, op, param):
    x = np.array([0.5, 1.0, 3.0])
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(x), *args)
    err = info.value
    assert err.filename.endswith("test_issue6_rules.py")
    assert isinstance(err.lineno, int) and err.lineno > 0
    assert op in str(err) and repr(param) in str(err)


def interp_constant_xp(x):
    y = np.sum(np.interp(np.array([0.5, 1.5]), np.array([0.0, 1.0, 2.0]), x ** 2))
    return y, dlgradient(y, x)


def test_covered_arguments_still_work():
    x = np.array([0.3, 0.7, 1.2])
    y, g = sct_grad(interp_constant_xp, x)
    f = lambda v: np.sum(np.interp(np.array([0.5, 1.5]), np.array([0.0, 1.0, 2.0]), v ** 2))  # noqa: E731
    np.testing.assert_allclose(g, numerical_gradient(f, [x], 0), rtol=1e-6, atol=1e-8)
    # integer-valued and shape arguments computed from traced values are fine
    def g_int(x):
        n = int(x[0] * 10)
        y = np.sum(np.arange(n) * x[1]) + np.sum(np.linspace(0.0, 1.0, n) * x[2])
        return y, dlgradient(y, x)
    y, g = sct_grad(g_int, x)
    np.testing.assert_allclose(g, [0.0, np.sum(np.arange(3)), np.sum(np.linspace(0.0, 1.0, 3))])


def test_every_uncovered_parameter_is_named_in_the_registry():
    """The audit: for every op, the parameters its rule leaves out are either discrete (axes, flags,
    indices) or refused when traced; the list of refused ones is what the tests above cover."""
    from sct.runtime import registry
    refused = {}
    for rule in registry.registered_ops():
        if (getattr(rule.op, "__module__", "") or "").startswith("sct.runtime"):
            continue
        params = [p for p in registry.uncovered_params(rule) if p != "out"]
        if params:
            refused[rule.name] = params
    assert refused.get("interp") == ["left", "right", "period"]
    assert "diff" not in refused and registry.lookup(np.diff).wrt == ("a", "prepend", "append")
    assert "linspace" not in refused and registry.lookup(np.linspace).wrt == ("start", "stop")


# --- item 16: np.r_, np.c_ and the other index tricks --------------------------------------------

def helper_r(x):
    return np.r_[x, x * 2.0]


def helper_c(x):
    return np.c_[x, x ** 2]


def r_in_helper(x):
    return np.sum(helper_r(x) ** 2)


def c_in_helper(x):
    return np.sum(np.sin(helper_c(x)))


def r_with_scalars(x):
    return np.sum(np.r_[x[0], 1.0, x, [2.0, 3.0]] ** 3)


def c_of_matrix_and_vector(x):
    a = np.reshape(x, (3, 1)) * np.array([[1.0, 2.0]])
    return np.sum(np.c_[a, x, 1.0 + np.zeros(3)] ** 2)


def c_of_scalars(x):
    return np.sum(np.c_[x[0], x[1] * 3.0] ** 2)


def r_of_matrices(x):
    a = np.reshape(x, (1, 3))
    return np.sum(np.r_[a, a * 2.0] ** 2)


@pytest.mark.parametrize("fun", [r_in_helper, c_in_helper, r_with_scalars, c_of_matrix_and_vector,
                                 c_of_scalars, r_of_matrices])
def test_r_and_c_are_differentiated(fun):
    check_grads(fun, np.array([0.4, -1.3, 0.8]))


def r_top(x):
    y = np.sum(np.r_[x, x] ** 2)
    return y, dlgradient(y, x)


def test_r_at_top_level_is_differentiated():
    x = np.array([1.0, 2.0, 3.0])
    y, g = sct_grad(r_top, x)
    assert float(y) == np.sum(np.r_[x, x] ** 2)
    np.testing.assert_allclose(g, 4 * x)


def mgrid_traced(x):
    y = np.sum(np.mgrid[0:x[0]:5j]) + np.sum(x)
    return y, dlgradient(y, x)


def r_with_slice_traced(x):
    y = np.sum(np.r_[0:3, x] ** 2)
    return y, dlgradient(y, x)


def s_traced(x):
    y = np.sum(x[np.s_[1:]] * np.ogrid[0:2]) + np.sum(np.ix_([0, 1])[0] * x[0])
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, name", [(mgrid_traced, "np.mgrid"), (r_with_slice_traced, "np.r_")])
def test_index_tricks_with_traced_index_are_refused(fun, name):
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(np.array([1.0, 2.0, 3.0])))
    assert info.value.filename.endswith("test_issue6_rules.py") and name in str(info.value)


def test_index_tricks_with_constant_index_are_constants():
    x = np.array([1.0, 2.0, 3.0])
    y, g = sct_grad(s_traced, x)
    assert float(y) == float(np.sum(x[1:] * np.arange(2)) + np.sum(np.array([[0], [1]]) * x[0]))
    np.testing.assert_allclose(g, [1.0, 0.0, 1.0])


# --- item 19: gradients keep their input's dtype ----------------------------------------------------

def dt_relu_max(x):
    return np.sum(np.maximum(x, 0.1) ** 2)

def dt_max_reduce(x):
    return np.max(x) + np.min(x) * 2

def dt_clip(x):
    return np.sum(np.clip(x, -0.5, 0.5) * x)

def dt_abs(x):
    return np.sum(np.abs(x) * x)

def dt_trace(x):
    return np.trace(np.outer(x, x))

def dt_diag(x):
    return np.sum(np.diag(np.outer(x, x)) ** 2)

def dt_diff(x):
    return np.sum(np.diff(x) ** 2)

def dt_log2(x):
    return np.sum(np.log2(x ** 2 + 1) + np.log10(x ** 2 + 2) + np.exp2(x))

def dt_mean_var(x):
    return np.mean(x) * np.var(x) + np.std(x)

def dt_nanmean(x):
    return np.nanmean(x ** 2)

def dt_astype(x):
    return np.sum(x.astype(np.float64) ** 2)

def dt_einsum(x):
    return np.einsum("i,i->", x, x)

def dt_cumsum_prod(x):
    return np.sum(np.cumsum(x) * np.prod(x))

def dt_where_sort(x):
    return np.sum(np.where(x > 0, x, 0.1 * x) * np.sort(x))

def dt_matrix(x):
    return np.sum(np.linalg.inv(np.outer(x, x) + 3 * np.eye(3)) @ x)

def dt_eigh(x):
    return np.sum(np.linalg.eigvalsh(np.outer(x, x) + np.diag(x)))

def dt_average(x):
    return np.average(x ** 2)

def dt_softmax_like(x):
    return np.sum(np.exp(x - np.max(x)) / np.sum(np.exp(x - np.max(x))) * x)


DTYPE_PROGRAMS = {"relu_max": dt_relu_max, "max_reduce": dt_max_reduce, "clip": dt_clip, "abs": dt_abs, "trace": dt_trace, "diag": dt_diag, "diff": dt_diff, "log2": dt_log2, "mean_var": dt_mean_var, "nanmean": dt_nanmean, "astype": dt_astype, "einsum": dt_einsum, "cumsum_prod": dt_cumsum_prod, "where_sort": dt_where_sort, "matrix": dt_matrix, "eigh": dt_eigh, "average": dt_average, "softmax_like": dt_softmax_like}


def dtype_case(x, name):
    y = DTYPE_PROGRAMS[name](x)
    return dlgradient(y, x)


@pytest.mark.parametrize("name", sorted(DTYPE_PROGRAMS))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gradient_keeps_input_dtype(name, dtype):
    if dtype == np.float16 and name in ("matrix", "eigh"):
        pytest.skip("numpy's linalg has no float16 (plain Python fails the same way)")
    x = np.array([0.3, -0.6, 0.9], dtype=dtype)
    g = dlfeval(dtype_case, dlarray(x), name)
    assert g.dtype == dtype
    expected = numerical_gradient(DTYPE_PROGRAMS[name], [x.astype(np.float64)], 0)
    tol = 2e-3 if dtype == np.float32 else 5e-2
    np.testing.assert_allclose(np.asarray(g.data, dtype=np.float64), expected, rtol=tol, atol=tol)


def test_float16_values_match_plain_numpy():
    def f(x):
        y = np.sum(np.sin(x) * x)
        return y, dlgradient(y, x)
    x = np.array([0.3, -0.6, 0.9], dtype=np.float16)
    y, g = dlfeval(f, dlarray(x))
    assert y.dtype == np.float16 and g.dtype == np.float16
    assert np.asarray(y.data) == np.sum(np.sin(x) * x)


@pytest.mark.parametrize("op, args", [
    ("tie_weights", (np.ones(3, np.float32), np.zeros(3, np.float32))),
    ("extremum_weights", (np.ones(3, np.float32), np.float32(1))),
    ("clip_weights", (np.ones(3, np.float32), -1.0, 0.5, None, None, 0)),
    ("trace_mask", (np.ones((2, 2), np.float32), 0, 0, 1)),
    ("non_nan_count", (np.ones(3, np.float32), None)),
])
def test_rule_weights_are_in_the_primal_dtype(op, args):
    from sct.runtime import numpy_ops
    assert getattr(numpy_ops, op)(*args).dtype == np.float32


def test_op_table_rules_keep_float32():
    """Every rule of the op table (tests/test_op_rules.py), fed float32 arguments and a float32
    adjoint, returns float32 adjoints wherever the op's own result is single precision, except where the op itself computes in float64 (float_power,
    interp), Python's math and builtins (Python floats), and complex dot/inner."""
    import test_op_rules as table
    from sct.runtime.registry import lookup

    def cast(v):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return v.astype(np.float32)
        if isinstance(v, np.ndarray) and v.dtype.kind == "c":
            return v.astype(np.complex64)
        if isinstance(v, list):
            return [cast(e) for e in v]
        return v

    skip = ("float_power", "interp", "math.", "builtins.", "numpy.dot", "numpy.inner",
            "nested_to_array")   # its adjoint is x.tolist(): Python floats, as plain Python gives
    upcast = []
    checked = 0
    for case in table.CASES:
        for op in case.aliases:
            name = table.op_name(op)
            if any(s in name for s in skip):
                continue
            for cplx in ((False, True) if case.complex else (False,)):
                rng = np.random.default_rng(len(case.args) + 17)
                args = [cast(s(rng, cplx)) for s in case.args]
                rule = case.rule or lookup(op).fn
                fn = case.fn or op
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ans = fn(*args, **case.kwargs)
                    if isinstance(ans, (list, tuple)) or not hasattr(ans, "dtype") or \
                            ans.dtype.itemsize > (8 if ans.dtype.kind == "c" else 4):
                        continue       # the op itself computes in double precision here
                    g = np.ones_like(ans)
                    results = rule(g, ans, *args, **case.kwargs)
                if len(case.wrt) == 1 and not isinstance(results, tuple):
                    results = (results,)
                for position, result in zip(case.wrt, results):
                    for leaf in leaves(result):
                        dtype = getattr(leaf, "dtype", None)
                        if dtype is not None and dtype.itemsize > (8 if dtype.kind == "c" else 4):
                            upcast.append((name, cplx, position, str(dtype)))
                checked += 1
    assert checked > 150
    assert not upcast, upcast


# --- item 20: float(x), x.item() and int(x) of traced values --------------------------------------

def with_float(x):
    y = float(x[0]) * 2.0 + x[1] * float(np.sum(x))
    return y, dlgradient(y, x)


def with_item(x):
    y = x[0].item() * 2.0 + x[1] * np.sum(x).item()
    return y, dlgradient(y, x)


def with_item_index(x):
    m = np.reshape(x, (2, 2))
    y = m.item(3) * m.item(0, 1) + m.item((1, 0)) ** 2 + m.item(-1)
    return y, dlgradient(y, x)


def only_float(x):
    y = math_sin(float(x[0]))
    return y, dlgradient(y, x)


def math_sin(v):
    import math
    return math.sin(v) * 3.0


def with_int(x):
    y = int(x[0] * 10) * x[1] + round(float(x[2])) * x[1]
    return y, dlgradient(y, x)


def test_float_and_item_are_the_same_differentiated_identity():
    x = np.array([0.5, 1.5, -0.25])
    y1, g1 = sct_grad(with_float, x)
    y2, g2 = sct_grad(with_item, x)
    assert float(y1) == float(y2) == float(x[0]) * 2.0 + x[1] * float(np.sum(x))
    np.testing.assert_allclose(g1, g2)
    np.testing.assert_allclose(g1, [2.0 + x[1], np.sum(x) + x[1], x[1]])


def test_item_with_indices():
    x = np.array([0.5, 1.5, -0.25, 2.0])
    y, g = sct_grad(with_item_index, x)
    f = lambda v: v[3] * v[1] + v[2] ** 2 + v[3]   # noqa: E731
    assert float(y) == f(x)
    np.testing.assert_allclose(g, numerical_gradient(f, [x], 0), rtol=1e-6, atol=1e-8)


def test_float_of_traced_value_is_differentiated_alone():
    x = np.array([0.5, 1.5])
    y, g = sct_grad(only_float, x)
    np.testing.assert_allclose(g, [3.0 * np.cos(0.5), 0.0])


def test_int_and_round_are_piecewise_constant():
    x = np.array([0.52, 1.5, 2.7])
    y, g = sct_grad(with_int, x)
    assert float(y) == int(x[0] * 10) * x[1] + round(float(x[2])) * x[1]
    np.testing.assert_allclose(g, [0.0, 5.0 + 3.0, 0.0])


def test_item_second_derivative():
    def f(x):
        g = dlgradient(x[0].item() ** 3 + float(x[1]) ** 2, x)
        return dlgradient(np.sum(g), x)
    x = np.array([0.5, 1.5])
    np.testing.assert_allclose(np.asarray(dlfeval(f, dlarray(x)).data), [6 * 0.5, 2.0])


def with_tolist(x):
    rows = np.reshape(x, (2, 2)).tolist()
    y = np.sum(rows) * 2.0 + rows[0][1] ** 2 + sum(rows[1]) * x[0]
    return y, dlgradient(y, x)


def test_tolist_is_differentiated_like_float():
    # x.tolist() of a traced value keeps its derivative (it used to be a silent constant)
    x = np.array([0.5, 1.5, -0.25, 2.0])
    y, g = sct_grad(with_tolist, x)
    f = lambda v: np.sum(v) * 2.0 + v[1] ** 2 + (v[2] + v[3]) * v[0]   # noqa: E731
    assert float(y) == f(x)
    np.testing.assert_allclose(g, numerical_gradient(f, [x], 0), rtol=1e-6, atol=1e-8)


def test_tolist_second_derivative():
    def f(x):
        g = dlgradient(np.sum(np.array(x.tolist()) ** 3), x)
        return dlgradient(np.sum(g ** 2), x)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(np.asarray(dlfeval(f, dlarray(x)).data), 36 * x ** 3)
