"""Issue 7, item 5 (first half): one registry of op facts.

An op is registered once, with its rule and its facts (``registry.OpFacts``: linear in
which arguments, elementwise, many outputs, real output, methods, nondifferentiable
parameters).  Forward mode (sct/tangent.py), reverse mode and the activity analysis read
that record; sct/tangent.py holds no table of ops.  The forward-mode tangent of every op
in the op table (tests/test_op_rules.py) agrees with its reverse rule: <u, J v> equals
<J^T u, v> for random directions u and v.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import itertools
import operator
import textwrap

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata
from sct.forward import _forward
from sct.runtime import registry
from sct.runtime.registry import FACTS, METHODS, OpFacts, RULES, facts_of, lookup

try:
    from tests import test_op_rules as table
    from tests.gradcheck import assert_close
except ImportError:                      # run as plain `pytest` from inside tests/
    import test_op_rules as table
    from gradcheck import assert_close

pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning",
                                        "ignore::RuntimeWarning")


# --- every op's forward tangent agrees with its reverse rule -------------------------------------

def _module(tmp_path, name, source, names):
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(names)
    spec.loader.exec_module(module)
    return module


def _program(tmp_path, op, args, wrt, kwargs, k):
    """``def f(x0, ...): return OP(x0, C1, ..., key=K_key)``: a user's call of the op, the
    arguments not differentiated being constants of the module."""
    names = {"OP": op}
    params, call_args = [], []
    for i, a in enumerate(args):
        if i in wrt:
            params.append(f"x{i}")
            call_args.append(f"x{i}")
        else:
            names[f"C{i}"] = a
            call_args.append(f"C{i}")
    for key, value in kwargs.items():
        names[f"K_{key}"] = value
        call_args.append(f"{key}=K_{key}")
    source = f"def f({', '.join(params)}):\n    y = OP({', '.join(call_args)})\n    return y\n"
    return _module(tmp_path, f"issue7_op_{k}", source, names).f


FORWARD_PARAMS = [p for p in table.PARAMS if not p.values[2] and p.values[0].fn is None and not p.marks]


def _refused(op) -> bool:
    """Forward mode refuses (a CompileError, never a value) ops with a variable number of arrays
    in (``*args``, unless linear) or out (``many_outputs``)."""
    facts = facts_of(op)
    varargs = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in lookup(op).signature.parameters.values())
    return facts.many_outputs or (varargs and not (facts.linear or facts.joint_linear))


@pytest.mark.parametrize("case, op, cplx", FORWARD_PARAMS)
def test_forward_tangent_agrees_with_reverse_rule(tmp_path, case, op, cplx):
    rng = np.random.default_rng(len(case.args) + 17)
    args = [sample(rng, False) for sample in case.args]
    wrt = list(case.wrt)
    f = _program(tmp_path, op, args, wrt, case.kwargs, len(tmp_path.parts))
    primals = tuple(np.asarray(args[i], dtype=float) for i in wrt)
    vs = tuple(rng.standard_normal(np.shape(p)) for p in primals)
    try:
        _forward(f, primals, vs)      # forward mode (sct.jvp falls back to transposing reverse code)
    except CompileError as exc:
        assert _refused(op), f"forward mode refuses {table.op_name(op)}: {exc}"
        assert "forward mode does not follow" in str(exc)
        return
    assert not _refused(op)
    y, jv = sct.jvp(f, primals, vs)
    ans = op(*args, **case.kwargs)
    assert_close(np.asarray(extractdata(y)), np.asarray(ans), 1e-12, 1e-12, what="value")
    u = rng.standard_normal(np.shape(ans))
    rule = case.rule or lookup(op).fn
    vjps = rule(u, ans, *args, **case.kwargs)
    if len(wrt) == 1 and not isinstance(vjps, tuple):
        vjps = (vjps,)
    left = float(np.sum(u * np.asarray(extractdata(jv))))
    right = sum(float(np.sum(np.real(np.asarray(g)) * v)) for g, v in zip(vjps, vs))
    assert abs(left - right) <= 1e-8 * (1 + abs(left) + abs(right)), \
        f"{table.op_name(op)}: <u, J v> = {left} but <J^T u, v> = {right}"


def test_the_forward_table_covers_the_ops():
    """The comparison above runs on (nearly) every registered op of the runtime."""
    ops = {p.values[1] for p in FORWARD_PARAMS}
    own = [r for r in RULES.values() if table._own_rule(r)]
    assert len(ops) >= 0.75 * len(own), (len(ops), len(own))
    refused = [table.op_name(op) for op in ops if _refused(op)]
    assert len(refused) <= 0.05 * len(ops), refused


# --- tangent.py holds no op table ------------------------------------------------------------------

def _tangent_source():
    import sct.tangent as tangent
    return inspect.getsource(tangent)


def test_tangent_module_defines_no_op_table():
    """No dict, set or tuple whose keys or items are ops (np.*, operator.*, runtime helpers)."""
    tree = ast.parse(_tangent_source())
    offenders = []
    for node in ast.walk(tree):
        items = []
        if isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        elif isinstance(node, (ast.Set, ast.Tuple, ast.List)):
            items = node.elts
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_linear", "set", "frozenset"):
            items = node.args
        for item in items:
            if isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) and \
                    item.value.id in ("np", "numpy", "operator", "math", "nn", "rt_support", "rt_numpy_ops"):
                offenders.append(f"line {item.lineno}: {ast.unparse(item)}")
    assert not offenders, offenders
    source = _tangent_source()
    for name in ("LINEAR", "JOINT_LINEAR", "_MANY_OUTPUTS", "_elementwise_op", "CONTAINER_OPS"):
        assert name not in source, name


def test_analysis_has_no_op_tables():
    import sct.analysis as analysis
    source = inspect.getsource(analysis)
    for name in ("REAL_OPS", "_MAY_RETURN_CONTAINERS", "CONTAINER_OPS", "DIFF_BINOPS"):
        assert name not in source, name


# --- the record --------------------------------------------------------------------------------------

def test_facts_are_a_frozen_record_next_to_the_rule():
    facts = facts_of(np.sum)
    assert isinstance(facts, OpFacts)
    assert facts.linear == ("a",) and "sum" in facts.methods and METHODS["sum"] is np.sum
    with pytest.raises(Exception):
        facts.linear = ()
    assert lookup(np.sum).facts is facts
    assert facts_of(operator.matmul).linear == ("a", "b")
    assert facts_of(np.sin).elementwise and facts_of(abs).elementwise and facts_of(abs).real_output
    assert facts_of(np.linalg.eigh).many_outputs and facts_of(np.hsplit).many_outputs
    assert lookup(operator.getitem).nondiff == ("b",)
    assert facts_of(object()) == OpFacts()


def test_linear_facts_name_parameters_of_the_rule():
    """A fact naming no parameter of the op is refused at registration (they used to be
    silently unused: the table had ``np.real: "x"`` for a rule whose parameter is ``val``)."""
    def myop(x):
        return 2 * x
    with pytest.raises(TypeError, match="names no parameter"):
        @registry.defrule(myop, linear="y")
        def _rule(g, ans, x):
            return 2 * g
    for op, facts in FACTS.items():
        rule = lookup(op)
        if rule is not None:
            for name in facts.linear + facts.joint_linear + facts.nondiff:
                assert name in rule.signature.parameters, (op, name)


def test_methods_are_the_index_of_the_method_facts():
    for name, op in METHODS.items():
        assert name in facts_of(op).methods, name


def test_plain_defrule_keeps_declared_facts_and_adds_none():
    """Backwards compatible: ``defrule(op)`` with no facts works as before, and facts declared
    earlier (``many_outputs`` of np.hsplit, before any rule of it) stay."""
    def two_pieces(x):
        return [x[:1], x[1:]]
    registry.declare(two_pieces, many_outputs=True)
    try:
        @registry.defrule(two_pieces)
        def _rule(g, ans, x):
            return np.concatenate(g)
        assert facts_of(two_pieces).many_outputs
        assert lookup(two_pieces).wrt == ("x",)
    finally:
        registry.RULES.pop(two_pieces, None)
        registry.FACTS.pop(two_pieces, None)


def test_container_ops_still_declares_many_outputs():
    def pieces(x):
        return [x, x]
    registry.CONTAINER_OPS.add(pieces)
    try:
        assert facts_of(pieces).many_outputs
    finally:
        registry.CONTAINER_OPS.discard(pieces)
        registry.FACTS.pop(pieces, None)


# --- the operators: tangents from the operator rules ---------------------------------------------

def power(a, b):
    return a ** b


def remainder(a, b):
    return a % b


def remainder_of_constant(b):
    y = np.sum(7.5 % b)
    return y, dlgradient(y, b)


def mixed(a, b):
    c = a * b + a / b - a ** b + 2.0 ** a + a % 2.0 - np.sum(np.real(a)) + a ** 2 - (-a)
    return c @ b


def _reverse_jvp(f, primals, vs):
    return sct.jvp(f, primals, vs, mode="reverse")


def test_power_at_zero_base_agrees_with_reverse_rule():
    a = np.array([0.0, 0.0, 1.0, 2.0])
    b = np.array([2.0, 0.0, 3.0, 0.5])
    for v in [(np.ones(4), np.zeros(4)), (np.zeros(4), np.ones(4)), (np.ones(4), np.ones(4))]:
        y, jv = sct.jvp(power, (a, b), v)
        _, jv_reverse = _reverse_jvp(power, (a, b), v)
        got, want = np.asarray(extractdata(jv)), np.asarray(extractdata(jv_reverse))
        assert np.all(np.isfinite(got)), got
        assert_close(got, want, 1e-12, 1e-12, what="d(a**b)")
    # at a = 0, b = 2: d/da = 2 * 0 = 0; d/db = 0 ** 2 * log(.) = 0 (0 ** b is constant in b > 0)
    _, jv = sct.jvp(power, (a, b), (np.ones(4), np.ones(4)))
    assert np.asarray(extractdata(jv))[0] == 0.0


def test_remainder_tangent_in_the_divisor():
    """Forward mode used to drop the divisor's tangent of ``a % b`` (0 where the reverse rule
    gives -floor(a / b))."""
    a, b = np.array([5.0, 7.5, -2.5]), np.array([2.0, 3.0, 2.0])
    _, jv = sct.jvp(remainder, (a, b), (np.zeros(3), np.ones(3)))
    assert_close(np.asarray(extractdata(jv)), -np.floor(a / b), 1e-12, 1e-12, what="d(a % b)/db")
    _, jv = sct.jvp(remainder, (a, b), (np.ones(3), np.ones(3)))
    assert_close(np.asarray(extractdata(jv)), 1 - np.floor(a / b), 1e-12, 1e-12, what="d(a % b)")


def test_remainder_of_a_constant_by_a_traced_divisor():
    """``7.5 % b`` depends on b (d/db = -floor(7.5 / b)); it used to be refused as constant."""
    b = np.array([2.0, 3.0, 4.0])
    y, g = dlfeval(remainder_of_constant, dlarray(b))
    assert_close(float(extractdata(y)), float(np.sum(7.5 % b)), 1e-12, 1e-12, what="value")
    assert_close(np.asarray(extractdata(g)), -np.floor(7.5 / b), 1e-12, 1e-12, what="gradient")


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_operators_forward_equals_reverse(dtype):
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 2.0, 3).astype(dtype)
    b = rng.uniform(0.5, 2.0, 3).astype(dtype)
    if dtype == np.complex128:
        a, b = a + 0.1j, b - 0.2j
        f = complex_mixed
    else:
        f = mixed
    for v in itertools.product([np.zeros(3), rng.standard_normal(3)], repeat=2):
        if not any(np.any(x) for x in v):
            continue
        v = tuple(x.astype(dtype) for x in v)
        y, jv = sct.jvp(f, (a, b), v)
        y2, jv2 = _reverse_jvp(f, (a, b), v)
        assert_close(np.asarray(extractdata(y)), np.asarray(extractdata(y2)), 1e-12, 1e-12, what="value")
        assert_close(np.asarray(extractdata(jv)), np.asarray(extractdata(jv2)), 1e-9, 1e-9, what="tangent")


def complex_mixed(a, b):
    c = a * b + a / b - a ** b + 2.0 ** a - (-a) + a ** 2
    return c @ b


def test_operator_tangents_read_as_the_rules():
    text = str(sct.jvp_source(mixed, (np.ones(3), np.ones(3)), (np.ones(3), np.ones(3))))
    # (the optimiser may write a sum into one of its new operands: rt.into_temporary('add', p, q, 0))
    assert "(dot_a * b) + (a * dot_b)" in text or \
        "rt.into_temporary('add', (dot_a * b), (a * dot_b), 0)" in text      # a * b: linear in each
    assert "(dot_a / b) - (dot_b * (" in text or \
        "rt.into_temporary('sub', (dot_a / b), rt.into_temporary('mul', dot_b, (c_div / b)" in text  # a / b
    assert "rt.exponent_log(a, b)" in text                 # a ** b: the power rule's log(a) (0 for an int b)
    assert "op_jvp" not in text                            # no operator needs its rule transposed


# --- a user's rule with facts ----------------------------------------------------------------------

def scaled_sum(x, w):
    """sct reads no source of this (the rule replaces it)."""
    return np.sum(x * w)


W = np.array([3.0, -1.0])


def user_program(x):
    return scaled_sum(x, W) * 2.0


def test_public_defrule_takes_facts():
    @sct.defrule(scaled_sum, wrt=("x",), linear=("x",))
    def _scaled_sum_rule(g, ans, x, w):
        return g * w
    try:
        assert facts_of(scaled_sum).linear == ("x",)
        x = np.array([1.0, 2.0])
        text = str(sct.jvp_source(user_program, (x,), (np.ones(2),)))
        assert "scaled_sum(dot_x, W)" in text, text          # linear in x: the op of the tangent
        _, jv = sct.jvp(user_program, (x,), (np.array([1.0, 0.5]),))
        assert_close(float(extractdata(jv)), 2.0 * (3.0 - 0.5), 1e-12, 1e-12, what="user jvp")
    finally:
        registry.RULES.pop(scaled_sum, None)
        registry.FACTS.pop(scaled_sum, None)
    assert "linear" in sct.defrule.__doc__ and "elementwise" in sct.defrule.__doc__


def test_the_adjoint_helpers_keep_their_linearity():
    """Forward over reverse (hvp, jvp of a gradient) applies the adjoint helpers to tangents
    instead of transposing their rules: their linearity is registered with their rules."""
    from sct.runtime import support
    from sct.runtime.registry import facts_of
    for op in (support.unbroadcast, support.index_adjoint, support.getitem_or_zero, support.project,
               support.zero_at, support.item_adjoint, support.adjoint_or_zeros):
        assert facts_of(op).linear == ("grad",), op.__name__
    assert facts_of(support.broadcast_like).linear == ("value",)
    assert facts_of(support.add_grad).joint_linear == ("a", "b")
    assert facts_of(support.setitem).joint_linear == ("x", "value")
    assert facts_of(support.index_add).joint_linear == ("total", "grad")
