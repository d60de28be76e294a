from common import *
rng = np.random.default_rng(3)

def dirfd(f, primals, tangents, h=1e-6):
    up = f(*[p + h * t for p, t in zip(primals, tangents)])
    dn = f(*[p - h * t for p, t in zip(primals, tangents)])
    return (np.asarray(up) - np.asarray(dn)) / (2 * h)

def chk(name, f, primals, tangents, rtol=1e-5, atol=1e-6, modes=("forward", "transpose")):
    def go():
        for mode in modes:
            y, jv = sct.jvp(f, tuple(dlarray(p) if isinstance(p, np.ndarray) else p for p in primals), tuple(tangents), mode=mode)
            yref = f(*primals)
            assert_close(D(y), np.asarray(yref), what=name + " value " + mode)
            assert_close(D(jv), dirfd(f, primals, tangents), rtol, atol, what=name + " jvp " + mode)
    run("jvp " + name, go)

a = rng.standard_normal(3); b = rng.standard_normal((2, 3)); A = rng.standard_normal((3, 3))
ta = rng.standard_normal(3); tb = rng.standard_normal((2, 3))
pa = np.abs(a) + 0.5; pb = np.abs(b) + 0.5
za = a + 1j * rng.standard_normal(3); zb = b + 1j * rng.standard_normal((2, 3))
tza = ta + 1j * rng.standard_normal(3); tzb = tb + 1j * rng.standard_normal((2, 3))

def f_add(x, y): return x + y * 2.0 - 3
def f_sub(x, y): return 1.5 - x - y
def f_mul(x, y): return x * y * x
def f_div(x, y): return x / y + 2.0 / y
def f_pow(x, y): return x ** y
def f_pow2(x, y): return y ** 2 + 2 ** x + x ** 0.5
def f_pow_int(x, y): return x ** 3 - y ** -2
def f_mod(x, y): return x % y
def f_mod2(x, y): return 7.5 % y + x % 2.0
def f_matmul(x, y): return y @ x
def f_matmul2(x, y): return x @ y.T
def f_neg(x, y): return -x * abs(y)
def f_floordiv(x, y): return x // y + x

chk("add bcast", f_add, (a, b), (ta, tb))
chk("sub bcast", f_sub, (a, b), (ta, tb))
chk("mul bcast", f_mul, (a, b), (ta, tb))
chk("div bcast", f_div, (a, pb), (ta, tb))
chk("pow", f_pow, (pa, b), (ta, tb))
chk("pow2", f_pow2, (pa, b), (ta, tb))
chk("pow int", f_pow_int, (a, pb), (ta, tb))
chk("mod", f_mod, (a * 5, pb), (ta, tb))
chk("mod rev", f_mod2, (a * 5, pb), (ta, tb))
chk("matmul vec", f_matmul, (a, b), (ta, tb))
chk("matmul2", f_matmul2, (b, b), (tb, tb))
chk("neg abs", f_neg, (a, b), (ta, tb))
chk("floordiv", f_floordiv, (a * 5, pb), (ta, tb))

# complex
chk("c add", f_add, (za, zb), (tza, tzb))
chk("c mul", f_mul, (za, zb), (tza, tzb))
chk("c div", f_div, (za, zb), (tza, tzb))
chk("c pow int", lambda x, y: x ** 3 + y ** 2, (za, zb), (tza, tzb))
chk("c pow real expo", lambda x, y: x ** 2.5, (za, zb), (tza, tzb))
chk("c matmul", f_matmul, (za, zb), (tza, tzb))
chk("c conj mul", lambda x, y: x * np.conj(y), (za, zb), (tza, tzb))
chk("c abs", lambda x, y: abs(x) * y, (za, zb), (tza, tzb))
chk("c real expo complex base real tangent", lambda x, y: x * y, (za, b), (tza, tb))
chk("real x complex y", lambda x, y: x * y + x ** 2, (a, zb), (ta, tzb))
chk("c pow complex exponent", lambda x, y: x ** y, (za, zb), (tza, tzb))
chk("real ** complex", lambda x, y: x ** y, (pa, zb), (ta, tzb))

# scalars
chk("0-d", lambda x, y: x * y + x / y, (np.array(2.0), np.array(3.0)), (np.array(1.0), np.array(-0.5)))

def f_intarg(x, n):
    return x ** n + n * x
def t_int():
    y, jv = sct.jvp(f_intarg, (dlarray(a), 3), (ta, 0))
    assert_close(D(jv), dirfd(lambda x: f_intarg(x, 3), (a,), (ta,)))
run("jvp int argument", t_int)

def h1(x):
    return np.sum(x ** 3 * np.sin(x)) + np.sum(x[:2] * x[1:]) + np.sum(x % 1.3 * x)
def t_hvp():
    x = a.copy(); v = ta.copy()
    hv = sct.hvp(h1, x, v)
    def grad(x):
        return np.array([dirfd(h1, (x,), (np.eye(3)[i],)) for i in range(3)])
    num = (grad(x + 1e-4 * v) - grad(x - 1e-4 * v)) / 2e-4
    assert_close(D(hv), num, rtol=1e-4, atol=1e-5)
run("hvp mixed ops", t_hvp)

def h2(x):
    return np.sum(np.abs(x @ x.T) ** 1.5) / (1 + np.sum(x ** 2))
def t_hvp2():
    x = b.copy(); v = tb.copy()
    hv = sct.hvp(h2, x, v)
    def grad(x):
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            e = np.zeros_like(x); e[i] = 1
            g[i] = dirfd(h2, (x,), (e,))
        return g
    num = (grad(x + 1e-4 * v) - grad(x - 1e-4 * v)) / 2e-4
    assert_close(D(hv), num, rtol=1e-4, atol=1e-5)
run("hvp matmul abs pow", t_hvp2)

def f_inplace(x, y):
    z = np.zeros(3)
    z[0] = x[1] * y[0, 0]
    z[1:] = x[:2] ** 2
    z *= y[1]
    z += x
    return z
chk("inplace", f_inplace, (a, b), (ta, tb))

def f_loop(x, y):
    acc = x
    for i in range(3):
        acc = acc * y[i % 2] + i
    return acc
chk("loop", f_loop, (a, b), (ta, tb))

def f_where(x, y):
    return np.where(x > 0, x * y[0], y[1] ** 2)
chk("where", f_where, (a, b), (ta, tb))

def f_helper_in(x, y):
    def inner(u):
        return u * y[0]
    return inner(x) + inner(x ** 2)
chk("closure", f_helper_in, (a, b), (ta, tb))
