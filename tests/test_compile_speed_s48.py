"""Compile-speed work (s48, issue 8 item 6): what one compilation now finds once and keeps gives the
answers the repeated work gave.

- ``recomputed.draws_all_seen`` looks up each global read (``np.tanh``, ``st.norm.rvs``) once: a
  library's draw read after many known reads still keeps the random-state watch (refused), and
  only known reads still drop it;
- ``call_tree._runs_user_code`` looks up each name read as a value once per compilation: a user
  function kept as a value is still seen after plain reads of other names, and two modules whose
  same-named global is a builtin in one and a user function in the other are told apart (the
  lookup is no cache shared between compilations);
- ``analysis.Activity.run``'s three fixed points share the statements' readers
  (``analysis.name_readers``): activity and arrays carried backwards through a loop's statements
  give the right gradient, and ``semi_naive`` given the readers visits as it does without;
- walks that were ``gast.walk`` now ``sct.ir``'s (``normalize_try.local_names_of``, the lambdas of
  ``check_supported``, ``_nonlocal_targets``): names bound in a handler and by nested defs, a
  closure's ``nonlocal`` write, ``locals()`` in a lambda (refused at its line).

Values are checked against plain Python, gradients against central differences or closed forms.
``scripts/source_snapshot.py`` checks that no generated source or refusal changed.
"""
import importlib
import sys

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import SctError


def _fd(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, dn = x.copy(), x.copy()
        up[i] += eps
        dn[i] -= eps
        out[i] = (f(up) - f(dn)) / (2 * eps)
    return out


# --- draws_all_seen: each global read looked up once --------------------------------------------

def _known_reads_only(x):
    a = np.tanh(x)
    b = np.tanh(2.0 * x) + np.tanh(a)
    y = np.sum(a ** 3 + b)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x)


def test_known_reads_read_many_times_drop_the_watch_and_keep_the_numbers():
    x = np.array([0.3, -0.6, 1.1])
    text = str(sct.source(_known_reads_only, dlarray(x)))
    assert "replay_from(effects_start, False)" in text

    def first(v):           # d y / d x, exact
        t, s = np.tanh(v), np.tanh(2.0 * v)
        return 3 * t ** 2 * (1 - t ** 2) + 2 * (1 - s ** 2) + (1 - np.tanh(t) ** 2) * (1 - t ** 2)
    h = dlfeval(_known_reads_only, dlarray(x))
    np.testing.assert_allclose(np.asarray(h.data), _fd(lambda v: np.sum(first(v)), x), rtol=1e-6, atol=1e-8)


def test_a_library_draw_after_many_known_reads_keeps_the_watch():
    st = pytest.importorskip("scipy.stats")

    def k(w):
        a = np.tanh(w) * np.tanh(2.0 * w)           # np.tanh: found known, looked up once
        noise = st.norm.rvs(size=2)                 # a library's draw: not known
        loss = np.sum(np.sin(a * (1 + noise))) + np.sum(np.tanh(w))
        g = dlgradient(loss, w, EnableHigherDerivatives=True)
        return g, dlgradient(np.sum(g ** 2), w)

    w = dlarray(np.array([0.3, -0.2]))
    assert "rt.replay_from(effects_start)" in str(sct.source(k, w))
    np.random.seed(0)
    with pytest.raises(SctError, match="drew random numbers"):
        dlfeval(k, w)


# --- _runs_user_code: each name read as a value looked up once -------------------------------------

_MODULE = '''import numpy as np
from sct import dlgradient

SCALE = 2.0


def _fmt(v):
    return "a" * int(1 + 50 * np.random.rand())


H = {H}


def f(x):
    u = SCALE * x + SCALE
    k = H
    c = len(np.array2string(np.ones(1), formatter={{"float_kind": k}}))
    y = c * np.sum(u ** 3) / SCALE
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), c
'''


def _module(tmp_path, name, h):
    (tmp_path / f"{name}.py").write_text(_MODULE.format(H=h))
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_same_named_global_builtin_or_user_function_told_apart(tmp_path):
    plain = _module(tmp_path, "speed_s48_plain", "str")        # a builtin: no user code
    user = _module(tmp_path, "speed_s48_user", "_fmt")         # a user function kept as a value
    x = np.array([0.3, 0.7])
    # d2/dx2 of c * sum((2x + 2)^3) / 2, summed: 6 c * 2 * 2 * (2x + 2) / 2 = 12 c (2x + 2)
    assert "replay_from(effects_start, False)" in str(sct.source(plain.f, dlarray(x), callees=True))
    h, c = dlfeval(plain.f, dlarray(x))
    assert c == len(np.array2string(np.ones(1), formatter={"float_kind": str}))
    np.testing.assert_allclose(np.asarray(h.data), 12 * c * (2 * x + 2), rtol=1e-12)
    assert "replay_from(effects_start, False)" not in str(sct.source(user.f, dlarray(x), callees=True))
    np.random.seed(5)
    try:
        h, c = dlfeval(user.f, dlarray(x))
    except SctError as e:               # the recomputation drew again: refused, not silently wrong
        assert "drew random numbers" in str(e)
    else:
        np.testing.assert_allclose(np.asarray(h.data), 12 * c * (2 * x + 2), rtol=1e-12)


# --- Activity.run: one readers map for its three fixed points --------------------------------------

def _carried_back(x):
    a = x * 0.0 + 1.0
    b = 1.0
    c = 1.0
    for i in range(3):
        c = b * 2.0 + np.sin(c)        # reads b, assigned later in the loop
        b = a + 0.5                    # reads a, assigned later in the loop
        a = x * c
    y = np.sum(a ** 2)
    return y, dlgradient(y, x)


def _carried_back_plain(x):
    a = x * 0.0 + 1.0
    b = 1.0
    c = 1.0
    for i in range(3):
        c = b * 2.0 + np.sin(c)
        b = a + 0.5
        a = x * c
    return np.sum(a ** 2)


def test_activity_carried_backwards_through_a_loop():
    x = np.array([0.4, -0.3, 0.9])
    y, g = dlfeval(_carried_back, dlarray(x))
    assert float(y.data) == pytest.approx(_carried_back_plain(x), rel=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), _fd(_carried_back_plain, x), rtol=1e-6, atol=1e-8)


def test_semi_naive_given_the_readers_visits_as_without():
    import gast
    from sct.analysis import fixed_point_statements, name_readers, semi_naive
    from sct.parse import function_ast
    fdef = function_ast(_carried_back)[0]
    nodes = fixed_point_statements(fdef)
    readers = name_readers(nodes)
    assert readers["b"] == [k for k, s in enumerate(nodes)
                            if any(isinstance(n, gast.Name) and n.id == "b" for n in gast.walk(s.value))]

    def run(given):
        seen, reached = [], {"x"}

        def visit(s):
            seen.append(s)
            target = s.targets[0] if isinstance(s, gast.Assign) else None
            if isinstance(target, gast.Name) and \
                    any(isinstance(n, gast.Name) and n.id in reached for n in gast.walk(s.value)):
                reached.add(target.id)
            return target
        semi_naive(nodes, visit, lambda: len(reached), given)
        return [id(s) for s in seen], reached
    assert run(readers) == run(None)
    assert {"a", "b", "c", "y"} <= run(readers)[1]


# --- walks now sct.ir's: names bound in handlers and nested defs, nonlocal writes, lambdas ----------

def _try_names(x):
    def scale(v):
        return 2.0 * v
    try:
        y = 2.0 * x * x
    except ValueError as err:
        y = x + len(str(err))
    s = np.sum(scale(y))
    return s, dlgradient(s, x)


def test_names_bound_in_a_handler_and_by_a_nested_def():
    x = np.array([0.5, -1.5])
    s, g = dlfeval(_try_names, dlarray(x))
    assert float(s.data) == pytest.approx(np.sum(4.0 * x * x), rel=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), 8.0 * x, rtol=1e-12)


def _nonlocal_bump(x):
    acc = x * 1.0

    def bump(u):
        nonlocal acc
        acc = acc * u
        return u
    y = acc + bump(x)           # Python reads acc (x) before bump rebinds it (x * x)
    s = np.sum(y * acc)         # 2x * x^2
    return s, dlgradient(s, x)


def test_a_nonlocal_write_in_an_expression():
    x = np.array([0.5, -1.5, 2.0])
    s, g = dlfeval(_nonlocal_bump, dlarray(x))
    assert float(s.data) == pytest.approx(np.sum(2.0 * x ** 3), rel=1e-12)
    np.testing.assert_allclose(np.asarray(g.data), 6.0 * x ** 2, rtol=1e-12)


def _lambda_locals(x):
    f = lambda: locals()   # noqa: E731
    y = np.sum(x * len(f()))
    return y, dlgradient(y, x)


def test_locals_in_a_lambda_refused_at_its_line():
    with pytest.raises(SctError) as e:
        dlfeval(_lambda_locals, dlarray(np.array([1.0, 2.0])))
    line = _lambda_locals.__code__.co_firstlineno + 1
    assert f"line {line}" in str(e.value) and "locals()" in str(e.value)
