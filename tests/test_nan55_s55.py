"""nan55 (red team red55h): NaN data under a mask, logs and counters in helpers, a bool dlarray.

- F3: ``calls[0] += 1`` (a global or closure list or dict, a plain value) in a helper or in sct.hvp's function
  runs as Python runs it (was refused as writing into what "belongs to its caller"), where no differentiated
  operation of the helper reads an outside object; refused otherwise, saying it is an outside object.
- W (found with F3): a plain list an adjoint reads (``np.sum(x * W)``), changed by a call before the
  gradient, is refused at the call as an array is (was: the changed numbers as the gradient).
- F2: ``history.append(float(y))`` in a helper stays refused (sct differentiates float(y); what the callers
  read afterwards is not seen where the helper compiles), with a message that says so and gives the
  rewrite with the user's name, ``history.append(float(extractdata(y)))``, which is exact.

- F1: a loss masked over NaN (missing) targets, ``np.sum(((p - t) ** 2)[~np.isnan(t)])`` or its np.where
  form, stays refused (the adjoint multiplies the masked entries' zero by the NaN factor 2 * (p - t);
  sct does not return NaN nor guess the zero), but the message now says that the argument t holds NaN
  and what to write (np.nan_to_num under the mask), and that rewrite is exact.
- R1: a bool dlarray as dlgradient's only x is refused as bool data with no derivative (was: "y does not
  depend on any traced input").
"""
import numpy as np
import pytest

from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError, EvaluationError
from gradcheck import D, assert_close, numerical_gradient

T = np.array([1.0, np.nan, 3.0, np.nan, -2.0])
P0 = np.array([0.5, 0.5, 0.5, -1.0, 0.25])


def _loss_index(p, t):
    err = (p - t) ** 2
    l = np.sum(err[~np.isnan(t)])
    return l, dlgradient(l, p)


def _loss_where(p, t):
    l = np.sum(np.where(np.isnan(t), 0.0, (p - t) ** 2))
    return l, dlgradient(l, p)


def _loss_mean(p, t):
    m = ~np.isnan(t)
    l = np.mean(((p - t) ** 2)[m])
    return l, dlgradient(l, p)


def _loss_dict(params, t):       # the way users write it: a dict of parameters, the prediction a product
    pred = params["w"] * 2.0
    l = np.sum(((pred - t) ** 2)[~np.isnan(t)])
    return l, dlgradient(l, params)


@pytest.mark.parametrize("loss, offset", [(_loss_index, 3), (_loss_where, 1), (_loss_mean, 3)])
def test_masked_nan_data_refused_naming_the_data(loss, offset):
    """Named: the dlgradient's line (the np.where's for the np.where form)."""
    with pytest.raises(EvaluationError) as info:
        dlfeval(loss, dlarray(P0), T)
    msg = str(info.value)
    assert "test_nan55_s55.py" in msg and f"line {loss.__code__.co_firstlineno + offset}:" in msg
    assert "t holds NaN" in msg and "np.nan_to_num(t)" in msg


def test_masked_nan_data_in_dict_refused_naming_the_data():
    with pytest.raises(EvaluationError) as info:
        dlfeval(_loss_dict, {"w": dlarray(P0)}, T)
    assert "t holds NaN" in str(info.value)


def test_nan_of_sqrt_not_called_data():
    def f(x):
        v = np.sqrt(x)
        y = np.sum(v[x > 0])
        return y, dlgradient(y, x)
    with np.errstate(invalid="ignore"), pytest.raises(EvaluationError) as info:
        dlfeval(f, dlarray([1.0, -1.0]))
    assert "holds NaN" not in str(info.value) and "np.sqrt" in str(info.value)


def _plain_masked(p, t):
    m = ~np.isnan(t)
    return float(np.sum(np.where(m, p - np.nan_to_num(t), 0.0) ** 2))


def test_the_advised_rewrite_is_exact():
    def loss(p, t):
        m = ~np.isnan(t)
        l = np.sum(np.where(m, p - np.nan_to_num(t), 0.0) ** 2)
        return l, dlgradient(l, p)

    def loss_mean(p, t):
        m = ~np.isnan(t)
        l = np.mean(((p - np.nan_to_num(t)) ** 2)[m])
        return l, dlgradient(l, p)
    with np.errstate(invalid="ignore"):
        l, g = dlfeval(loss, dlarray(P0), T)
        assert_close(D(l), _plain_masked(P0, T))
        m = ~np.isnan(T)
        assert_close(D(g), np.where(m, 2 * (P0 - np.nan_to_num(T)), 0.0))     # closed form
        assert_close(D(g), numerical_gradient(_plain_masked, [P0, T], 0))
        l, g = dlfeval(loss_mean, dlarray(P0), T)
        assert_close(D(l), np.mean(((P0 - T) ** 2)[m]))
        assert_close(D(g), np.where(m, 2 * (P0 - np.nan_to_num(T)), 0.0) / m.sum())


def test_bool_dlarray_only_argument_refused_as_bool():
    def f(m):
        y = np.sum(m * 2.0)
        return y, dlgradient(y, m)
    with pytest.raises(CompileError) as info:
        dlfeval(f, dlarray(np.array([True, False])))
    msg = str(info.value)
    assert "'m'" in msg and "bool data" in msg and "no derivative" in msg
    assert f"line {f.__code__.co_firstlineno + 2}" in msg



# --- F3: a call counter in a module-level list or dict, written in a helper or in sct.hvp's function -------------

CALLS = [0]
STATS = {"n": 0}
W = [2.0, 2.0]
X0 = np.array([0.3, -0.7, 1.1])


def _counted(x):
    CALLS[0] += 1
    STATS["n"] += 1
    return np.sum(x ** 3)


def test_counter_in_helper_counts_as_python():
    def step(x):
        y = 0.0
        for i in range(3):
            y = y + _counted(x * (i + 1))
        return y, dlgradient(y, x)
    CALLS[0], STATS["n"] = 0, 0
    y, g = dlfeval(step, dlarray(X0))
    assert CALLS == [3] and STATS == {"n": 3}          # Python calls _counted three times
    assert_close(D(y), sum(np.sum((X0 * k) ** 3) for k in (1, 2, 3)))
    assert_close(D(g), 3 * X0 ** 2 * (1 + 8 + 27))      # closed form


def test_counter_in_hvp_function():
    import sct
    CALLS[0] = 0
    v = np.array([1.0, -2.0, 0.5])
    h = sct.hvp(_counted, X0, v)
    assert_close(D(h), 6 * X0 * v)
    assert CALLS == [1]


def test_counter_in_closure_helper():
    def make():
        count = [0]

        def f(x):
            count[0] += 1
            return np.sum(np.sin(x))
        return f, count
    f, count = make()

    def step(x):
        y = f(x) + f(2.0 * x)
        return y, dlgradient(y, x)
    y, g = dlfeval(step, dlarray(X0))
    assert count == [2]
    assert_close(D(g), numerical_gradient(lambda x: np.sum(np.sin(x)) + np.sum(np.sin(2 * x)), [X0], 0))


def _params_loss(params, x):
    CALLS[0] += 1
    return np.sum((params["w"] * x) ** 2)


class _Model:
    def __init__(self):
        self.w = dlarray([1.0, 2.0])

    def loss(self, x):
        CALLS[0] += 1
        return np.sum((self.w * x) ** 2)


def test_counter_in_helper_of_params_dict_and_method():
    x = np.array([3.0, 4.0])

    def step(params, x):
        y = _params_loss(params, x)
        return y, dlgradient(y, params)

    def step_m(m, x):
        y = m.loss(x)
        return y, dlgradient(y, m.w)
    CALLS[0] = 0
    y, g = dlfeval(step, {"w": dlarray([1.0, 2.0])}, x)
    assert_close(D(y), np.sum((np.array([1.0, 2.0]) * x) ** 2))
    assert_close(D(g["w"]), 2 * np.array([1.0, 2.0]) * x ** 2)
    y, g = dlfeval(step_m, _Model(), x)
    assert_close(D(g), 2 * np.array([1.0, 2.0]) * x ** 2)
    assert CALLS == [2]


def _holder_loss(params, x):
    CALLS[0] += 1
    return np.sum(x * params["scale"])      # params["scale"] may be CALLS itself: its adjoint reads it


def test_counter_with_argument_that_may_hold_it_refused():
    def step(x):
        y = _holder_loss({"scale": CALLS}, x) + _holder_loss({"scale": CALLS}, x)
        return y, dlgradient(y, x)
    CALLS[:] = [1]
    with pytest.raises(CompileError) as info:
        dlfeval(step, dlarray(np.ones(1)))
    assert f"line {_holder_loss.__code__.co_firstlineno + 1}:" in str(info.value)


def _bumped_read(x):
    W[0] += 1
    return np.sum(x * W)          # the adjoint reads W: a second call would change what the first's reads


def test_counter_read_by_differentiated_op_refused():
    def step(x):
        y = _bumped_read(x) + _bumped_read(x)
        return y, dlgradient(y, x)
    W[:] = [2.0, 2.0]
    with pytest.raises(CompileError) as info:
        dlfeval(step, dlarray(np.ones(2)))
    msg = str(info.value)
    assert f"line {_bumped_read.__code__.co_firstlineno + 1}:" in msg and "W[...]" in msg
    assert "an object from outside it" in msg and "belongs to its caller" not in msg


def _bump_w():
    W[0] += 1


def test_list_read_by_adjoint_then_changed_by_call_refused():
    """(red55h, found with F3: was the gradient [3, 2] where Python's is [2, 2]: the adjoint of np.sum(x * W)
    read the list W after _bump_w changed it)"""
    def step(x):
        y = np.sum(x * W)
        _bump_w()
        return y, dlgradient(y, x)
    W[:] = [2.0, 2.0]
    with pytest.raises(EvaluationError) as info:
        dlfeval(step, dlarray(np.ones(2)))
    msg = str(info.value)
    assert f"line {step.__code__.co_firstlineno + 2}:" in msg and "changed W in place, a list" in msg


def test_list_unchanged_by_call_accepted():
    W[:] = [2.0, 2.0]
    kept = list(W)          # (a closure's copy: the call changes W, not what the adjoint reads)

    def step(x):
        y = np.sum(x * kept)
        _bump_w()
        return y, dlgradient(y, x)
    y, g = dlfeval(step, dlarray(np.ones(2)))
    assert W == [3.0, 2.0]
    assert_close(D(y), 4.0)
    assert_close(D(g), numerical_gradient(lambda x: float(np.sum(x * np.array([2.0, 2.0]))), [np.ones(2)], 0))


# --- F2: a helper logging float(y) into a list from outside ----------------------------------------------------

HISTORY = []


def _logged_loss(x):
    y = np.sum(x ** 3)
    HISTORY.append(float(y))
    return y


def test_helper_log_refusal_names_what_to_write():
    def step(x):
        y = _logged_loss(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError) as info:
        dlfeval(step, dlarray(X0))
    msg = str(info.value)
    assert f"line {_logged_loss.__code__.co_firstlineno + 2}:" in msg
    assert "float(y) of a traced value" in msg and "HISTORY.append(float(extractdata(y)))" in msg


def test_helper_log_advised_rewrite_is_exact():
    from sct import extractdata
    log = []

    def loss(x):
        y = np.sum(x ** 3)
        log.append(float(extractdata(y)))
        return y

    def step(x):
        y = loss(x)
        return y, dlgradient(y, x)
    y, g = dlfeval(step, dlarray(X0))
    assert log == [float(np.sum(X0 ** 3))] and type(log[0]) is float
    assert_close(D(g), 3 * X0 ** 2)
