from common import *
from sct import dltranspconv, maxpool, maxunpool, dlconv, relu
rng = np.random.default_rng(2)

def ref_transp(x, w, b, stride=(1, 1), dil=(1, 1), crop=((0, 0), (0, 0))):
    # x (B,H,W,C), w (kh,kw,F,C) or (kh,kw,fpg,cpg,G); crop ((top,bottom),(left,right))
    if w.ndim == 4:
        w = w[..., None]
    kh, kw, fpg, cpg, G = w.shape
    B, H, Wd, C = x.shape
    Hf = (H - 1) * stride[0] + (kh - 1) * dil[0] + 1
    Wf = (Wd - 1) * stride[1] + (kw - 1) * dil[1] + 1
    y = np.zeros((B, Hf, Wf, fpg * G), dtype=np.result_type(x, w))
    for g in range(G):
        for i in range(H):
            for j in range(Wd):
                for a in range(kh):
                    for c in range(kw):
                        y[:, i * stride[0] + a * dil[0], j * stride[1] + c * dil[1], g * fpg:(g + 1) * fpg] += \
                            x[:, i, j, g * cpg:(g + 1) * cpg] @ w[a, c, :, :, g].T
    (t, bo), (l, r) = crop
    y = y[:, t:Hf - bo, l:Wf - r, :]
    return y + b

def tp(x, w, b, c):
    y = dltranspconv(x, w, b, Stride=[2, 3], DilationFactor=[1, 2], Cropping=[[1, 0], [0, 2]])
    loss = np.sum(np.tanh(y) * c)
    return loss, dlgradient(loss, x, w, b), y

def t1():
    x = rng.standard_normal((2, 3, 4, 2)); w = rng.standard_normal((3, 2, 4, 2)); b = rng.standard_normal(4)
    # MATLAB [[t,l],[b,r]] -> top 1, left 0, bottom 0, right 2
    yref = ref_transp(x, w, b, (2, 3), (1, 2), ((1, 0), (0, 2)))
    c = rng.standard_normal(yref.shape)
    loss, g, y = dlfeval(tp, dlarray(x), dlarray(w), dlarray(b), c)
    assert_close(D(y), yref)
    f = lambda x, w, b: float(np.sum(np.tanh(ref_transp(x, w, b, (2, 3), (1, 2), ((1, 0), (0, 2)))) * c))
    for i in range(3):
        gcheck(g[i], f, [x, w, b], i)
run("dltranspconv stride/dil/crop asym vs loop", t1)

def tpg(x, w, b):
    y = dltranspconv(x, w, b, Stride=2)
    loss = np.sum(y ** 2)
    return loss, dlgradient(loss, x, w, b), y

def t2():
    x = rng.standard_normal((1, 3, 3, 4)); w = rng.standard_normal((2, 2, 3, 2, 2)); b = rng.standard_normal(6)
    loss, g, y = dlfeval(tpg, dlarray(x), dlarray(w), dlarray(b))
    yref = ref_transp(x, w, b, (2, 2))
    assert_close(D(y), yref)
    f = lambda x, w, b: float(np.sum(ref_transp(x, w, b, (2, 2)) ** 2))
    for i in range(3):
        gcheck(g[i], f, [x, w, b], i)
run("dltranspconv groups", t2)

def tp_f32(x, w):
    y = dltranspconv(x, w, 0, Stride=2, Cropping="same")
    loss = np.sum(y * y)
    return loss, dlgradient(loss, x, w), y

def t3():
    x = rng.standard_normal((2, 3, 3, 2)).astype(np.float32); w = rng.standard_normal((3, 3, 2, 2)).astype(np.float32)
    loss, g, y = dlfeval(tp_f32, dlarray(x), dlarray(w))
    assert y.dtype == np.float32 and g[0].dtype == np.float32 and g[1].dtype == np.float32, (y.dtype, g[0].dtype, g[1].dtype)
    assert y.shape == (2, 6, 6, 2), y.shape
    # total crop = k - s = 1; which side? check against the adjoint of dlconv "same" (README claim)
    f = lambda x, w: float(np.sum(dltranspconv(x, w, 0, Stride=2, Cropping="same") ** 2))
    gcheck(g[0], f, [x.astype(float), w.astype(float)], 0, rtol=2e-3, atol=1e-3)
    gcheck(g[1], f, [x.astype(float), w.astype(float)], 1, rtol=2e-3, atol=1e-3)
run("dltranspconv float32 same", t3)

def t3b():
    # README claim: dltranspconv Cropping same is exactly adjoint of dlconv Padding same (stride 2)
    x = rng.standard_normal((1, 6, 6, 3)); w = rng.standard_normal((3, 3, 3, 2))
    u = rng.standard_normal((1, 3, 3, 2))
    lhs = np.sum(dlconv(x, w, 0, Stride=2, Padding="same") * u)
    rhs = np.sum(x * dltranspconv(u, w, 0, Stride=2, Cropping="same"))
    assert abs(lhs - rhs) < 1e-9, (lhs, rhs)
run("transpconv same = adjoint(conv same)", t3b)

def second(x, w):
    y = dltranspconv(x, w, 0, Stride=2)
    loss = np.sum(np.sin(y))
    gx = dlgradient(loss, x)
    l2 = np.sum(gx ** 2)
    return l2, dlgradient(l2, w)

def t4():
    x = rng.standard_normal((1, 2, 2, 2)); w = rng.standard_normal((2, 2, 3, 2))
    l2, gw = dlfeval(second, dlarray(x), dlarray(w))
    def f(x, w):
        # gx via finite diff is costly; compute analytically: d/dx sum(sin(y)) = transpose op of cos(y)
        y = dltranspconv(x, w, 0, Stride=2)
        gx = dlconv(np.cos(y), w, 0, Stride=2)
        return float(np.sum(gx ** 2))
    assert_close(D(l2), f(x, w))
    gcheck(gw, f, [x, w], 1)
run("transpconv second derivative", t4)

def pool_unpool(x, c):
    y, idx, sz = maxpool(x, 2, Stride=2, nargout=3)
    z = maxunpool(relu(y) * 3.0, idx, sz)
    loss = np.sum(z * c)
    return loss, dlgradient(loss, x), z

def t5():
    x = rng.standard_normal((2, 4, 6, 3)); c = rng.standard_normal(x.shape)
    loss, g, z = dlfeval(pool_unpool, dlarray(x), c)
    def ref(x):
        z = np.zeros_like(x)
        for b in range(2):
            for i in range(2):
                for j in range(3):
                    for ch in range(3):
                        win = x[b, 2*i:2*i+2, 2*j:2*j+2, ch]
                        a = np.unravel_index(np.argmax(win), win.shape)
                        z[b, 2*i + a[0], 2*j + a[1], ch] = max(win.max(), 0) * 3
        return z
    assert_close(D(z), ref(x))
    gcheck(g, lambda x: float(np.sum(ref(x) * c)), [x], 0)
run("maxpool/maxunpool", t5)

def pool_unpool_overlap(x):
    y, idx, sz = maxpool(x, 3, Stride=1, Padding=1, nargout=3)
    z = maxunpool(y, idx, sz)
    loss = np.sum(z ** 2)
    g = dlgradient(loss, x)
    return loss, g, idx, z

def t6():
    x = rng.standard_normal((1, 4, 4, 1))
    loss, g, idx, z = dlfeval(pool_unpool_overlap, dlarray(x))
    yv = maxpool(x, 3, Stride=1, Padding=1)
    assert_close(D(yv).ravel(), x.ravel()[D(idx).ravel().astype(int)])
    def ref(x):
        y, i, s = maxpool(x, 3, Stride=1, Padding=1, nargout=3)
        return float(np.sum(maxunpool(y, i, s) ** 2))
    assert_close(D(loss), ref(x))
    gcheck(g, ref, [x], 0)
run("maxpool overlapping + unpool", t6)

def pool_hv(x, v):
    y, idx, sz = maxpool(x, 2, Stride=2, nargout=3)
    z = maxunpool(y ** 2, idx, sz)
    loss = np.sum(z ** 2)
    g = dlgradient(loss, x)
    return dlgradient(np.sum(g * v), x)

def t7():
    x = rng.standard_normal((1, 4, 4, 2)); v = rng.standard_normal(x.shape)
    h = dlfeval(pool_hv, dlarray(x), v)
    # loss = sum over maxima m^4 ; hessian diag at maxima = 12 m^2
    ref = np.zeros_like(x)
    y, idx, _ = maxpool(x, 2, Stride=2, nargout=3)
    ref.ravel()[idx.ravel()] = 12 * y.ravel() ** 2 * v.ravel()[idx.ravel()]
    assert_close(D(h), ref)
run("maxpool/unpool hvp", t7)
