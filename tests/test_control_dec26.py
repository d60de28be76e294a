"""Red team M (control flow and name binding, dec26): Python's meaning of the names a function
binds, unbinds and reads, against plain Python; gradients against central differences.

``del name`` was lowered to nothing, so a read of the name after it saw the old value where Python
raises UnboundLocalError: ``del x; try: r = np.sum(x) except NameError: r = ...`` returned the old
``x``'s value and gradient (a silent wrong value), and ``del y; return np.sum(y)`` returned a value
where Python raises.  Such reads are now refused (sct/deleted_names.py); a name bound again before
it is read (``del h`` closing a loop body that binds ``h``) is still differentiated."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import check_grads


def _gradient(f, x):
    y = f(x)
    return y, dlgradient(y, x)


X = np.array([0.3, -0.7, 1.1])


# --- del of a name, then a read of it: refused (was: the old value) ----------------------------

def del_argument_then_caught(x):
    z = x * 1.0
    del x
    try:
        r = np.sum(x)
    except NameError:          # Python: x is unbound here, so this handler runs
        r = np.sum(z * 3)
    return r


def del_then_read(x):
    y = x * 2
    del y
    return np.sum(y)           # Python: UnboundLocalError


def del_in_loop_then_read(x):
    h = x[0]
    acc = 0.0
    for i in range(3):
        acc = acc + h * x[i]   # Python: UnboundLocalError on the third pass
        if i == 1:
            del h
    return acc


def del_in_for_else(x):
    h = x[0]
    for _ in range(2):
        pass
    else:
        del h
    return h * 2


def del_then_augmented(x):
    t = x[0] * 2
    del t
    t += 1
    return t


def del_of_a_name_a_lambda_reads(x):
    y = x[0] * 2
    f = lambda: y
    del y
    return f()                 # Python: NameError


def del_of_a_name_a_generator_reads(x):
    k = x[0] * 2
    g = (v * k for v in x)
    del k
    return sum(g)              # Python: NameError


def _helper_deleting(v):
    z = v * 1.0
    del v
    try:
        r = v * 2
    except NameError:
        r = z * 3
    return r


def del_in_a_helper(x):
    return np.sum(_helper_deleting(x))


class _Deleting:
    def m(self, v):
        w = v * 2
        del v
        try:
            r = v
        except NameError:
            r = w
        return r


def del_in_a_method(x):
    return np.sum(_Deleting().m(x))


REFUSED = [del_argument_then_caught, del_then_read, del_in_loop_then_read, del_in_for_else,
           del_then_augmented, del_of_a_name_a_lambda_reads, del_of_a_name_a_generator_reads,
           del_in_a_helper, del_in_a_method]


@pytest.mark.parametrize("f", REFUSED, ids=lambda f: f.__name__)
def test_a_read_after_del_is_refused(f):
    with pytest.raises(sct.CompileError, match=r"del"):
        dlfeval(_gradient, f, dlarray(X.copy()))


def test_the_refusal_names_the_read_and_the_del():
    with pytest.raises(sct.CompileError) as info:
        dlfeval(_gradient, del_then_read, dlarray(X.copy()))
    message = str(info.value)
    line = del_then_read.__code__.co_firstlineno
    assert f"line {line + 3}" in message and f"`del y` (line {line + 2})" in message, message
    assert "test_control_dec26.py" in message


# --- del where Python reads no unbound name: differentiated as before ---------------------------

def del_closing_a_loop_body(x):
    acc = 0.0
    for i in range(3):
        h = np.sin(x[i]) * x[0]
        acc = acc + h * h
        del h
    return acc


def del_then_bound_again(x):
    y = x * 2
    if x[0] > 0:
        del y
        y = x * 5
    return np.sum(y * x)


def del_then_bound_in_a_while(x):
    h = x[0]
    acc = 0.0
    i = 0
    while i < 3:
        acc = acc + h * x[i]
        del h
        h = acc * x[2]
        i += 1
    return acc


def del_on_the_path_that_leaves(x):
    h = x[0] * 3
    acc = 0.0
    for i in range(3):
        acc = acc + h * x[i] ** 2
        if acc > 100:
            del h
            break
    return acc


def del_then_a_comprehension_of_its_own_name(x):
    v = x[0]
    del v
    return sum([v * v for v in x])


def del_of_several(x):
    a, b = x[0] * 2, x[1] * 3
    c = a * b
    del a, b
    a = c * x[2]
    return a + c


ACCEPTED = [del_closing_a_loop_body, del_then_bound_again, del_then_bound_in_a_while,
            del_on_the_path_that_leaves, del_then_a_comprehension_of_its_own_name, del_of_several]


@pytest.mark.parametrize("f", ACCEPTED, ids=lambda f: f.__name__)
def test_del_with_no_read_after_it(f):
    check_grads(f, X.copy())


# --- a dict literal with a key twice: the last value is the dict's (was: every value with that key
# --- was given the adjoint of d[key], a silent wrong gradient; the value was right) --------------

def dict_literal_repeated_constant_key(x):
    d = {"a": x[0], "a": x[1] * 2}
    return d["a"] * 3


def dict_literal_repeated_name_key(x):
    k1 = "w"
    k2 = "w"
    d = {k1: x[0], k2: x[1] * 2, "b": x[2]}
    return d["w"] * 3 + d["b"]


def dict_literal_key_equal_when_it_runs(x):
    i = int(x[2] > 0)          # 1 here: the same key as the first entry's
    d = {1: x[0], i: x[1]}
    return d[1] * 3 + len(d)


def dict_literal_values_walked(x):
    d = {"a": x[0], "b": x[1], "a": x[2]}
    return sum(d.values()) * 2 + sum(v * v for v in d.values())


def dict_literal_items_walked(x):
    d = {"a": x[0], "b": x[1], "a": x[2]}
    acc = 0.0
    for k, v in d.items():
        acc = acc + v * len(k)
    return acc


def dict_literal_one_and_true(x):
    d = {1: x[0], True: x[1], 2: x[2]}    # 1 == True: one key, the last value
    return d[1] * 3 + d[2]


def dict_literal_distinct_name_keys(x):
    ks = ["p", "q"]
    d = {ks[0]: x[0], ks[1]: x[1] * x[2]}
    return d["p"] * d["q"]


DICTS = [dict_literal_repeated_constant_key, dict_literal_repeated_name_key,
         dict_literal_key_equal_when_it_runs, dict_literal_values_walked, dict_literal_items_walked,
         dict_literal_one_and_true, dict_literal_distinct_name_keys]


@pytest.mark.parametrize("f", DICTS, ids=lambda f: f.__name__)
def test_dict_literal_with_a_repeated_key(f):
    check_grads(f, X.copy())


def _second(f, x):
    y = f(x)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    z = np.sum(g * g * x)
    return z, dlgradient(z, x)


@pytest.mark.parametrize("f", [dict_literal_repeated_name_key, dict_literal_values_walked],
                         ids=lambda f: f.__name__)
def test_dict_literal_with_a_repeated_key_second_order(f):
    from gradcheck import numerical_gradient

    def first(a):
        _, g = dlfeval(_gradient, f, dlarray(a.copy()))
        return np.asarray(g.data)

    def z_of(a):
        return np.sum(first(a) ** 2 * a)
    z, gz = dlfeval(_second, f, dlarray(X.copy()))
    np.testing.assert_allclose(np.asarray(z.data), z_of(X.copy()), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gz.data), numerical_gradient(z_of, [X.copy()], 0), rtol=1e-6, atol=1e-8)


def test_dict_literal_with_a_repeated_key_forward_mode():
    for t in np.eye(3):
        y, dy = sct.jvp(dict_literal_key_equal_when_it_runs, (dlarray(X.copy()),), (t,))
        expected = 3 * t[1]               # d[1] is x[1]
        np.testing.assert_allclose(float(np.asarray(getattr(dy, "data", dy))), expected, atol=1e-12)


# --- a with block whose context manager suppresses an exception of its body: refused when it
# --- happens (was: the adjoint ran the statements after the raise, a silent wrong gradient) ------

class _Suppressing:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return True                     # swallows the exception: the code after the with runs


def suppressed_part_way(x):
    z = x[0] * 1.0
    with _Suppressing():
        y2 = x[1] * 2
        q = 1.0 / float(x[0] - x[0])    # ZeroDivisionError, suppressed
        z = y2 * 3                      # never runs in Python
    return z


def suppressed_part_way_arrays(x):
    z = x * 1.0
    with _Suppressing():
        y2 = np.sin(x) * 2
        if np.sum(y2) < 100:
            raise ValueError("stop")
        z = y2 * 3
    return np.sum(z * z)


def suppressed_in_a_loop(x):
    acc = 0.0
    for i in range(3):
        with _Suppressing():
            acc = acc + x[i] ** 2
            if x[i] < 0:
                raise ValueError("negative")
            acc = acc * 2
    return acc


@pytest.mark.parametrize("f", [suppressed_part_way, suppressed_part_way_arrays, suppressed_in_a_loop],
                         ids=lambda f: f.__name__)
def test_a_with_block_cut_short_is_refused(f):
    f(X.copy())                          # (Python runs it)
    with pytest.raises(sct.EvaluationError, match="suppressed an exception"):
        dlfeval(_gradient, f, dlarray(X.copy()))


def not_suppressed(x):
    z = x * 1.0
    with _Suppressing():
        z = np.sin(z) * x
        if np.sum(z) > 100:
            raise ValueError("never here")
        z = z * 3
    with np.errstate(divide="ignore"):
        z = z + np.log(np.abs(x))
    return np.sum(z * z)


def suppressing_manager_of_a_loop_that_returns(x):
    acc = x[0] * 1.0
    for i in range(3):
        with _Suppressing():
            acc = acc * x[i] + 1.0
            if i == 1:
                return acc * 2
    return acc


@pytest.mark.parametrize("f", [not_suppressed, suppressing_manager_of_a_loop_that_returns],
                         ids=lambda f: f.__name__)
def test_a_with_block_run_to_its_end(f):
    check_grads(f, X.copy())


# --- np.asarray / np.atleast_1d / np.ravel / np.expand_dims of a number is a NEW array, which
# --- `+=` changes in place, seen through every name of it (was: taken for the number itself, so
# --- `a = np.atleast_1d(loss); b = a; b *= 2` left a unchanged: a silent wrong value and gradient)

def atleast_1d_of_a_sum_aliased(x):
    a = np.atleast_1d(np.sum(x))
    b = a
    b *= 2
    return np.sum(a * 3 + b)


def ravel_of_a_number_aliased(x):
    a = np.ravel(x[0] * 2)
    b = a
    b += x[1]
    return np.sum(a * 3 + b)


def ravel_method_of_a_sum_aliased(x):
    a = np.sum(x).ravel()
    b = a
    b += x[1]
    return np.sum(a * 3 + b)


def expand_dims_of_a_number_aliased(x):
    a = np.expand_dims(x[0] * 1.0, 0)
    b = a
    b *= 3
    return np.sum(a + b * x[2])


def asarray_of_a_list_aliased(x):
    a = np.asarray([x[0], x[1]])
    b = a
    b *= 2
    return np.sum(a * 3 + b)


def asarray_of_a_sum_filled(x):
    a = np.asarray(np.sum(x))
    b = a
    b.fill(0.0)
    return a * 3 + x[0]


NEW_ARRAYS = [atleast_1d_of_a_sum_aliased, ravel_of_a_number_aliased, ravel_method_of_a_sum_aliased,
              expand_dims_of_a_number_aliased, asarray_of_a_list_aliased, asarray_of_a_sum_filled]


@pytest.mark.parametrize("f", NEW_ARRAYS, ids=lambda f: f.__name__)
def test_a_new_array_from_a_number_changed_through_a_second_name(f):
    check_grads(f, X.copy())


def asarray_of_a_sum_aliased(x):
    a = np.asarray(np.sum(x))        # a 0-d array: `b *= 2` changes it in place
    b = a
    b *= 2
    return a * 3 + b


def asarray_0d_in_a_list(x):
    a = np.asarray(x[0] * 1.0)
    lst = [a, x[1]]
    a *= 3
    return lst[0] * 2 + lst[1]


def asarray_of_a_0d_array(x):
    s = np.asarray(np.sum(x))
    t = np.asarray(s)                # s itself
    t *= 2
    return s * 3


@pytest.mark.parametrize("f", [asarray_of_a_sum_aliased, asarray_0d_in_a_list, asarray_of_a_0d_array],
                         ids=lambda f: f.__name__)
def test_a_0d_array_changed_in_place_through_a_second_name_is_refused(f):
    # (was: the old value, 3.5 where Python gives 5.6 for the first)
    with pytest.raises((sct.CompileError, sct.EvaluationError), match="in place"):
        dlfeval(_gradient, f, dlarray(X.copy()))


def del_after_a_generator_walked_at_once(x):
    h = np.sin(x) * x[0]
    s = sum(v * v for v in h) + max(v for v in h)
    del h
    return s * 2


def test_del_after_a_generator_walked_at_once():
    check_grads(del_after_a_generator_walked_at_once, X.copy())


def dlarray_of_a_sum_aliased(x):
    from sct import dlarray as make
    a = make(np.sum(x))              # a new dlarray: `b *= 2` changes it in place (5.6 here)
    b = a
    b *= 2
    return a * 3 + b


def test_a_dlarray_of_a_number_changed_through_a_second_name_is_refused():
    # (was: 3.5, the value with a left unchanged)
    with pytest.raises((sct.CompileError, sct.EvaluationError), match="in place"):
        dlfeval(_gradient, dlarray_of_a_sum_aliased, dlarray(X.copy()))


def dlarray_accumulator(x):
    from sct import dlarray as make
    acc = make(0.0)
    for v in x:
        acc += v * v
    return acc


def test_a_dlarray_accumulator_is_still_differentiated():
    y, g = dlfeval(_gradient, dlarray_accumulator, dlarray(X.copy()))
    np.testing.assert_allclose(float(np.asarray(y.data)), np.sum(X ** 2), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), 2 * X, rtol=1e-12)


# --- a number indexed with None / np.newaxis / ..., or reshaped by its method, is a new array too

def number_with_a_new_axis_aliased(x):
    a = x[0][None]
    b = a
    b += 1.0
    return np.sum(a * 3 + b * x[1])


def number_with_newaxis_twice_aliased(x):
    a = x[1][np.newaxis, np.newaxis]
    b = a
    b *= 2
    return np.sum(a * 3 + b)


def sum_reshaped_by_its_method_aliased(x):
    a = np.sum(x).reshape(1)
    b = a
    b *= 2
    return np.sum(a * 3 + b)


@pytest.mark.parametrize("f", [number_with_a_new_axis_aliased, number_with_newaxis_twice_aliased,
                               sum_reshaped_by_its_method_aliased], ids=lambda f: f.__name__)
def test_a_number_made_an_array_changed_through_a_second_name(f):
    check_grads(f, X.copy())
