"""``d.shape`` where ``d`` is an array on one path and, rebound in a branch, an object of the user's
class with a field named ``shape`` (a Gamma distribution's shape parameter).  The field was taken
for an array's metadata because *some* assignment of ``d`` binds an array, so its derivative was
silently zero (sct gave [0, 0] where finite differences give [0.246, 0]).  Such an attribute is now
metadata only where every binding of the name gives an array (a parameter of an array's kind, range
loop counters, assignments each known to give one); elsewhere it is followed and an array's metadata
gets no derivative when the code runs.  Values against plain Python, gradients against finite
differences, first and second order; the array path too."""
import numpy as np

from gradcheck import check_grads, check_two_inputs


class Gamma:
    def __init__(self, shape, rate):
        self.shape = shape
        self.rate = rate


def shape_field_in_branch(a, x, flag=1.0):
    d = np.exp(a)
    if flag > 0:
        d = Gamma(d[0] * d[1], d[1])
    return np.sum(d.shape * np.log(x) - x)


def shape_field_or_metadata(a, x, flag=-1.0):
    d = np.exp(a)
    if flag > 0:
        d = Gamma(d[0], d[1])
    return np.sum(d.shape[0] * np.log(x) * a[0])


def shape_field_loop(a, x):
    d = np.exp(a)
    out = 0.0
    for i in range(2):
        out = out + np.sum(np.log(x) * (i + 1) * d.shape[0]) + np.sum(d * 0.5)
        d = np.exp(a) * 2
    g = Gamma(np.sum(d), 1.0)
    return out + g.shape ** 2


def test_shape_field_bound_in_a_branch():
    check_grads(shape_field_in_branch, np.array([0.3, -0.2]), np.array([0.5, 1.2, 2.0]))


def test_shape_field_bound_in_a_branch_second_order():
    check_two_inputs(shape_field_in_branch, np.array([0.3, -0.2]), np.array([0.5, 1.2, 2.0]))


def test_array_path_keeps_metadata_constant():
    check_grads(shape_field_or_metadata, np.array([0.3, -0.2]), np.array([0.5, 1.2, 2.0]))
    check_two_inputs(shape_field_or_metadata, np.array([0.3, -0.2]), np.array([0.5, 1.2, 2.0]))


def test_arrays_only_names_in_a_loop():
    check_grads(shape_field_loop, np.array([0.3, -0.2]), np.array([0.5, 1.2, 2.0]))
    check_two_inputs(shape_field_loop, np.array([0.3, -0.2]), np.array([0.5, 1.2, 2.0]))


class Param:
    def __init__(self, data):
        self.data = data
        self.size = data * 3


def size_field_in_branch(a, x, flag=1.0):
    p = a * 1.0
    if flag > 0:
        p = Param(a * 2)
    return np.sum(p.size * x)


def test_size_field_bound_in_a_branch():
    # was [0, 0]; finite differences give 6 * x
    check_grads(size_field_in_branch, np.array([0.3, -0.2]), np.array([0.5, 1.2]))
    check_two_inputs(size_field_in_branch, np.array([0.3, -0.2]), np.array([0.5, 1.2]))


class Temperature:
    def __init__(self, T, real):
        self.T = T
        self.real = real


def temperature_field_in_branch(a, x, flag=1.0):
    s = a * 1.0
    if flag > 0:
        s = Temperature(np.exp(a[0]), a[1])
    return np.sum(np.exp(x / s.T)) + np.sum(s.real)


def test_T_and_real_fields_bound_in_a_branch():
    # `s.T` was differentiated as a transpose (and `s.real` as np.real) because one binding of s is an
    # array: sct gave [-1.349, -0.9995] where finite differences give [0.00066, 1.0]
    check_grads(temperature_field_in_branch, np.array([0.3, -0.2]), np.array([0.5, 1.2]))
    check_two_inputs(temperature_field_in_branch, np.array([0.3, -0.2]), np.array([0.5, 1.2]))


def transpose_of_maybe_array(a, x, flag=-1.0):
    s = np.outer(a, x)
    if flag > 0:
        s = Temperature(a[0], a[1])
    return np.sum(s.T @ np.sin(a)) + np.sum(np.real(s) ** 2)


def test_transpose_of_the_array_binding():
    check_grads(transpose_of_maybe_array, np.array([0.3, -0.2]), np.array([0.5, 1.2]))
    check_two_inputs(transpose_of_maybe_array, np.array([0.3, -0.2]), np.array([0.5, 1.2]))


def test_forward_mode_follows_the_fields():
    # jvp gave 0.0 for the shape and size fields (finite differences: -0.0806, -5.82)
    import sct
    a, v = np.array([0.3, -0.2]), np.array([0.7, -1.1])
    for fn, x in ((shape_field_in_branch, np.array([0.5, 1.2, 2.0])), (size_field_in_branch, np.array([0.5, 1.2])),
                  (temperature_field_in_branch, np.array([0.5, 1.2]))):
        y, jv = sct.jvp(lambda b, fn=fn, x=x: fn(b, x), (a,), (v,))
        expected = (fn(a + 1e-6 * v, x) - fn(a - 1e-6 * v, x)) / 2e-6
        np.testing.assert_allclose(np.asarray(getattr(y, "data", y)), fn(a, x), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(getattr(jv, "data", jv)), expected, rtol=1e-6, atol=1e-8)
