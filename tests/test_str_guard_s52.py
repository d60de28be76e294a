"""The run-time check that the receiver of ``name.startswith(...)`` is a str (sct/write_checks.py
_str_method_guarded, runtime require_str), red team redfix52: F4, a while loop's test re-ran the method
after the body rebound the name, unchecked (a user object's startswith doubled an array an earlier
operation read: a wrong gradient), now refused as before the check came; F9, numpy's np.str_ keys were
refused at run time, now run exactly. Where the check stands before every evaluation (if, elif, a
conditional expression, a comprehension's condition, a loop body) the program runs exactly."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import CompileError, SctError

from gradcheck import numerical_gradient

X0 = np.array([0.3, -0.7, 1.1])
G = np.array([0.5, 1.0, 2.0])


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


class _Key:
    """Not a str: its startswith doubles the global G, which an earlier differentiated operation read."""
    def startswith(self, prefix):
        G[...] *= 2.0
        return True


# ------------------------------------- F4: the test of a while loop re-runs the method

def _while_helper(x, weights, keys):      # a helper, compiled on its own
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        k = name
        n = 0
        while k.startswith("kl") and n < 2:
            L = L + wt * np.sum(G * x ** 3)
            k = keys[n]
            n = n + 1
    return L


def _while_loss(x, weights, keys):
    L = _while_helper(x, weights, keys)
    return L, dlgradient(L, x)


def _while_second(x, weights, keys):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        k = name
        n = 0
        while n < 2 and not k.endswith("_y"):
            L = L + wt * np.sum(G * x ** 3)
            k = keys[n]
            n = n + 1
    return L, dlgradient(L, x)


def test_str_method_in_while_test_refused():
    # was: run, dL/dx = [2.22 16.24 89.32] where plain Python's is [1.2075 5.215 34.87] (the second test
    # ran _Key.startswith, G doubled after G * x**3 read it)
    G[...] = [0.5, 1.0, 2.0]
    with pytest.raises(CompileError, match=r"test_str_guard_s52\.py, line \d+: k\.startswith\(\.\.\.\) is given "
                                           r"values that earlier differentiated operations read"):
        dlfeval(_while_loss, dlarray(X0), {"kl_x": 1.5}, [_Key(), _Key()])
    assert list(G) == [0.5, 1.0, 2.0]


def test_str_method_in_while_test_second_operand_refused():
    G[...] = [0.5, 1.0, 2.0]
    with pytest.raises(CompileError, match=r"line \d+: k\.endswith\(\.\.\.\) is given values"):
        dlfeval(_while_second, dlarray(X0), {"kl_x": 1.5}, [_Key(), _Key()])


# ------------------------------------- where the check stands before every call: exact

def _forms(x, weights):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        if name.startswith("kl"):
            L = L + wt * np.sum(x ** 3)
        elif name.endswith("_b") or name.startswith("z"):
            L = L + wt * np.sum(np.sin(x))
        L = L + (wt * np.sum(x) if name.upper() == "RECON" else 0.0)
    return L


def _comprehension(x, weights):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        L = L + wt * np.sum(x ** 3) * len([c for c in ["kl", "re"] if name.startswith(c)])
    return L


def _rebound_in_body(x, weights):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        k = name
        for j in range(2):
            if k.startswith("kl"):
                L = L + wt * np.sum(x ** 3)
            k = k[1:]
    return L


@pytest.mark.parametrize("plain", [_forms, _comprehension, _rebound_in_body])
def test_str_method_checked_before_each_call_exact(plain):
    def loss(x, weights):
        L = plain(x, weights)
        return L, dlgradient(L, x)
    sct.clear_cache()
    weights = {"kl_x": 0.5, "recon": 2.0, "a_b": -0.75, "zeta": 1.25}
    L, g = dlfeval(loss, dlarray(X0), weights)
    assert float(D(L)) == pytest.approx(float(plain(X0, weights)), rel=1e-14)
    fd = numerical_gradient(lambda x: plain(x, weights), [X0], 0)
    np.testing.assert_allclose(D(g), fd, rtol=1e-7, atol=1e-8)


# ------------------------------------- F9: numpy's np.str_ keys

def _weighted(x, weights):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        if name.startswith("kl"):
            L = L + wt * np.sum(x ** 3)
    return L, dlgradient(L, x)


def _plain_weighted(x, weights):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        if name.startswith("kl"):
            L = L + wt * np.sum(x ** 3)
    return L


def test_np_str_keys_exact():
    # was: EvaluationError ".startswith() is called on a str_ here, not on a str"
    weights = dict(zip(np.array(["kl_x", "recon"]), [0.5, 2.0]))
    assert type(next(iter(weights))) is np.str_
    L, g = dlfeval(_weighted, dlarray(X0), weights)
    assert float(D(L)) == pytest.approx(float(_plain_weighted(X0, weights)), rel=1e-14)
    fd = numerical_gradient(lambda x: _plain_weighted(x, weights), [X0], 0)
    np.testing.assert_allclose(D(g), fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(D(g), 2 * X0 + 1.5 * X0 ** 2, rtol=1e-14)


class _NpText(np.str_):
    def startswith(self, prefix):
        return True


def test_np_str_subclass_key_still_refused():
    with pytest.raises(SctError, match=r"\.startswith\(\) is called on a _NpText here, not on a str"):
        dlfeval(_weighted, dlarray(X0), {_NpText("recon"): 0.5})
