"""Randomly generated programs: sct's gradient must match central differences.

Each program is built from a seeded generator (so failures reproduce), written
to a module file (sct reads source), and differentiated with respect to its
array input.  The programs mix elementwise math, reductions, indexing, branches
on values, loops that carry state, list building, and helper calls.
"""
import importlib.util
import random
import textwrap

import numpy as np
import pytest

from gradcheck import check_grads

UNARY = ["np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(0.3 * ({}))", "np.log1p(({}) ** 2)",
         "np.sqrt(({}) ** 2 + 1.0)", "({}) ** 2", "-({})", "np.abs({})", "np.maximum({}, 0.1)"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (1.5 + ({}) ** 2)"]


def expression(rng: random.Random, names, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(names)
    if rng.random() < 0.5:
        return rng.choice(UNARY).format(expression(rng, names, depth + 1))
    return rng.choice(BINARY).format(expression(rng, names, depth + 1), expression(rng, names, depth + 1))


def program(seed: int) -> str:
    rng = random.Random(seed)
    names = ["x"]
    lines = ["def helper(u, v):", f"    return {expression(rng, ['u', 'v'])}", "",
             "def split(u):", "    if np.sum(u) > 0:", "        return np.sin(u), u ** 2",
             "    return u, np.cos(u)", "",
             "class Scale:", "    def __init__(self, k):", "        self.k = k",
             "    def apply(self, u):", "        return self.k * np.tanh(u)", "",
             "def f(x):"]
    for k in range(rng.randint(2, 5)):
        kind = rng.random()
        new = f"v{k}"
        if kind < 0.35:
            lines.append(f"    {new} = {expression(rng, names)}")
        elif kind < 0.5:
            lines.append(f"    {new} = helper({rng.choice(names)}, {expression(rng, names)})")
        elif kind < 0.65:
            lines += [f"    {new} = {rng.choice(names)}",
                      f"    for i in range({rng.randint(1, 3)}):",
                      f"        {new} = {expression(rng, names + [new])} * 0.5"]
        elif kind < 0.8:
            lines += [f"    if np.sum({rng.choice(names)}) > {rng.uniform(-1, 1):.2f}:",
                      f"        {new} = {expression(rng, names)}",
                      "    else:",
                      f"        {new} = {expression(rng, names)}"]
        elif kind < 0.9:
            src = rng.choice(names)
            lines += [f"    parts = [{src}[i] * {rng.uniform(0.5, 2):.2f} for i in range(len({src}))]",
                      f"    {new} = {src} + parts[0] + parts[-1]"]
        elif kind < 0.93:
            src = rng.choice(names)
            lines += [f"    {new} = {src}[::-1] * {src}[0] + np.cumsum({src})"]
        elif kind < 0.96:
            src = rng.choice(names)
            lines += [f"    {new} = {src} * 1.0",
                      "    count = 0",
                      f"    while np.sum(np.abs({new})) < {rng.uniform(2, 6):.2f} and count < 4:",
                      f"        {new} = {new} * 1.3 + 0.1",
                      "        count += 1",
                      "        if count == 3:",
                      "            break"]
        else:
            src = rng.choice(names)
            lines += [f"    pair = split({src})",
                      f"    {new} = pair[0] * pair[1] + Scale({rng.uniform(0.5, 2):.2f}).apply({src})"]
        names.append(new)
    reduce = rng.choice(["np.sum({})", "np.mean({}) * 3.0", "np.sum({} ** 2)", "np.max({}) + np.sum({})"])
    lines.append(f"    return {reduce.format(names[-1], names[-1])}")
    return "import numpy as np\n\n" + "\n".join(lines) + "\n"


def check_program(source: str, name: str, x: np.ndarray, folder, *more) -> None:
    """Write ``source`` as a module, import it, and check the gradient of its ``f`` at ``x``."""
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        check_grads(module.f, x, *more, rtol=1e-4, atol=1e-6)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nprogram:\n{textwrap.indent(source, '    ')}") from None


@pytest.mark.parametrize("seed", range(200))
def test_random_program(seed, tmp_path):
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, 4)
    check_program(program(seed), f"random_program_{seed}", x, tmp_path)


MATRIX_STEPS = [
    "{n} = np.tanh(W @ {a})",
    "{n} = {a} - np.mean({a}, axis=0, keepdims=True)",
    "{n} = {a} * np.sum({a}, axis=1, keepdims=True) * 0.1",
    "{n} = ({a}.T @ {a})[:3, :] * 0.2",
    "{n} = np.exp({a} - np.max({a}, axis=0)) / np.sum(np.exp({a} - np.max({a}, axis=0)), axis=0)",
    "{n} = np.concatenate([{a}[:, :2], np.sin({a}[:, 2:])], axis=1)",
    "{n} = np.where({a} > 0, {a}, 0.1 * {a})",
    "{n} = np.stack([{a}[0], {a}[1] * 2.0, {a}[2] ** 2])",
    "{n} = {a}.reshape(4, 3).T + row",
]


def matrix_program(seed: int) -> str:
    rng = random.Random(1000 + seed)
    lines = ["def f(x):", "    W = np.linspace(-1.0, 1.0, 9).reshape(3, 3)",
             "    row = np.linspace(0.5, 1.5, 4)"]
    current = "x"
    for k in range(rng.randint(2, 4)):
        new = f"m{k}"
        lines.append("    " + rng.choice(MATRIX_STEPS).format(n=new, a=current))
        current = new
    lines.append(f"    return np.sum({current} ** 2) + np.sum(np.abs({current}))")
    return "import numpy as np\n\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(60))
def test_random_matrix_program(seed, tmp_path):
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (3, 4))
    check_program(matrix_program(seed), f"random_matrix_program_{seed}", x, tmp_path)


COMPLEX_UNARY = ["np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(0.3 * ({}))", "({}) ** 2", "-({})",
                 "np.conj({})", "np.abs({})", "np.real({})", "np.imag({})", "np.sqrt(({}) ** 2 + 2.0)",
                 "np.log(({}) ** 2 + 2.0)"]
COMPLEX_BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (2.0 + ({}) ** 2)"]


def complex_expression(rng: random.Random, depth: int = 0) -> str:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(["x", "w", "(x * (1 + 2j))"])
    if rng.random() < 0.5:
        return rng.choice(COMPLEX_UNARY).format(complex_expression(rng, depth + 1))
    return rng.choice(COMPLEX_BINARY).format(complex_expression(rng, depth + 1),
                                             complex_expression(rng, depth + 1))


@pytest.mark.parametrize("seed", range(80))
def test_random_complex_program(seed, tmp_path):
    # complex inputs, holomorphic and non-holomorphic ops: MATLAB's convention dL/dRe + i dL/dIm
    rng = random.Random(5000 + seed)
    source = ("import numpy as np\n\ndef f(x, w):\n"
              f"    v = {complex_expression(rng)}\n"
              "    return np.real(np.sum(v * np.conj(v))) + np.real(np.sum(v))\n")
    r = np.random.default_rng(seed)
    x = r.uniform(-1, 1, 3) + 1j * r.uniform(-0.5, 0.5, 3)
    w = r.uniform(-1, 1, 3) + 1j * r.uniform(-0.5, 0.5, 3)
    check_program(source, f"random_complex_{seed}", x, tmp_path, w)


def load_program(source: str, name: str, folder):
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", range(0, 200, 2))
def test_forward_mode_on_random_programs(seed, tmp_path):
    # sct.jvp runs generated forward-mode code; compare with a central difference
    import sct
    module = load_program(program(seed), f"forward_program_{seed}", tmp_path)
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-1.0, 1.0, 4), rng.standard_normal(4)
    y, jv = sct.jvp(module.f, x, v)
    step = 1e-6
    expected = (module.f(x + step * v) - module.f(x - step * v)) / (2 * step)
    np.testing.assert_allclose(np.asarray(jv.data), expected, rtol=1e-4, atol=1e-6)
    assert "_jvp(x, dot_x)" in sct.jvp_source(module.f, x, v)        # not the transposed fallback


@pytest.mark.parametrize("seed", range(0, 60, 2))
def test_forward_mode_on_random_matrix_programs(seed, tmp_path):
    import sct
    module = load_program(matrix_program(seed), f"forward_matrix_program_{seed}", tmp_path)
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-1.0, 1.0, (3, 4)), rng.standard_normal((3, 4))
    _, jv = sct.jvp(module.f, x, v)
    step = 1e-6
    expected = (module.f(x + step * v) - module.f(x - step * v)) / (2 * step)
    np.testing.assert_allclose(np.asarray(jv.data), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("seed", range(1, 200, 5))
def test_second_derivative_of_random_programs(seed, tmp_path):
    # reverse over reverse through loops (some of whose results never reach the output),
    # branches, helpers and methods: Hessian-vector products against differences of gradients
    from test_higher_order import check_hvp
    module = load_program(program(seed), f"hvp_program_{seed}", tmp_path)
    check_hvp(module.f, np.random.default_rng(seed).uniform(-1.0, 1.0, 4), seed, what=f"program {seed}")


@pytest.mark.parametrize("seed", range(1, 60, 6))
def test_second_derivative_of_random_matrix_programs(seed, tmp_path):
    from test_higher_order import check_hvp
    module = load_program(matrix_program(seed), f"hvp_matrix_program_{seed}", tmp_path)
    check_hvp(module.f, np.random.default_rng(seed).uniform(-1.0, 1.0, (3, 4)), seed,
              what=f"matrix program {seed}")


THIRD_ORDER = '''
import sct

def second(x, v):
    g = sct.dlgradient(f(x), x, EnableHigherDerivatives=True)
    return sct.dlgradient(np.sum(g * v), x)

def third(x, v):
    g = sct.dlgradient(f(x), x, EnableHigherDerivatives=True)
    h = sct.dlgradient(np.sum(g * v), x, EnableHigherDerivatives=True)
    return sct.dlgradient(np.sum(h * v), x)
'''


@pytest.mark.parametrize("seed", range(3, 200, 25))
def test_third_derivative_of_random_programs(seed, tmp_path):
    # d/dx <H(x) v, v>, the third derivative along v, against differences of sct's H v
    import sct
    module = load_program(program(seed) + THIRD_ORDER, f"third_program_{seed}", tmp_path)
    rng = np.random.default_rng(seed)
    x, v = rng.uniform(-1.0, 1.0, 4), rng.standard_normal(4)
    got = np.asarray(sct.dlfeval(module.third, sct.dlarray(x), v).data)
    step = 1e-5
    up = np.asarray(sct.dlfeval(module.second, sct.dlarray(x + step * v), v).data)
    down = np.asarray(sct.dlfeval(module.second, sct.dlarray(x - step * v), v).data)
    expected = (up - down) / (2 * step)
    from gradcheck import assert_close
    assert_close(got, expected, 1e-3, 1e-5 * max(1.0, np.max(np.abs(expected))), what=f"program {seed}")
