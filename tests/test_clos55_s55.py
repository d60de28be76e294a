"""Closures read late through another name or a container (red55r W2, s55).

A nested def or lambda called other than by its name in the enclosing function (an alias, an item of
a list, tuple or dict, an attribute, a partial of it) is a ``Closure`` holding the values it
captured; when the enclosing function rebinds one of them the closure follows the new value only
where the compiler found it never traced (``constant_rebinds``), and expires otherwise (calling it is
refused at the def's line, naming the reassignment's).  That test looked up the user's name, not
the renamed one holding the new value: ``s = 1.0; h = g; s = x; h(x)`` followed the traced x with no
derivative (grad [1, 2, -3] where [2, 4, -6]; a list of activations ``tanh(z) * scale`` with
``scale = w`` set afterwards gave dL/dw [0, 0] where [0.215, -1.437]).  And a traced value captured
then rebound to a number gave its adjoint slot the derivative with respect to the number
(``s = w`` ... ``s = 2.0``: dw [-0.4, -0.4] where 0).  Values against plain Python, gradients
against central differences."""
import functools
import inspect
import re
import types

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import assert_close, numerical_gradient

W0 = np.array([0.5, 1.5])
X0 = np.array([0.3, -0.7])
HERE = "test_clos55_s55.py"


def _line(fn, text):
    """The file's line number of the first line of ``fn`` holding ``text``."""
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def _exact(f, ref):
    """dlfeval(f, w, x) (f returns y, dlgradient(y, w, x)) against plain ref(w, x), called twice
    (the second call runs the cached code) at other values."""
    sct.clear_cache()
    for scale in (1.0, -0.7):
        w, x = W0 * scale, X0 * (1.0 + scale)
        y, (dw, dx) = dlfeval(f, dlarray(w.copy()), dlarray(x.copy()))
        assert_close(float(y), ref(w.copy(), x.copy()), what="value")
        assert_close(dw.data, numerical_gradient(lambda a: ref(a, x.copy()), [w.copy()], 0), what="dL/dw")
        assert_close(dx.data, numerical_gradient(lambda a: ref(w.copy(), a), [x.copy()], 0), what="dL/dx")


def _refused(f, def_text, rebind_text, name):
    sct.clear_cache()
    with pytest.raises(sct.EvaluationError) as info:
        dlfeval(f, dlarray(W0.copy()), dlarray(X0.copy()))
    text = str(info.value)
    assert re.search(HERE + rf", line {_line(f, def_text)}\b", text), text
    assert f"reassigned at line {_line(f, rebind_text)}" in text, text
    assert repr(name) in text, text


# --- a number first, then a traced value: the closure would read the traced value; refused -------------

def alias_of_def(w, x):
    s = 1.0

    def g(z):
        return z * s
    h = g
    s = w
    y = np.sum(h(x))
    return y, dlgradient(y, w, x)


def item_of_list(w, x):
    s = 1.0

    def g(z):
        return z * s
    fs = [g]
    s = w
    y = np.sum(fs[0](x))
    return y, dlgradient(y, w, x)


def item_of_tuple(w, x):
    s = 1.0
    fs = (lambda z: z * s, lambda z: z + s)
    s = w
    y = np.sum(fs[0](x) * fs[1](x))
    return y, dlgradient(y, w, x)


def item_of_dict(w, x):
    s = 1.0
    ops = {"a": lambda z: z * s, "b": lambda z: np.tanh(z) + s}
    s = w
    h = x
    for k in ops:
        h = ops[k](h)
    y = np.sum(h)
    return y, dlgradient(y, w, x)


def appended(w, x):
    s = 1.0
    fs = []
    fs.append(lambda z: z * s)
    s = w
    y = np.sum(fs[0](x))
    return y, dlgradient(y, w, x)


def attribute(w, x):
    s = 1.0
    o = types.SimpleNamespace(act=lambda z: z * s)
    s = w
    y = np.sum(o.act(x))
    return y, dlgradient(y, w, x)


def partial_of_def(w, x):
    s = 1.0

    def g(z, t):
        return z * s * t
    h = functools.partial(g, t=2.0)
    s = w
    y = np.sum(h(x))
    return y, dlgradient(y, w, x)


def activations(w, x):          # (red55r w_lambda_list_late2.py)
    scale = 1.0
    acts = [lambda z: np.tanh(z) * scale for _ in range(3)]
    scale = w
    h = x
    for act in acts:
        h = act(h)
    y = np.sum(h)
    return y, dlgradient(y, w, x)


@pytest.mark.parametrize("f, def_text", [
    (alias_of_def, "def g"), (item_of_list, "def g"), (item_of_tuple, "fs = ("), (item_of_dict, "ops = {"),
    (appended, "fs.append("), (attribute, "o = types"),
])
def test_number_then_traced_is_refused(f, def_text):
    _refused(f, def_text, "s = w", "s")


def test_activations_scale_set_after_is_refused():
    _refused(activations, "acts = [", "scale = w", "scale")


def test_direct_call_reads_the_new_value():
    def f(w, x):
        s = 1.0

        def g(z):
            return z * s
        s = w
        y = np.sum(g(x))
        return y, dlgradient(y, w, x)

    def ref(w, x):
        return np.sum(x * w)
    _exact(f, ref)


# --- a traced value captured, then a number: the closure reads the number; exact --------------------------

def test_traced_then_number_through_a_list():
    def f(w, x):
        s = 1.0
        s = w
        fs = [lambda z: z * s]
        s = 2.0
        y = np.sum(fs[0](x)) * np.sum(w * x)
        return y, dlgradient(y, w, x)

    def ref(w, x):
        return np.sum(x * 2.0) * np.sum(w * x)
    _exact(f, ref)


def test_traced_then_number_through_an_alias():
    def f(w, x):
        s = w * x

        def g(z):
            return np.tanh(z) * s
        h = g
        s = 3.0
        y = np.sum(h(x * w))
        return y, dlgradient(y, w, x)

    def ref(w, x):
        return np.sum(np.tanh(x * w) * 3.0)
    _exact(f, ref)


def test_traced_then_numbers_in_a_loop_after():
    def f(w, x):
        s = w
        fs = {"a": lambda z: z * s}
        s = 0.5
        y = np.sum(fs["a"](x * w))
        for k in range(3):
            s = s + 1.0
            y = y + np.sum(fs["a"](x))
        return y, dlgradient(y, w, x)

    def ref(w, x):
        return np.sum(x * w * 0.5) + np.sum(x * 1.5) + np.sum(x * 2.5) + np.sum(x * 3.5)
    _exact(f, ref)


def test_numbers_late_bound_in_a_comprehension():
    def f(w, x):
        fs = [lambda z: np.sin(z) * c for c in (0.5, 2.0)]
        y = np.sum(fs[0](x * w)) + np.sum(fs[1](w))
        return y, dlgradient(y, w, x)

    def ref(w, x):
        return np.sum(np.sin(x * w) * 2.0) + np.sum(np.sin(w) * 2.0)
    _exact(f, ref)


def test_traced_then_number_second_order():
    def f(w, x):
        s = w
        fs = [lambda z: np.sin(z) * s]
        s = 2.0
        y = np.sum(fs[0](x * w))
        g = dlgradient(y, w, EnableHigherDerivatives=True)
        v = np.sum(g * g)
        return v, dlgradient(v, w, x)

    def ref(w, x):
        return np.sum((2.0 * np.cos(x * w) * x) ** 2)
    _exact(f, ref)


# --- the new value a container, then changed in place: the closure sees the change; refused at the write --

def test_rebound_to_a_list_then_written_is_refused():
    def f(w, x):
        s = [1.0]
        fs = [lambda z: z * s[0]]
        t = [2.0]
        s = t
        t[0] = w
        y = np.sum(fs[0](x))        # Python: x * w (the list s now is)
        return y, dlgradient(y, w, x)
    sct.clear_cache()
    with pytest.raises(sct.CompileError) as info:
        dlfeval(f, dlarray(W0.copy()), dlarray(X0.copy()))
    text = str(info.value)
    assert f"{HERE}, line {_line(f, 't[0] = w')}" in text and "t[...]" in text, text


def test_rebound_to_a_dict_then_written_is_refused():
    def f(w, x):
        cfg = {"scale": 1.0}
        acts = {"a": lambda z: np.tanh(z) * cfg["scale"]}
        new = {"scale": 2.0}
        cfg = new
        new["scale"] = w
        y = np.sum(acts["a"](x))
        return y, dlgradient(y, w, x)
    sct.clear_cache()
    with pytest.raises(sct.CompileError) as info:
        dlfeval(f, dlarray(W0.copy()), dlarray(X0.copy()))
    text = str(info.value)
    assert f"{HERE}, line {_line(f, 'new[' + chr(34) + 'scale' + chr(34) + '] = w')}" in text, text


def test_rebound_to_a_list_not_written_is_exact():
    def f(w, x):
        s = [1.0]
        fs = [lambda z: z * s[0] * w]
        s = [2.0, 3.0]
        y = np.sum(fs[0](x))
        return y, dlgradient(y, w, x)

    def ref(w, x):
        return np.sum(x * 2.0 * w)
    _exact(f, ref)


def test_rebound_to_an_array_then_written_is_refused():
    def f(w, x):
        s = 1.0
        fs = [lambda z: z * s]
        s = np.zeros(2)
        s[0] = w[0]                 # Python: fs[0] reads this array, written (was: sct's value 0.0)
        y = np.sum(fs[0](x))
        return y, dlgradient(y, w, x)
    sct.clear_cache()
    with pytest.raises(sct.CompileError) as info:
        dlfeval(f, dlarray(W0.copy()), dlarray(X0.copy()))
    text = str(info.value)
    assert f"{HERE}, line {_line(f, 's[0] = w[0]')}" in text and "fs holds it" in text, text


def test_partial_of_a_def_reading_a_rebound_name_is_exact():
    """The same through functools.partial of a nested def: since refuse55b sct reads the partial's function
    itself, which reads s at its call (w): exact (merge of clos55 with refuse55b; was refused on clos55)."""
    w, x = np.array([0.5, -1.5]), np.array([1.0, 2.0])

    def plain(w, x):
        return np.sum(x * w * 2.0)
    y, (gw, gx) = dlfeval(partial_of_def, dlarray(w), dlarray(x))
    assert float(y) == plain(w, x)
    assert_close(np.asarray(gw.data), numerical_gradient(plain, [w, x], 0))
    assert_close(np.asarray(gx.data), numerical_gradient(plain, [w, x], 1))
