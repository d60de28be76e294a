"""Fixes of Dec 4: optimizer tables paired by (Layer, Parameter); gradients of dict/list/tuple subclasses
keep the input's class; unpacking an object of an unknown class; SimpleNamespace parameters in helpers;
warnings located at the user's line; sct.source(callees=True) showing every callee level."""
from __future__ import annotations

import collections
import dataclasses
import types
import warnings
from typing import NamedTuple

import numpy as np
import pytest

import sct
from sct import (adamupdate, dlarray, dlfeval, dlgradient, dlupdate, rmspropupdate, sgdmupdate)
from sct.runtime.table import Table

try:
    from tests.gradcheck import assert_close, numerical_gradient
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import assert_close, numerical_gradient


# --- 1. optimizer steps pair table rows by (Layer, Parameter) ------------------------------------

def _tables():
    rng = np.random.default_rng(0)
    w1, b1, w2 = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((1, 3))
    params = Table(("fc1", "fc1", "fc2"), ("Weights", "Bias", "Weights"), [dlarray(w1), dlarray(b1), dlarray(w2)])
    gw1, gb1, gw2 = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal((1, 3))
    grads = {("fc1", "Weights"): gw1, ("fc1", "Bias"): gb1, ("fc2", "Weights"): gw2}
    return params, grads


def _table_in(order, values):
    return Table(tuple(k[0] for k in order), tuple(k[1] for k in order), [dlarray(values[k]) for k in order])


ORDER = [("fc1", "Weights"), ("fc1", "Bias"), ("fc2", "Weights")]
SHUFFLED = [("fc2", "Weights"), ("fc1", "Weights"), ("fc1", "Bias")]


def test_dlupdate_pairs_gradient_rows_by_layer_and_parameter():
    params, grads = _tables()
    g = _table_in(SHUFFLED, grads)
    out = dlupdate(lambda p, d: p - 0.5 * d, params, g)
    assert list(zip(out.Layer, out.Parameter)) == ORDER
    for i, k in enumerate(ORDER):
        assert_close(out.Value[i].data, params.Value[i].data - 0.5 * grads[k], 1e-15, 1e-15)
    # several outputs too
    new, twice = dlupdate(lambda p, d: (p - d, 2 * d), params, g)
    for i, k in enumerate(ORDER):
        assert_close(twice.Value[i].data, 2 * grads[k], 1e-15, 1e-15)
        assert_close(new.Value[i].data, params.Value[i].data - grads[k], 1e-15, 1e-15)


def test_optimizers_pair_gradient_and_state_rows_by_key():
    params, grads = _tables()
    g_ordered, g_shuffled = _table_in(ORDER, grads), _table_in(SHUFFLED, grads)
    for step in (lambda g, s: sgdmupdate(params, g, s, 0.1),
                 lambda g, s: rmspropupdate(params, g, s, 0.1)):
        ref = step(g_ordered, None)
        got = step(g_shuffled, None)
        for a, b in zip(ref, got):
            for u, v in zip(a.Value, b.Value):
                assert_close(v.data, u.data, 0, 0)
        # the state given back (in the parameters' order) may come in another order as well
        state = ref[1]
        state_shuffled = state.rows([state.index(*k) for k in SHUFFLED])
        ref2 = step(g_ordered, state)
        got2 = step(g_shuffled, state_shuffled)
        for a, b in zip(ref2, got2):
            for u, v in zip(a.Value, b.Value):
                assert_close(v.data, u.data, 0, 0)
    ref = adamupdate(params, g_ordered, None, None, 1, 0.1)
    m, v = ref[1], ref[2]
    m_s = m.rows([m.index(*k) for k in reversed(ORDER)])
    ref2 = adamupdate(ref[0], g_ordered, m, v, 2, 0.1)
    got2 = adamupdate(ref[0], g_shuffled, m_s, v, 2, 0.1)
    for a, b in zip(ref2, got2):
        assert list(zip(b.Layer, b.Parameter)) == ORDER
        for u, w in zip(a.Value, b.Value):
            assert_close(w.data, u.data, 0, 0)


def test_network_with_reordered_gradient_table():
    net = sct.dlnetwork([sct.featureInputLayer(2), sct.fullyConnectedLayer(3, Name="fc1"), sct.reluLayer(),
                         sct.fullyConnectedLayer(1, Name="fc2")], Seed=0)
    L = net.Learnables
    rng = np.random.default_rng(1)
    grads = Table(L.Layer, L.Parameter, [rng.standard_normal(np.shape(v)) for v in L.Value])
    shuffled = grads.rows(list(reversed(range(len(grads)))))
    a, _ = sgdmupdate(net, grads, None, 0.1)
    b, _ = sgdmupdate(net, shuffled, None, 0.1)
    for u, v in zip(a.Learnables.Value, b.Learnables.Value):
        assert_close(np.asarray(v.data if hasattr(v, "data") else v), np.asarray(u.data if hasattr(u, "data") else u), 0, 0)
    for i in range(len(L)):
        expect = np.asarray(L.Value[i].data if hasattr(L.Value[i], "data") else L.Value[i]) - 0.1 * grads.Value[i]
        got = b.Learnables.Value[i]
        assert_close(np.asarray(got.data if hasattr(got, "data") else got), expect, 1e-14, 1e-14)


def test_mismatched_tables_are_refused_naming_the_rows():
    params, grads = _tables()
    missing = _table_in(ORDER[:2], grads)
    with pytest.raises(ValueError, match=r"missing rows fc2/Weights"):
        dlupdate(lambda p, d: p - d, params, missing)
    extra_values = dict(grads)
    extra_values[("fc3", "Bias")] = np.zeros(1)
    extra = _table_in(ORDER + [("fc3", "Bias")], extra_values)
    with pytest.raises(ValueError, match=r"extra rows fc3/Bias"):
        sgdmupdate(params, extra, None)
    renamed = Table(("fc1", "fc1", "fcX"), ("Weights", "Bias", "Weights"), [dlarray(grads[k]) for k in ORDER])
    with pytest.raises(ValueError, match=r"missing rows fc2/Weights; extra rows fcX/Weights"):
        adamupdate(params, renamed, None, None, 1)
    state = _table_in(SHUFFLED[:2], grads)
    with pytest.raises(ValueError, match=r"second after the parameters.*missing rows fc1/Bias"):
        rmspropupdate(params, _table_in(ORDER, grads), state)
