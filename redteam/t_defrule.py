from common import *
rng = np.random.default_rng(4)

# a user's linear op: forward mode applies op to tangent
def scale_rows(x, w):
    return x * w[:, None]

@sct.defrule(scale_rows, wrt=("x", "w"), linear=("x", "w"))
def _scale_rows_rule(g, ans, x, w):
    return g * w[:, None], np.sum(g * x, axis=1)

def f1(x, w):
    return np.sin(scale_rows(x, w)) * scale_rows(x ** 2, w)

x = rng.standard_normal((3, 2)); w = rng.standard_normal(3); tx = rng.standard_normal((3, 2)); tw = rng.standard_normal(3)

def dirfd(f, p, t, h=1e-6):
    return (f(*[a + h * b for a, b in zip(p, t)]) - f(*[a - h * b for a, b in zip(p, t)])) / (2 * h)

def t1():
    for mode in ("forward", "transpose"):
        y, jv = sct.jvp(f1, (dlarray(x), dlarray(w)), (tx, tw), mode=mode)
        assert_close(D(jv), dirfd(f1, (x, w), (tx, tw)), what=mode)
    def L(x, w):
        return np.sum(f1(x, w) ** 2)
    def G(x, w):
        l = L(x, w)
        g = dlgradient(l, x, w)
        s = np.sum(g[0] * tx) + np.sum(g[1] * tw)
        return l, g, dlgradient(s, x)
    l, g, h = dlfeval(G, dlarray(x), dlarray(w))
    gcheck(g[0], L, [x, w], 0); gcheck(g[1], L, [x, w], 1)
    def S(x):
        def G1(x, w):
            l = L(x, w)
            return dlgradient(l, x, w)
        gx, gw = dlfeval(G1, dlarray(x), dlarray(w))
        return np.sum(D(gx) * tx) + np.sum(D(gw) * tw)
    gcheck(h, S, [x], 0, rtol=1e-5, atol=1e-6)
run("defrule linear=(x,w) product rule fwd/2nd", t1)

# joint linear
def addmul(a, b):
    return 2 * a - b

@sct.defrule(addmul, wrt=("a", "b"), joint_linear=("a", "b"))
def _addmul_rule(g, ans, a, b):
    return 2 * g, -g

def f2(a, b):
    return addmul(a * b, np.cos(b)) ** 2

def t2():
    y, jv = sct.jvp(f2, (dlarray(x), dlarray(x + 1)), (tx, tx * 2))
    assert_close(D(jv), dirfd(f2, (x, x + 1), (tx, tx * 2)))
run("defrule joint_linear", t2)

# elementwise fact with rule g*conj(partial), complex
def cube(z):
    return z ** 3

@sct.defrule(cube, elementwise=True)
def _cube_rule(g, ans, z):
    return g * np.conj(3 * z ** 2)

def f3(z):
    return cube(z) * np.exp(z)

def t3():
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3); tz = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    for mode in ("forward", "transpose"):
        y, jv = sct.jvp(f3, (dlarray(z),), (tz,), mode=mode)
        assert_close(D(jv), dirfd(f3, (z,), (tz,)), what=mode)
    def L(z):
        return np.sum(np.abs(f3(z)) ** 2)
    def G(z):
        l = L(z)
        return l, dlgradient(l, z)
    l, g = dlfeval(G, dlarray(z))
    gcheck(g, L, [z], 0)
run("defrule elementwise complex", t3)

# elementwise with a rule not of the form g*partial: e.g. uses np.real(g) (non-holomorphic)
def absq(z):
    return np.real(z * np.conj(z))

@sct.defrule(absq, elementwise=True, real_output=True)
def _absq_rule(g, ans, z):
    return 2 * np.real(g) * z

def f4(z):
    return absq(z) * 3.0

def t4():
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3); tz = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    for mode in ("forward", "transpose"):
        y, jv = sct.jvp(f4, (dlarray(z),), (tz,), mode=mode)
        assert_close(D(jv), dirfd(f4, (z,), (tz,)), what=mode)
run("defrule elementwise real_output nonholo", t4)

# WRONG fact: declare linear for a nonlinear op
def sq(x):
    return x * x

@sct.defrule(sq, linear=("x",))
def _sq_rule(g, ans, x):
    return 2 * g * x

def f5(x):
    return sq(x) + x

def t5():
    y, jv = sct.jvp(f5, (dlarray(w),), (tw,))
    fd = dirfd(f5, (w,), (tw,))
    print("   wrong-linear fact: jvp", D(jv), "true", fd)
run("defrule wrong linear fact (report)", t5)

# WRONG fact: elementwise for a non-elementwise op
def cums(x):
    return np.cumsum(x)

@sct.defrule(cums, elementwise=True)
def _cums_rule(g, ans, x):
    return np.cumsum(g[::-1])[::-1]

def f6(x):
    return cums(x) * 2

def t6():
    y, jv = sct.jvp(f6, (dlarray(w),), (tw,))
    fd = dirfd(f6, (w,), (tw,))
    print("   wrong-elementwise fact: jvp", D(jv), "true", fd)
run("defrule wrong elementwise fact (report)", t6)

# elementwise fact with a correct non-g*partial rule that is linear in g (e.g. g * partial but partial uses ans)
def softplus(x):
    return np.log1p(np.exp(x))

@sct.defrule(softplus, elementwise=True)
def _sp_rule(g, ans, x):
    return g / (1 + np.exp(-x))

def f7(x):
    return softplus(x) ** 2 + softplus(2 * x)

def t7():
    for mode in ("forward", "transpose"):
        y, jv = sct.jvp(f7, (dlarray(w),), (tw,), mode=mode)
        assert_close(D(jv), dirfd(f7, (w,), (tw,)), what=mode)
    hv = sct.hvp(lambda x: np.sum(f7(x)), w, tw)
    def grad(x):
        return np.array([dirfd(lambda u: np.sum(f7(u)), (x,), (np.eye(3)[i],)) for i in range(3)])
    assert_close(D(hv), (grad(w + 1e-4 * tw) - grad(w - 1e-4 * tw)) / 2e-4, rtol=1e-4, atol=1e-5)
run("defrule softplus elementwise fwd + hvp", t7)

# rule whose partial depends on a non-differentiated param
def powk(x, k):
    return x ** k

@sct.defrule(powk, wrt=("x",), nondiff=("k",), elementwise=True)
def _powk_rule(g, ans, x, k):
    return g * k * x ** (k - 1)

def f8(x, k):
    return powk(x, k) * x

def t8():
    xp = np.abs(w) + 0.5
    y, jv = sct.jvp(lambda x: f8(x, 3), (dlarray(xp),), (tw,))
    assert_close(D(jv), dirfd(lambda x: f8(x, 3), (xp,), (tw,)))
    def G(x):
        l = np.sum(f8(x, 2.5))
        g = dlgradient(l, x)
        return l, g, dlgradient(np.sum(g ** 2), x)
    l, g, h = dlfeval(G, dlarray(xp))
    gcheck(g, lambda x: np.sum(f8(x, 2.5)), [xp], 0)
    gcheck(h, lambda x: np.sum((3.5 * x ** 2.5) ** 2), [xp], 0, rtol=1e-5)
run("defrule nondiff k", t8)
