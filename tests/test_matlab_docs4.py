"""Scenarios from MATLAB's documentation, fourth round (a red team's findings): dlarray(X, fmt) of a
formatted X (fmt replaces the format), stripdims(X, fmt), dlarray(x) of a traced x inside dlfeval (a
traced copy, not a constant), initialize / dlnetwork with formatted example inputs.  Values against
numpy by hand; gradients against central differences (tests/gradcheck.py)."""
import numpy as np
import pytest

import sct
from sct import (convolution2dLayer, dims, dlarray, dlfeval, dlgradient, dlnetwork, extractdata,
                 fullyConnectedLayer, initialize, predict, reluLayer, stripdims)
from tests.gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(41)


# --- dlarray(X, fmt) of a formatted X: "If X is a formatted dlarray, then fmt replaces the existing format"


def test_dlarray_of_formatted_replaces_the_format_eagerly():
    X = dlarray(rng.standard_normal((3, 4, 2)), "SCB")
    Y = dlarray(X, "UUU")
    assert dims(Y) == "UUU" and dims(X) == "SCB"
    assert_close(extractdata(Y), extractdata(X))
    assert dims(dlarray(X)) == "SCB"                  # a copy keeps the format
    assert dlarray(dlarray(np.ones((3, 2)), "CB"), "CBT").shape == (3, 2, 1)


def relabel_loss(x):
    z = dlarray(x, "UUU")
    loss = np.sum(z ** 3)
    return loss, dlgradient(loss, x), dims(z)


def test_dlarray_of_formatted_replaces_the_format_in_dlfeval():
    x0 = rng.standard_normal((3, 4, 2))
    loss, g, d = dlfeval(relabel_loss, dlarray(x0, "SCB"))
    assert d == "UUU"
    assert_close(float(loss), np.sum(x0 ** 3))
    assert_close(extractdata(g), 3 * x0 ** 2)
    assert dims(g) == "SCB"


# --- stripdims(X, fmt): "additionally outputs Y with dimensions ordered according to ... fmt" ----------


def test_stripdims_with_format_orders_the_dimensions_eagerly():
    x0 = rng.standard_normal((3, 2, 4))
    X = dlarray(x0, "SCB")
    Y = stripdims(X, "BSC")
    assert dims(Y) == "" and Y.shape == (4, 3, 2)
    assert_close(extractdata(Y), np.transpose(x0, (2, 0, 1)))
    assert_close(extractdata(stripdims(dlarray(np.ones((3, 2, 1, 2)), "SSTU"), "SSTU")), np.ones((3, 2, 1, 2)))
    with pytest.raises(ValueError, match="different labels"):
        stripdims(X, "BC")
    # MATLAB: "If fmt is empty or X is an unformatted dlarray object, then Y is equal to X" (was refused)
    assert_close(extractdata(stripdims(dlarray(x0), "SCB")), x0)
    assert dims(stripdims(dlarray(x0), "SCB")) == ""


W_BSC = rng.standard_normal((4, 3, 2))


def strip_loss(x):
    y = stripdims(x, "BSC")
    loss = np.sum(y * W_BSC) + np.sum(y ** 3)
    return loss, dlgradient(loss, x), dims(y)


def strip_second(x):
    g = dlgradient(np.sum(stripdims(x, "CBS") ** 3), x)
    return dlgradient(np.sum(g * g), x)


def strip_bad(x):
    return stripdims(x, "BC")


def test_stripdims_with_format_values_gradients_second_order_in_dlfeval():
    x0 = rng.standard_normal((3, 2, 4))
    loss, g, d = dlfeval(strip_loss, dlarray(x0, "SCB"))
    assert d == ""
    y0 = np.transpose(x0, (2, 0, 1))
    assert_close(float(loss), np.sum(y0 * W_BSC) + np.sum(y0 ** 3))
    f = lambda a: float(np.sum(np.transpose(a, (2, 0, 1)) * W_BSC) + np.sum(a ** 3))
    assert_close(extractdata(g), numerical_gradient(f, [x0], 0), rtol=1e-5, atol=1e-6)
    h = dlfeval(strip_second, dlarray(x0, "SCB"))        # d/dx sum((3x^2)^2) = 36 x^3
    assert_close(extractdata(h), 36 * x0 ** 3)
    with pytest.raises(sct.CompileError) as err:
        dlfeval(strip_bad, dlarray(x0, "SCB"))
    assert err.value.lineno == strip_bad.__code__.co_firstlineno + 1


# --- dlarray(x) of a traced x inside dlfeval: a traced copy (was: a constant, a silently wrong gradient)


def copy_loss(x):
    z = dlarray(x * 2.0)
    return dlgradient(np.sum(z ** 3) + np.sum(x), x)


def relabel_stripped(x):
    z = dlarray(stripdims(x), "BC")
    loss = np.sum(z ** 2) + np.sum(np.sin(x))
    return loss, dlgradient(loss, x), dims(z)


def copy_of_list(a, b):
    z = dlarray([a, b])
    return dlgradient(np.sum(z ** 2), a, b)


def copy_hessian(x):
    g = dlgradient(np.sum(dlarray(x, "CB") ** 3), x)
    return dlgradient(np.sum(g), x)


def copy_in_loop(x):
    z = dlarray(x)
    for i in range(3):
        z = dlarray(z * x, "U")
    return dlgradient(np.sum(z), x)


def created_inside(x1):
    x2 = dlarray(0.0)
    y = x1 + x2
    return dlgradient(y, x2)


def test_dlarray_of_a_traced_value_is_traced():
    x0 = rng.standard_normal((2, 3))
    assert_close(extractdata(dlfeval(copy_loss, dlarray(x0))), 24 * x0 ** 2 + 1)
    loss, g, d = dlfeval(relabel_stripped, dlarray(x0, "CB"))
    assert d == "BC"
    assert_close(extractdata(g), 2 * x0 + np.cos(x0))
    ga, gb = dlfeval(copy_of_list, dlarray(1.5), dlarray(-2.0))
    assert_close(float(ga), 3.0) and assert_close(float(gb), -4.0)
    assert_close(extractdata(dlfeval(copy_hessian, dlarray(x0))), 6 * x0)
    v = rng.standard_normal(3)
    assert_close(extractdata(dlfeval(copy_in_loop, dlarray(v))), 4 * v ** 3)
    with pytest.raises(sct.CompileError, match="created inside"):     # the seed's example still refuses
        dlfeval(created_inside, dlarray(1.0))


# --- initialize(net, X) / dlnetwork(layers, X) with a formatted example (MATLAB's "SSCB") ----------------


def test_initialize_with_formatted_example_inputs():
    X = dlarray(rng.standard_normal((12, 10, 1, 4)), "SSCB")
    net = dlnetwork([convolution2dLayer(5, 6), reluLayer(), fullyConnectedLayer(3)], X)
    assert net.Initialized
    assert net.Learnables["conv", "Weights"].shape == (5, 5, 1, 6)
    assert net.Learnables["fc", "Weights"].shape == (3, 8 * 6 * 6)
    Y = predict(net, X)
    assert dims(Y) == "BC" and Y.shape == (4, 3)
    net2 = initialize(dlnetwork([convolution2dLayer(3, 2)], Initialize=False), X)
    assert net2.Learnables["conv", "Weights"].shape == (3, 3, 1, 2)
    assert predict(net2, X).shape == (4, 10, 8, 2)      # "BSSC", sct's order
    T = dlarray(rng.standard_normal((3, 5)), "CB")          # featureInputLayer-less: C, B in any order
    net3 = dlnetwork([fullyConnectedLayer(2)], T)
    assert net3.Learnables["fc", "Weights"].shape == (2, 3)
    assert_close(extractdata(predict(net3, T)),
                 extractdata(T).T @ extractdata(net3.Learnables["fc", "Weights"]).T
                 + extractdata(net3.Learnables["fc", "Bias"]))


# --- maxpool's indices and maxunpool on formatted data: MATLAB's maxunpool example -----------------------
#   X = rand(12,12,3,16); dlX = dlarray(X,'SSCB');
#   [dlY,indx,dataSize] = maxpool(dlX,2,'Stride',2);  dlY = maxunpool(dlY,indx,dataSize);


def unpool_loss(x):
    Y, indx, dataSize = sct.maxpool(x, 2, Stride=2, nargout=3)
    Z = sct.maxunpool(Y, indx, dataSize)
    loss = np.sum(Z * Z * W_UNPOOL)
    return loss, dlgradient(loss, x), dims(Z), dims(Y), Z, indx, dataSize


W_UNPOOL = rng.standard_normal((12, 12, 3, 4))


def test_maxpool_indices_and_maxunpool_formatted_eager_and_compiled():
    x0 = rng.standard_normal((12, 12, 3, 4))
    X = dlarray(x0, "SSCB")
    Y, indx, dataSize = sct.maxpool(X, 2, Stride=2, nargout=3)
    assert dims(Y) == "SSCB" and Y.shape == (6, 6, 3, 4) and indx.shape == (6, 6, 3, 4)
    assert tuple(dataSize) == (12, 12, 3, 4)                       # MATLAB's dataSize: the size of X
    assert_close(x0.ravel()[indx], extractdata(Y))               # linear indices into X (its order)
    Z = sct.maxunpool(Y, indx, dataSize)
    assert dims(Z) == "SSCB" and Z.shape == x0.shape
    windows = x0.reshape(6, 2, 6, 2, 3, 4).max(axis=(1, 3))
    assert_close(extractdata(Y), windows)
    keep = extractdata(Z) != 0
    assert keep.sum() == Y.size
    assert_close(extractdata(Z)[keep], x0[keep])
    loss, g, dz, dy, Zc, ic, sc = dlfeval(unpool_loss, X)
    assert dz == "SSCB" and dy == "SSCB" and tuple(sc) == (12, 12, 3, 4)
    assert_close(extractdata(Zc), extractdata(Z))
    assert np.array_equal(np.asarray(ic), indx)
    assert_close(float(loss), np.sum(extractdata(Z) ** 2 * W_UNPOOL))
    assert_close(extractdata(g), 2 * x0 * W_UNPOOL * keep)


# --- onehotencode(A, featureDim, ClassNames=...): MATLAB's form for labels that are not categorical ---------


def test_onehotencode_feature_dim_and_class_names():
    # MATLAB: labels = [2 0 1]; B = onehotencode(labels, 1, ClassNames=[0 1 2])  (1-by-3 -> 3-by-3)
    B = sct.onehotencode(np.array([[2, 0, 1]]), 0, ClassNames=[0, 1, 2])
    assert_close(B, np.eye(3)[:, [2, 0, 1]])
    C = sct.onehotencode(np.array(["dog", "cat"]), 1, ClassNames=["cat", "dog"], TypeName="single")
    assert C.dtype == np.float32
    assert_close(C, np.array([[0, 1], [1, 0]]))
    assert_close(sct.onehotencode(np.array([[1], [0]]), 1, ClassNames=[0, 1]), np.array([[0, 1], [1, 0]]))
    assert_close(sct.onehotencode(np.array([2, 0]), 3), np.array([[0, 0, 1], [1, 0, 0]]))   # sct's own form
    with pytest.raises(ValueError, match="singleton"):
        sct.onehotencode(np.array([[2, 0, 1]]), 1, ClassNames=[0, 1, 2])


# --- a Table's rows by a mask: MATLAB's T(T.Layer == "fc1", :) -------------------------------------------


def test_table_rows_by_mask_and_a_bool_key_refused():
    net = dlnetwork([sct.featureInputLayer(4), fullyConnectedLayer(8), reluLayer(), fullyConnectedLayer(3)], Seed=0)
    L = net.Learnables
    rows = L[np.array(L.Layer) == "fc_1"]
    assert rows.Parameter == ("Weights", "Bias") and rows.Value[0].shape == (8, 4)
    with pytest.raises(TypeError, match="not True/False"):
        L[L.Layer == "fc_1"]             # a tuple == str is one bool in Python: was silently row 0


# --- formatted values in loops and containers inside dlfeval (were taken as unformatted: wrong values) ----


def loop_over_list(xs):
    out = 0.0
    for v in xs:
        out = out + np.sum(sct.softmax(v)[0])
    return out, [dims(v) for v in xs]


def loop_over_tuple(x1, x2):
    out = 0.0
    for i, v in enumerate((x1, x2)):
        out = out + np.sum(sct.softmax(v)[0]) * (i + 1)
    return out


def loop_over_dict(d):
    out = 0.0
    for k, v in d.items():
        out = out + np.sum(sct.softmax(v)[0])
    for v in d.values():
        out = out + np.sum(sct.softmax(v)[1])
    return out


def loop_reversed_and_copies(xs, ys):
    out = 0.0
    for v in reversed(xs):
        out = out + np.sum(sct.softmax(v)[0])
    for v, w in zip(list(xs), tuple(ys)):
        out = out + np.sum(sct.softmax(v)[1] * sct.softmax(w)[2])
    for i in range(len(xs)):
        out = out + np.sum(sct.softmax(xs[i])[2])
    return out, dlgradient(out, xs)


def loop_mixed(xs):
    return [dims(v) for v in xs]


def test_formatted_values_in_loops_and_containers():
    a = dlarray(rng.standard_normal((3, 4)), "CB")
    b = dlarray(rng.standard_normal((3, 4)), "CB")
    for fun, args in ((loop_over_list, ([a, b],)), (loop_over_tuple, (a, b)),
                      (loop_over_dict, ({"p": a, "q": b},))):
        expected = fun(*args)
        got = dlfeval(fun, *args)
        if isinstance(expected, tuple):
            assert got[1] == expected[1] == ["CB", "CB"]
            expected, got = expected[0], got[0]
        assert_close(float(got), float(expected))
    # the same dlarray objects at two places of the arguments are refused where differentiated
    # (tied weights: the gradient through one place would leave out the other, test_redteam_dec14g)
    with pytest.raises(sct.SctError, match="more than one place"):
        dlfeval(loop_reversed_and_copies, [a, b], [b, a])
    b2, a2 = dlarray(extractdata(b).copy(), "CB"), dlarray(extractdata(a).copy(), "CB")
    out, g = dlfeval(loop_reversed_and_copies, [a, b], [b2, a2])
    assert_close(float(out), float(_plain_reversed_and_copies([a, b], [b2, a2])))
    f = lambda a0: float(_plain_reversed_and_copies([dlarray(a0, "CB"), b], [b2, a2]))
    assert_close(extractdata(g[0]), numerical_gradient(f, [extractdata(a)], 0), rtol=1e-5, atol=1e-6)
    with pytest.raises(sct.CompileError, match="not known"):            # formats differ by item: refused
        dlfeval(loop_mixed, [a, dlarray(extractdata(a))])


def _plain_reversed_and_copies(xs, ys):
    out = 0.0
    for v in reversed(xs):
        out = out + np.sum(sct.softmax(v)[0])
    for v, w in zip(list(xs), tuple(ys)):
        out = out + np.sum(sct.softmax(v)[1] * sct.softmax(w)[2])
    for i in range(len(xs)):
        out = out + np.sum(sct.softmax(xs[i])[2])
    return out
