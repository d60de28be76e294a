"""Red team X (dec 22): silent wrong results in the code paths added last (helpers called directly
behind a guard, second derivatives without the random-state watch, matrix-product adjoints assigned,
optimizers reading the last step's flat arrays).  Each test compares values with plain Python and
derivatives with finite differences or closed forms.

Findings:
1. A user function reached by numpy through a value, not passed by name (``formatter={"float_kind": fmt}``,
   an alias ``k = fmt``, an item of a local list ``[fmt][0]``), ran uncompiled while sct took the caller
   for code running no user code (``Compiled.opaque`` False): the recomputation before a
   ``dlgradient(..., EnableHigherDerivatives=True)`` skipped the random-state watch and the second
   derivative was of another draw's program (6 c' x for 6 c x), silently.  Also a module's function
   (``formatter={"float_kind": helpers.fmt}``).
2. A write, before a gradient differentiated again, into a view or part of an argument made by a call
   (``v = np.asarray(ws)``, ``ws.ravel()``, ``np.split(ws, 2)``, ``d.get(k)``, ``list(ws)[0]``,
   ``next(iter(ws))``, ``ident(ws)`` of a helper returning its argument, a loop's item, a helper writing
   into such a view) was not seen by ``site_checks.check_outside_writes`` (it followed names, items and
   attributes only): the recomputation read the changed argument, and the second derivative was of
   another program (6 * 10 * x for 6 * 2.3 * x), silently.  Now refused at the write, as ``ws[0] = ...``.
3. The same with the object read under another name: ``w = float(H.b[0])`` where the global object's
   attribute is ``BUF``, or ``w = float(ws[0])`` where the argument is ``BUF``, then ``BUF[0] = 9.0``:
   the check compared names only.  Now a write into an outside object is refused where the code before
   read another outside name that may be it, hold it or share its memory (an argument of array or
   container kind, a global array or object; not modules, functions, numbers or strings).
4. First derivative, older code: ``dlfeval(f, dlarray(buf), buf)`` with ``f`` writing into its second
   argument after reading the first: the adjoint read the changed data (243 for 5.07): the write checks
   take two arguments for two objects.  Now refused when it runs, where the function may change an
   argument in place (callee_effects.changes_arguments) and a dlarray's data shares memory with a plain
   array the arguments hold (sct.api._refuse_shared_memory; the entry's fast path misses for them).
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import SctError

import redteam_dec22x_helpers


# --- 1. user functions reached through values: the watch is kept ------------------------------------

def _fmt(v):
    return "a" * int(1 + 50 * np.random.rand())


def _second_fmt_dict(x):
    c = len(np.array2string(np.ones(1), formatter={"float_kind": _fmt}))
    y = c * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), c


def _second_fmt_alias(x):
    k = _fmt
    c = len(np.array2string(np.ones(1), formatter={"float_kind": k}))
    y = c * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), c


def _second_fmt_list(x):
    fs = [_fmt]
    c = len(np.array2string(np.ones(1), formatter={"float_kind": fs[0]}))
    y = c * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), c


def _second_fmt_module(x):
    c = len(np.array2string(np.ones(1), formatter={"float_kind": redteam_dec22x_helpers.fmt}))
    y = c * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), c


@pytest.mark.parametrize("fun", [_second_fmt_dict, _second_fmt_alias, _second_fmt_list, _second_fmt_module])
def test_user_function_given_through_a_value_keeps_the_watch(fun):
    x = np.array([0.3, 0.7])
    text = str(sct.source(fun, dlarray(x), callees=True))
    assert "replay_from(effects_start, False)" not in text
    np.random.seed(5)
    try:
        h, c = dlfeval(fun, dlarray(x))
    except SctError as e:               # the recomputation drew again: refused, not silently wrong
        assert "drew random numbers" in str(e)
        return
    np.testing.assert_allclose(np.asarray(h.data), 6 * c * x, rtol=1e-12)     # d2/dx2 of c x^3


# --- 2. writes into views of arguments before a gradient differentiated again: refused ---------------

_HEADER = """import numpy as np
from sct import dlgradient


def ident(a):
    return a


def poke(a):
    a[0] = 9.0


def G(x, ws):
    {bind}
    w = {read} + 1.0
    {write}
    y = w * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), w
"""

_VIEWS = [
    ("v = np.asarray(ws)", "np.array([1.3, 2.0])", "v[0] = 9.0", "float(ws[0])"),
    ("v = ws.ravel()", "np.array([1.3, 2.0])", "v[0] = 9.0", "float(ws[0])"),
    ("v = np.reshape(ws, (2,)).view()", "np.array([1.3, 2.0])", "v[0] = 9.0", "float(ws[0])"),
    ("v = np.array(ws, copy=False)", "np.array([1.3, 2.0])", "v[0] = 9.0", "float(ws[0])"),
    ("v = np.asarray(ws, dtype=float)", "np.array([1.3, 2.0])", "v[0] = 9.0", "float(ws[0])"),
    ("v, b = np.split(ws, 2)", "np.array([1.3, 2.0])", "v[0] = 9.0", "float(ws[0])"),
    ("v = ident(ws)", "np.array([1.3, 2.0])", "v[0] = 9.0", "float(ws[0])"),
    ("v = np.asarray(ws)", "np.array([1.3, 2.0])", "poke(v)", "float(ws[0])"),
    ("v = ws.get('a')", "{'a': np.array([1.3, 2.0])}", "v[0] = 9.0", "float(ws['a'][0])"),
    ("v = list(ws.values())[0]", "{'a': np.array([1.3, 2.0])}", "v[0] = 9.0", "float(ws['a'][0])"),
    ("v = list(ws)[0]", "[np.array([1.3, 2.0])]", "v[0] = 9.0", "float(ws[0][0])"),
    ("v = next(iter(ws))", "[np.array([1.3, 2.0])]", "v[0] = 9.0", "float(ws[0][0])"),
    ("v = None\n    for i, q in enumerate(ws):\n        v = q", "[np.array([1.3, 2.0])]", "v[0] = 9.0",
     "float(ws[0][0])"),
    ("v = list(ws)", "[np.array([1.3, 2.0])]", "v[0][0] = 9.0", "float(ws[0][0])"),   # the items are ws's
    ("v = ws.copy()", "[np.array([1.3, 2.0])]", "v[0][0] = 9.0", "float(ws[0][0])"),
]


@pytest.mark.parametrize("bind, init, write, read", _VIEWS)
def test_write_into_a_view_of_an_argument_before_a_second_derivative(tmp_path, bind, init, write, read):
    import importlib.util
    path = tmp_path / "viewwrite.py"
    path.write_text(_HEADER.format(bind=bind, read=read, write=write))
    spec = importlib.util.spec_from_file_location(f"viewwrite_{abs(hash(bind + write + init))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x = np.array([0.3, 0.7])
    ws = eval(init, {"np": np})
    try:
        h, w = dlfeval(mod.G, dlarray(x), ws)
    except sct.CompileError as e:
        assert "writes into ws" in str(e)
        return
    np.testing.assert_allclose(float(w), 2.3)            # Python's: read before the write
    np.testing.assert_allclose(np.asarray(h.data), 6 * 2.3 * x, rtol=1e-12)


def _flatten_copy(x, ws):
    v = ws.flatten()                 # a copy: writing into it leaves ws as it was
    w = float(ws[0]) + 1.0
    v[0] = 9.0
    y = w * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), w


def _fresh_arrays(x, ws):
    z = np.zeros_like(ws)             # new arrays made from an argument: written into freely
    e = np.exp(ws)
    w = float(ws[0]) + 1.0
    z[0] = w
    e[1] = 0.0
    y = (z[0] + e[0]) * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), z[0] + e[0]


def _list_copy(x, ws):
    v = list(ws)                     # a new list: replacing its item leaves ws as it was
    w = ws[0] + 1.0
    v[0] = 9.0
    y = w * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), w + 0 * v[0]


@pytest.mark.parametrize("fun", [_flatten_copy, _fresh_arrays, _list_copy])
def test_writes_into_new_arrays_made_from_an_argument_still_compile(fun):
    x = np.array([0.3, 0.7])
    ws = [1.3, 2.0] if fun is _list_copy else np.array([1.3, 2.0])
    h, c = dlfeval(fun, dlarray(x), ws.copy())
    np.testing.assert_allclose(np.asarray(h.data), 6 * float(c) * x, rtol=1e-12)
    if fun is _fresh_arrays:
        np.testing.assert_allclose(float(c), 2.3 + np.exp(1.3))


# --- 3. a write into an outside object another name of which was read: refused ----------------------

_BUF = np.array([1.3, 2.0])


class _Holder:
    pass


_HOLDER = _Holder()
_HOLDER.b = _BUF


def _read_through_a_global_object(x, ws):
    w = float(_HOLDER.b[0]) + 1.0          # _HOLDER.b is _BUF
    _BUF[0] = 9.0
    y = w * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), w


def _read_through_an_argument(x, ws):
    w = float(ws[0]) + 1.0                  # ws is _BUF
    _BUF[0] = 9.0
    y = w * np.sum(x ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), w


@pytest.mark.parametrize("fun", [_read_through_a_global_object, _read_through_an_argument])
def test_write_into_a_global_read_under_another_name_before_a_second_derivative(fun):
    x = np.array([0.3, 0.7])
    _BUF[:] = [1.3, 2.0]
    try:
        h, w = dlfeval(fun, dlarray(x), _BUF)
    except sct.CompileError as e:
        assert "writes into _BUF" in str(e)
        return
    finally:
        _BUF[:] = [1.3, 2.0]
    np.testing.assert_allclose(float(w), 2.3)
    np.testing.assert_allclose(np.asarray(h.data), 6 * 2.3 * x, rtol=1e-12)     # was 6 * 10 * x


# --- 4. an argument written in place that shares memory with a dlarray argument: refused -------------

def _write_into_a_second_name_of_x(x, ws):
    y = np.sum(x ** 3)
    ws[0] = 9.0                      # ws is x's data (dlarray(BUF) keeps BUF's memory)
    return y, dlgradient(y, x)


class _Box:
    def __init__(self, a):
        self.a = a


def _write_into_an_object_holding_x(x, box):
    y = np.sum(x ** 3)
    box.a[0] = 9.0
    return y, dlgradient(y, x)


def _no_write(x, ws):
    y = np.sum(x ** 3) + np.sum(ws)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("first", [False, True])     # (True: a call with separate arrays first: the fast path)
def test_write_into_an_argument_sharing_memory_with_a_dlarray_argument(first):
    expected = 3 * np.array([1.3, 2.0]) ** 2
    if first:
        y, g = dlfeval(_write_into_a_second_name_of_x, dlarray(np.array([1.3, 2.0])), np.array([1.3, 2.0]))
        np.testing.assert_allclose(np.asarray(g.data), expected)
    for make in (lambda b: b, lambda b: b[:1]):
        buf = np.array([1.3, 2.0])
        with pytest.raises(SctError, match="shares memory"):
            dlfeval(_write_into_a_second_name_of_x, dlarray(buf), make(buf))      # was 243 for 5.07
    buf = np.array([1.3, 2.0])
    with pytest.raises(SctError):               # (refused when compiled: box.a may be anything)
        dlfeval(_write_into_an_object_holding_x, dlarray(buf), _Box(buf))
    buf = np.array([1.3, 2.0])                   # a copy: Python's numbers
    y, g = dlfeval(_write_into_a_second_name_of_x, dlarray(buf.copy()), buf)
    np.testing.assert_allclose(float(y.data), 1.3 ** 3 + 8.0)
    np.testing.assert_allclose(np.asarray(g.data), expected)
    assert buf[0] == 9.0


def test_shared_memory_without_writes_still_runs():
    buf = np.array([1.3, 2.0])
    for _ in range(2):
        y, g = dlfeval(_no_write, dlarray(buf), buf)
        np.testing.assert_allclose(float(y.data), 1.3 ** 3 + 8.0 + 3.3)
        np.testing.assert_allclose(np.asarray(g.data), 3 * buf ** 2)
