"""A dlarray's methods and attributes written into a dict dlfeval was given (redfix52 F17): MATLAB's model
function storing its statistics, ``state["bn"]["TrainedMean"] = h.mean(axis=0)`` with ``h`` computed from
dlarrays, was refused when it ran ("this value's type in Python (a dlarray or an ndarray) is not known here")
where ``np.mean(h, axis=0)`` ran: sct/argument_writes.py did not know that ``h.mean(...)``, ``h.T``, ``h[0]`` of
a dlarray are dlarrays in plain Python (runtime/dlarray.py ``__getattr__``, the properties, ``__getitem__``).

Each program is checked against plain Python: the value, the gradient against central differences of the
plain program, and the caller's dict (types, labels, values, numpy-scalar marks) after dlfeval and after each
of three calls of a dlaccelerate'd function.  The methods whose results are not dlarrays in Python
(``h.item(0)``, ``h.argmax()``) are stored as Python has them, or refused (``h.astype(int)``)."""
import copy
import types

import numpy as np
import pytest

from gradcheck import D
from sct import dims, dlaccelerate, dlarray, dlfeval, dlgradient
from sct.runtime.dlarray import is_numpy_scalar


def _plain(fn):
    """``fn`` run as plain Python, its dlgradient answering None."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "dlgradient": lambda *a, **k: None}, fn.__name__,
                              fn.__defaults__, fn.__closure__)


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _same_dict(mine, python):
    """The caller's dict after sct's call holds what plain Python's holds: keys, types, values, labels."""
    assert set(mine) == set(python)
    for k, v in python.items():
        assert type(mine[k]) is type(v), (k, type(mine[k]), type(v))
        if v is None:
            continue
        if isinstance(v, dict):
            _same_dict(mine[k], v)
        elif isinstance(v, dlarray):
            assert dims(mine[k]) == dims(v) and is_numpy_scalar(mine[k]) == is_numpy_scalar(v), k
            assert D(mine[k]).dtype == D(v).dtype and D(mine[k]).shape == D(v).shape, k
            np.testing.assert_allclose(D(mine[k]), D(v), rtol=1e-6, atol=1e-12)
        else:
            np.testing.assert_allclose(np.asarray(mine[k]), np.asarray(v), rtol=1e-12, atol=1e-12)


# --- redfix52 F17: the MATLAB state pattern with the dlarray's method ------------------------------------

def f17_loss(p, state, x):
    h = x @ p["W"]
    state["bn"]["TrainedMean"] = h.mean(axis=0)
    L = np.sum(h ** 2) + np.sum(state["bn"]["TrainedMean"] ** 2)
    return L, dlgradient(L, p["W"])


@pytest.mark.parametrize("runner", ["dlfeval", "dlaccelerate"])
@pytest.mark.parametrize("init", ["ndarray", "dlarray", "None"])
def test_f17_state_mean_method(init, runner):
    W0 = np.array([[0.3, -0.5], [0.8, 0.2]])
    rng = np.random.default_rng(1)
    start = {"ndarray": np.zeros(2), "dlarray": dlarray(np.zeros(2)), "None": None}[init]
    mine, python = {"bn": {"TrainedMean": start}}, {"bn": {"TrainedMean": copy.deepcopy(start)}}
    inner = mine["bn"]
    call = dlaccelerate(f17_loss) if runner == "dlaccelerate" else (lambda *a: dlfeval(f17_loss, *a))
    for step in range(3 if runner == "dlaccelerate" else 1):
        X = rng.standard_normal((3, 2))

        def plain(W):
            h = X @ W
            return np.sum(h ** 2) + np.sum(h.mean(axis=0) ** 2)
        L, g = call({"W": dlarray(W0)}, mine, dlarray(X))
        _plain(f17_loss)({"W": dlarray(W0)}, python, dlarray(X))
        np.testing.assert_allclose(float(D(L)), plain(W0), rtol=1e-12)
        np.testing.assert_allclose(D(g), _fd(plain, W0.copy()), rtol=1e-6, atol=1e-6)
        assert mine["bn"] is inner and type(mine["bn"]["TrainedMean"]) is dlarray
        np.testing.assert_allclose(D(mine["bn"]["TrainedMean"]), (X @ W0).mean(axis=0), rtol=1e-12)
        _same_dict(mine, python)
        W0 = W0 - 0.1 * D(g)


# --- each method, attribute and item form: stored as Python stores it, read back exactly ---------------

def m_mean_axis(d, x):
    h = np.sin(x) * 2
    d["m"] = h.mean(axis=0)
    L = np.sum(h ** 2) + np.sum(d["m"] * x[0])
    return L, dlgradient(L, x)


def m_mean_all(d, x):
    h = np.sin(x) * 2
    d["m"] = h.mean()
    L = np.sum(h ** 2) + d["m"] * np.sum(x)
    return L, dlgradient(L, x)


def m_sum_var_std(d, x):
    h = np.sin(x) * 2
    d["s"] = h.sum(axis=1)
    d["v"] = h.var(axis=0)
    d["sd"] = h.std()
    L = np.sum(d["s"] ** 2) + np.sum(d["v"]) + d["sd"]
    return L, dlgradient(L, x)


def m_max_min_prod(d, x):
    h = np.sin(x) * 2
    d["a"] = h.max(axis=0)
    d["b"] = h.min()
    d["c"] = h.prod(axis=0)
    d["e"] = h.cumsum(axis=0)
    L = np.sum(d["a"]) + d["b"] + np.sum(d["c"]) + np.sum(d["e"] ** 2)
    return L, dlgradient(L, x)


def m_shapes(d, x):
    h = np.sin(x) * 2
    d["r"] = h.reshape(-1)
    d["r2"] = h.reshape(3, 2)
    d["t"] = h.T
    d["tr"] = h.transpose()
    d["rv"] = h.ravel()
    d["fl"] = h.flatten()
    d["sq"] = h.squeeze()
    d["sw"] = h.swapaxes(0, 1)
    L = np.sum(d["r"] * d["rv"]) + np.sum(d["r2"] ** 3) + np.sum(d["t"] @ d["tr"].T)
    return L, dlgradient(L, x)


def m_copy_astype(d, x):
    h = np.sin(x) * 2
    d["c"] = h.copy()
    d["f"] = h.astype(np.float64)
    d["cj"] = h.conj()
    d["re"] = h.real
    d["cl"] = h.clip(-0.5, 0.5)
    L = np.sum(d["c"] * d["f"]) + np.sum(d["cj"] ** 2) + np.sum(d["re"]) + np.sum(d["cl"] * x)
    return L, dlgradient(L, x)


def m_items(d, x):
    h = np.sin(x) * 2
    d["row"] = h[0]
    d["col"] = h[:, 1]
    d["scaled"] = h[0] * 1.0
    d["th"] = np.tanh(h[1])
    d["arg"] = x[1]
    L = np.sum(d["row"] * d["col"][0]) + np.sum(d["scaled"]) + np.sum(d["th"] * d["arg"])
    return L, dlgradient(L, x)


def m_chained(d, x):
    h = np.sin(x) * 2
    d["a"] = h.T.mean(axis=1)[0]
    d["b"] = x.mean(axis=0).T
    L = d["a"] * np.sum(x) + np.sum(d["b"] ** 2)
    return L, dlgradient(L, x)


def m_rebound(d, x):
    y = x * 2
    for i in range(2):
        y = y.T
    d["y"] = y.reshape(-1)
    L = np.sum(d["y"] ** 2)
    return L, dlgradient(L, x)


def m_python_types(d, x):          # results Python leaves as numpy's or Python's values, not dlarrays
    h = np.sin(x) * 2
    d["m"] = h.mean(axis=0)
    d["i"] = h.item(0)
    d["k"] = h.argmax()
    L = np.sum(h ** 2) + np.sum(d["m"]) * d["i"]
    return L, dlgradient(L, x)


FORMS = [m_mean_axis, m_mean_all, m_sum_var_std, m_max_min_prod, m_shapes, m_copy_astype, m_items, m_chained,
         m_rebound, m_python_types]


@pytest.mark.parametrize("runner", ["dlfeval", "dlaccelerate"])
@pytest.mark.parametrize("fn", FORMS, ids=lambda f: f.__name__)
def test_method_results_stored_as_python_stores_them(fn, runner):
    rng = np.random.default_rng(5)
    plain = _plain(fn)
    mine, python = {"m": None}, {"m": None}
    call = dlaccelerate(fn) if runner == "dlaccelerate" else (lambda *a: dlfeval(fn, *a))
    for step in range(3 if runner == "dlaccelerate" else 1):
        x0 = rng.standard_normal((2, 3))
        before = copy.deepcopy(python)
        want = float(D(plain(copy.deepcopy(before), dlarray(x0))[0]))
        want_g = _fd(lambda v: float(D(plain(copy.deepcopy(before), dlarray(v))[0])), x0)
        plain(python, dlarray(x0))
        loss, g = call(mine, dlarray(x0))
        np.testing.assert_allclose(float(D(loss)), want, rtol=1e-12)
        np.testing.assert_allclose(D(g), want_g, rtol=1e-6, atol=1e-6)
        _same_dict(mine, python)


def m_formatted(d, x):
    h = np.sin(x) * 2
    d["m"] = h.mean(axis=1)
    d["s"] = h.sum()
    d["c"] = h.copy()
    d["r"] = h[0]
    L = np.sum(d["m"] ** 2) + d["s"] + np.sum(d["c"] * d["r"])
    return L, dlgradient(L, x)


def test_formatted_method_results_keep_python_labels():
    x0 = np.array([[0.5, -1.0, 2.0], [0.3, 0.2, -0.4]])
    mine, python = {}, {}
    loss, g = dlfeval(m_formatted, mine, dlarray(x0, "CB"))
    _plain(m_formatted)(python, dlarray(x0, "CB"))
    assert dims(mine["m"]) == "C" and dims(mine["c"]) == "CB" and dims(mine["r"]) == "B"
    _same_dict(mine, python)
    f = lambda v: float(D(_plain(m_formatted)({}, dlarray(v, "CB"))[0]))
    np.testing.assert_allclose(float(D(loss)), f(x0), rtol=1e-12)
    np.testing.assert_allclose(D(g), _fd(f, x0.copy()), rtol=1e-6, atol=1e-6)


def m_astype_int(d, x):
    h = np.sin(x) * 2
    d["m"] = h.astype(int)
    L = np.sum(h ** 2)
    return L, dlgradient(L, x)


def test_integer_method_result_refused_not_stored_as_a_dlarray():
    # Python stores an int ndarray (dlarray's integer results are numpy's): refused, never a dlarray
    d = {"m": None}
    with pytest.raises(Exception, match=r"test_state_dict_methods_s52\.py, line \d+: at `d\[.m.\] = h\.astype"):
        dlfeval(m_astype_int, d, dlarray(np.array([[0.5, -1.0, 2.0], [0.3, 0.2, -0.4]])))


# --- redfix52 F16: an optimizer's companion list shorter (or longer) than the parameters ----------------

def test_optimizer_state_list_of_another_length_refused_with_its_structure():
    from sct import sgdmupdate
    W, g = dlarray(np.array([0.5, -1.0])), dlarray(np.array([0.1, 0.2]))
    # (was: a bare IndexError "list index out of range" from runtime/optim.py's _part)
    with pytest.raises(ValueError, match=r"params is a list of 2 entries but a gradient or optimizer state is a "
                                         r"list of 1"):
        sgdmupdate([W, None], [g, None], [dlarray(np.zeros(2))])
    with pytest.raises(ValueError, match=r"params is a list of 2 entries .* list of 1"):
        sgdmupdate([W, None], [g], None)
    with pytest.raises(ValueError, match=r"params\['a'\] is a tuple of 1 entries .* list of 2"):
        sgdmupdate({"a": (W,)}, {"a": [g, g]}, None)      # (was: the extra gradient passed over)
    # control: as long, a None parameter's entries None: W updated as alone
    new, vel = sgdmupdate([W, None], [g, None], None)
    alone, _ = sgdmupdate([W], [g], None)
    assert new[1] is None and vel[1] is None
    np.testing.assert_allclose(D(new[0]), D(alone[0]), rtol=1e-15)
    np.testing.assert_allclose(D(new[0]), [0.5 - 0.01 * 0.1, -1.0 - 0.01 * 0.2], rtol=1e-12)


# --- redfix52 F13: a user's class whose __module__ is None or a library's name ----------------------------

class GainNone:
    def __init__(self, k):
        self.k = k

    def __mul__(self, o):
        return np.tanh(o) * self.k
    __rmul__ = __mul__


class GainNumpy(GainNone):
    pass


class GainSct(GainNone):
    pass


class GainCore(GainNone):
    pass


GainNone.__module__ = None                  # (was: AttributeError 'NoneType' object has no attribute 'split')
GainNumpy.__module__ = "numpy"              # (was: its __mul__ run for the value, numpy's * differentiated)
GainSct.__module__ = "sct"
GainCore.__module__ = "numpy.core.multiarray"


def gain_loss(W, gain, x):
    L = np.sum((gain * np.sin(W * x)) ** 2)
    return L, dlgradient(L, W)


@pytest.mark.parametrize("cls", [GainNone, GainNumpy, GainSct, GainCore], ids=lambda c: c.__name__)
def test_user_class_with_a_library_module_name_is_the_users(cls):
    W0, X0 = np.array([0.5, -1.0, 2.0]), np.array([0.3, -0.7, 1.1])
    plain = lambda W: np.sum((np.tanh(np.sin(W * X0)) * 1.7) ** 2)
    L, g = dlfeval(gain_loss, dlarray(W0), cls(1.7), dlarray(X0))
    np.testing.assert_allclose(float(D(L)), plain(W0), rtol=1e-12)
    np.testing.assert_allclose(D(g), _fd(plain, W0.copy()), rtol=1e-6, atol=1e-8)
