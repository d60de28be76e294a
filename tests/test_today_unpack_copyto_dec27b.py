"""Red-team findings on today's unpacking of iterators (sct/normalize_stmts.py ``iterated``) and
``np.copyto`` lowering (sct/aliasing.py, runtime/support.py ``into`` / ``into_where``).  Values against
plain Python, gradients against central differences (tests/gradcheck.py)."""
import numpy as np
import pytest

from sct import CompileError, EvaluationError, SctError, dlarray, dlfeval
from gradcheck import check_grads, sct_gradients

X = np.array([0.5, -1.2])


# --- a shadowed builtin in an enclosing function: read as the builtin (was: a wrong value) -----------

def _closure_reversed():
    def reversed(v):                 # the enclosing function's own `reversed`: the identity
        return v

    def closure_reversed(x):
        a, b = reversed([x, 2.0 * x])
        return np.sum(a * b ** 2)
    return closure_reversed


def _closure_zip():
    zip = lambda p, q: (q, p)        # noqa: E731

    def closure_zip(x):
        a, b = zip(x, x * 3.0)
        return np.sum(a * b ** 2)
    return closure_zip


def nested_def_shadow(x):
    def reversed(v):
        return v

    def inner(y):
        a, b = reversed([y, 2.0 * y])
        return np.sum(a * b ** 2)
    return inner(x)


def _closure_list():
    def list(v):                     # the enclosing function's own `list`: reverses
        return [w for w in v][::-1]

    def closure_list(x):
        d = {"a": x, "b": x * 2.0}
        a, b = d.values()            # Python's unpacking: no call of `list`
        return np.sum(a * b ** 2) + np.sum(list([a, b])[0])
    return closure_list


@pytest.mark.parametrize("fun", [_closure_reversed(), _closure_zip(), nested_def_shadow, _closure_list()],
                         ids=["closure_reversed", "closure_zip", "nested_def", "closure_list"])
def test_enclosing_function_shadows_builtin(fun):
    # was: closure_reversed / nested_def gave the sum of [x, 2x] reversed (-3.206 for -6.412), closure_zip
    # a TypeError of zip's tuples, closure_list -3.906 for -7.812 (the generated list(d.values()) called
    # the closure's list)
    check_grads(fun, X)


# --- reversed(obj): what list(obj)[::-1] does not give is refused or Python's error ----------------

class Rev:
    def __init__(self, a, b):
        self.items_ = [a, b]

    def __reversed__(self):
        return iter(self.items_)      # its own order, not list(obj)[::-1]

    def __iter__(self):
        return iter(self.items_)


def custom_reversed(x):
    r = Rev(x, x * 2.0)
    a, b = reversed(r)
    return np.sum(a * b ** 2)


def reversed_set(x):
    a, b = reversed({1.0, 2.0})
    return np.sum(x * a)


def reversed_dict_items(x):
    d = {"a": x, "b": x * 2.0}
    (k1, a), (k2, b) = reversed(d.items())
    return np.sum(a * b ** 3) * len(k1 + k2)


def test_custom_reversed_refused():
    # was: the class's __reversed__ ignored: a wrong value and gradient
    with pytest.raises(SctError, match="reversed"):
        sct_gradients(custom_reversed, X)


def test_reversed_set_is_pythons_type_error():
    with pytest.raises(TypeError):
        reversed_set(X)
    with pytest.raises(EvaluationError, match="not reversible"):    # was: the set listed in reverse
        sct_gradients(reversed_set, X)


def test_reversed_dict_view_still_followed():
    check_grads(reversed_dict_items, X)


# --- an iterator unpacked by one target of several (was: the other target held the list) ------------

def chained_map(x):
    a, b = it = map(np.sin, [x, x * 2.0])
    rest = [1 for _ in it]            # Python: [] (the unpacking walked the iterator)
    return np.sum(a * b) + len(rest)


def chained_zip(x):
    p = a, b = zip([x, x * 2.0], [x, x])
    rest = [1 for _ in p]
    return np.sum(a[0] * b[0]) + len(rest)


def chained_reversed(x):
    a, b = r = reversed([x, x * 2.0])
    rest = [1 for _ in r]
    return np.sum(a * b ** 2) + len(rest)


@pytest.mark.parametrize("fun", [chained_map, chained_zip, chained_reversed])
def test_chained_unpacking_of_iterator_refused(fun):
    fun(X.copy())
    with pytest.raises(CompileError):   # was: values 3.03 / 5.38 / -1.21 for Python's 1.03 / 3.38 / -3.21
        sct_gradients(fun, X)


# --- np.copyto(dst=z, src=v) and the other writers given the array by keyword -------------------------

def copyto_dst_keyword(x):
    z = x * 2.0
    np.copyto(dst=z, src=x ** 2)
    return np.sum(z * x)


def copyto_keywords_where_first(x):
    z = x * 2.0
    np.copyto(where=x > 0, dst=z, src=x ** 2)
    return np.sum(z * x)


def fill_diagonal_keyword(x):
    z = np.outer(x, x)
    np.fill_diagonal(a=z, val=3.0)
    return np.sum(z * np.array([[1.0, 2.0], [3.0, 4.0]]))


@pytest.mark.parametrize("fun", [copyto_dst_keyword, copyto_keywords_where_first, fill_diagonal_keyword])
def test_written_array_by_keyword(fun):
    # was: the write not seen, the gradient z's old value's ([1.25, -0.96] for [0.75, 4.32])
    check_grads(fun, X)
    check_grads(fun, np.array([-0.3, 0.8]))


def put_keyword(x):
    z = x * 2.0
    np.put(a=z, ind=[0], v=5.0)
    return np.sum(z * x)


def test_put_by_keyword_refused():
    with pytest.raises(CompileError, match="np.put"):   # was: the gradient [6, -4.8] for [5, -4.8]
        sct_gradients(put_keyword, X)


# --- np.copyto's own rules for a Python number ---------------------------------------------------------

def copyto_int8_overflow(x):
    z = np.zeros(2, dtype=np.int8)
    np.copyto(z, 300)
    return np.sum(z * x)


def copyto_python_float_where(x):
    z = x * 2.0
    np.copyto(z, 3.0, where=x > 0)
    return np.sum(z * x)


def test_copyto_python_int_overflow_as_numpy():
    with pytest.raises(OverflowError):
        copyto_int8_overflow(X.copy())
    with pytest.raises(EvaluationError, match="OverflowError"):   # was: 300 cast to 44, a value
        sct_gradients(copyto_int8_overflow, X)
    check_grads(copyto_python_float_where, X)


# --- np.copyto(z, v, where=None): numpy reads the mask None as False (nothing copied) ------------------

def copyto_where_none(x):
    z = x * 2.0
    np.copyto(z, x ** 2, where=None)
    return np.sum(z * x)


def test_copyto_where_none_copies_nothing():
    # was: the value right (numpy's copyto) but the gradient [2.5, -1.92] for [2, -4.8]: the rule read
    # None as no mask
    check_grads(copyto_where_none, X)
    import sct
    value, tangent = sct.jvp(copyto_where_none, (X.copy(),), (np.array([1.0, 0.5]),))
    np.testing.assert_allclose(np.asarray(getattr(tangent, "data", tangent)), 4 * X @ np.array([1.0, 0.5]))


# --- np.copyto into what is not an array: numpy's TypeError ---------------------------------------------

def copyto_into_list(x):
    z = [0.0, 0.0]
    np.copyto(z, x ** 2)
    return np.sum(np.array(z) * x)


def copyto_into_numpy_scalar(x):
    z = np.float64(0.0)
    np.copyto(z, x[0] ** 2)
    return z * x[0]


@pytest.mark.parametrize("fun", [copyto_into_list, copyto_into_numpy_scalar])
def test_copyto_into_non_array_is_pythons_type_error(fun):
    with pytest.raises(TypeError):
        fun(X.copy())
    # was: a value (the list or number converted and written; 0.125 for the scalar)
    with pytest.raises(EvaluationError, match="must be a numpy.ndarray"):
        sct_gradients(fun, X)


# --- a module that defines reversed / zip after the first call: recompiled, as for any global read -------

_MODULE = '''
import numpy as np

def rev(x):
    a, b = reversed([x, 2.0 * x])
    return np.sum(a * b ** 2)

def zipped(x):
    a, b = zip(x, x * 3.0)
    return np.sum(np.array(a) * np.array(b) ** 2)
'''


def test_builtin_defined_later_by_the_module(tmp_path, monkeypatch):
    import importlib
    (tmp_path / "rt_dec27b_late_builtins.py").write_text(_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("rt_dec27b_late_builtins")
    for name in ("rev", "zipped"):
        check_grads(getattr(mod, name), X)
    mod.reversed = lambda v: v                    # (a notebook cell defining its own)
    mod.zip = lambda p, q: (q, p)
    for name in ("rev", "zipped"):
        # was: the code compiled for the builtins kept running (-3.206 for -6.412; 20.16 for -4.809)
        check_grads(getattr(mod, name), X)
