"""A helper of the file that writes into what a parameter holds (``traj[k] = v``, ``acc.append(v)``,
``st.w = v``, ``buf[i] += v``) is read in place (sct/inline_helpers.py ``_writes_into_parameters``): its
parameters read the caller's arguments, so its writes are the caller's own writes into its own arrays,
lists and objects, which sct follows (was: refused, "the caller's object would change too", the most
common refusal of preallocating programs).  Only where every written parameter is given a name the
caller binds itself: a call writing into the caller's argument, a global or a closure value stays a
call (refused at the helper's line where the write is of a traced value; run once where a second
derivative recomputes it, tests/test_redteam_dec8r.py, test_redteam_dec9b.py)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import check_grads
from sct import dlarray, dlfeval, dlgradient


def step(traj, k, s):
    traj[k] = s * 2.0
    return s * 0.9 + 0.05


def cost(traj):
    return np.mean(np.cos(traj))


def trajectory(x):
    s = x * 1.0
    A = np.zeros((5, 3))
    for i in range(5):
        s = step(A, i, s)
    return cost(A) + np.sum(s)


def fill(out, rows):
    for i, r in enumerate(rows):
        out[i] = r * (i + 1)


def filled(x):
    B = np.empty((2, 3))
    fill(B, [x, np.sin(x)])
    return np.sum(B ** 2)


def push(acc, v):
    acc.append(v * 2)


def pushed(x):
    acc = []
    for k in range(3):
        push(acc, x * k)
    return np.sum(np.stack(acc) ** 2)


class State:
    pass


def setw(st, v):
    st.w = v * 3


def attribute_set(x):
    st = State()
    setw(st, x)
    return np.sum(st.w ** 2)


def accum(buf, i, v):
    buf[i] += v


def accumulated(x):
    buf = np.zeros(3)
    for i in range(3):
        accum(buf, i, x[i] ** 2)
        accum(buf, 0, x[i])
    return np.sum(buf * np.arange(1, 4))


def through_alias(x):
    A = np.zeros((3, 3))
    B = A
    step(B, 1, x)
    return np.sum(A * A) + np.sum(B)


def into_a_view(x):
    A = np.zeros((3, 3))
    step(A[1:], 0, x)
    return np.sum(A ** 2)


def nested_helpers(x):
    A = np.zeros((4, 3))
    _fill_two(A, x)
    return np.sum(np.tanh(A))


def _fill_two(out, v):
    step(out, 0, v)
    step(out, 3, np.cos(v))


CASES = [trajectory, filled, pushed, attribute_set, accumulated, through_alias, into_a_view, nested_helpers]


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__)
def test_helper_writes_into_the_callers_arrays(case):
    check_grads(case, np.array([0.3, -0.7, 1.1]))


def test_helper_writes_second_order_and_jvp():
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 0.5, -0.25])
    from gradcheck import D, numerical_gradient
    for case in (trajectory, accumulated):
        _, jv = sct.jvp(case, (x,), (v,))
        assert float(np.asarray(jv)) == pytest.approx(numerical_gradient(case, [x], 0) @ v, rel=1e-6, abs=1e-8)
        eps = 1e-4
        want = (numerical_gradient(case, [x + eps * v], 0) - numerical_gradient(case, [x - eps * v], 0)) / (2 * eps)
        np.testing.assert_allclose(D(sct.hvp(case, x, v)), want, rtol=1e-4, atol=1e-6)


def into_an_argument(x, buf):
    s = x * 1.0
    for i in range(2):
        s = step(buf, i, s)
    y = np.sum(buf ** 2) + np.sum(s)
    return y, dlgradient(y, x)


GLOBAL_BUFFER = np.zeros((2, 3))


def into_a_global(x):
    s = step(GLOBAL_BUFFER, 0, x * 1.0)
    y = np.sum(GLOBAL_BUFFER ** 2) + np.sum(s)
    return y, dlgradient(y, x)


def test_writes_into_outside_objects_stay_refused_at_the_helpers_line():
    import inspect
    line = inspect.getsourcelines(step)[1] + 1
    with pytest.raises(sct.CompileError) as info:
        dlfeval(into_an_argument, dlarray(np.array([0.3, -0.7, 1.1])), np.zeros((2, 3)))
    assert info.value.lineno == line and "traj" in str(info.value)       # (the helper's name for it)
    with pytest.raises(sct.CompileError) as info:
        dlfeval(into_a_global, dlarray(np.array([0.3, -0.7, 1.1])))
    assert info.value.lineno == line and "traj" in str(info.value)


# --- a differential tester: random programs of helpers writing into the caller's arrays, lists, dicts ---

_HELPERS = '''
def put_row(A, i, v):
    A[i] = v * 1.5

def add_into(A, i, v):
    A[i] += np.sin(v)

def push(lst, v):
    lst.append(v * 0.5)

def step(traj, k, s):
    traj[k] = s
    return s * 0.9 + 0.1 * np.tanh(s)

def set_state(st, v):
    st["h"] = v * 2.0

def fill_two(out, v):
    put_row(out, 0, v)
    add_into(out, 1, v * v)

'''
_STATEMENTS = [
    ["A = np.zeros((3, 3))", "put_row(A, 1, {v})", "{v} = {v} + A.sum(axis=0) * 0.3"],
    ["A = np.zeros((3, 3))", "for i in range(3):", "    add_into(A, i, {v} * (i + 1))", "{v} = {v} * 0.5 + A[2] * 0.2"],
    ["lst = []", "for i in range(2):", "    push(lst, {v} + i)", "{v} = {v} + np.stack(lst).mean(axis=0)"],
    ["T = np.zeros((4, 3))", "s = {v} * 1.0", "for k in range(4):", "    s = step(T, k, s)",
     "{v} = {v} * 0.5 + np.cos(T).mean(axis=0) + s"],
    ["st = {{'h': {v} * 0.0}}", "set_state(st, {v})", "{v} = st['h'] * 0.5 + {v}"],
    ["B = np.zeros((2, 3))", "fill_two(B, {v})", "{v} = {v} + B[0] * B[1] * 0.1"],
    ["{v} = np.tanh({v}) + {w} * 0.2"],
    ["if np.sum({w}) > 0.3:", "    {v} = {v} * {w}"],
]


def _writing_program(seed: int) -> str:
    import random
    r = random.Random(seed)
    lines = ["def f(a, b):", "    x = a * 1.0", "    y = b * 1.0"]
    for _ in range(r.randint(2, 5)):
        v, w = r.choice(["x", "y"]), r.choice(["x", "y", "a", "b"])
        lines += ["    " + line.format(v=v, w=w) for line in r.choice(_STATEMENTS)]
    lines.append("    return np.sum(x * x) + np.sum(np.sin(y)) + np.sum(x * y)")
    return "import numpy as np\n\n" + _HELPERS + "\n" + "\n".join(lines) + "\n"


def _gradients(fun, a, b):
    y = fun(a, b)
    return y, dlgradient(y, a, b)


@pytest.mark.parametrize("seed", range(16))
def test_random_programs_of_helpers_writing_into_the_callers_objects(seed, tmp_path, monkeypatch):
    import importlib
    import sys
    from gradcheck import D, numerical_gradient
    name = f"writing_program_{seed}"
    (tmp_path / f"{name}.py").write_text(_writing_program(seed))
    monkeypatch.syspath_prepend(str(tmp_path))
    f = importlib.import_module(name).f
    rng = np.random.default_rng(seed)
    a, b, va, vb = (rng.standard_normal(3) for _ in range(4))
    y, (ga, gb) = dlfeval(_gradients, f, dlarray(a), dlarray(b))
    assert float(D(y)) == pytest.approx(f(a.copy(), b.copy()), rel=1e-12, abs=1e-12)
    na, nb = numerical_gradient(f, [a.copy(), b.copy()], 0), numerical_gradient(f, [a.copy(), b.copy()], 1)
    np.testing.assert_allclose(D(ga), na, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(D(gb), nb, rtol=1e-6, atol=1e-8)
    _, jv = sct.jvp(f, (a, b), (va, vb))
    assert float(np.asarray(jv)) == pytest.approx(na @ va + nb @ vb, rel=1e-6, abs=1e-8)
    sys.modules.pop(name, None)
