"""Issue 8 item 6 (compile time), fifth round: the faster gast conversion of the user's source and
the kept argument bindings of the rules give exactly what gast's converter and inspect's bind give."""
import ast
import inspect
import itertools
import os

import gast
import pytest

from sct import analysis
from sct.parse import ast_to_gast
from sct.runtime import registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _same_tree(a, b, path="tree"):
    assert type(a) is type(b), path
    if isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same_tree(x, y, f"{path}[{i}]")
    elif isinstance(a, ast.AST):
        assert list(a.__dict__) == list(b.__dict__), path      # the same fields, in the same order
        for k in a.__dict__:
            _same_tree(a.__dict__[k], b.__dict__[k], f"{path}.{k}")
    else:
        assert a == b or (a != a and b != b), path


SOURCE = '''
import numpy as np
from sct import dlgradient

def f(x, *args, y=2, **kw):
    """doc"""
    global G
    a, (b, *c) = x[1:2, ::-1], (1, 2, 3)
    d = {k: v for k, v in kw.items() if k} | {**kw}
    e = [i async for i in x] if False else lambda q=1, *, r: q + r
    try:
        t = x.T @ x ** -1.5 + 1j
    except (TypeError, ValueError) as err:
        raise RuntimeError(f"{err!r:>10}") from err
    finally:
        pass
    match x:
        case [1, *rest] if rest:
            pass
        case {"k": v, **others}:
            pass
        case Point(x=0) | None:
            pass
    with open("f") as fh, open("g"):
        del fh
    while not a:
        a = yield from b
    return dlgradient(t, x), ..., b"bytes", None, True
'''


@pytest.mark.parametrize("path", ["sct/analysis.py", "sct/optimize.py", "tests/test_source.py", "inline"])
def test_fast_gast_conversion_is_gasts_own(path):
    text = SOURCE if path == "inline" else open(os.path.join(ROOT, path)).read()
    tree = ast.parse(text)
    _same_tree(gast.ast_to_gast(tree), ast_to_gast(tree))


def _rules():
    found = {}
    for value in vars(registry).values():
        if isinstance(value, dict) and value and all(isinstance(r, registry.Rule) for r in value.values()):
            for rule in value.values():
                found[id(rule)] = rule
    return list(found.values())


def _inspect_bind(rule, node):
    """bind_arguments without its kept plans: inspect's bind, as before."""
    saved = analysis._bind_plan
    analysis._bind_plan = lambda *args: None
    try:
        return analysis.bind_arguments(rule, node, "f.py", 1)
    finally:
        analysis._bind_plan = saved


def _shape(value):
    if isinstance(value, dict):
        return list(value), {k: _shape(v) for k, v in value.items()}
    if isinstance(value, gast.Name):
        return "name", value.id, id(value)          # the call's own node
    if isinstance(value, (gast.Tuple, gast.List)):
        return type(value).__name__, [_shape(e) for e in value.elts]
    return gast.dump(value)


def test_kept_bindings_are_inspects():
    rules = _rules()
    assert len(rules) > 100
    name = lambda n: gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)   # noqa: E731
    compared = bound = 0
    for rule in rules[::3]:
        params = list(rule.signature.parameters)
        for count in range(4):
            for keywords in itertools.chain([()], itertools.combinations(params + ["other"], 1),
                                            itertools.combinations(params, 2)):
                node = gast.Call(func=name("f"), args=[name(f"a{i}") for i in range(count)],
                                 keywords=[gast.keyword(arg=k, value=name("k_" + k)) for k in keywords])
                try:
                    expected = _shape(_inspect_bind(rule, node))
                except Exception as exc:
                    expected = (type(exc), str(exc))
                try:
                    got = _shape(analysis.bind_arguments(rule, node, "f.py", 1))
                except Exception as exc:
                    got = (type(exc), str(exc))
                assert got == expected, (rule.name, count, keywords)
                compared += 1
                if isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], list):
                    bound += 1
                    again = analysis.bind_arguments(rule, node, "f.py", 1)
                    first = analysis.bind_arguments(rule, node, "f.py", 1)
                    for k, v in first.items():      # a default's node is new at every binding
                        if isinstance(v, gast.AST) and not isinstance(v, gast.Name):
                            assert again[k] is not v
                # a method call binds the receiver first: the same answer as inspect's
                try:
                    rule.signature.bind(None, *node.args, **{k.arg: k.value for k in node.keywords})
                    as_method = True
                except TypeError:
                    as_method = False
                assert analysis._binds_as_method(rule, node) == as_method, (rule.name, count, keywords)
    assert bound > 200 and compared > 2000
