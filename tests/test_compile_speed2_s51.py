"""Compile-speed work (s51, second round; issue 8 item 6), guarded without timing:

- ``sct/call_tree.py``: a chain of calls of user functions, each reading the last one's value
  (``a = 0.5 * a + 0.4 * helper(a)``), took a compile time cubic in its length (200 calls: 11 s CPU):
  ``_display_linked`` walked the function's reads graph once per item of each argument
  (``_computed_from``; now one ``_Reach`` per graph and names left out, shared by every call);
  each round of resolution found the names the function binds again (``_local_names``: now kept
  while no code changes); ``_value_keep`` walked the function three times per call (now one index
  per function while no code changes).

- ``sct/stale_reads.py``: each opaque statement looked at every later event for the sweeps it reads
  and found the targets of every earlier one again (now the events that read a sweep listed once,
  each event's targets found once).

``scripts/source_snapshot.py`` checks that no generated source or refusal changed.
"""
import importlib
import os
import random
import sys

import numpy as np

import sct
from sct import call_tree, dlarray, dlfeval, stale_reads
from sct.call_tree import _Reach, _computed_from

from gradcheck import numerical_gradient


def _chain_module(tmp_path, n, logged=False):
    """A module whose ``f(x)`` calls user helpers ``n`` times, each on the last call's value
    (``logged``: each followed by an append to a global list, an opaque statement)."""
    body = ["a = x * 0.5"]
    for i in range(n):
        body.append(f"a = 0.5 * a + 0.4 * helper_{i % 3}(a)")
        if logged:
            body.append(f"log.append({i})")
    body.append("return np.sum(a ** 2)")
    src = ("import numpy as np\n\nlog = []\n\n"
           "def helper_0(v):\n    return v * 0.5\n\n"
           "def helper_1(v):\n    return np.sin(v)\n\n"
           "def helper_2(v):\n    return v - 1.0\n\n"
           "def f(x):\n" + "".join(f"    {s}\n" for s in body))
    name = f"s51_chain_{n}_{int(logged)}_{os.getpid()}"
    (tmp_path / f"{name}.py").write_text(src)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def _plain(mod, x):
    a = x * 0.5
    helpers = [mod.helper_0, mod.helper_1, mod.helper_2]
    for i in range(N):
        a = 0.5 * a + 0.4 * helpers[i % 3](a)
    return np.sum(a ** 2)


N = 30


def test_reach_answers_as_computed_from():
    rng = random.Random(7)
    for _ in range(2000):
        n = rng.randint(1, 25)
        names = [f"v{i}" for i in range(n + 4)]
        graph = {names[i]: set(rng.sample(names, rng.randint(0, 4))) for i in range(n)}
        reach = _Reach(graph)
        for _ in range(10):
            a = set(rng.sample(names, rng.randint(1, 3)))
            b = set(rng.sample(names, rng.randint(1, 3)))
            assert reach.computed_from(a, b) == _computed_from(graph, a, b), (graph, a, b)


def test_chain_of_helper_calls_walks_each_graph_once(tmp_path, monkeypatch):
    mod = _chain_module(tmp_path, N)
    counts = {"computed_from": 0, "local_names": 0, "reach": 0, "keep_index": 0}
    computed_from, local_names, reach_init = call_tree._computed_from, call_tree._local_names, _Reach.__init__
    keep_index = call_tree._keep_index

    def counting(name, fn):
        def wrapped(*args, **kwargs):
            counts[name] += 1
            return fn(*args, **kwargs)
        return wrapped
    monkeypatch.setattr(call_tree, "_computed_from", counting("computed_from", computed_from))
    monkeypatch.setattr(call_tree, "_local_names", counting("local_names", local_names))
    monkeypatch.setattr(call_tree, "_keep_index", counting("keep_index", keep_index))
    monkeypatch.setattr(_Reach, "__init__", counting("reach", reach_init))
    sct.clear_cache()

    def loss_grad(x):
        y = mod.f(x)
        return y, sct.dlgradient(y, x)
    x0 = np.linspace(0.1, 0.4, 4)
    y, g = dlfeval(loss_grad, dlarray(x0))
    # the values and the gradient as before
    assert np.allclose(np.asarray(y), _plain(mod, x0))
    expected = numerical_gradient(lambda x: _plain(mod, x), [x0], 0)
    np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-5, atol=1e-6)
    # was: a walk of the reads graph per item of each argument (thousands), the bound names found
    # again in each of the N rounds of resolution, three walks of the function per call
    assert counts["computed_from"] < N, counts          # (was 86 for N = 30)
    assert counts["reach"] <= 6, counts
    assert counts["local_names"] <= 6, counts           # (was N + 1)
    assert counts["keep_index"] <= 6, counts


def test_opaque_statements_find_each_events_targets_once(tmp_path, monkeypatch):
    mod = _chain_module(tmp_path, N, logged=True)
    calls = []
    targets = stale_reads._targets

    def counting(s):
        calls.append(s)
        return targets(s)
    monkeypatch.setattr(stale_reads, "_targets", counting)
    sct.clear_cache()

    def loss_grad(x):
        y = mod.f(x)
        return y, sct.dlgradient(y, x)
    x0 = np.linspace(0.1, 0.4, 4)
    y, g = dlfeval(loss_grad, dlarray(x0))
    assert np.allclose(np.asarray(y), _plain(mod, x0))
    expected = numerical_gradient(lambda x: _plain(mod, x), [x0], 0)
    np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-5, atol=1e-6)
    assert mod.log == list(range(N))     # (the appends ran, in order, once)
    # was: the targets of every earlier event for each opaque one (quadratic: 1,075 calls for 15
    # helper calls, 3,700 for 30; now 312 and 597)
    assert len(calls) < 25 * N, len(calls)
