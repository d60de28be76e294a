"""Red-team findings around dlupdate differentiated through (sct/dlupdates.py) and what it rests on.
Values against plain Python (the runtime's dlupdate on numpy arrays), gradients against central
differences (tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, dlupdate
from sct.errors import SctError
from sct.runtime import optim

from gradcheck import D, numerical_gradient

A = np.array([0.3, -1.2, 0.7])


# --- keys equal across types (1 == 1.0 == True): code compiled for one was run for the others ---------

def _dict_copy(p):
    q = dict(p)
    return np.sum(q[1] ** 2), [type(k) for k in q]


def _maml_int_key(p):
    q = dlupdate(lambda w: w * 2, p)
    L = np.sum(q[1] ** 2)
    return L, dlgradient(L, p), [type(k) for k in q]


@pytest.mark.parametrize("later", [True, 1.0])
def test_dict_keys_of_another_type_after_int_keys(later):
    # was: dlfeval(f, {1: x}) then dlfeval(f, {True: x}) ran the code compiled for the int key (the
    # kinds and the entry's fast check compared keys with ==): dict(p) came back keyed 1, not True
    for key in (1, 1, later):
        L, types = dlfeval(_dict_copy, {key: dlarray(A)})
        assert types == [type(k) for k in dict({key: A})]
        np.testing.assert_allclose(float(D(L)), np.sum(A ** 2))


@pytest.mark.parametrize("later", [True, 1.0])
def test_accelerated_dict_keys_of_another_type(later):
    fast = sct.accelerate(_dict_copy)
    for key in (1, 1, later):
        assert fast({key: A})[1] == [type(key)]


@pytest.mark.parametrize("later", [True, 1.0])
def test_dlupdate_written_out_for_int_keys_not_run_for_others(later):
    # was: the written-out dlupdate rebuilt {1: ...} for a parameter dict keyed True / 1.0 (its check of
    # the structure compared the keys with ==); now compiled for that key (refused there: not a str or
    # int key) or its value
    L, g, types = dlfeval(_maml_int_key, {1: dlarray(A)})
    assert types == [int]
    np.testing.assert_allclose(D(g[1]), 8 * A)
    p = {later: dlarray(A)}
    try:
        L, g, types = dlfeval(_maml_int_key, p)
    except SctError:
        return
    ref = optim.dlupdate(lambda w: w * 2, {later: A})
    assert types == [type(k) for k in ref]


def test_dlupdate_structure_check_tells_key_types_apart():
    from sct.runtime import dlupdate_checks as support
    support.dlupdate_structure(repr(("d", ((1, "L"),))), {1: A})
    with pytest.raises(SctError):
        support.dlupdate_structure(repr(("d", ((1, "L"),))), {True: A})


# --- a read-only method of the parameters (q.items()) before the dlupdate: its structure kept ----------

B = np.array([0.4, -0.9])


def _squared_step(q, lr=0.1):
    g = {k: v ** 2 for k, v in q.items()}
    return dlupdate(lambda w, d: w - lr * d, q, g)


def _meta_items(p):
    a = _squared_step(p)
    b = _squared_step(p, lr=0.3)
    L = np.sum(a["W"] ** 3) + np.sum(a["b"]) + np.sum(b["b"] ** 2 * b["W"][:2])
    return L, dlgradient(L, p)


def _meta_items_inline(p):
    g = {k: np.sin(v) for k, v in p.items()}
    n = len(list(p.keys())) + len(p.values())
    q = dlupdate(lambda w, d: w - 0.1 * n * d, p, g)
    L = np.sum(q["W"] ** 3) + np.sum(q["b"] ** 2)
    return L, dlgradient(L, p)


def _meta_items_plain(W, b):
    p = {"W": W, "b": b}
    a = optim.dlupdate(lambda w, d: w - 0.1 * d, p, {k: v ** 2 for k, v in p.items()})
    c = optim.dlupdate(lambda w, d: w - 0.3 * d, p, {k: v ** 2 for k, v in p.items()})
    return float(np.sum(a["W"] ** 3) + np.sum(a["b"]) + np.sum(c["b"] ** 2 * c["W"][:2]))


def _meta_items_inline_plain(W, b):
    p = {"W": W, "b": b}
    q = optim.dlupdate(lambda w, d: w - 0.4 * d, p, {k: np.sin(v) for k, v in p.items()})
    return float(np.sum(q["W"] ** 3) + np.sum(q["b"] ** 2))


@pytest.mark.parametrize("fn, plain", [(_meta_items, _meta_items_plain),
                                       (_meta_items_inline, _meta_items_inline_plain)])
def test_items_of_the_parameters_before_dlupdate(fn, plain):
    # was: "dlupdate has no derivative" (q.items() counted as a call that may change q: its structure
    # forgotten, the dlupdate left as it is)
    L, g = dlfeval(fn, {"W": dlarray(A), "b": dlarray(B)})
    np.testing.assert_allclose(float(D(L)), plain(A, B), rtol=1e-12)
    for k, key in enumerate(("W", "b")):
        np.testing.assert_allclose(D(g[key]), numerical_gradient(plain, [A, B], k), rtol=1e-5, atol=1e-7)


# --- q = dlupdate(f, q) in a loop that is not written out (no dlgradient inside it) ---------------------

def _loop_of_updates(p):
    q = p
    for i in range(3):
        q = dlupdate(lambda w: w - 0.1 * (i + 1) * w ** 2, q)
    L = np.sum(q["W"] ** 2) + np.sum(q["b"])
    return L, dlgradient(L, p)


def _while_of_updates(p):
    q = p
    i = 0
    while i < 3:
        q = dlupdate(lambda w: w - 0.1 * (i + 1) * w ** 2, q)
        i += 1
    L = np.sum(q["W"] ** 2) + np.sum(q["b"])
    return L, dlgradient(L, p)


def _loop_of_updates_plain(W, b):
    q = {"W": W, "b": b}
    for i in range(3):
        q = optim.dlupdate(lambda w: w - 0.1 * (i + 1) * w ** 2, q)
    return float(np.sum(q["W"] ** 2) + np.sum(q["b"]))


def _loop_growing(p):
    q = p
    for i in range(2):
        q = dlupdate(lambda w: w * 2, q)
        q["c"] = q["W"][:1]
    L = np.sum(q["W"] ** 2) + np.sum(q["b"])
    return L, dlgradient(L, p)


@pytest.mark.parametrize("fn", [_loop_of_updates, _while_of_updates])
def test_dlupdate_in_a_loop_not_written_out(fn):
    # was: "dlupdate has no derivative" (the names a loop binds anywhere were forgotten before its body:
    # q's structure unknown at the dlupdate in it)
    L, g = dlfeval(fn, {"W": dlarray(A), "b": dlarray(B)})
    np.testing.assert_allclose(float(D(L)), _loop_of_updates_plain(A, B), rtol=1e-12)
    for k, key in enumerate(("W", "b")):
        np.testing.assert_allclose(D(g[key]), numerical_gradient(_loop_of_updates_plain, [A, B], k),
                                   rtol=1e-5, atol=1e-7)


def test_dlupdate_in_a_loop_whose_structure_changes_is_refused():
    # the second pass has a key the code written for the first pass does not: refused, never rebuilt
    with pytest.raises(SctError):
        dlfeval(_loop_growing, {"W": dlarray(A), "b": dlarray(B)})
