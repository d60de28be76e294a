"""Everyday idioms (dec 6): functools.partial made or called in differentiated code, calls with
**kwargs, ... .  Values against plain Python, gradients against finite differences (first and,
where it is supported, second order); what sct still refuses, refused with a clear message."""
import functools
from functools import partial
import types

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient
from gradcheck import assert_close, check_two_inputs, first, numerical_gradient, second

X = np.array([0.3, -0.5, 0.7, 1.1])
T = np.array([1.0, 2.0, -3.0, 0.4])


def _plain(f):
    """``f`` run as plain Python: dlgradient gives None."""
    return types.FunctionType(f.__code__, {**f.__globals__, "dlgradient": lambda *a, **k: None},
                              f.__name__, f.__defaults__, f.__closure__)


def check(case, x=X, t=T, order=2):
    check_two_inputs(case, x, t, order)


# --- 1. functools.partial ------------------------------------------------------------------------

def mse(y, targets):
    return np.sum((y - targets) ** 2)


def layer(x, w, scale=1.0, bias=0.0):
    return scale * np.tanh(w * x) + bias


def pk_keyword(x, t):
    loss_fn = partial(mse, targets=t)          # frozen traced keyword
    return loss_fn(x * 2)


def pk_positional(x, t):
    f = functools.partial(layer, x)            # frozen traced positional
    return np.sum(f(t, 2.0) * f(t))


def pk_called_inline(x, t):
    return functools.partial(mse, targets=np.sin(t))(x ** 2)


def pk_override(x, t):
    f = partial(layer, w=t, bias=0.5)
    return np.sum(f(x) + f(x, bias=2.0))       # the call's keyword wins over the frozen one


def pk_frozen_then_changed(x, t):
    f = partial(mse, targets=t)                # frozen when made: t rebound after does not matter
    t = t * 3.0
    return f(x) + np.sum(t)


def apply_twice(fn, v):
    return fn(v) + fn(v * 0.5)


def pk_passed_to_helper(x, t):
    f = partial(mse, targets=t * t)
    return apply_twice(f, x)


def pk_in_loop(x, t):
    total = 0.0
    for k in range(3):
        f = partial(layer, w=t, scale=float(k + 1))
        total = total + np.sum(f(x))
    return total


def pk_list(x, t):
    fs = [partial(layer, w=t, bias=b) for b in (0.0, 1.0)]
    return sum(np.sum(f(x)) for f in fs)


@pytest.mark.parametrize("case", [pk_keyword, pk_positional, pk_called_inline, pk_override,
                                  pk_frozen_then_changed, pk_in_loop])
def test_partial_made_in_function(case):
    check(case)


def test_partial_passed_on():
    """A partial passed to a helper is a closure passed as a value: its second order was refused;
    dec 9: differentiated again (tests/test_closures_dec9d.py)."""
    check(pk_passed_to_helper)


def pk_traced_override(x, t):
    f = partial(layer, w=t, bias=0.5)
    return np.sum(f(x, w=x * t))


def test_partial_traced_keyword_override():
    """A traced value given by keyword to a partial (was refused "pass w positionally"; dec 7:
    rt.keywords_method takes it by position)."""
    check(pk_traced_override)


def test_partials_made_in_comprehension():
    """Each partial's frozen values are its nested function's own defaults, read where it is made
    (s55; was: captured values a later item rebinds, so calling an earlier one was refused)."""
    assert np.isfinite(pk_list(X, T))
    check(pk_list)


def entry_partial(x, t):
    loss = partial(mse, targets=t)
    y = loss(np.sin(x))
    return y, dlgradient(y, x, t)


def test_partial_in_entry_function():
    y, (gx, gt) = dlfeval(entry_partial, dlarray(X), dlarray(T))
    assert_close(sct.extractdata(y), mse(np.sin(X), T), rtol=1e-12)
    assert_close(sct.extractdata(gx), 2 * (np.sin(X) - T) * np.cos(X))
    assert_close(sct.extractdata(gt), -2 * (np.sin(X) - T))


def too_many(x, t):
    f = partial(mse, targets=t)
    return f(x, t)                             # Python: TypeError (targets given twice)


def test_partial_surplus_positional_is_pythons_error():
    with pytest.raises(TypeError):
        too_many(X, T)
    with pytest.raises((TypeError, sct.SctError)) as info:
        dlfeval(first, too_many, dlarray(X), dlarray(T))
    assert "targets" in str(info.value)


def uses_given_partial(x, t, loss):
    y = np.sum(loss(np.sin(x) * t))
    return y, dlgradient(y, x, t)


@pytest.mark.parametrize("loss", [partial(mse, targets=T), partial(mse, T), partial(layer, w=T, bias=1.0)])
def test_partial_passed_in(loss):
    def plain(a, b):
        return np.sum(loss(np.sin(a) * b))
    y, (gx, gt) = dlfeval(uses_given_partial, dlarray(X), dlarray(T * 0.5), loss)
    assert_close(np.sum(sct.extractdata(y)), plain(X, T * 0.5), rtol=1e-12)
    assert_close(sct.extractdata(gx), numerical_gradient(lambda a: plain(a, T * 0.5), [X.copy()], 0))
    assert_close(sct.extractdata(gt), numerical_gradient(lambda b: plain(X, b), [T * 0.5], 0))


def model_loss(net, x, t):
    y = np.sum((net["w"] * x - t) ** 2)
    return y, dlgradient(y, net["w"])


def test_dlfeval_of_partial():
    w = np.array([0.2, 0.4, -0.1, 0.9])
    y, g = dlfeval(partial(model_loss, {"w": dlarray(w)}), dlarray(X), T)
    assert_close(sct.extractdata(y), np.sum((w * X - T) ** 2), rtol=1e-12)
    assert_close(sct.extractdata(g), 2 * (w * X - T) * X)


# --- 2. calls with **kwargs ----------------------------------------------------------------------

def kw_local_dict(x, t):
    cfg = {"w": t, "bias": 0.5}
    return np.sum(layer(x, **cfg))


def kw_all_by_dict(x, t):
    params = {"x": x, "w": t * t}
    return np.sum(layer(**params))


def kw_mixed(x, t):
    return np.sum(layer(x, scale=np.sum(t), **{"w": t}))


def kw_gap_default(x, t):
    return np.sum(layer(x, t, **{"bias": np.sin(t)}))        # scale keeps its default


def kw_two_splats(x, t):
    a, b = {"w": t}, {"scale": x}
    return np.sum(layer(x, **a, **b))


def kw_local_function(x, t):
    g = layer if x.shape[0] > 1 else mse
    return np.sum(g(x, **{"w": t, "scale": 3.0}))


@pytest.mark.parametrize("case", [kw_local_dict, kw_all_by_dict, kw_mixed, kw_gap_default,
                                  kw_two_splats, kw_local_function])
def test_double_star_calls(case):
    check(case)


def kw_dict_argument(x, p):
    y = np.sum(layer(x, **p))
    return y, dlgradient(y, p)


def test_double_star_of_an_argument_dict():
    p = {"w": T, "scale": 2.0}
    y, g = dlfeval(kw_dict_argument, dlarray(X), {"w": dlarray(T), "scale": 2.0})
    assert_close(sct.extractdata(y), np.sum(layer(X, **p)), rtol=1e-12)
    assert_close(sct.extractdata(g["w"]), numerical_gradient(lambda w: np.sum(layer(X, w, 2.0)), [T.copy()], 0))


def kw_duplicate(x, t):
    return np.sum(layer(x, t, **{"w": t}))


def kw_unknown(x, t):
    return np.sum(layer(x, t, **{"shift": t}))


@pytest.mark.parametrize("case", [kw_duplicate, kw_unknown])
def test_double_star_errors_are_pythons(case):
    # (a dict display's keys are the call's own keywords since stop 42: a call that cannot match the
    # function is refused where it is compiled, in Python's words, as a call written with them is)
    with pytest.raises(TypeError) as plain:
        case(X, T)
    with pytest.raises(CompileError, match="this call does not match layer") as compiled:
        dlfeval(first, case, dlarray(X), dlarray(T))
    assert str(compiled.value).endswith(str(plain.value).split("() ")[-1])


def kw_only(x, *, w, scale=1.0):
    return scale * np.sum(w * x ** 2)


def kw_to_keyword_only(x, t):
    return kw_only(x, **{"w": t})


def kw_to_keyword_only_written(x, t):
    cfg = {}
    cfg["w"] = t                # (keys known only when it runs)
    return kw_only(x, **cfg)


def test_double_star_to_keyword_only():
    # (was refused: a dict display's keys are the call's own keywords since stop 42)
    check(kw_to_keyword_only)


def test_double_star_of_a_written_dict_to_keyword_only_refused():
    with pytest.raises(EvaluationError, match="keyword-only"):
        dlfeval(first, kw_to_keyword_only_written, dlarray(X), dlarray(T))


# --- 3. dict and list methods, copies ------------------------------------------------------------

def dm_update(x, t):
    d = {"a": x, "b": t}
    d.update({"b": t * x, "c": np.sin(t)}, a=x * x)
    return np.sum(d["a"] * d["b"] + d["c"])


def dm_update_keywords_only(x, t):
    d = dict(w=t)
    d.update(bias=x)
    return np.sum(layer(x, **d))


def dm_setdefault(x, t):
    d = {"a": x}
    v = d.setdefault("a", t)            # present: t is not stored (but evaluated)
    d.setdefault("b", t * 2.0)          # absent: stored
    w = d.setdefault("c", x * t)
    return np.sum(v * d["b"] + w)


def dm_or(x, t):
    d = {"a": x, "b": t}
    e = d | {"b": x * t}
    f = {"c": t} | e
    return np.sum(e["a"] * e["b"] + f["c"] * f["a"])


def dm_dict_call_and_splat(x, t):
    d = {"a": x}
    e = dict(d, b=t)
    f = {**e, "a": t * t}
    return np.sum(e["a"] * e["b"] + f["a"])


def dm_lists(x, t):
    items = [x]
    items.extend([t, x * t])
    items.insert(1, np.cos(t))
    last = items.pop()
    return np.sum(items[0] * items[1] * items[2] * last)


def dm_copies(x, t):
    import copy
    p = {"w": t, "b": x}
    q = copy.copy(p)
    q["w"] = q["w"] * x
    r = copy.deepcopy(p)
    r["b"] = r["b"] + 1.0
    return np.sum(q["w"] * p["w"] + r["b"] * p["b"])


def dm_or_names(x, t):
    d = {"a": x}
    e = {"a": t, "b": x * t}
    f = d | e
    return np.sum(f["a"] * f["b"]) + np.sum(d["a"])


def dm_ior(x, t):
    d = {"a": x}
    e = {"b": x * t}
    d |= e                                  # was a silent wrong gradient (d's new item constant)
    return np.sum(d["b"]) + np.sum(x * d["a"])


def dm_masks(x, t):
    m = (x > 0) | (t > 0)
    return np.sum(np.where(m, x * t, 0.0))


@pytest.mark.parametrize("case", [dm_or_names, dm_ior, dm_masks])
def test_or_of_names(case):
    check(case)


def dm_ior_shared(x, t):
    d = {"a": x}
    alias = d
    d |= {"b": t}
    return np.sum(alias["b"])


def test_ior_of_a_shared_dict_refused():
    with pytest.raises(CompileError, match="changes the array"):
        dlfeval(first, dm_ior_shared, dlarray(X), dlarray(T))


@pytest.mark.parametrize("case", [dm_update, dm_update_keywords_only, dm_setdefault, dm_or,
                                  dm_dict_call_and_splat, dm_lists, dm_copies])
def test_dict_and_list_idioms(case):
    check(case)


def dm_update_shared(x, t):
    d = {"a": x}
    e = d
    d.update(a=t)
    return np.sum(e["a"])


def dm_or_set(x, t):
    s = {1, 2}
    u = s | dict(a=1)
    return np.sum(x) * len(u)


def test_dict_method_refusals():
    check(dm_update_shared)      # e surely is d: bound again after the update (sct/copy_aliases.py)
    with pytest.raises(TypeError):
        dm_or_set(X, T)
    with pytest.raises(EvaluationError, match="between two dicts"):
        dlfeval(first, dm_or_set, dlarray(X), dlarray(T))


# --- 4. notebook cells: a helper of one cell called from another --------------------------------

def _run_cells(cells):
    """Run code the way IPython runs cells: each compiled under a file name of its own, its text
    in linecache, all in one namespace."""
    import linecache
    import uuid
    namespace = {"np": np, "sct": sct, "dlarray": dlarray, "dlfeval": dlfeval, "dlgradient": dlgradient}
    names = []
    for text in cells:
        name = f"<ipython-input-{len(names) + 1}-{uuid.uuid4().hex[:12]}>"
        linecache.cache[name] = (len(text), None, text.splitlines(True), name)
        exec(compile(text, name, "exec"), namespace)
        names.append(name)
    return namespace, names


HELPER_CELL = '''
def grad_of(y, x):
    g = dlgradient(y, x)
    return g
'''

CALLER_CELL = '''
def h(x, z):
    y = np.sum(x * z)
    return y, grad_of(y, x)
'''


def test_helper_taking_gradients_from_another_cell():
    """dlgradient in a helper of another cell sees the caller's code (as in one file): d/dx of
    sum(x * x**2) is 3x**2, not the partial x**2."""
    ns, _ = _run_cells([CALLER_CELL.replace("grad_of(y, x)", "dlgradient(y, x)"),
                        "def entry(x):\n    return h(x, x ** 2)\n"])
    x = np.array([0.5, -1.5, 2.0])
    y, g = dlfeval(ns["entry"], dlarray(x))
    assert_close(sct.extractdata(y), np.sum(x ** 3), rtol=1e-12)
    assert_close(sct.extractdata(g), 3 * x ** 2)


FAILING_HELPER_CELL = '''
def grad_of(y, x):
    bad = x @ np.ones(7)
    g = dlgradient(y, x)
    return g + bad
'''


def test_error_in_helper_of_another_cell_names_its_cell_and_line():
    ns, names = _run_cells([FAILING_HELPER_CELL, CALLER_CELL])
    with pytest.raises(EvaluationError) as info:
        dlfeval(ns["h"], dlarray(np.array([0.5, -1.5, 2.0])), dlarray(np.ones(3)))
    assert info.value.filename == names[0] and info.value.lineno == 3, str(info.value)
    assert "x @ np.ones(7)" in str(info.value)


def test_message_naming_a_line_of_another_cell():
    """Refused where the helper is compiled on its own (called from a function of another file):
    the line the message names is the helper's, in its cell."""
    ns, names = _run_cells([HELPER_CELL, CALLER_CELL])
    with pytest.raises(CompileError) as info:
        dlfeval(lambda x: ns["h"](x, x ** 2), dlarray(np.array([0.5, -1.5, 2.0])))
    text = str(info.value)
    assert f"{names[0]}, line 3" in text and "1677" not in text, text


# --- 5. np.insert, np.delete, np.unique ------------------------------------------------------------

def np_delete(x, t):
    return np.sum(np.delete(x * t, 1) ** 2) + np.sum(np.delete(np.outer(x, t), [0, 2], axis=1) ** 3)


def np_delete_mask(x, t):
    return np.sum(np.sin(np.delete(x, x > 0.5)) * np.delete(t, np.array([True, False, False, True])))


def np_insert(x, t):
    a = np.insert(x, 1, t[0] * 2.0)                    # one value
    b = np.insert(x, [3, 0], t[:2] ** 2)               # values at unsorted positions
    c = np.insert(np.outer(x, t), 2, t, axis=1)        # a column
    d = np.insert(np.outer(x, t), [1], np.sum(t), axis=0)   # a broadcast scalar row
    return np.sum(a ** 2) + np.sum(np.arange(6) * b) + np.sum(np.sin(c)) + np.sum(d ** 3)


def np_insert_flat(x, t):
    return np.sum(np.cumsum(np.insert(np.outer(x, t), 5, x[:2] * t[:2])) ** 2)


def np_unique(x, t):
    u = np.unique(x * t)
    return np.sum(u ** 2 * np.arange(u.size)) + np.sum(np.unique(np.outer(x, t)))


@pytest.mark.parametrize("case", [np_delete, np_delete_mask, np_insert, np_insert_flat, np_unique])
def test_insert_delete_unique(case):
    check(case)


def np_unique_index(x, t):
    u, i = np.unique(x, return_index=True)
    return np.sum(u * t[i])


def test_unique_with_indices_refused():
    with pytest.raises(sct.SctError, match="np.unique"):
        dlfeval(first, np_unique_index, dlarray(X), dlarray(T))


def test_cross_cell_helpers_in_a_real_kernel(monkeypatch):
    """As a notebook runs: a helper taking gradients in one cell, called from a function of
    another; an error inside a helper of another cell names that cell (``Cell In[4], line 2``)."""
    import os
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root] + [p for p in os.environ.get(
        "PYTHONPATH", "").split(os.pathsep) if p]))
    cells = [
        "import numpy as np\nimport sct\nfrom sct import dlarray, dlfeval, dlgradient",
        "def h(x, z):\n    y = np.sum(x * z)\n    return y, dlgradient(y, x)",
        "def entry(x):\n    return h(x, x ** 2)\n"
        "y, g = dlfeval(entry, dlarray(np.array([0.5, -1.5, 2.0])))\n"
        "print('GRAD', [float(v) for v in np.asarray(sct.extractdata(g))], 'FILE', sct.__file__)",
        "def bad(y, x):\n    b = x @ np.ones(7)\n    return dlgradient(y, x) + b",
        "def caller(x):\n    y = np.sum(x ** 3)\n    return y, bad(y, x)\n"
        "try:\n    dlfeval(caller, dlarray(np.ones(3)))\nexcept sct.EvaluationError as e:\n    print('ERR', e)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    text = {i: "".join(o.get("text", "") for o in c.get("outputs", [])) for i, c in enumerate(nb.cells)}
    assert os.path.join(root, "sct") in text[2], text[2]
    grad = [float(v) for v in text[2].split("GRAD [")[1].split("]")[0].split(",")]
    assert_close(grad, 3 * np.array([0.5, -1.5, 2.0]) ** 2)
    assert "Cell In[4], line 2" in text[4] and "x @ np.ones(7)" in text[4], text[4]


# --- 3b. dataclasses.replace -----------------------------------------------------------------------

import dataclasses  # noqa: E402


@dataclasses.dataclass
class Params:
    w: object
    b: object
    name: str = "p"


@dataclasses.dataclass
class Checked:
    w: object

    def __post_init__(self):
        self.w = self.w * 2.0


def dc_replace(x, t):
    p = Params(w=t, b=x)
    q = dataclasses.replace(p, w=p.w * x)
    r = dataclasses.replace(q, name="r")
    return np.sum(q.w * p.b + r.w * r.b) + np.sum(p.w)


@pytest.mark.parametrize("case", [dc_replace])
def test_dataclasses_replace(case):
    check(case)


def dc_replace_argument(p, x):
    q = dataclasses.replace(p, b=x * p.b)
    y = np.sum(q.w * q.b)
    return y, dlgradient(y, p, x)


def test_dataclasses_replace_of_an_argument():
    w, b = np.array([0.5, 2.0]), np.array([1.5, -1.0])
    x = np.array([0.3, 0.7])
    y, (gp, gx) = dlfeval(dc_replace_argument, Params(dlarray(w), dlarray(b)), dlarray(x))
    assert_close(sct.extractdata(y), np.sum(w * x * b), rtol=1e-12)
    assert_close(sct.extractdata(gp.w), x * b)
    assert_close(sct.extractdata(gp.b), w * x)
    assert_close(sct.extractdata(gx), w * b)


def dc_post_init(x, t):
    c = Checked(w=1.0)
    return np.sum(dataclasses.replace(c, w=x).w * t)


def test_dataclasses_replace_with_post_init_refused():
    with pytest.raises(EvaluationError, match="__post_init__"):
        dlfeval(first, dc_post_init, dlarray(X), dlarray(T))


def test_np_unique_forward_mode_is_its_derivative_not_unique_of_the_tangent():
    # np.unique is not linear: its tangent is the tangent of each first occurrence, in the sorted
    # order of the values (was unique(tangent): the tangent's own values sorted and deduplicated)
    from sct import jvp
    x = np.array([0.7, -0.2, 0.7, 1.5, -0.2])
    v = np.array([3.0, 1.0, -5.0, 2.0, 4.0])
    y, jv = jvp(lambda a: np.unique(a) * 2.0, x, v)
    _, first = np.unique(x, return_index=True)
    np.testing.assert_allclose(np.asarray(getattr(jv, "data", jv)), 2.0 * v[first], rtol=1e-12)
