"""np.conj (and every rule with a conj) of a value reassigned in a loop or branch (``x = np.conj(x)``):
the adjoint of the new value is held as ``d_x_out`` (sct/adjoints.py), a name the realness analysis
did not know and took for real, so the conj of the rule was dropped and the gradient came back
conjugated, silently (found through sct.pagemtimes' "ctranspose").  The names are now aliases of their
values (Generation.adjoint_aliases).  A small differential tester of complex programs with branches and
loops (values against plain Python, gradients against finite differences) keeps it so."""
from __future__ import annotations

import importlib
import random
import sys

import numpy as np
import pytest

from gradcheck import D, check_grads, numerical_gradient
from sct import dlarray, dlfeval, dlgradient

B = np.random.default_rng(1).random((4, 5))


def conj_in_branch(a, t=1.0):
    xp = a.T
    if t > 0:
        xp = np.conj(xp)
    return np.sum(np.abs(xp @ B) ** 2)


def conj_in_loop(a):
    z = a * 1.0
    for _ in range(3):
        z = np.conj(z) * (0.5 + 0.25j)
    return np.sum(np.real(z * (1 + 2j)))


def conj_method_in_branch(a):
    z = a * (1 - 1j)
    if np.sum(np.abs(z)) > 1.0:
        z = z.conj()
    return np.sum(np.imag(z * np.arange(1, 13).reshape(4, 3)))


@pytest.mark.parametrize("case", [conj_in_branch, conj_in_loop, conj_method_in_branch], ids=lambda f: f.__name__)
def test_conj_of_reassigned_value(case):
    rng = np.random.default_rng(0)
    check_grads(case, rng.random((4, 3)) + 1j * rng.random((4, 3)))


_OPS = ["np.conj({v})", "{v} * (1 + 2j)", "{v} * {w}", "np.real({v}) + {w} * 0.5", "np.imag({v}) * 1j + {v}",
        "np.abs({v}) + {v} * 0.1", "{v} / (1.5 + 0.5j)", "np.exp({v} * 0.3)", "np.sin({v})", "{v}.conj() * 0.7",
        "np.conjugate({v}) + {w}", "{v} ** 2 * 0.3", "np.sqrt({v} + 3.0)", "np.angle({v}) + {v}",
        "np.conj({v}) * {v}", "1j * {v}", "{v}[::-1] * 0.5 + {v}", "np.tanh({v} * 0.2)", "np.real({v})"]


def _program(seed: int) -> str:
    r = random.Random(seed)
    lines = ["def f(a, b):", "    x = a * 1.0", "    y = b * 1.0"]
    for _ in range(r.randint(3, 7)):
        v, w = r.choice(["x", "y"]), r.choice(["x", "y", "a", "b"])
        op = r.choice(_OPS).format(v=v, w=w)
        kind = r.random()
        if kind < 0.3:
            lines += [f"    if np.sum(np.abs({w})) > {r.uniform(0, 4):.2f}:", f"        {v} = {op}"]
        elif kind < 0.5:
            lines += [f"    for k in range({r.randint(1, 3)}):", f"        {v} = {op}"]
        elif kind < 0.6:
            lines += [f"    while np.sum(np.abs({v})) > 50.0:", f"        {v} = {v} * 0.5"]
        else:
            lines += [f"    {v} = {op}"]
    lines.append("    return np.sum(np.abs(x) ** 2) + np.sum(np.real(y * (0.3 - 0.4j))) + np.sum(np.imag(x * y))")
    return "import numpy as np\n\n\n" + "\n".join(lines) + "\n"


def _gradient_of(fun, a, b):
    y = fun(a, b)
    return y, dlgradient(y, a, b)


@pytest.mark.parametrize("seed", range(40))
def test_random_complex_programs_with_branches_and_loops(seed, tmp_path, monkeypatch):
    name = f"complex_program_{seed}"
    (tmp_path / f"{name}.py").write_text(_program(seed))
    monkeypatch.syspath_prepend(str(tmp_path))
    f = importlib.import_module(name).f
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    b = rng.standard_normal(3) + (1j * rng.standard_normal(3) if seed % 3 else 0)
    with np.errstate(all="ignore"):
        expected = f(a.copy(), b.copy())
    if not np.isfinite(expected) or abs(expected) > 1e6:
        pytest.skip("the program overflows at this point")
    y, (ga, gb) = dlfeval(_gradient_of, f, dlarray(a), dlarray(b))
    assert float(np.real(D(y))) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    for got, position in ((ga, 0), (gb, 1)):
        want = numerical_gradient(f, [a.copy(), b.copy()], position)
        np.testing.assert_allclose(D(got), want, rtol=1e-5, atol=1e-5 * (1 + np.abs(want).max()))
    sys.modules.pop(name, None)
