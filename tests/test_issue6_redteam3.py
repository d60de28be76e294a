"""Issue 6, third red-team pass: setattr/getattr, traced lists concatenated, second derivatives
through *args helpers, effects of helpers run once, bound methods passed as values, private name
mangling, in-place accumulation keeping dtype and shape, false refusals of `+=`, and the batch
axis of dljacobian & co. with a negative dim.

Values are compared with plain Python (the same functions run on numpy arrays, ``dlgradient``
swapped for a stub where needed), gradients with central differences (tests/gradcheck.py), and
second derivatives with central differences of sct's own first derivative (itself checked).
"""
import dataclasses

import numpy as np
import pytest

import sct
from sct import CompileError, Layer, dlarray, dldivergence, dlfeval, dlgradient, dljacobian, dllaplacian
from sct.errors import EvaluationError
from gradcheck import assert_close, numerical_gradient

X3 = np.array([0.3, -0.7, 1.1])


def data(v):
    return np.asarray(v.data if hasattr(v, "data") else v)


def first_line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    for i, line in enumerate(lines):
        if text in line:
            return start + i
    raise AssertionError(text)


# --- 1. setattr / getattr / delattr ---------------------------------------------------------------

class Lin:
    def __init__(self):
        self.w = np.array([1.0, 2.0, 3.0])

    def predict(self, X):
        return np.sum(np.tanh(self.w * X))


def run_setattr(layer, vals, X):
    setattr(layer, "w", vals[0])
    return layer.predict(X)


def setattr_in_helper(vals, X):
    layer = Lin()
    y = run_setattr(layer, vals, X)
    return y, dlgradient(y, vals)


def test_setattr_in_helper_is_an_attribute_store():
    # the same as `layer.w = vals[0]` in the helper: refused (it was a silent zero gradient)
    with pytest.raises(CompileError) as info:
        dlfeval(setattr_in_helper, [dlarray(X3)], np.ones(3))
    assert info.value.filename == __file__
    assert info.value.lineno == first_line_of(run_setattr, 'setattr(layer, "w"')
    assert "layer.w" in str(info.value)


def setattr_top_level(vals, X):
    layer = Lin()
    setattr(layer, "w", vals[0] * 2.0)
    y = np.sum(getattr(layer, "w") * X) + np.sum(getattr(layer, "bias", 0.5) * X)
    return y


def setattr_top_level_grad(vals, X):
    y = setattr_top_level(vals, X)
    return y, dlgradient(y, vals)


def plain_setattr_top_level(v, X):
    layer = Lin()
    setattr(layer, "w", v * 2.0)
    return np.sum(getattr(layer, "w") * X) + np.sum(getattr(layer, "bias", 0.5) * X)


def test_setattr_getattr_with_literal_names_differentiated():
    X = np.array([0.5, -1.0, 2.0])
    try:
        y, (g,) = dlfeval(setattr_top_level_grad, [dlarray(X3)], X)
    except CompileError as exc:           # refused like `layer.w = ...` would be: clearly, here
        assert exc.filename == __file__
        return
    assert_close(data(y), plain_setattr_top_level(X3, X))
    assert_close(data(g), numerical_gradient(lambda v: plain_setattr_top_level(v, X), [X3], 0))


class Holder:
    def __init__(self, w):
        self.w = w


def getattr_literal(h, x):
    y = np.sum(getattr(h, "w") * x) + np.sum(getattr(h, "missing", 2.0) * x ** 2)
    return y, dlgradient(y, h.w, x)


def test_getattr_with_literal_name_and_default():
    w = np.array([1.0, -2.0, 0.5])
    y, (gw, gx) = dlfeval(getattr_literal, Holder(dlarray(w)), dlarray(X3))
    assert_close(data(y), np.sum(w * X3) + np.sum(2.0 * X3 ** 2))
    assert_close(data(gw), X3)
    assert_close(data(gx), w + 4.0 * X3)


def setattr_run_time_name(x):
    h = Holder(np.zeros(3))
    key = "w"
    setattr(h, key, x * 2.0)
    y = np.sum(h.w)
    return y, dlgradient(y, x)


def getattr_run_time_name(h, x):
    key = "w"
    y = np.sum(getattr(h, key) * x)
    return y, dlgradient(y, x, h.w)


def getattr_run_time_name_module(x, act):
    f = getattr(np, act)
    y = np.sum(f(x))
    return y, dlgradient(y, x)


def delattr_literal(x):
    h = Holder(x * 1.0)
    delattr(h, "w")
    return np.sum(x)


def test_run_time_attribute_names_refused_where_they_matter():
    with pytest.raises(CompileError) as info:
        dlfeval(setattr_run_time_name, dlarray(X3))
    assert info.value.filename == __file__ and "setattr" in str(info.value)
    assert info.value.lineno == first_line_of(setattr_run_time_name, "setattr(h, key")
    with pytest.raises(CompileError) as info:
        dlfeval(getattr_run_time_name, Holder(dlarray(X3)), dlarray(X3))
    assert info.value.filename == __file__ and "getattr" in str(info.value)
    with pytest.raises(CompileError) as info:
        dlfeval(delattr_literal, dlarray(X3))
    assert info.value.filename == __file__
    # a function looked up by name on a module: a constant, fine
    y, g = dlfeval(getattr_run_time_name_module, dlarray(X3), "tanh")
    assert_close(data(y), np.sum(np.tanh(X3)))
    assert_close(data(g), 1 - np.tanh(X3) ** 2)


# --- 2. traced lists concatenated -------------------------------------------------------------------

def concat_args(xs, ys):
    zs = xs + ys
    return dlgradient(np.sum(np.stack(zs) ** 2), xs, ys)


@dataclasses.dataclass
class VS:
    V: list
    S: list


def concat_slices(p):
    zs = p.V[0:1] + p.S[0:1]
    return dlgradient(np.sum(np.stack(zs) ** 2), p.V, p.S)


def cat(a, b):
    return a + b


def concat_in_helper_second(xs, ys):
    zs = cat(xs, ys) + [xs[0] * 2.0]
    y = np.sum(np.stack(zs) ** 3)
    g = dlgradient(y, xs, ys)
    return y, g, dlgradient(np.sum(g[0][0] ** 2) + np.sum(g[1][0]), xs, ys)


def test_concatenated_argument_lists():
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 5.0])
    gx, gy = dlfeval(concat_args, [dlarray(a)], [dlarray(b)])
    assert_close(data(gx[0]), 2 * a)
    assert_close(data(gy[0]), 2 * b)
    gv, gs = dlfeval(concat_slices, VS([dlarray(a), dlarray(c)], [dlarray(b)]))
    assert_close(data(gv[0]), 2 * a)
    assert_close(data(gv[1]), np.zeros(2))
    assert_close(data(gs[0]), 2 * b)
    y, g, h = dlfeval(concat_in_helper_second, [dlarray(a)], [dlarray(b)])
    assert_close(data(y), np.sum(a ** 3) + np.sum(b ** 3) + np.sum((2 * a) ** 3))
    assert_close(data(g[0][0]), 3 * a ** 2 + 24 * a ** 2)
    assert_close(data(g[1][0]), 3 * b ** 2)
    # d/da of sum((27 a^2)^2) and d/db of sum(3 b^2)
    assert_close(data(h[0][0]), 4 * 27 ** 2 * a ** 3)
    assert_close(data(h[1][0]), 6 * b)


# --- 3. second derivatives through a helper taking *args ----------------------------------------

def total(*us, scale=0.1):
    return (us[0] * us[0] + us[1] * us[1]) * scale


def star_first(x):
    h = x + total(x, x * 0.5)
    y = np.log(1 + np.sum(h ** 2))
    return dlgradient(y, x)


def star_second(x):
    h = x + total(x, x * 0.5)
    y = np.log(1 + np.sum(h ** 2))
    g = dlgradient(y, x)
    return dlgradient(np.sum(g ** 2), x)


def plain_star(x):
    h = x + total(x, x * 0.5)
    return np.log(1 + np.sum(h ** 2))


def weighted(a, *rest):
    out = a
    for i, r in enumerate(rest):
        out = out + (i + 1.0) * np.sin(r) * a
    return out


def star_mixed_second(x, w):
    y = np.sum(weighted(x, x * w, w) ** 2)
    gx, gw = dlgradient(y, x, w)
    return dlgradient(np.sum(gx * gw), x, w)


def star_mixed_first(x, w):
    y = np.sum(weighted(x, x * w, w) ** 2)
    return dlgradient(y, x, w)


def test_second_derivative_through_star_args_helper():
    g = data(dlfeval(star_first, dlarray(X3)))
    assert_close(g, numerical_gradient(plain_star, [X3], 0))
    h = data(dlfeval(star_second, dlarray(X3)))
    numeric = numerical_gradient(lambda v: float(np.sum(data(dlfeval(star_first, dlarray(v))) ** 2)), [X3], 0)
    assert_close(h, numeric, rtol=1e-5, atol=1e-6)
    w = np.array([0.4, -0.2, 0.9])
    hx, hw = dlfeval(star_mixed_second, dlarray(X3), dlarray(w))

    def objective(x, w):
        gx, gw = dlfeval(star_mixed_first, dlarray(x), dlarray(w))
        return float(np.sum(data(gx) * data(gw)))
    assert_close(data(hx), numerical_gradient(objective, [X3, w], 0))
    assert_close(data(hw), numerical_gradient(objective, [X3, w], 1))


# --- 4. effects run once -------------------------------------------------------------------------

LOG = []


def log_value(v):
    print("value", float(np.sum(v)))


def logged_second(x, w):
    y = np.sum(np.sin(x * w))
    log_value(y)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g ** 2), w)


def unlogged_second(x, w):
    y = np.sum(np.sin(x * w))
    g = dlgradient(y, x)
    return dlgradient(np.sum(g ** 2), w)


def noisy(v):
    print("noisy")
    LOG.append(1)
    return v * 2.0 + np.random.rand()


def noisy_used_second(x, w):
    y = np.sum(np.sin(noisy(x) * w))
    g = dlgradient(y, x)
    return dlgradient(np.sum(g ** 2), w)


def make_noise(n):
    LOG.append(n)
    return np.random.rand(n)


def noise_constant_second(x, w):
    noise = make_noise(3)
    y = np.sum(np.sin(x * w + noise))
    g = dlgradient(y, x)
    return dlgradient(np.sum(g ** 2), w)


def noise_given_second(x, w, noise):
    y = np.sum(np.sin(x * w + noise))
    g = dlgradient(y, x)
    return dlgradient(np.sum(g ** 2), w)


def noisy_jacobian(x):
    u = noisy(x) ** 2
    return dljacobian(u, x, 0)


def noisy_jacobian_second(x):
    u = np.sin(noisy(x)) ** 2
    J = dljacobian(u, x, 0)
    return dlgradient(np.sum(J ** 2), x)


class Announced:
    def __init__(self, scale):
        print("built")
        LOG.append("built")
        self.scale = scale

    def describe(self):
        print("scale", self.scale)


def set_scale(c, v):
    c.scale = v


def object_effects_second(x, w):
    c = Announced(1.0)
    c.describe()
    set_scale(c, 3.0)
    c.scale = c.scale + 1.0
    y = np.sum(np.sin(x * w)) * c.scale
    g = dlgradient(y, x)
    return dlgradient(np.sum(g ** 2), w)


W3 = np.array([0.4, -0.2, 0.9])


def test_statement_helper_runs_once(capsys):
    r = dlfeval(logged_second, dlarray(X3), dlarray(W3))
    out = capsys.readouterr().out
    assert out.count("value") == 1, out
    assert_close(data(r), data(dlfeval(unlogged_second, dlarray(X3), dlarray(W3))))


def test_helper_with_used_result_runs_once(capsys):
    LOG.clear()
    np.random.seed(0)
    r = dlfeval(noisy_used_second, dlarray(X3), dlarray(W3))
    after = np.random.rand()
    out = capsys.readouterr().out
    assert out.count("noisy") == 1 and LOG == [1]
    np.random.seed(0)
    offset = np.random.rand()
    assert after == np.random.rand()           # one draw, as in Python

    def first(x, w):                            # the same program with the draw fixed
        y = np.sum(np.sin((x * 2.0 + offset) * w))
        g = dlgradient(y, x)
        return dlgradient(np.sum(g ** 2), w)
    expected = data(dlfeval(first, dlarray(X3), dlarray(W3)))
    assert_close(data(r), expected)


def test_constant_helper_drawing_random_numbers_is_not_drawn_again():
    LOG.clear()
    np.random.seed(1)
    r = dlfeval(noise_constant_second, dlarray(X3), dlarray(W3))
    assert LOG == [3]
    np.random.seed(1)
    noise = np.random.rand(3)
    expected = dlfeval(noise_given_second, dlarray(X3), dlarray(W3), noise)
    assert_close(data(r), data(expected))


def test_helper_effects_once_under_dljacobian(capsys):
    x = np.array([[0.1, 0.2], [0.3, 0.4]])
    for fn in (noisy_jacobian, noisy_jacobian_second):
        LOG.clear()
        np.random.seed(2)
        dlfeval(fn, dlarray(x))
        assert capsys.readouterr().out.count("noisy") == 1 and LOG == [1], fn.__name__
    np.random.seed(2)
    J = data(dlfeval(noisy_jacobian, dlarray(x)))
    np.random.seed(2)
    c = np.random.rand()
    expected = np.zeros((2, 2, 2))
    for b in range(2):
        expected[b] = np.diag(2 * (2 * x[b] + c) * 2)
    assert_close(J, expected)


def test_objects_built_inside_keep_python_state(capsys):
    LOG.clear()
    r = dlfeval(object_effects_second, dlarray(X3), dlarray(W3))
    out = capsys.readouterr().out
    assert out.count("built") == 1 and out.count("scale") == 1 and LOG == ["built"], out
    expected = 16.0 * data(dlfeval(unlogged_second, dlarray(X3), dlarray(W3)))   # scale 4: g**2 has 16
    assert_close(data(r), expected)


# --- 5. bound methods, fields and custom-backward layers passed as values -----------------------

class Wave:
    def __init__(self):
        self.a = np.array([1.0, 2.0, 3.0])

    def method(self, x, scale=1.0):
        return np.sum(np.sin(x * self.a) ** 2) * scale


def second_of(fun, x):
    y = fun(x)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g), x)


def second_of_kw(fun, x):
    y = fun(x, scale=2.0)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g), x)


class Box:
    def __init__(self, f):
        self.f = f


def second_of_field(box, x):
    y = box.f(x)
    g = dlgradient(y, x)
    return dlgradient(np.sum(g), x)


class PReLU(Layer):
    learnables = ("Alpha",)

    def __init__(self, alpha):
        self.Alpha = alpha

    def predict(self, X):
        return np.maximum(X, 0) + self.Alpha * np.minimum(0, X)

    def backward(self, X, Z, dLdZ, memory):
        dLdX = self.Alpha * dLdZ
        dLdX[X > 0] = dLdZ[X > 0]
        return dLdX, np.sum(np.minimum(0, X) * dLdZ, axis=0)


def layer_second(fun, X):
    y = np.sum(fun(X) ** 3)
    g = dlgradient(y, X)
    return dlgradient(np.sum(g ** 2), X)


def test_second_derivative_through_methods_passed_as_values():
    a = np.array([1.0, 2.0, 3.0])
    x = np.array([0.1, 0.2, 0.3])
    expected = 2 * a ** 2 * np.cos(2 * a * x)     # d/dx_i sum_j a_j sin(2 a_j x_j)
    obj = Wave()
    for fn, arg, factor in ((second_of, obj.method, 1.0), (second_of_kw, obj.method, 2.0),
                            (second_of_field, Box(obj.method), 1.0), (second_of, lambda v: obj.method(v), 1.0)):
        assert_close(data(dlfeval(fn, arg, dlarray(x))), factor * expected)
    X = np.array([[0.5, -0.3], [-1.2, 0.7]])
    alpha = np.array([0.2, 0.3])
    slope = np.where(X > 0, 1.0, alpha)
    layer = PReLU(dlarray(alpha))
    for arg in (layer, layer.predict):
        assert_close(data(dlfeval(layer_second, arg, dlarray(X))), 36 * (X * slope) ** 3 * slope ** 3)


# --- 6. private names ------------------------------------------------------------------------------

class Model:
    __k = 3.0

    def __init__(self):
        self.__w = np.array([1.0, 2.0, -1.0])

    def scale(self, x):
        return x * self.__k

    def apply(self, x):
        def inner(v):
            return v * self.__k
        return np.sum(self.scale(x) * self.__w) + self.__helper(inner(x))

    def __helper(self, x):
        return np.sum(x ** 2)


def private_names(m, x):
    y = m.apply(x)
    g = dlgradient(y, x)
    return y, g, dlgradient(np.sum(g ** 2), x)


def test_private_names_mangled_as_python_does():
    m = Model()
    y, g, h = dlfeval(private_names, m, dlarray(X3))
    assert_close(data(y), m.apply(X3))
    grad = numerical_gradient(m.apply, [X3], 0)
    assert_close(data(g), grad)
    w = np.array([1.0, 2.0, -1.0])
    assert_close(data(h), 2 * (3 * w + 18 * X3) * 18)


# --- 7. in-place accumulation keeps dtype and shape ----------------------------------------------

def accumulate32(x):
    acc = np.zeros(3, dtype=np.float32)
    acc += x * 0.1
    acc *= x
    y = np.sum(acc)
    return acc, y


def accumulate32_grad(x):
    acc, y = accumulate32(x)
    return acc, y, dlgradient(y, x)


def broadcast_into(x):
    a = np.zeros(3)
    a += np.ones((2, 3)) * x
    return np.sum(a)


def float_into_int(x):
    a = np.zeros(3, dtype=np.int64)
    a += x
    return np.sum(a * x)


def numbers_and_slices(x):
    s = 0.0
    s += np.sum(x)
    t = np.float32(1.0)
    t += x[0]
    z = np.zeros(3)
    z[1:] += x[:2]
    y = s * t + np.sum(z)
    return y


def numbers_and_slices_grad(x):
    y = numbers_and_slices(x)
    return y, dlgradient(y, x)


def test_inplace_accumulation_keeps_dtype_and_shape():
    acc, y, g = dlfeval(accumulate32_grad, dlarray(X3))
    acc_py, y_py = accumulate32(X3.copy())
    assert data(acc).dtype == np.float32 and data(y).dtype == acc_py.dtype
    np.testing.assert_array_equal(data(acc), acc_py)
    assert data(y) == y_py
    assert_close(data(g), 0.2 * X3, rtol=1e-6)
    for fn in (broadcast_into, float_into_int):
        with pytest.raises(Exception) as python_error:
            fn(X3.copy())
        with pytest.raises(EvaluationError) as info:
            dlfeval(fn, dlarray(X3))
        assert info.value.filename == __file__
        assert type(python_error.value).__name__ in str(info.value) or \
            isinstance(python_error.value, TypeError) and "cast" in str(info.value)
    y, g = dlfeval(numbers_and_slices_grad, dlarray(X3))
    assert_close(data(y), numbers_and_slices(X3.copy()))
    assert_close(data(g), numerical_gradient(numbers_and_slices, [X3], 0))


# --- 8. `+=` on numbers held by objects and names ------------------------------------------------

class Counter:
    def __init__(self):
        self.count = 0
        self.buf = np.zeros(3)


def counter_and_total(x):
    c = Counter()
    c.count += 1
    c.count += 2
    total = np.sum(x ** 2)
    kept = total
    total += x.mean()
    a, b = x[0] * 1.0, x[1:] * 2.0
    b += a
    a, b = b, a
    y = (total + kept) * c.count + np.sum(a) * b
    return y


def counter_and_total_grad(x):
    y = counter_and_total(x)
    return y, dlgradient(y, x)


def shared_array_item(x):
    c = Counter()
    alias = c.buf
    c.buf += x                     # changes alias too, in Python
    return np.sum(alias * x)


def test_plus_equal_on_numbers_rebinds():
    y, g = dlfeval(counter_and_total_grad, dlarray(X3))
    assert_close(data(y), counter_and_total(X3.copy()))
    assert_close(data(g), numerical_gradient(counter_and_total, [X3], 0))
    with pytest.raises((CompileError, EvaluationError)) as info:
        dlfeval(shared_array_item, dlarray(X3))
    assert info.value.filename == __file__


# --- 9. the batch axis of dljacobian & co. with a negative dim ---------------------------------

def jac(x, dim):
    u = np.stack([np.sin(x[:, 0]) * x[:, 1], x[:, 0] ** 2, x[:, 1] ** 3], axis=1)
    return u


def jac0(x):
    return dljacobian(jac(x, 0), x, 0)


def jac_neg(x):
    return dljacobian(jac(x, 0), x, -2)


def div0(x):      # (each point's own sum: a sum over the batch couples the points, refused since dec 12)
    return dldivergence(x ** 3 * np.sum(x, axis=1, keepdims=True), x, 0)


def div_neg(x):
    return dldivergence(x ** 3 * np.sum(x, axis=1, keepdims=True), x, -2)


def lap0(x):
    return dllaplacian(np.sum(np.sin(x) * x, axis=1), x, 0)


def lap_neg(x):
    return dllaplacian(np.sum(np.sin(x) * x, axis=1), x, -2)


def jac3_0(x):
    return dljacobian(np.stack([x, x ** 2], axis=2), x, 0)


def jac3_neg(x):
    return dljacobian(np.stack([x, x ** 2], axis=2), x, -2)


def jac_last(x):
    return dljacobian(np.sin(x).T, x.T, -1)


def test_negative_dim_is_the_batch_axis_of_x():
    x = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    for a, b in ((jac0, jac_neg), (div0, div_neg), (lap0, lap_neg), (jac3_0, jac3_neg)):
        ra, rb = data(dlfeval(a, dlarray(x))), data(dlfeval(b, dlarray(x)))
        assert ra.shape == rb.shape, a.__name__
        assert_close(rb, ra, what=a.__name__)
    J = data(dlfeval(jac0, dlarray(x)))
    for b in range(3):
        def row(v, b=b):
            xs = x.copy()
            xs[b] = v
            return jac(xs, 0)[b]
        for i in range(3):
            assert_close(J[b, i], numerical_gradient(lambda v: row(v)[i], [x[b]], 0))


# --- 10. found by the program tester -------------------------------------------------------------

class Bias:
    def __init__(self, b):
        self.b = b


def sort_of_attribute_value(net, x):
    v = np.exp(0.3 * net.b) * x
    z = v * 1.0
    z.sort()
    t = v + 0.5 * z * z[::-1]
    y = np.sum(t ** 2)
    return y, dlgradient(y, x, net.b)


def plain_sort_of_attribute_value(b, x):
    v = np.exp(0.3 * b) * x
    z = np.sort(v)
    return np.sum((v + 0.5 * z * z[::-1]) ** 2)


def glue(u):
    return np.r_[u[2:], u[:2]] * 0.5 + u


def r_second(x):
    y = np.sum(glue(x) ** 3)
    gr = dlgradient(y, x)
    return dlgradient(np.sum(gr ** 2), x)


def r_first(x):
    y = np.sum(glue(x) ** 3)
    return dlgradient(y, x)


def math_log(x):
    import math
    y = math.log(np.sum(x ** 2)) + math.log(x[0] + 2.0, 3.0)
    return y, dlgradient(y, x)


def test_program_tester_findings():
    b = np.array([0.2, -0.4, 0.1, 0.3])
    x = np.array([0.3, -0.2, 0.5, 0.1])
    y, (gx, gb) = dlfeval(sort_of_attribute_value, Bias(dlarray(b)), dlarray(x))
    assert_close(data(y), plain_sort_of_attribute_value(b, x))
    assert_close(data(gx), numerical_gradient(plain_sort_of_attribute_value, [b, x], 1))
    assert_close(data(gb), numerical_gradient(plain_sort_of_attribute_value, [b, x], 0))
    h = data(dlfeval(r_second, dlarray(x)))
    numeric = numerical_gradient(lambda v: float(np.sum(data(dlfeval(r_first, dlarray(v))) ** 2)), [x], 0)
    assert_close(data(dlfeval(r_first, dlarray(x))), numerical_gradient(lambda v: np.sum(glue(v) ** 3), [x], 0))
    assert_close(h, numeric)
    import math
    y, g = dlfeval(math_log, dlarray(X3))
    plain = lambda v: math.log(np.sum(v ** 2)) + math.log(v[0] + 2.0, 3.0)   # noqa: E731
    assert_close(data(y), plain(X3))
    assert_close(data(g), numerical_gradient(plain, [X3], 0))


def jac_t0(x):
    return dljacobian(np.stack([x[0] * x[1], x[0] ** 2]), x, 1)


def jac_t_neg(x):
    return dljacobian(np.stack([x[0] * x[1], x[0] ** 2]), x, -1)


def test_batch_along_the_last_axis_dim_minus_one_is_dim_one():
    x = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])       # points along axis 1
    a, b = data(dlfeval(jac_t0, dlarray(x))), data(dlfeval(jac_t_neg, dlarray(x)))
    assert a.shape == b.shape == (2, 3, 2)                  # the batch axis at position 1
    assert_close(a, b)
    for k in range(3):
        expected = np.array([[x[1, k], x[0, k]], [2 * x[0, k], 0.0]])
        assert_close(a[:, k, :], expected)


# --- writes into arrays of another dtype (noticed while fixing item 7) ---------------------------

def write_float32(x):
    z = np.zeros(3, dtype=np.float32)
    z[0] = x[0] * 1.1
    z[1:] = x[1:] ** 2
    return z, np.sum(z)


def write_float32_grad(x):
    z, y = write_float32(x)
    return z, y, dlgradient(y, x)


def write_int(x):
    z = np.zeros(3, dtype=np.int64)
    z[0] = x[0] * 1.1 + 2.0                     # truncated, as numpy does: a constant
    return np.sum(z * x)


def write_int_grad(x):
    y = write_int(x)
    return y, dlgradient(y, x)


def test_writes_keep_the_arrays_dtype():
    x = np.array([0.3, -0.2, 1.7])
    z, y, g = dlfeval(write_float32_grad, dlarray(x))
    z_py, y_py = write_float32(x.copy())
    assert data(z).dtype == np.float32
    np.testing.assert_array_equal(data(z), z_py)
    assert data(y) == y_py
    assert_close(data(g), np.array([1.1, 2 * x[1], 2 * x[2]]), rtol=1e-6)
    y, g = dlfeval(write_int_grad, dlarray(x))
    assert_close(data(y), write_int(x.copy()))
    assert_close(data(g), numerical_gradient(write_int, [x], 0))
