"""Compile time (issue 8 item 6): walks shared between passes, statement-only walks where a pass
looks only at statements (sct/optimize.py ``_statements_no_defs``), the lazy imports made with sct.
The generated code must be what it was: the statement walk gives exactly the statements of the
full walk, in its order; the programs below (tapes, rows written in loops, views released, sweeps
taking fewer parameters, recomputations) give plain Python's values and the finite differences'
gradients, with the shared walks checked against fresh ones (SCT_CHECK_SHARED_WALKS)."""
import os
import sys
import textwrap

import gast
import numpy as np
import pytest

from gradcheck import check_grads, numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct import ir
from sct.optimize import _statements_no_defs, _walk_no_defs


SOURCES = [
    """
    def f(x):
        a = 1
        if x:
            b = 2
            for i in range(3):
                c = i
                while c:
                    c -= 1
                else:
                    d = lambda q: q + 1
            else:
                e = [j for j in range(2)]
        else:
            try:
                g = 1
            except ValueError as err:
                h = 2
                with open("x") as fh:
                    k = 3
            else:
                m = 4
            finally:
                n = 5
        def inner(y):
            z = y
            return z
        class C:
            w = 1
        match x:
            case 1:
                p = 1
            case _:
                q = 2
        return a
    """,
    """
    def g(x, y):
        s = 0.0
        for t in range(4):
            if t % 2:
                s = s + x
                continue
            s = s * y
        return s
    """,
]


@pytest.mark.parametrize("source", SOURCES)
def test_statement_walk_is_the_full_walk_restricted_to_statements(source):
    fdef = gast.parse(textwrap.dedent(source)).body[0]
    for stmts in (fdef.body, [fdef], fdef.body[1:2]):
        full = [n for n in _walk_no_defs(stmts) if isinstance(n, gast.stmt)]
        only = list(_statements_no_defs(stmts))
        assert len(full) == len(only) and all(a is b for a, b in zip(full, only))
        assert len(only) > 0


@pytest.mark.parametrize("source", SOURCES)
def test_ir_statement_walk_is_walk_no_defs_restricted_to_statements(source):
    fdef = gast.parse(textwrap.dedent(source)).body[0]
    for root in [fdef] + list(fdef.body):
        full = [n for n in ir._walk_no_defs(root) if isinstance(n, gast.stmt)]
        only = list(ir.statements_no_defs(root))
        assert len(full) == len(only) and all(a is b for a, b in zip(full, only))


def test_lazy_pass_modules_imported_with_sct():
    import sct  # noqa: F401
    assert "sct.recompute_writes" in sys.modules and "sct.outside_formats" in sys.modules


@pytest.fixture
def checked_walks(monkeypatch):
    monkeypatch.setattr(ir, "_CHECK_SHARED", True)      # every shared walk checked against a fresh one
    yield


T = 40


def rows(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    for t in range(T):
        s = np.tanh(W @ s)
        u = acc[t]
        acc[t] = u + s * s
    return np.sum(acc ** 2) / T


def tape_loop(x, W):
    s = x
    total = 0.0
    for t in range(6):
        s = np.sin(W @ s) + 0.1 * s
        if t % 2:
            total = total + np.sum(s * s)
        else:
            total = total - np.mean(s)
    return total


def straight(x, W):
    a0 = x * 0.5
    a1 = np.tanh(a0) * 0.5 + a0
    a2 = a1 @ W + 0.1 * x
    a3 = np.sin(a2[::-1]) * a1
    a4 = np.concatenate([a3[4:], a2[:4]]) / (1.0 + a0 ** 2)
    a5 = np.maximum(a4, 0.0) + np.mean(a3 * x)
    a6 = np.log1p(a5 ** 2) - W[0] * a4
    return np.sum(a6 ** 2) / 6


def views(x, W):
    v = x[:, None]
    p = v * W
    q = W[:, :, None][:, :, 0] * x
    return np.sum(p * q)


def _inputs(n=8):
    rng = np.random.default_rng(3)
    return rng.standard_normal(n) * 0.5, rng.standard_normal((n, n)) * 0.3


@pytest.mark.parametrize("fun", [rows, tape_loop, straight, views])
def test_values_and_gradients(fun, checked_walks):
    x, W = _inputs()
    check_grads(fun, x, W)


def _second_grad(x, W):
    y = tape_loop(x, W)
    gx = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(gx * gx), W)


def test_second_order_through_a_sweep(checked_walks):
    x, W = _inputs()
    got = dlfeval(_second_grad, dlarray(x), dlarray(W))

    def first_sq(Wv):
        gx = numerical_gradient(lambda xv: tape_loop(xv, Wv), [x], 0)
        return np.sum(gx * gx)
    expected = numerical_gradient(lambda Wv: first_sq(Wv), [W], 0, step=1e-4)
    np.testing.assert_allclose(np.asarray(got.data), expected, rtol=2e-3, atol=2e-4)


def _loss_grad(x, W):
    a = straight(x, W)
    b = rows(x, W)
    loss = a + b
    return loss, dlgradient(loss, x, W)


def test_benchmark_shaped_function_value_and_gradient(checked_walks):
    x, W = _inputs()
    loss, (gx, gW) = dlfeval(_loss_grad, dlarray(x), dlarray(W))
    assert float(loss.data) == pytest.approx(straight(x, W) + rows(x, W), rel=1e-12)
    f = lambda xv, Wv: straight(xv, Wv) + rows(xv, Wv)  # noqa: E731
    np.testing.assert_allclose(np.asarray(gx.data), numerical_gradient(f, [x, W], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(gW.data), numerical_gradient(f, [x, W], 1), rtol=1e-5, atol=1e-6)


# --- the passes that now look at the statements first still rewrite where they did ------------------

def _rows_grad(x, W):
    y = rows(x, W)
    return y, dlgradient(y, x, W)


def _views_grad(x, W):
    y = views(x, W)
    return y, dlgradient(y, x, W)


def _row_reads(x, W):
    acc = np.zeros((T, x.shape[0]))
    s = x
    total = 0.0
    for t in range(T):
        s = np.tanh(W @ s)
        acc[t] = s
        total = total + np.sum(acc[t] * s)
    return total


def _row_reads_grad(x, W):
    y = _row_reads(x, W)
    return y, dlgradient(y, x, W)


@pytest.mark.parametrize("fun,plain,forms", [
    (_rows_grad, rows, ("setitem_owned", "zero_at_owned", "getitem_or_zero_copy", "add_index_grad_owned")),
    (_views_grad, views, ("broadcast_mul",)),
    (_row_reads_grad, _row_reads, ("setitem_owned",)),
])
def test_in_place_forms_kept(fun, plain, forms, checked_walks):
    import sct
    x, W = _inputs()
    text = str(sct.source(fun, dlarray(x), dlarray(W), callees=True))
    for form in forms:
        assert form in text, form
    y, (gx, gW) = dlfeval(fun, dlarray(x), dlarray(W))
    assert float(np.asarray(extractdata(y)) if isinstance(y, sct.dlarray) else y) == pytest.approx(plain(x, W), rel=1e-12)
    np.testing.assert_allclose(np.asarray(gx.data), numerical_gradient(plain, [x, W], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(gW.data), numerical_gradient(plain, [x, W], 1), rtol=1e-5, atol=1e-6)
