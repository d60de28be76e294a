"""Compile-speed work (s51, issue 8 item 6), guarded without timing:

- ``sct/stale_reads.py`` keeps the names surely bound only for the statements that may get a check (was:
  a set copied for every statement of the forward code: quadratic in time and memory, 568 MB peak for a
  1,000-line function, every later pass slower in the larger heap);
- ``write_checks.spelled_names`` tests a name's stem and suffix with two compiled patterns (was: a
  pattern built and compiled per name, past re's cache of 512);
- ``wrap_generator_calls`` resolves each chain of names once, and leaves the tree to the consumers'
  check where no call is of a generator function (was: a NodeTransformer over every node);
- two recursive closures run per statement are deleted after use (was: a cycle per statement for the
  cyclic collector, off while compiling).

``scripts/source_snapshot.py`` checks that no generated source or refusal changed.
"""
import gc
import inspect
import re

import gast
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, normalize_generators, partials, properties, stale_reads
from sct.normalize_loops import _hoist_next
from sct.write_checks import spelled_names

X0 = np.array([0.5, -1.2, 2.0])


def _line(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, l in enumerate(lines) if text in l)


# -- stale reads: the surely-bound names kept only where a check may go
def reweight(st):
    st["w"][:] = 2.0 * st["w"]


def long_with_one_opaque_call(x, st):
    y = x * st["w"]
    a1 = np.tanh(y) * 0.5
    a2 = a1 * y + 0.1
    a3 = np.sin(a2) * a1
    a4 = a3 * a2 - 0.25 * a1
    a5 = np.exp(-a4 ** 2) + a3
    a6 = a5 * a4 + a2
    a7 = np.cos(a6) * a5
    a8 = a7 * a6 - a4
    reweight(st)
    L = np.sum(a8 ** 2)
    return L, dlgradient(L, x)


def test_stale_read_check_keeps_bound_names_only_for_opaque_statements(monkeypatch):
    passes = []
    run = stale_reads._Pass.run

    def recording(self):
        passes.append(self)
        return run(self)
    monkeypatch.setattr(stale_reads._Pass, "run", recording)
    sct.clear_cache()
    with pytest.raises(sct.SctError) as err:
        dlfeval(long_with_one_opaque_call, dlarray(X0), {"w": np.array([1.0, 2.0, 0.5])})
    msg = str(err.value)
    # (the refusal as before: the opaque call's line, the operation that read the array)
    assert f"line {_line(long_with_one_opaque_call, 'reweight(st)')}:" in msg, msg
    assert f"operation at line {_line(long_with_one_opaque_call, 'y = x * st')} read" in msg, msg
    assert passes
    for p in passes:
        statements = sum(1 for n in gast.walk(p.fwd) if isinstance(n, gast.stmt))
        assert statements > 12
        # was: one set per statement of the forward code (quadratic); now only the opaque call's
        assert len(p.sure) <= 2, len(p.sure)


def helper_writes_nothing_it_read(x, st):
    y = x * st["w"]
    z = np.tanh(y) * 2.0
    L = np.sum(z ** 2)
    return L, dlgradient(L, x)


def test_straight_function_without_opaque_calls_keeps_exact_gradient():
    st = {"w": np.array([1.0, 2.0, 0.5])}
    sct.clear_cache()
    L, g = dlfeval(helper_writes_nothing_it_read, dlarray(X0), st)
    w = st["w"]
    assert np.isclose(float(extractdata_(L)), np.sum((np.tanh(X0 * w) * 2.0) ** 2))
    expected = 2 * (np.tanh(X0 * w) * 2.0) * 2.0 * (1 - np.tanh(X0 * w) ** 2) * w
    assert np.allclose(extractdata_(g), expected)


def extractdata_(v):
    return np.asarray(sct.extractdata(v) if isinstance(v, sct.dlarray) else v)


# -- spelled_names: no pattern compiled per name
def test_spelled_names_compiles_no_pattern_per_name(monkeypatch):
    n = 600                    # (past re's cache of 512 patterns)
    body = "".join(f"    a{i}_item = a{i}[0]\n    cfg{i}_inner = cfg{i}.inner\n    own{i} = cfg{i}.inner\n"
                   for i in range(n))
    fdef = gast.parse("def f():\n" + body).body[0]
    calls = []
    fullmatch = re.fullmatch

    def counting(*args, **kwargs):
        calls.append(args)
        return fullmatch(*args, **kwargs)
    monkeypatch.setattr(re, "fullmatch", counting)
    spelled = spelled_names(fdef)
    assert not calls            # was: one re.fullmatch of a new pattern per name
    for i in (0, 1, 599):
        assert spelled[f"a{i}_item"] == f"a{i}[0]"
        assert spelled[f"cfg{i}_inner"] == f"cfg{i}.inner"
        assert f"own{i}" not in spelled         # (a name of the user's own)


@pytest.mark.parametrize("of,name", [
    ("xs", "xs0"), ("xs", "xs_item"), ("xs", "xsa"), ("xs", "ys0"), ("xs", "xs"), ("a1", "a10"), ("a1", "a1_"),
    ("cfg_inner", "cfg_inner_item"), ("cfg_inner", "cfg_w"), ("cfg_inner", "cfg0"), ("cfg_inner", "inner0")])
def test_spelled_names_stem_rule_as_before(of, name):
    # ``of`` spelled cfg.inner where the normalizer made it of cfg.inner: its stem is cfg
    first = f"    {of} = cfg.inner\n" if of == "cfg_inner" else ""
    fdef = gast.parse(f"def f():\n{first}    {name} = {of}[0]\n").body[0]
    spelled = spelled_names(fdef)
    of_spelled = "cfg.inner" if of == "cfg_inner" else of
    # the rule as it was written (one pattern per name)
    old = bool(re.fullmatch(re.escape(re.match(r"\w+", of_spelled).group()) + r"(\d+|_\w+)", name))
    assert (spelled.get(name) == f"{of_spelled}[0]") == old, spelled
    assert old == (name in ("xs0", "xs_item", "a10", "cfg_inner_item", "cfg_w", "cfg0"))


# -- wrap_generator_calls: each chain of names resolved once; a generator still wrapped
def many_calls(x):
    a = np.tanh(x) + np.tanh(2.0 * x) + np.tanh(3.0 * x)
    b = np.sum(a) + np.sum(a * a) + np.sum(np.tanh(a))
    return b, dlgradient(b, x)


def test_generator_calls_resolved_once_per_chain(monkeypatch):
    chains = []
    resolve = partials.PartialRewriter.resolve

    def recording(self, node, local_root, classes=False):
        if classes:         # (wrap_generator_calls' lookups: a class's function too)
            chains.append(partials._chain(node))
        return resolve(self, node, local_root, classes)
    monkeypatch.setattr(partials.PartialRewriter, "resolve", recording)
    sct.clear_cache()
    b, g = dlfeval(many_calls, dlarray(X0))
    keys = [tuple(c) for c in chains if c is not None]
    assert keys and len(keys) == len(set(keys)), keys      # was: once per call (np.tanh four times)

    def plain(x):
        a = np.tanh(x) + np.tanh(2.0 * x) + np.tanh(3.0 * x)
        return np.sum(a) + np.sum(a * a) + np.sum(np.tanh(a))
    assert np.isclose(float(extractdata_(b)), plain(X0))
    h = 1e-6
    fd = np.array([(plain(X0 + h * e) - plain(X0 - h * e)) / (2 * h) for e in np.eye(3)])
    assert np.allclose(extractdata_(g), fd, rtol=1e-6, atol=1e-8)


def squares(xs):
    for v in xs:
        yield v * v


def uses_a_generator(x):
    s = sum(squares([x[0], x[1], x[2]]))
    L = s * 2.0
    return L, dlgradient(L, x)


def test_generator_call_still_wrapped_with_exact_gradient():
    sct.clear_cache()
    L, g = dlfeval(uses_a_generator, dlarray(X0))
    assert np.isclose(float(extractdata_(L)), 2.0 * np.sum(X0 ** 2))
    assert np.allclose(extractdata_(g), 4.0 * X0)


# -- recursive closures freed when they return
def _garbage_after(fn):
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        fn()
        return gc.collect()
    finally:
        if was:
            gc.enable()


def test_attribute_reads_leave_no_cycle():
    stmt = gast.parse("y = cfg.a * np.tanh(x.b) + d.c").body[0]
    found = []
    assert _garbage_after(lambda: found.extend(properties._attributes(stmt))) == 0
    assert [n.attr for n, *_ in found] == ["a", "tanh", "b", "c"]


def test_hoist_next_leaves_no_cycle():
    stmt = gast.parse("y = np.sum(x) * 2").body[0]

    class Namer:
        def fresh(self, base):
            return base + "_1"
    assert _garbage_after(lambda: _hoist_next(stmt, Namer())) == 0


# -- normalize's header nodes: a list without the context and operator leaves, the same other nodes
def _header_nodes_as_it_was(stmt):
    bodies = ("body", "orelse", "handlers", "finalbody", "cases")
    if not isinstance(stmt, gast.AST) or isinstance(stmt, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
        return
    todo = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)):
            continue
        yield node
        for name in node._fields:
            if isinstance(node, gast.stmt) and name in bodies:
                continue
            child = getattr(node, name, None)
            todo.extend(c for c in (child if isinstance(child, list) else [child]) if isinstance(c, gast.AST))


_HEADERS = '''
def f(x, xs):
    y = (n := x + 1) * np.tanh(x) if x > 0 else -x
    for v in [w := t * 2 for t in xs if (u := t)]:
        z = v
    while (k := k - 1) > 0:
        pass
    with open(p := "f") as fh, ctx(q := 2):
        a = 1
    if bump(x) and (lambda r: r)(x):
        b = 2
    else:
        c = 3
    try:
        d = g(x)
    except E as e:
        pass
    def inner(m=(dd := 4)):
        return m
    return {kk: vv for kk, vv in pairs}, x[1:2, ::3], f"{x!r:>{w}}"
'''


def test_header_nodes_are_the_walks_nodes_but_the_leaves():
    from sct import normalize
    leaves = (gast.expr_context, gast.operator, gast.unaryop, gast.boolop, gast.cmpop)
    fdef = gast.parse(_HEADERS).body[0]
    for stmt in fdef.body:
        got = normalize._header_nodes(stmt)
        assert isinstance(got, list)        # (was: a generator over every field, the leaves too)
        assert not any(isinstance(n, leaves) for n in got)
        expected = [n for n in _header_nodes_as_it_was(stmt) if not isinstance(n, leaves)]
        assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected))
    targets = [sorted(normalize._walrus_targets(s)) for s in fdef.body]
    assert targets[:4] == [["n"], ["u", "w"], ["k"], ["p", "q"]] and targets[-2:] == [[], []]     # (a def: none of its own)
