"""glob56 (red teams red55u F2/F3, red3_55 F1): false refusals of everyday training code.

F2: ``global STEP; STEP += 1`` in the loss (or in a helper it calls) was refused ("cannot
differentiate a global statement"); now the global is read where the function starts and written
back after each assignment (sct/global_statements.py), once per call, and a cache hit reads the
value the module holds then.
F3: MAML's ``for i in range(nsteps)`` around a gradient differentiated again, ``nsteps`` an int
argument, was refused; now the entry is written out for the value given (the cache key holds it:
sct/unroll.py compile_entry).
F1: ``{id(q): np.sum(q.v ** 2) for q in ls}`` was refused as a key computed from a traced value.
"""
import numpy as np
import pytest

import sct
from sct import accelerate, dlarray, dlfeval, dlgradient, dlupdate, extractdata, fullyconnect, mse
from gradcheck import D, assert_close, numerical_gradient

X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
T = np.array([[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2], [0.0, 0.6]])
W0 = np.array([[0.3, -0.1, 0.2], [0.05, 0.4, -0.3]])
B0 = np.array([0.1, -0.2])

STEP = 0


def _params():
    return {"W": dlarray(W0.copy()), "b": dlarray(B0.copy())}


def _mse(W, b, x=X, t=T):
    """MATLAB's mse (half the sum of squares over the observations) of fullyconnect, in numpy."""
    y = x @ W.T + b
    return float(np.sum((y - t) ** 2) / (2 * x.shape[0]))


def loss_global(p):
    global STEP
    STEP += 1
    loss = mse(fullyconnect(X, p["W"], p["b"]), T) / STEP
    return loss, dlgradient(loss, p)


def _check_step_call(fn, step_before):
    global STEP
    STEP = step_before
    loss, g = dlfeval(fn, _params())
    assert STEP == step_before + 1                      # incremented once per call
    n = step_before + 1
    assert_close(D(loss), _mse(W0, B0) / n, what="loss")
    assert_close(D(g["W"]), numerical_gradient(lambda W: _mse(W, B0) / n, [W0], 0), what="dW")
    assert_close(D(g["b"]), numerical_gradient(lambda b: _mse(W0, b) / n, [B0], 0), what="db")


def test_global_step_counter_in_the_loss():
    for before in (0, 1, 2, 7):
        _check_step_call(loss_global, before)


def test_global_step_counter_accelerated_hits_read_the_new_value():
    fast = accelerate(loss_global)
    for before in (3, 4, 5, 5):
        _check_step_call(fast, before)
    assert fast.hit_rate > 0.5          # one compile: the global is not a guard that fails every call


def _scale(v):
    global STEP
    STEP += 1
    return v / STEP


def loss_helper_counter(p):
    q = p
    for i in range(3):
        q = {k: _scale(v) for k, v in q.items()}
    return np.sum(q["a"] ** 2), None


def loss_helper_counter_grad(p):
    y, _ = loss_helper_counter(p)
    return y, dlgradient(y, p)


def test_global_counter_in_a_helper_the_loss_calls():
    global STEP
    a = np.array([2.0, -1.0])
    for before in (0, 3):
        STEP = before
        y, g = dlfeval(loss_helper_counter_grad, {"a": dlarray(a)})
        assert STEP == before + 3
        c = (before + 1) * (before + 2) * (before + 3)
        assert_close(D(y), np.sum((a / c) ** 2), what="value")
        assert_close(D(g["a"]), numerical_gradient(lambda v: np.sum((v / c) ** 2), [a], 0), what="grad")


def second_order_counter(x):
    global STEP
    STEP += 1
    y = np.sum(x ** 3) * STEP
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


def test_global_counter_before_a_gradient_differentiated_again_runs_once():
    global STEP
    STEP = 1
    x = np.array([1.0, -2.0, 0.5])
    z, g = dlfeval(second_order_counter, dlarray(x))
    assert STEP == 2

    def plain(v):
        return np.sum((3 * v ** 2 * 2) ** 2)
    assert_close(D(z), plain(x), what="value")
    assert_close(D(g), numerical_gradient(plain, [x], 0), what="second order")


def new_global(x):
    global CREATED
    CREATED = 5
    CREATED += 1
    y = np.sum(x) * CREATED
    return y, dlgradient(y, x)


def test_global_created_by_the_function():
    y, g = dlfeval(new_global, dlarray(np.array([3.0])))
    assert CREATED == 6
    assert_close(D(y), 18.0)
    assert_close(D(g), [6.0])


def _schedule():
    return 1.0 / STEP


def reads_in_a_helper(x):
    global STEP
    STEP += 1
    y = np.sum(x) * _schedule()
    return y, dlgradient(y, x)


def test_refused_where_a_helper_reads_the_global_too():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(reads_in_a_helper, dlarray(np.array([3.0])))
    assert "global STEP" in str(info.value) and "_schedule()" in str(info.value)
    assert info.value.lineno == reads_in_a_helper.__code__.co_firstlineno + 1


def stores_traced(x):
    global LAST
    y = np.sum(x ** 2)
    LAST = y
    return y, dlgradient(y, x)


def test_refused_where_a_traced_value_goes_into_the_global():
    with pytest.raises(sct.SctError) as info:
        dlfeval(stores_traced, dlarray(np.array([3.0])))
    assert "LAST" in str(info.value) and "traced" in str(info.value)
    assert info.value.lineno == stores_traced.__code__.co_firstlineno + 3


BEST = 10.0


def stores_float(x):
    global BEST
    y = np.sum(x ** 2)
    BEST = min(BEST, float(y))
    return y, dlgradient(y, x)


def test_float_of_a_traced_value_into_the_global():
    y, g = dlfeval(stores_float, dlarray(np.array([2.0])))
    assert BEST == 4.0 and type(BEST) is float
    assert_close(D(g), [4.0])


# --- F3: MAML with the number of inner steps an argument -------------------------------------

ALPHA = 0.1


def maml(p, nsteps):
    q = p
    for i in range(nsteps):
        l = mse(fullyconnect(X, q["W"], q["b"]), T)
        g = dlgradient(l, q)
        q = dlupdate(lambda w, d: w - ALPHA * d, q, g)
    lq = mse(fullyconnect(X[::-1], q["W"], q["b"]), T)
    return lq, dlgradient(lq, p)


def _meta_loss(W, b, nsteps):
    """The outer loss in numpy: nsteps steps of gradient descent on the inner loss (its exact gradient)."""
    n = X.shape[0]
    for _ in range(nsteps):
        dy = (X @ W.T + b - T) / n
        W, b = W - ALPHA * dy.T @ X, b - ALPHA * dy.sum(0)
    return _mse(W, b, X[::-1])


@pytest.mark.parametrize("wrap", [lambda f: f, accelerate], ids=["dlfeval", "accelerate"])
def test_maml_steps_given_as_an_argument(wrap):
    F = wrap(maml)
    for nsteps in (0, 1, 2, 3, 2):
        lq, g = dlfeval(F, _params(), nsteps)
        assert_close(D(lq), _meta_loss(W0, B0, nsteps), what=f"loss n={nsteps}")
        assert_close(D(g["W"]), numerical_gradient(lambda W: _meta_loss(W, B0, nsteps), [W0], 0),
                     rtol=1e-5, atol=1e-8, what=f"dW n={nsteps}")
        assert_close(D(g["b"]), numerical_gradient(lambda b: _meta_loss(W0, b, nsteps), [B0], 0),
                     rtol=1e-5, atol=1e-8, what=f"db n={nsteps}")


# --- F1: a dict keyed by id() ------------------------------------------------------------------

class _L:
    def __init__(self, v):
        self.v = dlarray(v)


def by_id(ls):
    d = {id(q): np.sum(q.v ** 2) for q in ls}
    y = sum(d.values())
    return y, dlgradient(y, ls)


def test_dict_keyed_by_id_of_objects():
    a, b = np.array([1.0, 2.0]), np.array([3.0])
    y, g = dlfeval(by_id, [_L(a), _L(b)])
    assert_close(D(y), 14.0)
    assert_close(D(g[0].v), 2 * a)
    assert_close(D(g[1].v), 2 * b)


class _Counting:
    def __init__(self):
        self.w = dlarray(np.array([2.0]))

    def __call__(self, x):
        global STEP
        STEP += 1
        return x * self.w


def rebound_by_a_method(model, x):
    global STEP
    STEP += 1
    y = np.sum(model(x)) * STEP
    return y, dlgradient(y, model.w)


def test_refused_where_a_method_it_calls_rebinds_the_global_too():
    # (Python reads STEP after model(x) rebound it: 12; the function's copy would give 6)
    global STEP
    STEP = 0
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(rebound_by_a_method, _Counting(), np.array([3.0]))
    assert "global STEP" in str(info.value) and "rebound during the call" in str(info.value)
    assert info.value.lineno == rebound_by_a_method.__code__.co_firstlineno + 1


def _scale_counted(v):
    global STEP
    STEP += 1
    return v * STEP


def helper_counter_second_order(x):
    y = np.sum(_scale_counted(x) ** 3)
    g = dlgradient(y, x)
    z = np.sum(g ** 2)
    return z, dlgradient(z, x)


@pytest.mark.parametrize("wrap", [lambda f: f, accelerate], ids=["dlfeval", "accelerate"])
def test_helper_counter_before_a_gradient_differentiated_again(wrap):
    global STEP
    F = wrap(helper_counter_second_order)
    x = np.array([1.0, -2.0])
    for before in (0, 1):
        STEP = before
        n = before + 1
        z, g = dlfeval(F, dlarray(x))
        assert STEP == before + 1           # the recomputation does not count again

        def plain(v):
            return np.sum((3 * n ** 3 * v ** 2) ** 2)
        assert_close(D(z), plain(x), what="value")
        assert_close(D(g), numerical_gradient(plain, [x], 0), what="second order")
