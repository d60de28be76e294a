"""Compile-speed work (s54, issue 8 item 6), guarded without timing.

- Recursive closures that held the function's tree (or its analysis, which holds the tree) are
  deleted after use: ``plain_leaves.check_first_pass_calls``'s walk, ``optimize.dead_assignments``'s
  sweep, ``key_checks.check_traced_keys``'s key searches, ``plain_leaves.plain_fill``'s ``plain``,
  ``write_checks.spelled_names``'s ``spell``.  Was: every tree of a compilation (the user's function
  after normalizing, the generated functions) kept alive by a cycle until the cyclic collector, off
  while compiling, ran after it: a full pass over ~660,000 objects after a 2,000-line function (0.48 s
  of CPU, growing faster than the lines: 16 ms at 200 lines).

``scripts/source_snapshot.py`` checks that no generated source or refusal changed.
"""
import gc

import gast
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.write_checks import spelled_names

X0 = np.array([0.5, -1.2, 2.0])


def _garbage_after(fn):
    """The objects the cyclic collector finds after ``fn()`` ran (the collector off meanwhile)."""
    gc.collect()
    was, flags = gc.isenabled(), gc.get_debug()
    gc.disable()
    try:
        fn()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found = list(gc.garbage)
        gc.garbage.clear()
        return found
    finally:
        gc.set_debug(flags)
        if was:
            gc.enable()


def chain(x, W):
    a0 = x * 0.5
    a1 = a0 @ W + 0.1 * x
    a2 = np.sin(a1[::-1]) * a0
    a3 = a2 * a0 - 0.25 * a0
    a4 = np.exp(-a3 ** 2) + np.sum(a1) * 0.01
    a5 = np.concatenate([a4[2:], a2[:2]]) / (1.0 + a0 ** 2)
    a6 = np.maximum(a5, 0.0) + np.mean(a3 * x)
    loss = np.sum(a6 ** 2)
    return loss, dlgradient(loss, x, W)


def _chain_plain(x, W):
    a0 = x * 0.5
    a1 = a0 @ W + 0.1 * x
    a2 = np.sin(a1[::-1]) * a0
    a3 = a2 * a0 - 0.25 * a0
    a4 = np.exp(-a3 ** 2) + np.sum(a1) * 0.01
    a5 = np.concatenate([a4[2:], a2[:2]]) / (1.0 + a0 ** 2)
    a6 = np.maximum(a5, 0.0) + np.mean(a3 * x)
    return np.sum(a6 ** 2)


def test_a_compilation_leaves_no_tree_for_the_cyclic_collector():
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal(3), 0.3 * rng.standard_normal((3, 3))
    sct.clear_cache()
    out = []
    garbage = _garbage_after(lambda: out.append(dlfeval(chain, dlarray(x), dlarray(W))))
    trees = [o.name for o in garbage if isinstance(o, gast.FunctionDef)]
    analyses = [type(o).__name__ for o in garbage if type(o).__name__ == "Activity"]
    assert trees == [] and analyses == []       # (was: ['chain', 'chain_dlgradient_line...', ...])
    # and the compiled code is right: value and gradients against central differences
    loss, (gx, gW) = out[0]
    assert np.isclose(float(np.asarray(loss.data)), _chain_plain(x, W))
    h = 1e-6
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        assert np.isclose(np.asarray(gx.data)[k], (_chain_plain(x + e, W) - _chain_plain(x - e, W)) / (2 * h),
                          rtol=1e-5, atol=1e-8)
    for i in range(3):
        for j in range(3):
            E = np.zeros((3, 3))
            E[i, j] = h
            assert np.isclose(np.asarray(gW.data)[i, j],
                              (_chain_plain(x, W + E) - _chain_plain(x, W - E)) / (2 * h), rtol=1e-5, atol=1e-8)


def test_spelled_names_leaves_no_cycle():
    fdef = gast.parse("def f(cfg, xs):\n    cfg_inner = cfg.inner\n    xs0 = xs[0]\n    y = cfg_inner * xs0\n"
                      "    return y\n").body[0]
    got = []
    assert _garbage_after(lambda: got.append(spelled_names(fdef))) == []
    assert got[0] == {"cfg_inner": "cfg.inner", "xs0": "xs[0]"}


# -- inline_helpers._fields_read: no walk of the body where no name holds an object of a known kind
class _Linear:                  # a layer caching its input (read in place: its object's kind is known)
    def __init__(self, W):
        self.W = dlarray(W)

    def forward(self, x):
        self.x = x
        return x @ self.W


class _CacheNet:
    def __init__(self, W):
        self.l1 = _Linear(W)

    def forward(self, x):
        return self.l1.forward(x)


def _cache_loss(net, x):
    loss = np.sum(np.tanh(net.forward(x)))
    return loss, dlgradient(loss, net.l1.W)


def _fields_read_walks(monkeypatch):
    import sys
    from sct import inline_helpers
    walks = []
    real = inline_helpers.walk_nodes

    def counting(node):
        if sys._getframe(1).f_code.co_name == "_fields_read":
            walks.append(node)
        return real(node)
    monkeypatch.setattr(inline_helpers, "walk_nodes", counting)
    return walks


def test_fields_read_walks_nothing_without_objects(monkeypatch):
    walks = _fields_read_walks(monkeypatch)
    rng = np.random.default_rng(1)
    x, W = rng.standard_normal(3), 0.3 * rng.standard_normal((3, 3))
    sct.clear_cache()
    loss, _ = dlfeval(chain, dlarray(x), dlarray(W))
    assert walks == []          # (was: two walks of every statement)
    assert np.isclose(float(np.asarray(loss.data)), _chain_plain(x, W))


def test_fields_read_still_reads_a_field_object_in_place(monkeypatch):
    walks = _fields_read_walks(monkeypatch)
    rng = np.random.default_rng(2)
    W0, X = 0.5 * rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    net = _CacheNet(W0)
    sct.clear_cache()
    loss, g = dlfeval(_cache_loss, net, X)
    assert walks                # (the net's kind is known: its fields are read)
    assert net.l1.x is X        # the method read in place wrote its caller's object, as Python does
    plain = lambda W: float(np.sum(np.tanh(X @ W)))    # noqa: E731
    assert np.isclose(float(np.asarray(loss.data)), plain(W0))
    h = 1e-6
    for i in range(3):
        for j in range(2):
            E = np.zeros((3, 2))
            E[i, j] = h
            assert np.isclose(np.asarray(g.data)[i, j], (plain(W0 + E) - plain(W0 - E)) / (2 * h),
                              rtol=1e-5, atol=1e-8)


# -- dlfeval's first run: the function's source read for its writes only where memory may be shared
def _write_into_second(x, ws):
    y = np.sum(x ** 3)
    ws[0] = 9.0
    return y, dlgradient(y, x)


def test_first_run_reads_no_source_for_writes_without_a_plain_array(monkeypatch):
    from sct import callee_effects
    asked = []
    real = callee_effects.changes_arguments
    monkeypatch.setattr(callee_effects, "changes_arguments", lambda fn, *a, **k: asked.append(fn) or real(fn, *a, **k))
    rng = np.random.default_rng(3)
    x, W = rng.standard_normal(3), 0.3 * rng.standard_normal((3, 3))
    sct.clear_cache()
    loss, _ = dlfeval(chain, dlarray(x), dlarray(W))
    assert asked == []          # (was: [chain], its source parsed and analysed again)
    assert np.isclose(float(np.asarray(loss.data)), _chain_plain(x, W))
    # a dlarray beside a plain array sharing its memory, written in place: still refused
    buf = np.array([1.3, 2.0])
    with pytest.raises(sct.SctError, match="shares memory"):
        dlfeval(_write_into_second, dlarray(buf), buf)
    assert asked == [_write_into_second]
    buf = np.array([1.3, 2.0])                   # a copy: Python's numbers
    y, g = dlfeval(_write_into_second, dlarray(buf.copy()), buf)
    assert np.isclose(float(np.asarray(y.data)), 1.3 ** 3 + 8.0) and buf[0] == 9.0
    np.testing.assert_allclose(np.asarray(g.data), 3 * np.array([1.3, 2.0]) ** 2, rtol=1e-12)
