"""False refusals of everyday code (session 52, red team red52 FR1 and FR2): each program was refused before
its fix; now it runs exactly (values against plain numpy, gradients against central differences of the
plain program, optimizer trajectories against hand-written numpy optimizers), and the nearby programs that
must stay refused are refused."""
import numpy as np
import pytest

import sct
from sct import adamupdate, dlarray, dlfeval, dlgradient, dlupdate, extractdata, rmspropupdate, sgdmupdate
from sct.errors import SctError

from gradcheck import numerical_gradient


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


# ------------------------------------- FR1: a None parameter (no bias) in a dict or list given to an optimizer

def _model_loss(p, x):
    y = np.sum(p["W"] * x)
    if p["b"] is not None:
        y = y + p["b"]
    L = np.tanh(y) ** 2
    return L, dlgradient(L, p)


def _plain_grad_W(W, x):
    y = np.sum(W * x)
    return 2 * np.tanh(y) * (1 - np.tanh(y) ** 2) * x


def _np_adam(w, g, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    rate = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return w - rate * m / (np.sqrt(v) + eps), m, v


def _np_sgdm(w, g, vel, lr, mom=0.9):
    vel = mom * vel - lr * g
    return w + vel, vel


def _np_rmsprop(w, g, v, lr, d=0.9, eps=1e-8):
    v = d * v + (1 - d) * g * g
    return w - lr * g / (np.sqrt(v) + eps), v


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opt", ["adam", "sgdm", "rmsprop", "dlupdate"])
def test_optimizers_leave_none_parameter_of_dict(opt, dtype):
    # was: TypeError "params['b']: cannot update a NoneType" from each of the four
    W0 = np.array([0.5, -0.3, 0.8], dtype=dtype)
    x = dlarray(np.array([1.0, 2.0, -0.5], dtype=dtype))
    p = {"W": dlarray(W0.copy()), "b": None}
    w, s1, s2 = W0.astype(np.float64), np.zeros(3), np.zeros(3)
    st1 = st2 = None
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for it in range(1, 5):
        L, g = dlfeval(_model_loss, p, x)
        assert g["b"] is None
        gW = _plain_grad_W(w, D(x).astype(np.float64))
        np.testing.assert_allclose(D(g["W"]), gW, rtol=tol * 10, atol=tol)
        if opt == "adam":
            p, st1, st2 = adamupdate(p, g, st1, st2, it, 0.05)
            w, s1, s2 = _np_adam(w, gW, s1, s2, it, 0.05)
        elif opt == "sgdm":
            p, st1 = sgdmupdate(p, g, st1, 0.1)
            w, s1 = _np_sgdm(w, gW, s1, 0.1)
        elif opt == "rmsprop":
            p, st1 = rmspropupdate(p, g, st1, 0.01)
            w, s1 = _np_rmsprop(w, gW, s1, 0.01)
        else:
            p = dlupdate(lambda q, d: q - 0.1 * d, p, g)
            w = w - 0.1 * gW
        assert set(p) == {"W", "b"} and p["b"] is None
        assert type(p["W"]) is dlarray and D(p["W"]).dtype == dtype
        np.testing.assert_allclose(D(p["W"]), w, rtol=tol * 10, atol=tol)
        for st, ref in ((st1, s1), (st2, s2)):
            if st is not None:
                assert st["b"] is None                  # the state mirrors the parameters
                np.testing.assert_allclose(D(st["W"]), ref, rtol=tol * 10, atol=tol)


def test_optimizers_none_in_list_and_absent_gradient():
    W = dlarray(np.array([[0.5, -1.0], [2.0, 0.3]]))
    gW = np.array([[0.1, -0.2], [0.3, 0.4]])
    p, vel = sgdmupdate([W, None], [dlarray(gW), None], None, 0.1)
    assert p[1] is None and vel[1] is None
    np.testing.assert_allclose(D(p[0]), D(W) - 0.1 * gW, rtol=1e-15)
    # a None parameter's gradient left out of the gradients dict
    p2, m, v = adamupdate({"W": W, "b": None}, {"W": dlarray(gW)}, None, None, 1, 0.1)
    w_ref, _, _ = _np_adam(D(W), gW, 0, 0, 1, 0.1)
    assert p2["b"] is None and m["b"] is None and v["b"] is None
    np.testing.assert_allclose(D(p2["W"]), w_ref, rtol=1e-14)
    # dlupdate returning several values: each structure keeps the None
    a, b = dlupdate(lambda q, d: (q - d, 2 * d), {"W": W, "b": None}, {"W": dlarray(gW), "b": None})
    assert a["b"] is None and b["b"] is None
    np.testing.assert_allclose(D(b["W"]), 2 * gW)


def test_optimizer_refuses_gradient_for_none_parameter():
    W = dlarray(np.array([0.5, -1.0]))
    with pytest.raises(ValueError, match=r"params\['b'\] is None \(no parameter\) but a gradient"):
        adamupdate({"W": W, "b": None}, {"W": dlarray(np.ones(2)), "b": dlarray(np.ones(1))}, None, None, 1)
    with pytest.raises(TypeError, match="cannot update a NoneType"):
        sgdmupdate(None, None, None)            # (no parameters at all: still refused)


# ------------------------------------- FR2: a str method on the key of `.items()` of a dict of numbers

def _weighted(x, weights):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        if name.startswith("kl"):
            L = L + wt * np.sum(x ** 3)
    return L, dlgradient(L, x)


def _weighted_upper(x, weights):
    L = np.sum(x ** 2)
    for k, w in weights.items():
        if k.upper() == "RECON":
            L = L + w * np.sum(np.sin(x))
        elif k.endswith("_x"):
            L = L + w * np.sum(x ** 3)
    return L, dlgradient(L, x)


def _plain_weighted(x, weights):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        if name.startswith("kl"):
            L = L + wt * np.sum(x ** 3)
    return L


def _plain_upper(x, weights):
    L = np.sum(x ** 2)
    for k, w in weights.items():
        if k.upper() == "RECON":
            L = L + w * np.sum(np.sin(x))
        elif k.endswith("_x"):
            L = L + w * np.sum(x ** 3)
    return L


@pytest.mark.parametrize("fn, plain", [(_weighted, _plain_weighted), (_weighted_upper, _plain_upper)])
def test_str_method_on_items_key_of_number_dict(fn, plain):
    # was: CompileError "name.startswith(...) is given values that earlier differentiated operations
    # read, and it may change its arguments or its object in place"
    x0 = np.array([0.3, -0.7, 1.1])
    for weights in ({"kl_x": 0.5, "recon": 2.0}, {"recon": 1.5, "kl_x": np.float64(-0.25)},
                    {"kl_x": np.array(0.75), "recon": np.array(2.0)}):
        L, g = dlfeval(fn, dlarray(x0), weights)
        assert float(D(L)) == pytest.approx(float(plain(x0, weights)), rel=1e-14)
        fd = numerical_gradient(lambda x: plain(x, weights), [x0], 0)
        np.testing.assert_allclose(D(g), fd, rtol=1e-7, atol=1e-8)


class _Key:
    """A dict key of the user's class whose startswith changes the array it holds (the dict's value)."""
    def __init__(self, arr):
        self.arr = arr

    def startswith(self, prefix):
        self.arr *= 2.0
        return True


def test_str_method_on_key_of_other_class_refused():
    x0 = np.array([0.3, -0.7, 1.1])
    arr = np.array([0.5, 1.0, 2.0])
    with pytest.raises(SctError, match=r"line \d+: at `if name\.startswith\(\"kl\"\):`: \.startswith\(\) is called on a _Key here, not on a str"):
        dlfeval(_weighted, dlarray(x0), {_Key(arr): arr})


class _Text(str):
    def startswith(self, prefix):
        return True


def test_str_subclass_key_refused():
    x0 = np.array([0.3, -0.7, 1.1])
    with pytest.raises(SctError, match=r"\.startswith\(\) is called on a _Text here, not on a str"):
        dlfeval(_weighted, dlarray(x0), {_Text("recon"): 0.5})


def _formatted(x, weights):
    L = np.sum(x ** 2)
    for name, wt in weights.items():
        if name.format(wt):
            L = L + wt * np.sum(x ** 3)
    return L, dlgradient(L, x)


def test_str_method_given_saved_value_still_refused():
    # an argument an adjoint reads may run code of its own (`"{}".format(w)`): still refused
    with pytest.raises(SctError, match=r"line \d+: name\.format\(\.\.\.\) is given values"):
        dlfeval(_formatted, dlarray(np.array([0.3, -0.7])), {"kl": np.array([0.5, 1.0])})


def _inner(p, x):
    y = np.sum(p["W"] * x)
    if p["b"] is not None:
        y = y + p["b"]
    return np.tanh(y) ** 2


def _maml(p, x):
    L = _inner(p, x)
    g = dlgradient(L, p, EnableHigherDerivatives=True)
    q = dlupdate(lambda w, d: w - 0.1 * d, p, g)
    L2 = _inner(q, x)
    return L2, dlgradient(L2, p), q


def _maml_display(p, x):
    L = _inner(p, x)
    gW = dlgradient(L, p["W"], EnableHigherDerivatives=True)
    q = dlupdate(lambda w, d: w - 0.1 * d, {"W": p["W"], "b": None}, {"W": gW})
    L2 = _inner(q, x)
    return L2, dlgradient(L2, p["W"]), q


def _plain_maml(W, x):
    q = W - 0.1 * _plain_grad_W(W, x)
    return np.tanh(np.sum(q * x)) ** 2


@pytest.mark.parametrize("fn", [_maml, _maml_display])
def test_dlupdate_differentiated_through_none_parameter(fn):
    # was: CompileError "dlupdate has no derivative" where the dict held a None (accepted without it)
    W0, x0 = np.array([0.5, -0.3, 0.2]), np.array([1.0, 2.0, -0.5])
    L2, g, q = dlfeval(fn, {"W": dlarray(W0), "b": None}, dlarray(x0))
    assert q["b"] is None
    assert float(D(L2)) == pytest.approx(_plain_maml(W0, x0), rel=1e-13)
    gW = g["W"] if isinstance(g, dict) else g
    if isinstance(g, dict):
        assert g["b"] is None
    np.testing.assert_allclose(D(gW), numerical_gradient(lambda w: _plain_maml(w, x0), [W0], 0), rtol=1e-6, atol=1e-9)


def _kl_terms(x, weights):
    L = np.sum(x ** 2)
    L = L + sum([w * np.sum(x ** 3) for k, w in weights.items() if k.startswith("kl")])
    return L


def test_str_method_on_items_key_comprehension_jvp_hvp():
    x0, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 0.5, -2.0])
    weights = {"kl_x": 0.5, "recon": 2.0, "kl_y": -1.25}

    def loss(x, w):
        L = _kl_terms(x, w)
        return L, dlgradient(L, x)
    L, g = dlfeval(loss, dlarray(x0), weights)
    assert float(D(L)) == pytest.approx(_kl_terms(x0, weights), rel=1e-14)
    np.testing.assert_allclose(D(g), numerical_gradient(lambda x: _kl_terms(x, weights), [x0], 0), rtol=1e-7)
    _, t = sct.jvp(lambda x: _kl_terms(x, weights), x0, v)
    assert float(D(t)) == pytest.approx(float(np.dot(2 * x0 - 2.25 * x0 ** 2, v)), rel=1e-13)
    h = sct.hvp(lambda x: _kl_terms(x, weights), x0, v)
    np.testing.assert_allclose(D(h), (2 - 4.5 * x0) * v, rtol=1e-13)


def _nested_loss(p, x):
    y = np.sum(p["enc"][0] * x)
    L = np.tanh(y) ** 2 + np.sum(p["misc"][1](p["enc"][0]))
    return L, dlgradient(L, p)


def test_optimizers_leave_none_beside_function_in_tuple():
    # was: TypeError "params['misc'][0]: cannot update a NoneType" (red52 t17 'nested')
    W0, x0 = np.array([0.5, -0.3]), np.array([1.0, 2.0])
    p = {"enc": [dlarray(W0)], "misc": (None, np.sin)}
    m = v = None
    w, mm, vv = W0.copy(), np.zeros(2), np.zeros(2)
    for it in range(1, 4):
        L, g = dlfeval(_nested_loss, p, dlarray(x0))
        y = np.sum(w * x0)
        gW = 2 * np.tanh(y) * (1 - np.tanh(y) ** 2) * x0 + np.cos(w)
        np.testing.assert_allclose(D(g["enc"][0]), gW, rtol=1e-13)
        p, m, v = adamupdate(p, g, m, v, it, 0.05)
        w, mm, vv = _np_adam(w, gW, mm, vv, it, 0.05)
        assert p["misc"][0] is None and p["misc"][1] is np.sin and m["misc"] == (None, None)
        np.testing.assert_allclose(D(p["enc"][0]), w, rtol=1e-13)
        np.testing.assert_allclose(D(v["enc"][0]), vv, rtol=1e-13)
