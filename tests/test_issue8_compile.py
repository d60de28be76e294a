"""Issue 8, item 6: compile time linear in the function's size.  Structural checks of the work
the compiler's passes do (counts, never timings): the optimiser's common subexpressions walk each
generated function once per use and each statement once; the activity fixed point's worklist makes
exactly the visits, in the same order, of the round-by-round semi-naive evaluation it replaces.
"""
import importlib
import random
import sys
from typing import Dict

import gast
import numpy as np
import pytest

import sct
from sct import analysis, cache, cse, dlarray, dlfeval, optimize

TEMPLATES = [
    "a{i} = np.tanh(a{p}) * 0.5 + a{q}",
    "a{i} = a{p} @ W + 0.1 * x",
    "a{i} = np.sin(a{p}[::-1]) * a{q}",
    "a{i} = a{p} * a{q} - 0.25 * a{r}",
    "a{i} = np.exp(-a{p} ** 2) + np.sum(a{q}) * 0.01",
    "a{i} = np.concatenate([a{p}[4:], a{q}[:4]]) / (1.0 + a{r} ** 2)",
]


def straight_line_module(tmp_path, lines: int, name: str):
    """A module file with ``loss_grad(x, W)`` of about ``lines`` body lines, as
    benchmarks/compile_time.py writes them."""
    body = ["a0 = x * 0.5"]
    n = lines - 3
    for i in range(1, n + 1):
        body.append(TEMPLATES[i % len(TEMPLATES)].format(i=i, p=i - 1, q=max(0, i - 3), r=max(0, i - 7)))
    body.append(f"loss = np.sum(a{n} ** 2) / {n}")
    body.append("return loss, dlgradient(loss, x, W)")
    (tmp_path / f"{name}.py").write_text("import numpy as np\nfrom sct import dlgradient\n\n\n"
                                         "def loss_grad(x, W):\n" + "".join(f"    {s}\n" for s in body))
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name).loss_grad
    finally:
        sys.path.remove(str(tmp_path))


def inputs():
    rng = np.random.default_rng(0)
    return dlarray(0.3 * rng.standard_normal(8)), dlarray(0.3 * rng.standard_normal((8, 8)))


def test_cse_walks_each_function_once_per_use_and_each_statement_once(tmp_path, monkeypatch):
    fn = straight_line_module(tmp_path, 60, "issue8_compile_cse")
    counts: Dict[str, int] = {"uses": 0, "summarized": 0, "rewritten": 0, "scope_walks": 0}
    scans: Dict[int, int] = {}
    uses_init, summary_init, rewrite_init, scan = cse._Uses.__init__, cse._Summary.__init__, \
        cse._Rewrite.__init__, cse._scan
    has_scope = optimize._has_scope_statements

    def count_uses(self, *a, **k):
        counts["uses"] += 1
        uses_init(self, *a, **k)

    def count_summary(self, *a, **k):
        counts["summarized"] += 1
        summary_init(self, *a, **k)

    def count_rewrite(self, *a, **k):
        counts["rewritten"] += 1
        rewrite_init(self, *a, **k)

    def count_scan(stmt, *a, **k):
        scans[id(stmt)] = scans.get(id(stmt), 0) + 1
        return scan(stmt, *a, **k)

    def count_scope(fn):
        counts["scope_walks"] += 1
        return has_scope(fn)

    monkeypatch.setattr(cse._Uses, "__init__", count_uses)
    monkeypatch.setattr(cse._Summary, "__init__", count_summary)
    monkeypatch.setattr(cse._Rewrite, "__init__", count_rewrite)
    monkeypatch.setattr(cse, "_scan", count_scan)
    monkeypatch.setattr(optimize, "_has_scope_statements", count_scope)
    cache.clear()
    try:
        loss, grads = dlfeval(fn, *inputs())
    finally:
        cache.clear()
    assert np.isfinite(float(np.asarray(sct.extractdata(loss))))
    # each generated function: one walk for readers (whatever the rounds of its fixed point), one
    # for its rewrite; the scope statements found on readers' walk (not walked again)
    assert counts["summarized"] >= 2 and counts["rewritten"] >= 2
    assert counts["uses"] == counts["summarized"] + counts["rewritten"]
    assert counts["scope_walks"] == 0
    # every simple statement's stores and barrier found on one walk, once
    assert len(scans) > 100 and max(scans.values()) == 1


# --- the activity fixed point: worklist == round-by-round semi-naive evaluation ------------------

def semi_naive_by_rounds(nodes, visit, sizes) -> None:
    """The evaluation ``analysis.semi_naive`` replaces (as it was at 4c57f07): every round checks
    every statement's names against the tick of its last visit."""
    from sct.ir import walk_nodes
    forward = nodes[::-1]
    reads = {id(node): tuple({n.id for n in walk_nodes(node.value) if isinstance(n, gast.Name)})
             for node in nodes}
    stamp: Dict[str, int] = {}
    visited: Dict[int, int] = {}
    tick = 0
    rounds = 0
    while True:
        rounds += 1
        before = sizes()
        for node in (nodes if rounds <= 50 else forward):
            key = id(node)
            last = visited.get(key)
            if last is not None:
                for n in reads[key]:
                    if stamp.get(n, -1) > last:
                        break
                else:
                    continue
            visited[key] = tick
            was = sizes()
            changed = visit(node)
            if sizes() != was:
                tick += 1
                if isinstance(changed, gast.Name):
                    stamp[changed.id] = tick
                else:
                    visited.clear()
        if sizes() == before:
            break


def random_statements(rng: random.Random, count: int, names: int):
    """``v3 = v1 + v7``-like assignments (and a few ``v2.append(v5)`` calls, whose changed name is
    not a Name node of the target: the fallback that visits everything again)."""
    body = []
    for _ in range(count):
        reads = " + ".join(f"v{rng.randrange(names)}" for _ in range(rng.randrange(1, 4)))
        if rng.random() < 0.05:
            body.append(f"v{rng.randrange(names)}.append({reads})")
        else:
            body.append(f"v{rng.randrange(names)} = {reads}")
    fdef = gast.parse("def f():\n" + "".join(f"    {s}\n" for s in body)).body[0]
    return analysis.fixed_point_statements(fdef)


def run_fixed_point(evaluate, nodes, seeds, chain_kinds=False):
    """Activity-like sets (active names; with ``chain_kinds``, a second set that follows a name's
    first assignment only, as kinds do): the order of the visits and the final sets."""
    active = set(seeds)
    kinds: Dict[str, int] = {}
    order = []

    def visit(node):
        order.append(id(node))
        names = {n.id for n in gast.walk(node.value) if isinstance(n, gast.Name)}
        if isinstance(node, gast.Assign):
            target = node.targets[0].id
            if names & active:
                active.add(target)
            if chain_kinds and target not in kinds and any(n in kinds or n in active for n in names):
                kinds[target] = len(order)          # depends on when it is first visited
            return node.targets[0]
        receiver = node.value.func.value
        if names & active:
            active.add(receiver.id)
        return None                                # not the receiver's Name: everything again

    evaluate(nodes, visit, lambda: (len(active), len(kinds)))
    return order, active, kinds


@pytest.mark.parametrize("seed", range(12))
def test_worklist_visits_as_rounds(seed):
    rng = random.Random(seed)
    nodes = random_statements(rng, rng.choice([5, 40, 200]), rng.choice([4, 30, 120]))
    seeds = {f"v{rng.randrange(30)}" for _ in range(3)}
    for chain_kinds in (False, True):
        assert run_fixed_point(analysis.semi_naive, nodes, seeds, chain_kinds) == \
            run_fixed_point(semi_naive_by_rounds, nodes, seeds, chain_kinds)


def test_worklist_long_chain_goes_forward_after_50_rounds():
    # a chain written first to last is met last to first: one step a round, then forward
    n = 130
    fdef = gast.parse("def f():\n" + "".join(f"    v{i + 1} = v{i} * 2\n" for i in range(n))).body[0]
    nodes = analysis.fixed_point_statements(fdef)
    order, active, _ = run_fixed_point(analysis.semi_naive, nodes, {"v0"})
    assert (order, active) == run_fixed_point(semi_naive_by_rounds, nodes, {"v0"})[:2]
    assert active == {f"v{i}" for i in range(n + 1)}
    assert len(order) < 3 * n           # visits linear in the statements (no round revisits all)
