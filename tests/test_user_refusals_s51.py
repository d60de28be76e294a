"""False refusals of everyday code (session 51, red team red51, FR1/FR2/FR7/FR8/FR9): each program was
refused before its fix; now it runs exactly (value against plain numpy, gradients against central
differences of the plain program), and a nearby program that sct cannot model stays refused at its line.
Where the refusal is right, its message now says the real reason."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import SctError

from gradcheck import numerical_gradient

X = np.array([0.6, -0.8, 1.3, 0.2])


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


# ---------------------------------------------------------------- FR2: a global Dropout keeping its mask on self

class Dropout:
    def __init__(self, p, seed=1):
        self.p = p
        self.rng = np.random.default_rng(seed)

    def __call__(self, h):
        self.mask = (self.rng.random(h.shape) > self.p) / (1 - self.p)   # plain: no dlarray in it
        return h * self.mask


class Net:
    def __init__(self, W):
        self.W = W
        self.drop = Dropout(0.3)

    def __call__(self, x):
        return self.drop(np.tanh(self.W @ x))


class BN:
    def __init__(self):
        self.rm = np.zeros(4)

    def __call__(self, h):
        mu = np.mean(h)
        self.rm = 0.9 * self.rm + 0.1 * extractdata(mu)
        return h - mu


class Cell:
    def __init__(self):
        self.h = np.zeros(4)

    def __call__(self, x):
        self.h = np.tanh(x + self.h)          # traced state kept on a global object
        return self.h


DROP = Dropout(0.3)
NET = Net(np.arange(16.0).reshape(4, 4) / 20 - 0.3)
NORM = BN()
CELL = Cell()


def _drop_plain(x):
    return np.sum(DROP(np.sin(x)) ** 2)


def _drop_loss(x):
    L = np.sum(DROP(np.sin(x)) ** 2)
    return L, dlgradient(L, x)


def _drop_loop(x):
    L = 0.0
    for i in range(2):
        L = L + np.sum(DROP(np.sin(x) * (i + 1)) ** 2)
    return L, dlgradient(L, x)


def _drop_loop_plain(x):
    L = 0.0
    for i in range(2):
        L = L + np.sum(DROP(np.sin(x) * (i + 1)) ** 2)
    return L


def _net_loss(x):
    L = np.sum(NET(x) ** 2)
    return L, dlgradient(L, x)


def _net_plain(x):
    return np.sum(NET(x) ** 2)


def _bn_loss(x):
    L = np.sum(NORM(np.sin(x)) ** 2)
    return L, dlgradient(L, x)


def _bn_plain(x):
    return np.sum(NORM(np.sin(x)) ** 2)


def _reset(seed_obj):
    seed_obj.rng = np.random.default_rng(1)


@pytest.mark.parametrize("loss, plain, obj", [(_drop_loss, _drop_plain, DROP), (_drop_loop, _drop_loop_plain, DROP),
                                              (_net_loss, _net_plain, NET.drop)])
def test_global_dropout_mask_on_self(loss, plain, obj):
    # was: "__call__() sets self.mask to a traced value on an object its caller passed in" (the mask is plain)
    _reset(obj)
    L, g = dlfeval(loss, dlarray(X))
    mask = obj.mask
    assert type(mask) is np.ndarray
    _reset(obj)
    np.testing.assert_allclose(D(L), plain(X.copy()), rtol=1e-12)
    np.testing.assert_array_equal(mask, obj.mask)

    def fd(x):
        _reset(obj)
        return plain(x)
    np.testing.assert_allclose(D(g), numerical_gradient(fd, [X.copy()], 0), rtol=1e-6, atol=1e-8)


def test_global_batchnorm_running_mean():
    NORM.rm = np.zeros(4)
    L, g = dlfeval(_bn_loss, dlarray(X))
    rm = NORM.rm
    assert type(rm) is np.ndarray
    np.testing.assert_allclose(rm, 0.1 * np.mean(np.sin(X)))
    NORM.rm = np.zeros(4)
    np.testing.assert_allclose(D(L), _bn_plain(X), rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(_bn_plain, [X.copy()], 0), rtol=1e-6, atol=1e-8)


def _cell_loss(x):
    y = CELL(x)
    L = np.sum(y * CELL.h)
    return L, dlgradient(L, x)


def test_global_object_keeping_traced_state_still_refused():
    # a traced value stored on a global object (read again through it, or left for the next call): refused
    CELL.h = np.zeros(4)
    line = Cell.__call__.__code__.co_firstlineno + 1
    with pytest.raises(SctError, match=rf"test_user_refusals_s51.py, line {line}: setting CELL.h changes the object"):
        dlfeval(_cell_loss, dlarray(X))


# ---------------------------------------------------------------- FR1: logging the loss into an outside list

HIST = []
ACC = []


def _hist_helper(v):
    return v * (HIST[-1] if HIST else 1.0)


def _log_basic(x):
    L = np.sum(np.sin(x))
    HIST.append(float(L))
    return L, dlgradient(L, x)


def _log_two_then_ops(x):
    L = np.sum(np.sin(x))
    HIST.append(float(L))
    ACC.append(np.max(x).item())
    L2 = L * 2.0 + np.sum(x ** 2)
    return L2, dlgradient(L2, x)


def _log_in_branch(x):
    L = np.sum(np.sin(x))
    if L > 0:
        HIST.append(float(L))
    return L, dlgradient(L, x)


def _log_second_order(x):
    L = np.sum(np.sin(x) ** 2)
    g = dlgradient(L, x, EnableHigherDerivatives=True)
    G = np.sum(g ** 2)
    HIST.append(float(G))
    return G, dlgradient(G, x)


@pytest.mark.parametrize("loss, plain, logged", [
    (_log_basic, lambda x: np.sum(np.sin(x)), lambda x: ([np.sum(np.sin(x))], [])),
    (_log_two_then_ops, lambda x: np.sum(np.sin(x)) * 2.0 + np.sum(x ** 2),
     lambda x: ([np.sum(np.sin(x))], [np.max(x)])),
    (_log_in_branch, lambda x: np.sum(np.sin(x)), lambda x: ([np.sum(np.sin(x))], [])),
    (_log_second_order, lambda x: np.sum(np.sin(2 * x) ** 2), lambda x: ([np.sum(np.sin(2 * x) ** 2)], []))])
def test_log_of_the_loss_into_an_outside_list(loss, plain, logged):
    # was: "HIST.append(...) is called with traced values and its result is not used"
    HIST.clear()
    ACC.clear()
    L, g = dlfeval(loss, dlarray(X))
    np.testing.assert_allclose(D(L), plain(X), rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [X.copy()], 0), rtol=1e-6, atol=1e-8)
    hist, acc = logged(X)
    assert [type(v) for v in HIST + ACC] == [float] * (len(hist) + len(acc))     # Python's numbers, as float() gives
    np.testing.assert_allclose(HIST, hist, rtol=1e-12)
    np.testing.assert_allclose(ACC, acc, rtol=1e-12)
    dlfeval(loss, dlarray(X))                   # again (compiled once): one more item each
    assert len(HIST) == 2 * len(hist)


def _log_read_back(x):
    L = np.sum(np.sin(x))
    HIST.append(float(L))
    L2 = L * HIST[-1]                   # the logged number's derivative would be lost
    return L2, dlgradient(L2, x)


def _log_then_helper(x):
    L = np.sum(np.sin(x))
    HIST.append(float(L))
    L2 = _hist_helper(L)                # a helper reading HIST
    return L2, dlgradient(L2, x)


def _log_alias(x):
    h = HIST
    L = np.sum(np.sin(x))
    HIST.append(float(L))
    L2 = L * h[-1]
    return L2, dlgradient(L2, x)


def _log_in_loop(x):
    L = 0.0
    for i in range(2):
        L = L + np.sum(np.sin(x * (i + 1))) * (HIST[-1] if HIST else 1.0)
        HIST.append(float(L))
    return L, dlgradient(L, x)


@pytest.mark.parametrize("loss", [_log_read_back, _log_then_helper, _log_alias, _log_in_loop])
def test_logged_number_read_back_still_refused(loss):
    import inspect
    lines, first = inspect.getsourcelines(loss)
    line = first + next(i for i, t in enumerate(lines) if "HIST.append" in t)
    HIST.clear()
    with pytest.raises(SctError, match=rf"test_user_refusals_s51.py, line {line}: HIST.append\(...\) is called with "
                                       "traced values"):
        dlfeval(loss, dlarray(X))


# ---------------------------------------------------------------- FR9: gradient with respect to a loop's last state

def _last_hidden(x):
    h = x
    for i in range(3):
        h = np.tanh(h) * 1.5
    L = np.sum(h ** 2) + np.sum(x * h)
    return L, dlgradient(L, h)


def test_gradient_with_respect_to_last_hidden_state():
    # was: "on line N it is bound to a value that 'x' holds too ... sct cannot follow here whether 'h' still is
    # that value"; the loop surely runs and rebinds h to a new array
    L, g = dlfeval(_last_hidden, dlarray(X))
    h = X.copy()
    for i in range(3):
        h = np.tanh(h) * 1.5
    np.testing.assert_allclose(D(L), np.sum(h ** 2) + np.sum(X * h), rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(lambda v: np.sum(v ** 2) + np.sum(X * v), [h], 0),
                               rtol=1e-6, atol=1e-8)


def _hidden_maybe_x(x, n):
    h = x
    for i in range(n):                  # n == 0: h is x at the site
        h = np.tanh(h)
    L = np.sum(h ** 2) + np.sum(x)
    return L, dlgradient(L, h)


def _hidden_empty(x, n):
    h = x
    for i in range(0):
        h = np.tanh(h)
    L = np.sum(h ** 2) + np.sum(x)
    return L, dlgradient(L, h)


def _hidden_break(x, n):
    h = x
    for i in range(3):
        if i == n:
            break
        h = np.tanh(h)
    L = np.sum(h ** 2) + np.sum(x)
    return L, dlgradient(L, h)


def _hidden_same(x, n):
    h = x
    for i in range(2):
        h = h                           # still x
    L = np.sum(h ** 2) + np.sum(x)
    return L, dlgradient(L, h)


def _hidden_asarray(x, n):
    h = x
    for i in range(2):
        h = np.asarray(h)               # may give back the same object
    L = np.sum(h ** 2) + np.sum(x)
    return L, dlgradient(L, h)


def _hidden_branch(x, n):
    h = x
    for i in range(3):
        if i > n:
            h = np.tanh(h)
    L = np.sum(h ** 2) + np.sum(x)
    return L, dlgradient(L, h)


@pytest.mark.parametrize("loss", [_hidden_maybe_x, _hidden_empty, _hidden_break, _hidden_same, _hidden_asarray,
                                  _hidden_branch])
def test_state_that_may_still_be_the_input_stays_refused(loss):
    import inspect
    lines, first = inspect.getsourcelines(loss)
    line = first + next(i for i, t in enumerate(lines) if "dlgradient" in t)
    with pytest.raises(SctError, match=rf"line {line}: dlgradient: cannot differentiate with respect to 'h'"):
        dlfeval(loss, dlarray(X), 0)


# ---------------------------------------------------------------- FR8: a step helper (dlgradient + sgdmupdate) in a loop

from sct import sgdmupdate  # noqa: E402

W0 = np.array([[0.5, -0.3, 0.2], [0.1, 0.8, -0.5], [0.3, 0.3, 0.3]])
XS = np.array([1.0, -2.0, 0.5])


def _sgdm_step(p, vel, x):
    L = np.sum(np.tanh(p["W"] @ x) ** 2)
    g = dlgradient(L, p)
    p, vel = sgdmupdate(p, g, vel, 0.1, 0.9)
    return p, vel, L


def _train(p, x):
    vel = None
    for it in range(3):
        p, vel, L = _sgdm_step(p, vel, x)
    return L, p["W"]


def _linked_step(p, vel, x):
    L = np.sum(np.tanh(p["W"] @ x) ** 2) + np.sum(p["U"] ** 2)
    g = dlgradient(L, p)
    q, vel = sgdmupdate(p, g, vel, 0.1, 0.9)
    return {"W": q["W"], "U": q["W"] * 2.0}, vel, L       # U computed from W


def _train_linked(p, x):
    vel = None
    for it in range(3):
        p, vel, L = _linked_step(p, vel, x)
    return L, p["W"]


def _train_nested(p, x):
    def step(p, vel):
        L = np.sum(np.tanh(p["W"] @ x) ** 2)
        g = dlgradient(L, p)
        p, vel = sgdmupdate(p, g, vel, 0.1, 0.9)
        return p, vel, L
    vel = None
    for it in range(3):
        p, vel, L = step(p, vel)
    return L, p["W"]


def test_step_helper_with_sgdmupdate_in_a_loop():
    # was: "step() takes dlgradient ... with respect to its parameter 'p', and this call passes for it a ... dict
    # that a function (or class) of the user's returned": sgdmupdate's parameters are new arrays
    L, W = dlfeval(_train, {"W": dlarray(W0)}, XS)
    Wn, v = W0.copy(), np.zeros_like(W0)
    for it in range(3):
        t = np.tanh(Wn @ XS)
        Ln = np.sum(t ** 2)
        g = np.outer(2 * t * (1 - t ** 2), XS)
        v = 0.9 * v - 0.1 * g
        Wn = Wn + v
    np.testing.assert_allclose(D(L), Ln, rtol=1e-12)
    np.testing.assert_allclose(D(W), Wn, rtol=1e-12)


def test_step_helper_returning_linked_items_still_refused():
    line = _train_linked.__code__.co_firstlineno + 3
    with pytest.raises(SctError, match=rf"line {line}: _linked_step\(\) takes dlgradient"):
        dlfeval(_train_linked, {"W": dlarray(W0), "U": dlarray(np.ones(3))}, XS)


def test_nested_step_helper_refusal_says_why():
    # was: "train() puts the plain (not dlarray) float value 'x' beside traced values in a dict, list or tuple"
    # (untrue), then "holding a value computed from another value it holds" (untrue)
    line = _train_nested.__code__.co_firstlineno + 8
    with pytest.raises(SctError, match=rf"line {line}: step\(\) takes dlgradient .* a def nested in it binds "
                                       r"'p', 'vel' too .* Define the helper at module level"):
        dlfeval(_train_nested, {"W": dlarray(W0)}, XS)


# ---------------------------------------------------------------- FR7: jumps through try/finally, appends in try/except

def _continue_finally(x):
    total = 0.0
    for v in x:
        try:
            if v < 0:
                continue
            total = total + v ** 2
        finally:
            total = total * 1.1
    return total, dlgradient(total, x)


def _break_finally(x):
    total = 0.0
    for v in x:
        try:
            if v < 0:
                break
            total = total + v ** 2
        finally:
            total = total * 1.1
    return total, dlgradient(total, x)


def _return_finally(x):
    s = np.sum(x ** 2)
    try:
        if s > 1:
            return s * 2, dlgradient(s * 2, x)
        s = s + 1
    finally:
        s = s * 3                       # after the return's value is taken
    return s, dlgradient(s, x)


def _inner_break_finally(x):
    s = 0.0
    for v in x:
        try:
            for k in range(3):
                if k == 2:
                    break               # the inner loop's own
                s = s + v * k
        finally:
            s = s * 1.1
    return s, dlgradient(s, x)


def _append_in_try(x):
    vals, logs = [], []
    for v in x:
        try:
            assert v > 0
            w = np.log(v)
            vals.append(w * 2)
            logs.append(w)
        except AssertionError:
            vals.append(-v)
    L = sum(vals) + sum(logs)
    return L, dlgradient(L, x)


def _plain(f):
    import types
    g = types.FunctionType(f.__code__, {**f.__globals__, "dlgradient": lambda y, x: 0.0})
    return lambda x: g(x)[0]


@pytest.mark.parametrize("loss", [_continue_finally, _break_finally, _return_finally, _inner_break_finally,
                                  _append_in_try])
@pytest.mark.parametrize("x", [np.array([0.5, -1.2, 2.0]), np.array([0.3, 0.2, 0.1])])
def test_try_with_jumps_and_appends(loss, x):
    # was: "continue inside a try with finally" / "the call vals.append(...) ... inside try (with except)"
    L, g = dlfeval(loss, dlarray(x))
    plain = _plain(loss)
    np.testing.assert_allclose(D(L), plain(x.copy()), rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [x.copy()], 0), rtol=1e-6, atol=1e-8)


def _return_in_loop_finally(x):
    s = 0.0
    for v in x:
        try:
            for k in range(2):
                if v < 0:
                    return s, dlgradient(s, x)      # leaves two loops: not written out
                s = s + v
        finally:
            s = s * 1.1
    return s, dlgradient(s, x)


def _append_to_parameter(x, out):
    for v in x:
        try:
            assert v > 0
            out.append(np.log(v))           # the caller's list
        except AssertionError:
            out.append(-v)
    L = sum(out)
    return L, dlgradient(L, x)


def test_try_forms_still_refused():
    line = _return_in_loop_finally.__code__.co_firstlineno + 6
    with pytest.raises(SctError, match=rf"line {line}: sct cannot differentiate return inside a try with finally"):
        dlfeval(_return_in_loop_finally, dlarray(X))
    line = _append_to_parameter.__code__.co_firstlineno + 4
    with pytest.raises(SctError, match=rf"line {line}: sct cannot differentiate the call out.append"):
        dlfeval(_append_to_parameter, dlarray(X), [])


# ---------------------------------------------------------------- longer tail: the method form of clip with out=

def _clip_method_out(x):
    h = np.sin(x) * 3
    h.clip(0, 2, out=h)
    L = np.sum(h ** 2)
    return L, dlgradient(L, x)


def _clip_function_out(x):
    h = np.sin(x) * 3
    np.clip(h, 0, 2, out=h)
    L = np.sum(h ** 2)
    return L, dlgradient(L, x)


def test_clip_method_with_out_says_what_to_write():
    # was: "np.clip: the argument 'out' depends on the traced inputs, but sct has no derivative of np.clip with
    # respect to 'out'" (out is where the result goes, not an input)
    line = _clip_method_out.__code__.co_firstlineno + 2
    with pytest.raises(SctError, match=rf"line {line}: np.clip\(\.\.\., out=\.\.\.\) writes its result into a traced "
                                       r"array in place.*np.clip\(h, lo, hi, out=h\)"):
        dlfeval(_clip_method_out, dlarray(X))
    L, g = dlfeval(_clip_function_out, dlarray(X))         # the form it points to runs
    plain = lambda v: np.sum(np.clip(np.sin(v) * 3, 0, 2) ** 2)   # noqa: E731
    np.testing.assert_allclose(D(L), plain(X), rtol=1e-12)
    np.testing.assert_allclose(D(g), numerical_gradient(plain, [X.copy()], 0), rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- longer tail: round() of a 0-d value

def _round_0d(x):
    r = round(x)
    s = round(x * 1.0, 1)
    L = x ** 2 * r + s * x
    return L, dlgradient(L, x)


def test_round_of_a_0d_argument():
    # was: "TypeError while evaluating `r = round(x)`: type numpy.ndarray doesn't define __round__ method"
    x = np.array(1.46)
    L, g = dlfeval(_round_0d, dlarray(x))
    np.testing.assert_allclose(D(L), 1.46 ** 2 * round(1.46) + round(1.46, 1) * 1.46, rtol=1e-12)
    np.testing.assert_allclose(D(g), 2 * 1.46 * round(1.46) + round(1.46, 1), rtol=1e-12)   # round: derivative 0
    with pytest.raises(SctError, match="TypeError"):
        dlfeval(_round_0d, dlarray(np.array([1.46, 2.0])))        # an array: Python's TypeError, as on a dlarray


# --- redfix51 W1: only the one append closing a try body moves to the else block --------------------
# (two moved: Python has done the first when the second's value raises, and the second's value may read
# the list through another name after the first append; both were wrong values, now refused)

_TRY_D = {0: 1.0}


def _try_two_appends(x):
    vals = []
    try:
        vals.append(x * 2.0)
        vals.append(x * _TRY_D[1])
    except KeyError:
        pass
    return np.sum(x) + len(vals)


def _try_alias_append(x):
    vals = []
    seen = vals
    try:
        vals.append(x)
        vals.append(x * len(seen))
    except KeyError:
        pass
    return np.sum(vals[1] ** 2)


@pytest.mark.parametrize("loss", [_try_two_appends, _try_alias_append])
def test_two_appends_closing_a_try_body_refused(loss):
    def f(x):
        L = loss(x)
        return L, dlgradient(L, x)

    with pytest.raises(sct.CompileError, match=r"vals\.append"):
        dlfeval(f, dlarray(np.array([1.0, 2.0])))


def _try_one_append(x):
    vals = [x]
    try:
        y = x * _TRY_D[0]
        vals.append(y * 2.0)
    except KeyError:
        pass
    return np.sum(vals[-1] ** 2) + len(vals)


def test_one_append_closing_a_try_body_exact():
    def f(x):
        L = _try_one_append(x)
        return L, dlgradient(L, x)

    x0 = np.array([1.0, 2.0])
    L, g = dlfeval(f, dlarray(x0))
    assert np.isclose(float(extractdata(L)), _try_one_append(x0))
    assert np.allclose(extractdata(g), 8.0 * x0)       # d/dx sum((2x)^2)
