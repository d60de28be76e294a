"""Second-round red team on the 55 fixes (red2_55).

W1: sct's own function replaced after compiling (``sct.relu = my_relu``): a cache hit ran the
replacement and differentiated relu (y of the replacement, g = relu's rule).  sct's functions the code
reads are now checked on a hit with numpy's (sct.compiler._unguarded), so the code compiles again and
the replacement is differentiated like any user function."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata, accelerate
from gradcheck import numerical_gradient, assert_close


X = np.array([0.3, -0.6, 0.9])
RELU = sct.relu


def _loss_attr(x):
    y = np.sum(sct.relu(x))
    return y, dlgradient(y, x)


def _loss_import_inside(x):
    from sct import sigmoid
    y = np.sum(sigmoid(x))
    return y, dlgradient(y, x)


def _loss_helper_in_loop(p, x):
    h = x
    for _ in range(2):
        h = sct.relu(p["w"] * h)
    y = np.sum(h)
    return y, dlgradient(y, p["w"])


@pytest.fixture
def restore_sct():
    held = {n: getattr(sct, n) for n in ("relu", "sigmoid")}
    yield
    for n, v in held.items():
        setattr(sct, n, v)


def _replacement(v):
    return v * 3.0 + v * v


def _plain(v):
    return np.sum(v * 3.0 + v * v)


@pytest.mark.parametrize("wrap", [lambda f: f, accelerate])
def test_sct_relu_replaced_after_compiling(restore_sct, wrap):
    f = wrap(_loss_attr)
    dlfeval(f, dlarray(X))                 # compiled with relu
    sct.relu = _replacement
    y, g = dlfeval(f, dlarray(X))
    assert_close(extractdata(y), _plain(X))
    assert_close(extractdata(g), numerical_gradient(_plain, [X], 0))
    sct.relu = RELU
    y, g = dlfeval(f, dlarray(X))          # restored: relu's value and gradient again
    assert_close(extractdata(y), np.sum(np.maximum(X, 0)))
    assert_close(extractdata(g), (X > 0).astype(float))


def test_sct_function_imported_inside_replaced(restore_sct):
    dlfeval(_loss_import_inside, dlarray(X))
    sct.sigmoid = _replacement
    y, g = dlfeval(_loss_import_inside, dlarray(X))
    assert_close(extractdata(y), _plain(X))
    assert_close(extractdata(g), numerical_gradient(_plain, [X], 0))


def test_sct_relu_replaced_in_loop_over_dict_params(restore_sct):
    p = {"w": dlarray(np.array([0.5, 1.5, -2.0]))}
    dlfeval(_loss_helper_in_loop, p, dlarray(X))
    sct.relu = _replacement

    def plain(w):
        h = X
        for _ in range(2):
            h = _replacement(w * h)
        return np.sum(h)
    y, g = dlfeval(_loss_helper_in_loop, p, dlarray(X))
    w = extractdata(p["w"])
    assert_close(extractdata(y), plain(w))
    assert_close(extractdata(g), numerical_gradient(plain, [w], 0))


# W2, W4: an argument (or its field) handed back is the caller's object, its items as Python has them
# (was: a new list of dlarrays for [ndarray, 0.5], a copy of the namespace inside (s, 1.5), a new list of
# dlarrays for s.hist, a dlarray for the float field s.lr written as s.lr * 0.5).
from types import SimpleNamespace

XS = np.array([1.0, 2.0])


def _ret_arg(x, s):
    y = np.sum(x * x)
    return y, dlgradient(y, x), s


def _ret_nested(s, x):
    y = np.sum(x * s.v)
    return y, dlgradient(y, x), (s, 1.5)


def _ret_hist(s, x):
    y = np.sum(x * x)
    return y, dlgradient(y, x), s.hist


def _ret_lr(s, x):
    s.lr = s.lr * 0.5
    y = np.sum(x * x) * s.lr
    return y, dlgradient(y, x), s.lr


def _ret_old_lr(s, x):
    old = s.lr
    s.lr = old * 0.5
    y = np.sum(x * x) * s.lr
    return y, dlgradient(y, x), old


def _same(a, b):
    assert type(a) is type(b)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    else:
        assert_close(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("wrap", [lambda f: f, accelerate])
@pytest.mark.parametrize("make", [lambda: [np.ones(2), 0.5], lambda: [np.ones(2)], lambda: [np.ones(2), 0.5, 3]])
def test_list_argument_with_ndarray_is_handed_back(wrap, make):
    f = wrap(_ret_arg)
    for _ in range(2):
        s = make()
        y, g, back = dlfeval(f, dlarray(XS), s)
        assert back is s
        _same(back, make())
        assert_close(extractdata(g), 2 * XS)


@pytest.mark.parametrize("wrap", [lambda f: f, accelerate])
def test_argument_nested_in_output_and_its_fields(wrap):
    for fn, expected in ((_ret_nested, lambda s: (s, 1.5)), (_ret_hist, lambda s: s.hist),
                         (_ret_lr, lambda s: s.lr), (_ret_old_lr, lambda s: s.lr * 2)):
        f = wrap(fn)
        for step in range(2):
            s = SimpleNamespace(v=np.array([0.5, 2.0]), lr=0.1, hist=[1.0, 0.5])
            out = dlfeval(f, s, dlarray(XS))[2]
            want = expected(s)
            if fn is _ret_old_lr:           # (not the caller's field: the value Python had, its type not known)
                assert_close(extractdata(out), want)
                continue
            assert type(out) is type(want), (fn.__name__, step)
            if fn is _ret_nested:
                assert out[0] is s and type(out[1]) is float and out[1] == 1.5
                assert type(s.v) is np.ndarray and type(s.lr) is float
            elif fn is _ret_hist:
                assert out is s.hist and all(type(v) is float for v in out)
            else:
                assert out == want and type(s.lr) is float


# F2: a loss accumulator in the caller's dict or object (``st["s"] += L``) from 0.0 or np.float64(0.0):
# the value an earlier call stored is numpy's scalar as a dlarray, rebound by += as np.float64 is (was:
# the second call refused "changes the array ... in place").
from sct import EvaluationError


def _acc_dict(st, x):
    L = np.sum(x * x)
    st["s"] += L
    y = st["s"] * L
    return y, dlgradient(y, x)


def _acc_obj(o, x):
    L = np.sum(x * x)
    o.s += L
    y = o.s * L
    return y, dlgradient(y, x)


@pytest.mark.parametrize("start", [0.0, np.float64(0.0)])
@pytest.mark.parametrize("kind", ["dict", "obj"])
def test_scalar_accumulator_in_callers_state(start, kind):
    f = _acc_dict if kind == "dict" else _acc_obj
    st = {"s": start} if kind == "dict" else SimpleNamespace(s=start)
    total = float(start)
    for step in range(4):
        x = XS * (step + 1)
        L = float(np.sum(x * x))
        before = st["s"] if kind == "dict" else st.s
        y, g = dlfeval(f, st, dlarray(x))
        # Python: s1 = s0 + L(x); y = s1 * L(x): dy/dx = 2x * L + (s0 + L) * 2x
        assert_close(extractdata(y), (total + L) * L)
        assert_close(extractdata(g), 2 * x * L + (total + L) * 2 * x)
        total += L
        now = st["s"] if kind == "dict" else st.s
        assert_close(float(extractdata(now)), total)
        assert float(extractdata(before) if isinstance(before, dlarray) else before) == total - L  # (rebound)


def test_zero_d_array_accumulator_still_refused():
    st = {"s": dlarray(np.array(0.0))}      # a 0-d array (not numpy's scalar): += changes it in place
    keep = st["s"]
    with pytest.raises(EvaluationError, match=r"line \d+.*st\[\"s\"\] \+= L"):
        dlfeval(_acc_dict, st, dlarray(XS))
    assert float(extractdata(keep)) == 0.0


# R1: log.losses.append(float(L)) refused in a loop or where the list is read back: the message names that
# reason (was: only "stores a traced value", advising float(extractdata(x)) with no word of why float(L)
# is not enough); the advice it gives works.
from sct import CompileError


def _log_in_loop(log, x):
    L = 0.0
    for i in range(3):
        L = L + np.sum((x * i) ** 2)
        log.losses.append(float(L))
    return L, dlgradient(L, x)


def _log_read_back(log, x):
    L = np.sum(x ** 2)
    log.losses.append(float(L))
    n = len(log.losses)
    return L * n, dlgradient(L, x)


@pytest.mark.parametrize("fn, reason", [(_log_in_loop, "in a loop"), (_log_read_back, "may be read after")])
def test_logged_float_refusal_names_the_reason(fn, reason):
    log = SimpleNamespace(losses=[])
    with pytest.raises(CompileError) as info:
        dlfeval(fn, log, dlarray(XS))
    text = str(info.value)
    assert "test_r2fix55_s55.py" in text and "log.losses.append" in text
    assert f"line {fn.__code__.co_firstlineno + (4 if fn is _log_in_loop else 2)}" in text
    assert reason in text and "differentiates float()" in text
    advised = {_log_in_loop: _log_in_loop_extracted, _log_read_back: _log_read_back_extracted}[fn]
    y, g = dlfeval(advised, log, dlarray(XS))          # the advice: float(extractdata(x)), logged anywhere
    assert all(type(v) is float for v in log.losses) and len(log.losses) >= 1


def _log_in_loop_extracted(log, x):
    L = 0.0
    for i in range(3):
        L = L + np.sum((x * i) ** 2)
        log.losses.append(float(extractdata(L)))
    return L, dlgradient(L, x)


def _log_read_back_extracted(log, x):
    L = np.sum(x ** 2)
    log.losses.append(float(extractdata(L)))
    n = len(log.losses)
    return L * n, dlgradient(L, x)


# F1: RNN state written back, then h rebound (``state["h"] = h; h = h * 2.0``): the later binding is not the
# value stored (was refused when run, "storing ndarray into an item of a dict").
W = np.array([[0.5, -0.2], [0.3, 0.4]])


def _rnn_then_use(state, x):
    h = state["h"]
    for i in range(2):
        h = np.tanh(W @ h + x)
    state["h"] = h
    h = h * 2.0
    L = np.sum(h * h)
    return L, dlgradient(L, x)


def _plain_rnn(h0, x):
    h = h0
    for i in range(2):
        h = np.tanh(W @ h + x)
    return h, np.sum((h * 2.0) ** 2)


@pytest.mark.parametrize("wrap", [lambda f: f, accelerate])
def test_rnn_state_written_back_then_rebound(wrap):
    f = wrap(_rnn_then_use)
    state = {"h": np.zeros(2)}
    h0 = np.zeros(2)
    for step in range(3):
        x = np.array([0.1, 0.2]) * (step + 1)
        L, g = dlfeval(f, state, dlarray(x))
        h1, L_want = _plain_rnn(h0, x)
        assert_close(extractdata(L), L_want)
        assert_close(extractdata(g), numerical_gradient(lambda v: _plain_rnn(h0, v)[1], [x], 0))
        assert type(state["h"]) is dlarray
        assert_close(extractdata(state["h"]), h1)
        h0 = h1
