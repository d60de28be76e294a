"""dlgradient with respect to an item of a list or dict filled item by item (red team s50, report B):
``d = {}; d["a"] = x * 2; d["b"] = d["a"] ** 2; dlgradient(L, d["a"])``, a Grad-CAM model returning a dict of
intermediate outputs, or any later store into the container (``out["n"] = 3``, ``hs.append(None)``) gave
zeros: the gradient was taken with respect to the container's last version, while y read the item through
an earlier one.  sct/stored_items.py follows the versions back to the item's store (the derivative of L
with respect to that value, as JAX and PyTorch give it), and refuses, naming the line, what it cannot follow.
Gradients against central differences of the plain program with the item made an input; values against
plain Python."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient

X = np.array([0.5, -1.2, 2.0])
R = np.random.default_rng(0)
W1, W2, XG = R.normal(size=(3, 4)), R.normal(size=(4, 2)), R.normal(size=(1, 3))


def run(fn, *args):
    out = dlfeval(fn, *(args or (dlarray(X),)))
    return out


def fd(plain_of_item, item):
    """Central differences of the plain program with the item an input."""
    return numerical_gradient(plain_of_item, [np.array(item, dtype=float)], 0)


# --- exact: the item's value, followed back through the versions ------------------------------------
def dict_item_from_item(x):
    d = {}
    d["a"] = x * 2
    d["b"] = d["a"] ** 2
    L = np.sum(d["b"])
    return L, dlgradient(L, d["a"])


def list_appended_from_item(x):
    lst = [x * 2]
    lst.append(lst[0] ** 2)
    L = np.sum(lst[1])
    return L, dlgradient(L, lst[0])


def list_slots_assigned(x):
    lst = [None, None]
    lst[0] = x * 2
    lst[1] = lst[0] ** 2
    L = np.sum(lst[1])
    return L, dlgradient(L, lst[0])


def display_then_item(x):
    d = {"a": x * 2}
    d["b"] = d["a"] ** 2
    L = np.sum(d["b"])
    return L, dlgradient(L, d["a"])


def dict_call_then_item(x):
    d = dict(a=x * 2)
    d["b"] = d["a"] ** 2
    L = np.sum(d["b"])
    return L, dlgradient(L, d["a"])


def through_local_alias(x):
    d = {}
    d["a"] = x * 2
    a = d["a"]
    d["b"] = a ** 2
    L = np.sum(d["b"])
    return L, dlgradient(L, d["a"])


def _fill(d, x):
    d["a"] = x * 2
    d["b"] = d["a"] ** 2


def helper_fills_dict(x):
    d = {}
    _fill(d, x)
    L = np.sum(d["b"])
    return L, dlgradient(L, d["a"])


@pytest.mark.parametrize("fn", [dict_item_from_item, list_appended_from_item, list_slots_assigned,
                                display_then_item, dict_call_then_item, through_local_alias, helper_fills_dict])
def test_item_read_through_another_item(fn):
    L, g = run(fn)
    assert_close(float(extractdata(L)), float(np.sum((X * 2) ** 2)))
    assert_close(extractdata(g), fd(lambda a: np.sum(a ** 2), X * 2))      # was [0, 0, 0]


def direct_and_through_other_item(x):
    d = {}
    d["a"] = x * 2
    d["b"] = d["a"] ** 2
    L = np.sum(d["b"]) + np.sum(d["a"])
    return L, dlgradient(L, d["a"])


def test_item_read_directly_and_through_another_item():
    L, g = run(direct_and_through_other_item)
    assert_close(float(extractdata(L)), float(np.sum((2 * X) ** 2) + np.sum(2 * X)))
    assert_close(extractdata(g), fd(lambda a: np.sum(a ** 2) + np.sum(a), X * 2))     # was [1, 1, 1]


def two_targets(x):
    d = {}
    d["a"] = x * 2
    d["b"] = d["a"] ** 2
    L = np.sum(np.sin(d["b"]))
    return L, dlgradient(L, d["a"]), dlgradient(L, d["b"])


def whole_dict(x):
    d = {}
    d["a"] = x * 2
    d["b"] = d["a"] ** 2
    L = np.sum(np.sin(d["b"]))
    return L, dlgradient(L, d)


def test_two_items_and_the_whole_dict():
    a = 2 * X
    ga = fd(lambda a: np.sum(np.sin(a ** 2)), a)
    gb = fd(lambda b: np.sum(np.sin(b)), a ** 2)
    L, g1, g2 = run(two_targets)
    assert_close(float(extractdata(L)), float(np.sum(np.sin(a ** 2))))
    assert_close(extractdata(g1), ga)
    assert_close(extractdata(g2), gb)
    L, g = run(whole_dict)
    assert list(g) == ["a", "b"]
    assert_close(extractdata(g["a"]), ga)                                     # was zeros
    assert_close(extractdata(g["b"]), gb)


# --- a later store of something else into the container -----------------------------------------------
def dict_later_constant(x):
    out = {}
    out["h"] = np.tanh(x * 2)
    L = np.sum(out["h"] ** 2)
    out["n"] = 3
    return L, dlgradient(L, out["h"])


def list_later_none(x):
    hs = [np.tanh(x * 2)]
    L = np.sum(hs[0] ** 2)
    hs.append(None)
    return L, dlgradient(L, hs[0])


def display_later_string(x):
    d = {"a": np.tanh(x * 2)}
    L = np.sum(d["a"] ** 2)
    d["status"] = "done"
    return L, dlgradient(L, d["a"])


def comprehension_later_key(x):
    d = {k: np.tanh(x * 2) * (i + 1) for i, k in enumerate("ab")}
    L = np.sum(d["a"] ** 2)
    d["c"] = 0
    return L, dlgradient(L, d["a"])


def loop_then_later_key(x):
    state = {"a": np.tanh(x * 2), "t": 0}
    for t in range(2):
        state["t"] = t
    L = np.sum(state["a"] ** 2)
    state["u"] = 1
    return L, dlgradient(L, state["a"])


@pytest.mark.parametrize("fn", [dict_later_constant, list_later_none, display_later_string,
                                comprehension_later_key, loop_then_later_key])
def test_a_later_store_of_another_item(fn):
    h = np.tanh(2 * X)
    L, g = run(fn)
    assert_close(float(extractdata(L)), float(np.sum(h ** 2)))
    assert_close(extractdata(g), fd(lambda h: np.sum(h ** 2), h))             # was [0, 0, 0]


def stored_through_second_name(x):
    d = {}
    d["a"] = x * 2
    e = d
    e["a"] = x * 3
    L = np.sum(d["a"] ** 2)
    d["z"] = 0
    return L, dlgradient(L, d["a"])


def popped_and_stored_again(x):
    d = {}
    d["a"] = x * 2
    d.pop("a")
    d["a"] = x * 3
    L = np.sum(d["a"] ** 2)
    d["z"] = 0
    return L, dlgradient(L, d["a"])


def updated(x):
    d = {}
    d["a"] = x * 2
    d.update(a=x * 3)
    L = np.sum(d["a"] ** 2)
    d["z"] = 0
    return L, dlgradient(L, d["a"])


@pytest.mark.parametrize("fn", [stored_through_second_name, popped_and_stored_again, updated])
def test_the_item_replaced_before_y_is_the_new_value(fn):
    L, g = run(fn)
    assert_close(float(extractdata(L)), float(np.sum((3 * X) ** 2)))
    assert_close(extractdata(g), fd(lambda a: np.sum(a ** 2), 3 * X))


# --- Grad-CAM on a model returning a dict (or list) of intermediate outputs ---------------------------
def _model(p, x):
    out = {}
    out["features"] = np.tanh(x @ p["W1"])
    out["logits"] = out["features"] @ p["W2"]
    return out


def gradcam(p, x):
    out = _model(p, x)
    score = out["logits"][0, 1]
    return score, dlgradient(score, out["features"])


def _model_display(p, x):
    out = {"features": np.tanh(x @ p["W1"])}
    out["logits"] = out["features"] @ p["W2"]
    out["n"] = 2
    return out


def gradcam_display(p, x):
    out = _model_display(p, x)
    score = out["logits"][0, 1]
    return score, dlgradient(score, out["features"])


def _model_list(p, x):
    outs = []
    outs.append(np.tanh(x @ p["W1"]))
    outs.append(outs[-1] @ p["W2"])
    return outs


def gradcam_list(p, x):
    outs = _model_list(p, x)
    score = outs[-1][0, 1]
    return score, dlgradient(score, outs[0])


def _model_named(p, x):
    out = {}
    f = np.tanh(x @ p["W1"])
    out["features"] = f
    out["logits"] = f @ p["W2"]
    return out


def gradcam_named(p, x):
    out = _model_named(p, x)
    score = out["logits"][0, 1]
    return score, dlgradient(score, out["features"])


@pytest.mark.parametrize("fn", [gradcam, gradcam_display, gradcam_list, gradcam_named])
def test_gradcam_on_a_model_returning_its_intermediate_outputs(fn):
    feats = np.tanh(XG @ W1)
    s, g = run(fn, {"W1": dlarray(W1), "W2": dlarray(W2)}, XG)
    assert_close(float(extractdata(s)), float((feats @ W2)[0, 1]))
    assert_close(extractdata(g), fd(lambda f: (f @ W2)[0, 1], feats))          # was zeros


# --- what sct cannot follow: refused at the dlgradient line, never zeros ------------------------------
def loop_reads_then_stores(x):
    state = {"h": np.tanh(x), "t": 0}
    L = 0
    for t in range(2):
        L = L + np.sum(state["h"] ** 2)
        state["t"] = t
    return L, dlgradient(L, state["h"])                                       # line +6


def branch_store_after_read(x):
    state = {"h": np.tanh(x), "t": 0}
    L = np.sum(state["h"] ** 2)
    if L > 0:
        state["t"] = 1
    return L, dlgradient(L, state["h"])                                       # line +5


def setdefault_after_read(x):
    d = {"a": x * 2}
    d.setdefault("b", d["a"] ** 2)
    L = np.sum(d["b"])
    return L, dlgradient(L, d["a"])                                            # line +4


def nested_dict(x):
    d = {"in": {}}
    d["in"]["a"] = x * 2
    d["in"]["b"] = d["in"]["a"] ** 2
    L = np.sum(d["in"]["b"])
    return L, dlgradient(L, d["in"]["a"])                                      # line +5


def key_in_a_name(x):
    d = {}
    d["a"] = x * 2
    k = "b"
    d[k] = d["a"] ** 2
    L = np.sum(d["b"])
    return L, dlgradient(L, d["a"])                                            # line +6


def loop_appends_after_read(x):
    lst = [np.tanh(x)]
    L = np.sum(lst[0] ** 2)
    for t in range(2):
        lst.append(t)
    return L, dlgradient(L, lst[0])                                            # line +5


@pytest.mark.parametrize("fn,offset", [(loop_reads_then_stores, 6), (branch_store_after_read, 5),
                                       (setdefault_after_read, 4), (nested_dict, 5), (key_in_a_name, 6),
                                       (loop_appends_after_read, 5)])
def test_what_cannot_be_followed_is_refused(fn, offset):
    with pytest.raises(sct.CompileError) as info:
        run(fn)
    assert info.value.filename == __file__
    assert info.value.lineno == fn.__code__.co_firstlineno + offset, str(info.value)
    assert "dlgradient" in str(info.value)


# --- still exact: stores that replace the item, in a training loop ------------------------------------
def train(w0, x):
    p = {"w": w0 * 1.0, "b": w0 * 0.5}
    for it in range(3):
        L = np.sum((x * p["w"] + p["b"]) ** 2)
        gw = dlgradient(L, p["w"])
        p["w"] = p["w"] - 0.1 * gw
        p["b"] = p["b"] * 0.9
    return L, gw


def test_a_training_loop_storing_into_its_dict():
    w, b = 0.7, 0.35
    x = np.array([1.0, -2.0, 0.5])
    for it in range(3):
        L = np.sum((x * w + b) ** 2)
        gw = fd(lambda w: np.sum((x * w + b) ** 2), w)
        w, b = w - 0.1 * gw, b * 0.9
    got_L, got_g = run(train, dlarray(np.array(0.7)), x)
    assert_close(float(extractdata(got_L)), float(L))
    assert_close(extractdata(got_g), gw)


def train_comprehension(p, x):
    g = {"w": 0.0, "b": 0.0}
    for it in range(3):
        p = {k: v - 0.1 * g[k] for k, v in p.items()}
        L = np.sum((x * p["w"] + p["b"]) ** 2)
        gw = dlgradient(L, p["w"])
        g = {"w": gw, "b": 0.0}
    return L, gw


def test_a_training_loop_making_a_new_dict_by_a_comprehension():
    # (the comprehension's new dict is filled in a loop after p.items() is read: a read of the old dict)
    w, b = 0.5, 0.2
    x = np.array([1.0, -2.0, 0.5])
    gw = 0.0
    for it in range(3):
        w = w - 0.1 * gw
        L = np.sum((x * w + b) ** 2)
        gw = fd(lambda w: np.sum((x * w + b) ** 2), w)
    got_L, got_g = run(train_comprehension, {"w": dlarray(np.array(0.5)), "b": dlarray(np.array(0.2))}, x)
    assert_close(float(extractdata(got_L)), float(L))
    assert_close(extractdata(got_g), gw)


def stored_again_from_itself(x):
    d = {}
    d["a"] = x * 2
    d["a"] = d["a"] * 3
    L = np.sum(d["a"] ** 2)
    d["z"] = 0
    return L, dlgradient(L, d["a"])


def test_an_item_stored_again_from_itself_is_the_last_value():
    # (was refused: "filled on line 4 from 'd_item'"; the last store's value is the item at the site)
    L, g = run(stored_again_from_itself)
    assert_close(float(extractdata(L)), float(np.sum((6 * X) ** 2)))
    assert_close(extractdata(g), fd(lambda a: np.sum(a ** 2), 6 * X))


def negative_index_after_appends(x):
    lst = [x * 2]
    lst.append(x * 3)
    L = np.sum(lst[-1] ** 2) + np.sum(lst[0])
    lst.append(0)
    return L, dlgradient(L, lst[-2])


def test_a_negative_index_counts_the_appends():
    L, g = run(negative_index_after_appends)
    assert_close(float(extractdata(L)), float(np.sum((3 * X) ** 2) + np.sum(2 * X)))
    assert_close(extractdata(g), fd(lambda a: np.sum(a ** 2), 3 * X))         # was zeros
