from common import *
from sct import (dlconv, batchnorm, relu, maxpool, avgpool, fullyconnect, softmax, crossentropy, layernorm,
                 finddim, stripdims, dims)
rng = np.random.default_rng(1)
X = rng.standard_normal((6, 5, 3, 2))
W = rng.standard_normal((3, 3, 3, 4)) * 0.4
Bc = rng.standard_normal(4) * 0.1
Wf = rng.standard_normal((5, 3 * 2 * 4)) * 0.3
T = np.eye(5)[:, [1, 3]]

def cnn(x, p, t):
    y = dlconv(x, p["W"], p["b"], Padding="same")
    y = batchnorm(y, p["off"], p["sc"])
    y = relu(y)
    y = maxpool(y, 2, Stride=2)
    y = fullyconnect(y, p["Wf"], p["bf"])
    y = softmax(y)
    loss = crossentropy(y, t)
    g = dlgradient(loss, p)
    return loss, g, y

def cnn_plain(x, W, b, off, sc, Wf, bf, t):
    y = dlconv(x, W, b, Padding="same", DataFormat="SSCB")
    y = batchnorm(y, off, sc, DataFormat="SSCB")
    y = np.maximum(y, 0)
    y = maxpool(y, 2, Stride=2, DataFormat="SSCB")
    y = fullyconnect(y, Wf, bf, DataFormat="SSCB")
    y = softmax(y, DataFormat="CB")
    return float(crossentropy(y, t, DataFormat="CB"))

def t1():
    p = {"W": dlarray(W), "b": dlarray(Bc), "off": dlarray(np.zeros(4) + .1), "sc": dlarray(np.ones(4) * 1.2),
         "Wf": dlarray(Wf), "bf": dlarray(np.zeros(5))}
    loss, g, y = dlfeval(cnn, dlarray(X, "SSCB"), p, T)
    assert dims(y) == "CB", dims(y)
    args = [X, W, Bc, np.zeros(4) + .1, np.ones(4) * 1.2, Wf, np.zeros(5), T]
    assert_close(D(loss), cnn_plain(*args))
    for i, k in enumerate(["W", "b", "off", "sc", "Wf", "bf"]):
        gcheck(g[k], cnn_plain, args, i + 1, what=k)
        assert dims(g[k]) == "", (k, dims(g[k]))
run("cnn SSCB dict params", t1)

def spatial_mean(x):
    m = np.mean(x, axis=tuple(finddim(x, "S")))
    loss = np.sum(m ** 2 * np.arange(m.size).reshape(m.shape))
    return loss, dlgradient(loss, x), m

def t2():
    loss, g, m = dlfeval(spatial_mean, dlarray(X, "SSCB"))
    f = lambda x: float(np.sum(np.mean(x, axis=(0, 1)) ** 2 * np.arange(6).reshape(3, 2)))
    assert_close(D(loss), f(X)); gcheck(g, f, [X], 0)
    assert dims(g) == "SSCB", dims(g)
run("finddim reduction", t2)

def sm_cb(x):
    p = softmax(x)
    loss = np.sum(p * np.arange(x.size).reshape(x.shape))
    return loss, dlgradient(loss, x), p

def t3():
    x = rng.standard_normal((4, 3))
    for fmt, ax in (("CB", 0), ("BC", 1)):
        loss, g, p = dlfeval(sm_cb, dlarray(x, fmt))
        def f(x):
            e = np.exp(x - x.max(axis=ax, keepdims=True)); pp = e / e.sum(axis=ax, keepdims=True)
            return float(np.sum(pp * np.arange(12).reshape(4, 3)))
        assert_close(D(loss), f(x), what=fmt); gcheck(g, f, [x], 0, what=fmt)
        assert dims(p) == fmt and dims(g) == fmt
run("softmax CB/BC axis", t3)

def broadcast_up(x, c):
    y = x + c
    return y, dims(y)

def t4():
    y, d = dlfeval(broadcast_up, dlarray(np.ones((3, 2)), "CB"), np.ones((4, 3, 2)))
    assert y.shape == (4, 3, 2)
    assert dims(y) in ("",) , f"label {dims(y)!r} on shape {y.shape}"
run("broadcast to higher rank label", t4)

def t4b():
    y = dlarray(np.ones((3, 2)), "CB") + np.ones((4, 3, 2))
    assert y.shape == (4, 3, 2)
    assert dims(y) == "", f"eager label {dims(y)!r} on shape {y.shape}"
run("eager broadcast to higher rank label", t4b)

def newaxis(x):
    y = x[None]
    z = x[:, :, np.newaxis]
    w = np.expand_dims(x, 0)
    return dims(y), dims(z), dims(w), y, z

def t5():
    a, b, c, y, z = dlfeval(newaxis, dlarray(np.ones((3, 2)), "CB"))
    assert a == "" and b == "" and c == "", (a, b, c)
    assert dims(y) == "" and dims(z) == "", (dims(y), dims(z))
run("newaxis labels", t5)

def t5b():
    x = dlarray(np.ones((3, 2)), "CB")
    assert dims(x[None]) == "", dims(x[None])
    assert dims(x[:, :, None]) == "", dims(x[:, :, None])
    assert dims(x[..., 0:1]) == "CB"
    assert dims(x[[0, 1]]) in ("CB",), dims(x[[0, 1]])
    assert dims(x[x > 0]) == "", dims(x[x > 0])
run("eager newaxis/boolean index labels", t5b)

def boolidx(x):
    y = x[x > 0]
    return y, dims(y)
def t5c():
    y, d = dlfeval(boolidx, dlarray(np.array([[1., -1], [2, 3]]), "CB"))
    assert d == "" and dims(y) == "", (d, dims(y))
run("bool index label in dlfeval", t5c)

def ln(x, o, s):
    y = layernorm(x, o, s)
    loss = np.sum(y ** 3)
    return loss, dlgradient(loss, x, o, s), y

def t6():
    x = rng.standard_normal((4, 3, 2))  # S C B
    o = rng.standard_normal(3); s = rng.standard_normal(3) + 2
    loss, g, y = dlfeval(ln, dlarray(x, "SCB"), dlarray(o), dlarray(s))
    f = lambda x, o, s: float(np.sum(layernorm(x, o, s, DataFormat="SCB") ** 3))
    # layernorm in MATLAB normalises over all dims but B (S and C)
    def ref(x, o, s):
        mu = x.mean(axis=(0, 1), keepdims=True); v = x.var(axis=(0, 1), keepdims=True)
        return float(np.sum(((x - mu) / np.sqrt(v + 1e-5) * s[:, None] + o[:, None]) ** 3))
    assert_close(D(loss), ref(x, o, s))
    for i in range(3):
        gcheck(g[i], ref, [x, o, s], i)
    assert dims(y) == "SCB"
run("layernorm SCB vs MATLAB ref", t6)

def fc_cbt(x, w, b):
    y = fullyconnect(x, w, b)
    loss = np.sum(np.sin(y))
    return loss, dlgradient(loss, x, w), y

def t7():
    x = rng.standard_normal((3, 2, 4))  # C B T
    w = rng.standard_normal((5, 3)); b = rng.standard_normal(5)
    loss, g, y = dlfeval(fc_cbt, dlarray(x, "CBT"), dlarray(w), b)
    assert dims(y) == "CBT" and y.shape == (5, 2, 4), (dims(y), y.shape)
    ref = lambda x, w: float(np.sum(np.sin(np.einsum("oc,cbt->obt", w, x) + b[:, None, None])))
    assert_close(D(loss), ref(x, w))
    gcheck(g[0], ref, [x, w], 0); gcheck(g[1], ref, [x, w], 1)
    assert dims(g[0]) == "CBT"
run("fullyconnect CBT", t7)

def fc_bct(x, w, b):
    y = fullyconnect(x, w, b)
    loss = np.sum(np.sin(y))
    return loss, dlgradient(loss, x, w), y

def t7b():
    x = rng.standard_normal((2, 3, 4))  # B C T
    w = rng.standard_normal((5, 3)); b = rng.standard_normal(5)
    loss, g, y = dlfeval(fc_bct, dlarray(x, "BCT"), dlarray(w), b)
    assert dims(y) == "BCT" and y.shape == (2, 5, 4), (dims(y), y.shape)
    ref = lambda x, w: float(np.sum(np.sin(np.einsum("oc,bct->bot", w, x) + b[None, :, None])))
    assert_close(D(loss), ref(x, w))
    gcheck(g[0], ref, [x, w], 0); gcheck(g[1], ref, [x, w], 1)
run("fullyconnect BCT", t7b)

def fc_ssc_b_order(x, w):
    y = fullyconnect(x, w, 0)
    return np.sum(y * np.arange(y.size).reshape(y.shape)), y

def t8():
    # "SSCB": MATLAB flattens S,S,C; README says row-major in the input's order
    x = rng.standard_normal((2, 3, 4, 2))
    w = rng.standard_normal((3, 24))
    loss, y = dlfeval(fc_ssc_b_order, dlarray(x, "SSCB"), dlarray(w))
    ref = w @ x.reshape(24, 2)
    assert_close(D(y), ref)
run("fullyconnect SSCB flatten order (README)", t8)

def loops_dicts(x, params):
    h = x
    acts = {}
    for name in ["a", "b"]:
        h = relu(dlconv(h, params[name], 0, Padding="same"))
        acts[name] = h
    loss = np.sum(acts["b"] ** 2) + np.sum(acts["a"])
    return loss, dlgradient(loss, params), acts

def t9():
    x = rng.standard_normal((5, 5, 2, 3))
    pa = rng.standard_normal((3, 3, 2, 2)) * .5; pb = rng.standard_normal((3, 3, 2, 2)) * .5
    loss, g, acts = dlfeval(loops_dicts, dlarray(x, "SSCB"), {"a": dlarray(pa), "b": dlarray(pb)})
    assert dims(acts["a"]) == "SSCB" and dims(acts["b"]) == "SSCB"
    def ref(pa, pb):
        a = np.maximum(dlconv(x, pa, 0, Padding="same", DataFormat="SSCB"), 0)
        b = np.maximum(dlconv(a, pb, 0, Padding="same", DataFormat="SSCB"), 0)
        return float(np.sum(b ** 2) + np.sum(a))
    assert_close(D(loss), ref(pa, pb))
    gcheck(g["a"], ref, [pa, pb], 0); gcheck(g["b"], ref, [pa, pb], 1)
run("formats through loop + dict", t9)

def avg_bssc(x):
    y = avgpool(x, [2, 3], Stride=[1, 2], Padding=[[0, 1], [1, 0]])
    return np.sum(y * y), dlgradient(np.sum(y * y), x), y

def t10():
    x = rng.standard_normal((4, 5, 2, 2))
    l1, g1, y1 = dlfeval(avg_bssc, dlarray(x, "SSCB"))
    l2, g2, y2 = dlfeval(avg_bssc, dlarray(np.transpose(x, (3, 0, 1, 2))))
    assert_close(D(y1), np.transpose(D(y2), (1, 2, 3, 0)))
    assert_close(D(g1), np.transpose(D(g2), (1, 2, 3, 0)))
    f = lambda x: float(np.sum(avgpool(x, [2, 3], Stride=[1, 2], Padding=[[0, 1], [1, 0]], DataFormat="SSCB") ** 2))
    gcheck(g1, f, [x], 0)
run("avgpool asymmetric padding SSCB vs BSSC", t10)

def astype_fmt(x):
    y = x.astype(np.float32)
    z = np.float32(2.0) * y
    return dims(y), dims(z), z, dims(-x), dims(abs(x)), dims(x ** 2)
def t11():
    out = dlfeval(astype_fmt, dlarray(np.ones((2, 3)), "CB"))
    assert out[:2] == ("CB", "CB") and dims(out[2]) == "CB" and out[3:] == ("CB",) * 3, out
run("astype/unary keep labels", t11)

def cat_fmt(x, y):
    z = np.concatenate([x, y], axis=0)
    return z, dims(z)
def t12():
    z, d = dlfeval(cat_fmt, dlarray(np.ones((2, 3)), "CB"), dlarray(np.ones((2, 3)), "CB"))
    zz = np.concatenate([dlarray(np.ones((2, 3)), "CB"), dlarray(np.ones((2, 3)), "CB")])
    print("   concat dims inside:", d, dims(z), "eager:", dims(zz))
run("concat labels", t12)

def swap(x):
    y = np.transpose(x, (1, 0))
    z = np.swapaxes(x, 0, 1)
    w = x.T
    m = np.moveaxis(x, 0, -1)
    return dims(y), dims(z), dims(w), dims(m), y
def t13():
    out = dlfeval(swap, dlarray(np.ones((2, 3)), "CB"))
    assert out[:4] == ("", "", "", ""), out[:4]
    x = dlarray(np.ones((2, 3)), "CB")
    e = (dims(np.transpose(x, (1, 0))), dims(np.swapaxes(x, 0, 1)), dims(x.T), dims(np.moveaxis(x, 0, -1)))
    assert e == ("", "", "", ""), e
run("transposes drop labels", t13)
