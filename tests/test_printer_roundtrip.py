"""The printer of generated code: every printed expression parses back to the same tree.

issue 6, item 11: the normaliser folds ``-0.5`` into one constant and astunparse printed
``(-0.5) ** 2`` as ``-0.5 ** 2`` (-0.25 instead of 0.25). Here trees of every expression
node kind, with every pair of operator precedences and numeric constants of every sign,
are printed by ``sct.emit.to_source``, parsed again and compared with the original.

A numeric constant prints as text that evaluates back to exactly that number (``(-0.5)``
parses as ``-(0.5)``, ``complex(0.0, (-2.0))``, ``1e309``); the comparison folds exactly those
forms back into constants on both sides before comparing ``ast.dump``s, so that a printed
tree that parses differently (another precedence, another constant) always fails.
"""
from __future__ import annotations

import ast
import itertools
import math

import gast
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sct import dlarray, dlfeval, dlgradient
from sct.emit import number_source, to_source

# large generated trees make hypothesis warn about the size of their repr; not a failure
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")


# --- comparison ----------------------------------------------------------------------------------

def _is_number(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex)) \
        and not isinstance(node.value, bool)


class _Fold(ast.NodeTransformer):
    """Folds the spellings the printer uses for numbers back into constants."""

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.USub, ast.UAdd)) and _is_number(node.operand):
            value = -node.operand.value if isinstance(node.op, ast.USub) else +node.operand.value
            return ast.copy_location(ast.Constant(value=value), node)
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        # (1e309 - 1e309) is how NaN prints
        if isinstance(node.op, ast.Sub) and _is_number(node.left) and _is_number(node.right) and \
                node.left.value == math.inf and node.right.value == math.inf:
            return ast.copy_location(ast.Constant(value=math.nan), node)
        # (a+bj) is how Python writes a complex number
        if isinstance(node.op, (ast.Add, ast.Sub)) and _is_number(node.left) and \
                _is_number(node.right) and isinstance(node.right.value, complex) and \
                isinstance(node.left.value, (int, float)) and node.right.value.real == 0:
            value = node.left.value + node.right.value if isinstance(node.op, ast.Add) \
                else node.left.value - node.right.value
            return ast.copy_location(ast.Constant(value=value), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "complex" and not node.keywords \
                and len(node.args) == 2 and all(_is_number(a) for a in node.args):
            return ast.copy_location(ast.Constant(value=complex(node.args[0].value,
                                                                node.args[1].value)), node)
        return node


def _canonical(tree) -> str:
    return ast.dump(_Fold().visit(tree))


def _printed(stmt: ast.stmt) -> str:
    module = ast.fix_missing_locations(ast.Module(body=[stmt], type_ignores=[]))
    return to_source(gast.ast_to_gast(module).body)


def assert_round_trip(stmt: ast.stmt):
    import copy
    original = copy.deepcopy(stmt)
    text = _printed(stmt)
    parsed = ast.parse(text)
    expected = ast.Module(body=[original], type_ignores=[])
    assert _canonical(parsed) == _canonical(expected), text


def _numbers_equal(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, complex):
        return _numbers_equal(a.real, b.real) and _numbers_equal(a.imag, b.imag)
    if isinstance(a, float) and (math.isnan(a) or math.isnan(b)):
        return math.isnan(a) and math.isnan(b)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


# --- hand-written cases ----------------------------------------------------------------------------

L = ast.Load()


def N(name):
    return ast.Name(id=name, ctx=L)


def C(value):
    return ast.Constant(value=value)


NUMBERS = [0, 1, -1, 7, -12345678901234567890, 0.0, -0.0, 0.5, -0.5, 1e-300, -2.5e10,
           math.inf, -math.inf, math.nan, 2j, -2j, 0j, complex(0.0, -0.0), complex(-0.0, 0.0),
           complex(-0.0, -2.0), complex(1, 2), complex(-1, -2), complex(-1.5, 0.0),
           complex(math.inf, -1), complex(1, math.nan)]


@pytest.mark.parametrize("value", NUMBERS, ids=repr)
def test_number_source_evaluates_to_exactly_the_number(value):
    text = number_source(value)
    assert _numbers_equal(eval(text, {"complex": complex}), value), text
    # as an operand of every position that binds tighter than unary minus
    for template in ("({}) ** 2", "{} ** 2", "2 ** {}", "{} .real", "[{}][0]", "-{}", "~{}" ):
        if template == "~{}" and not isinstance(value, int):
            continue
        compiled = eval(template.format(text), {"complex": complex})
        reference = eval(template.format("v"), {"v": value})
        assert _numbers_equal(compiled, reference) or (
            isinstance(reference, complex) and np.allclose(compiled, reference, equal_nan=True)
        ), (template, text)


BINOPS = [ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Div, ast.Mod, ast.Pow, ast.LShift,
          ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.FloorDiv]
UNARY = [ast.USub, ast.UAdd, ast.Not, ast.Invert]
CMPOPS = [ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In,
          ast.NotIn]


def _kinds(a, b):
    """One node of each kind of expression, with sub-expressions a and b."""
    return [
        ast.BinOp(left=a, op=ast.Add(), right=b),
        ast.BinOp(left=a, op=ast.Pow(), right=b),
        ast.BinOp(left=a, op=ast.Mult(), right=b),
        ast.BinOp(left=a, op=ast.BitOr(), right=b),
        ast.UnaryOp(op=ast.USub(), operand=a),
        ast.UnaryOp(op=ast.Not(), operand=a),
        ast.UnaryOp(op=ast.Invert(), operand=a),
        ast.BoolOp(op=ast.And(), values=[a, b]),
        ast.BoolOp(op=ast.Or(), values=[a, b, a]),
        ast.Compare(left=a, ops=[ast.Lt()], comparators=[b]),
        ast.Compare(left=a, ops=[ast.Lt(), ast.NotIn()], comparators=[b, a]),
        ast.IfExp(test=a, body=b, orelse=a),
        ast.Lambda(args=ast.arguments(posonlyargs=[], args=[ast.arg(arg="q")], vararg=None,
                                      kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
                   body=b),
        ast.Subscript(value=a, slice=b, ctx=L),
        ast.Subscript(value=a, slice=ast.Tuple(elts=[b, ast.Slice(lower=a, upper=None, step=b)],
                                               ctx=L), ctx=L),
        ast.Subscript(value=a, slice=ast.Slice(lower=b, upper=a, step=None), ctx=L),
        ast.Attribute(value=a, attr="real", ctx=L),
        ast.Call(func=a, args=[b, ast.Starred(value=a, ctx=L)],
                 keywords=[ast.keyword(arg="k", value=b), ast.keyword(arg=None, value=a)]),
        ast.Tuple(elts=[a, b], ctx=L),
        ast.Tuple(elts=[a], ctx=L),
        ast.Tuple(elts=[ast.Starred(value=a, ctx=L), b], ctx=L),
        ast.List(elts=[a, ast.Starred(value=b, ctx=L)], ctx=L),
        ast.Dict(keys=[a, None], values=[b, a]),
        ast.Set(elts=[a, b]),
        ast.NamedExpr(target=ast.Name(id="w", ctx=ast.Store()), value=a),
        ast.ListComp(elt=a, generators=[ast.comprehension(
            target=ast.Name(id="v", ctx=ast.Store()), iter=b, ifs=[a], is_async=0)]),
        ast.GeneratorExp(elt=b, generators=[ast.comprehension(
            target=ast.Tuple(elts=[ast.Name(id="v", ctx=ast.Store()),
                                   ast.Name(id="u", ctx=ast.Store())], ctx=ast.Store()),
            iter=a, ifs=[], is_async=0)]),
    ]


def _wrappers(expr):
    """The statement positions the printer treats specially (bare right-hand sides, tests)."""
    import copy
    e = lambda: copy.deepcopy(expr)   # noqa: E731
    return [
        ast.Assign(targets=[ast.Name(id="y", ctx=ast.Store())], value=e(), lineno=1),
        ast.Return(value=e()),
        ast.Expr(value=e()),
        ast.If(test=e(), body=[ast.Pass()], orelse=[ast.If(test=e(), body=[ast.Pass()],
                                                           orelse=[ast.Pass()])]),
        ast.While(test=e(), body=[ast.Pass()], orelse=[]),
        ast.AugAssign(target=ast.Name(id="y", ctx=ast.Store()), op=ast.Pow(), value=e()),
    ]


LEAVES = [N("a"), C(-0.5), C(-1), C(2), C(-2j), C(complex(-1, 2)), C(-0.0), C(math.nan)]


@pytest.mark.parametrize("leaf_a, leaf_b", list(itertools.product(LEAVES[:5], LEAVES[:5])))
def test_every_node_kind_round_trips(leaf_a, leaf_b):
    import copy
    for node in _kinds(copy.deepcopy(leaf_a), copy.deepcopy(leaf_b)):
        for stmt in _wrappers(node):
            assert_round_trip(stmt)


def test_every_precedence_pair_round_trips():
    """Each node kind as each operand of each other kind (two levels), under each wrapper."""
    import copy
    inner = _kinds(N("a"), C(-0.5)) + [C(-3), C(-1.5j), C(complex(-0.0, 1.0))]
    count = 0
    for child in inner:
        for parent in _kinds(copy.deepcopy(child), N("b")) + _kinds(N("b"), copy.deepcopy(child)):
            for stmt in _wrappers(parent):
                assert_round_trip(stmt)
                count += 1
    assert count > 5000


@pytest.mark.parametrize("op", BINOPS, ids=lambda o: o.__name__)
@pytest.mark.parametrize("op2", BINOPS + UNARY, ids=lambda o: o.__name__)
def test_operator_pairs_round_trip(op, op2):
    for side in ("left", "right"):
        if op2 in UNARY:
            child = ast.UnaryOp(op=op2(), operand=C(-2))
        else:
            child = ast.BinOp(left=C(-2), op=op2(), right=N("b"))
        parent = ast.BinOp(left=N("a"), op=op(), right=child) if side == "right" else \
            ast.BinOp(left=child, op=op(), right=N("a"))
        for stmt in _wrappers(parent):
            assert_round_trip(stmt)


@pytest.mark.parametrize("op", CMPOPS, ids=lambda o: o.__name__)
def test_comparisons_round_trip(op):
    node = ast.Compare(left=C(-1), ops=[op(), ast.Lt()],
                       comparators=[ast.BinOp(left=C(-0.5), op=ast.Pow(), right=C(-2)), N("c")])
    for stmt in _wrappers(node):
        assert_round_trip(stmt)


# --- the same values in compiled code ---------------------------------------------------------

def _printed_value(expr_text: str, env: dict):
    tree = ast.parse(f"y = {expr_text}\n")
    folded = _Fold().visit(tree)             # the normaliser's folding: one constant per number
    printed = _printed(folded.body[0])
    ns = dict(env)
    exec(printed, ns)
    return ns["y"], printed


@pytest.mark.parametrize("text", ["(-0.5) ** 2", "(-2) ** 2", "2 ** -1", "(-1).real",
                                  "(-1.5).imag", "(-2j) ** 2", "-(-2) ** 2", "(-3) // 2 ** 2",
                                  "a ** -0.5", "(-a) ** 2", "-a ** 2", "(-8) ** (1 / 3)"])
def test_folded_constants_keep_their_value(text):
    env = {"a": 3.0}
    value, printed = _printed_value(text, env)
    expected = eval(text, dict(env))
    assert _numbers_equal(value, expected) or np.allclose(value, expected), printed


# --- hypothesis: random expression trees ---------------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-10 ** 20, max_value=10 ** 20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
)
leaves = st.one_of(
    st.sampled_from(["a", "b", "c"]).map(N),
    numbers.map(C),
    st.sampled_from([True, False, None, "s", b"b", Ellipsis]).map(C),
)


def _compound(children):
    expr = children
    slices = st.one_of(
        expr,
        st.builds(lambda lo, hi, step: ast.Slice(lower=lo, upper=hi, step=step),
                  st.none() | expr, st.none() | expr, st.none() | expr),
    )
    return st.one_of(
        st.builds(lambda l, op, r: ast.BinOp(left=l, op=op(), right=r),
                  expr, st.sampled_from(BINOPS), expr),
        st.builds(lambda op, v: ast.UnaryOp(op=op(), operand=v), st.sampled_from(UNARY), expr),
        st.builds(lambda op, vs: ast.BoolOp(op=op(), values=vs),
                  st.sampled_from([ast.And, ast.Or]), st.lists(expr, min_size=2, max_size=3)),
        st.builds(lambda l, pairs: ast.Compare(left=l, ops=[p[0]() for p in pairs],
                                               comparators=[p[1] for p in pairs]),
                  expr, st.lists(st.tuples(st.sampled_from(CMPOPS), expr), min_size=1,
                                 max_size=3)),
        st.builds(lambda t, b, o: ast.IfExp(test=t, body=b, orelse=o), expr, expr, expr),
        st.builds(lambda b: ast.Lambda(args=ast.arguments(
            posonlyargs=[], args=[ast.arg(arg="a")], vararg=None, kwonlyargs=[],
            kw_defaults=[], kwarg=None, defaults=[]), body=b), expr),
        st.builds(lambda v, s: ast.Subscript(value=v, slice=s, ctx=L), expr, slices),
        st.builds(lambda v, ss: ast.Subscript(value=v, slice=ast.Tuple(elts=ss, ctx=L), ctx=L),
                  expr, st.lists(slices, min_size=0, max_size=3)),
        st.builds(lambda v, attr: ast.Attribute(value=v, attr=attr, ctx=L),
                  expr, st.sampled_from(["real", "T", "shape"])),
        st.builds(lambda f, args, star, kws: ast.Call(
            func=f, args=args + ([ast.Starred(value=star, ctx=L)] if star is not None else []),
            keywords=[ast.keyword(arg=k, value=v) for k, v in kws]),
            expr, st.lists(expr, max_size=2), st.none() | expr,
            st.lists(st.tuples(st.sampled_from(["k", "axis"]), expr), max_size=2,
                     unique_by=lambda kv: kv[0])),
        st.builds(lambda es: ast.Tuple(elts=es, ctx=L), st.lists(expr, max_size=3)),
        st.builds(lambda es, s: ast.List(elts=es + [ast.Starred(value=s, ctx=L)], ctx=L),
                  st.lists(expr, max_size=2), expr),
        st.builds(lambda kv: ast.Dict(keys=[k for k, _ in kv], values=[v for _, v in kv]),
                  st.lists(st.tuples(expr, expr), max_size=2)),
        st.builds(lambda e, it: ast.ListComp(elt=e, generators=[ast.comprehension(
            target=ast.Name(id="v", ctx=ast.Store()), iter=it, ifs=[], is_async=0)]), expr, expr),
    )


expressions = st.recursive(leaves, _compound, max_leaves=12)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, st.integers(min_value=0, max_value=5))
def test_random_expression_trees_round_trip(expr, where):
    assert_round_trip(_wrappers(expr)[where])


# --- the reported program ------------------------------------------------------------------------

def _issue_program(x):
    y = np.sum(x) + (-0.5) ** 2
    return y, dlgradient(y, x)


def _issue_program_branch(x):
    if (-1) ** 2 > 0:
        y = np.sum(x) * (-0.5) ** 2
    else:
        y = -np.sum(x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, grad", [(_issue_program, 1.0), (_issue_program_branch, 0.25)])
def test_reported_program_keeps_python_value(fun, grad):
    x = np.array([0.25, 0.25])
    y, g = dlfeval(fun, dlarray(x))
    expected = (np.sum(x) + 0.25) if fun is _issue_program else np.sum(x) * 0.25
    assert float(np.asarray(y)) == expected
    np.testing.assert_allclose(np.asarray(g), np.full(2, grad))
