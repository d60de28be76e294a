"""Random but realistic numpy programs for the differential tester.

A program is a chain of *blocks*.  Every block reads a state array (4 floats,
called ``{h}`` in its template) and the function's arguments and writes the
state again, so any block can be removed (the shrinker does that) and the rest
still runs.  Each block belongs to one *feature* (what users write: helpers in
loops, closures, objects with callable sub-objects, in-place writes, ...).
The function's arguments are always the same realistic mix::

    f(x, p, net, dc, pair, st, buf)
      x     array (4,)
      p     dict of arrays: p["W"] (4, 4), p["v"] (4,), p["s"] (4,)
      net   Net object with callable sub-objects net.l1, net.l2 (Lin: w, b)
      dc    dataclass DC(a, b)
      pair  tuple of two arrays
      st    Stats object whose methods write into self (never differentiated)
      buf   list of two arrays that helpers write into (never differentiated)

``f`` computes the loss ``y`` in plain Python; ``g`` is the same body plus the
``dlgradient`` calls of the program's *driver* (first order, several calls,
second order, a reassigned name, or first order through one ``dlaccelerate`` called
on the arguments, on other values of them and on the first again).  The module also holds ``make_args()``,
so a written program is a self-contained repro.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .prealloc import PREALLOC_FEATURES, make_prealloc_block
from .userpat import USERPAT_FEATURES, make_userpat_block

# ---------------------------------------------------------------------------
# features

BLOCK_FEATURES = [
    "elementwise", "math_scalar", "unary_const", "reduction", "slice", "matmul", "branch", "branch_attribute",
    "for_loop", "while_loop", "break_continue", "nested_break", "early_return", "comprehension",
    "early_return_main", "helper", "helper_rebind", "closure", "method", "callable_subobject", "attr_chain",
    "object_built", "dataclass_read", "alias_copy", "alias_view", "inplace_sort",
    "inplace_other", "repeated_index", "list_ops", "arg_mutation", "self_write",
    "traced_op_args", "index_tricks", "star_args", "loop_else", "walrus", "match_case", "text_and_math",
    "item_swap",
] + PREALLOC_FEATURES + USERPAT_FEATURES
TARGET_FEATURES = [
    "target_arg", "target_dict_leaf", "target_attr_leaf", "target_dict", "target_object",
    "target_dataclass", "target_tuple_arg", "target_built_list", "target_built_tuple",
    "target_built_dict", "target_multi_x", "target_starred", "target_starred_comprehension",
]
DRIVER_FEATURES = ["driver_first", "driver_several", "driver_second_order", "driver_reassigned", "driver_accelerated"]
FEATURES = BLOCK_FEATURES + TARGET_FEATURES + DRIVER_FEATURES

ARGS = "x, p, net, dc, pair, st, buf"

# Paths into the argument list: ("arg", i), then ("key", k) / ("idx", i) / ("attr", name).
ARG_INDEX = {"x": 0, "p": 1, "net": 2, "dc": 3, "pair": 4, "st": 5, "buf": 6}


def P(text: str) -> tuple:
    """Path of a simple argument expression such as ``p["v"]``, ``net.l1.w``, ``pair[0]``."""
    import re
    m = re.match(r"^([a-z]+)", text)
    path = [("arg", ARG_INDEX[m.group(1)])]
    rest = text[m.end():]
    for tok in re.findall(r'\[\"(\w+)\"\]|\[(\d+)\]|\.(\w+)', rest):
        key, idx, attr = tok
        if key:
            path.append(("key", key))
        elif idx:
            path.append(("idx", int(idx)))
        else:
            path.append(("attr", attr))
    return tuple(path)


# Array leaves (shape (4,)) that blocks may read; reading them makes them matter for the gradient.
VEC_READS = ['x', 'p["v"]', 'p["s"]', 'dc.a', 'dc.b', 'pair[0]', 'pair[1]', 'net.l1.b', 'net.l2.b']

PRELUDE = '''import math
from dataclasses import dataclass

import numpy as np

from sct import dlarray, dlgradient


class Lin:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, u):
        return np.tanh(self.w @ u + self.b)


class Net:
    def __init__(self, l1, l2):
        self.l1 = l1
        self.l2 = l2

    def apply(self, u):
        return self.l2(self.l1(u))

    def wnorm(self):
        return 1.0 / (1.0 + self.l1.w.sum() ** 2)


@dataclass
class DC:
    a: np.ndarray
    b: np.ndarray


class Stats:
    def __init__(self, total, k):
        self.total = total
        self.k = k
        self.hist = []

    def add(self, u):
        self.total = self.total + np.sum(u) * 0.1
        return u * self.k

    def record(self, u):
        self.hist.append(np.sum(u ** 2))
        return u

    def scale(self, u):
        self.k = self.k * 1.5
        return u * self.k


class Affine:
    def __init__(self, w, b, unused):
        self.w = w
        self.b = b
        self.unused = unused

    def __call__(self, u):
        return self.w @ u * 0.5 + self.b
'''

MAKE_ARGS = '''

def make_args():
    rng = np.random.default_rng({seed})

    def u(*shape):
        return rng.uniform(-1.0, 1.0, shape)

    x = u(4)
    p = {{"W": u(4, 4) * 0.6, "v": u(4), "s": u(4)}}
    net = Net(Lin(u(4, 4) * 0.6, u(4)), Lin(u(4, 4) * 0.6, u(4)))
    dc = DC(u(4), u(4))
    pair = (u(4), u(4))
    st = Stats(np.array(0.0), 0.5)
    buf = [u(4), u(4)]
    return [x, p, net, dc, pair, st, buf]
'''


# ---------------------------------------------------------------------------
# expressions

UNARY = ["np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(0.3 * ({}))", "np.log1p(({}) ** 2)",
         "np.sqrt(({}) ** 2 + 1.0)", "({}) ** 2", "-({})", "1.0 / (1.0 + ({}) ** 2)",
         "np.arctan({})", "np.log(({}) ** 2 + 0.5)"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (1.5 + ({}) ** 2)"]


def expr(rng: random.Random, names: List[str], depth: int = 0) -> str:
    if depth > 1 or rng.random() < 0.3:
        return rng.choice(names)
    if rng.random() < 0.5:
        return rng.choice(UNARY).format(expr(rng, names, depth + 1))
    return rng.choice(BINARY).format(expr(rng, names, depth + 1), expr(rng, names, depth + 1))


def c(rng: random.Random, lo: float = 0.3, hi: float = 0.9) -> str:
    return f"{rng.uniform(lo, hi):.2f}"


@dataclass
class Block:
    feature: str
    lines: List[str]                       # function-body lines, "{h}" is the state name
    defs: List[Tuple[str, str]] = field(default_factory=list)   # (name, module-level source)

    def render(self, h: str, tag: str) -> List[str]:
        return [line.replace("{h}", h).replace("{t}", tag) for line in self.lines]


def _reads(rng: random.Random) -> List[str]:
    return ["{h}", "{h}", rng.choice(VEC_READS)]


def make_block(feature: str, rng: random.Random) -> Block:
    """One block of the given feature (a random variant)."""
    n = _reads(rng)
    e = lambda: expr(rng, n)                       # noqa: E731
    B = lambda lines, defs=(): Block(feature, list(lines), list(defs))   # noqa: E731
    v = rng.randrange(100)
    if feature in PREALLOC_FEATURES:
        lines, defs = make_prealloc_block(feature, rng)
        return B(lines, defs)
    if feature in USERPAT_FEATURES:
        lines, defs = make_userpat_block(feature, rng)
        return B(lines, defs)
    if feature == "elementwise":
        return B([f"{{h}} = {e()} * {c(rng)} + {{h}} * {c(rng)}"])
    if feature == "math_scalar":
        fn = rng.choice(["math.tanh({h}[1])", "math.exp(-{h}[0] ** 2)", "math.sqrt({h}[2] ** 2 + 1.0)",
                         "math.sin({h}[3]) * math.pi", "math.log(1.0 + {h}[0] ** 2)",
                         "math.cos(float({h}[1]))"])
        return B([f"s_{{t}} = {fn}", f"{{h}} = {{h}} * (1.0 + 0.2 * s_{{t}})"])
    if feature == "unary_const":
        k = rng.choice(["(-0.5) ** 2", "(-1.5) ** 3", "-2.0 ** 2", "(-2.0) ** -1", "(-0.5) ** 2 * 3.0",
                        "2.0 ** -(-1.0)", "-(0.5 ** 2)", "(-1) ** 2 * 0.5"])
        return B([f"{{h}} = {{h}} * {c(rng)} + {k}"])
    if feature == "reduction":
        return B([rng.choice(["{h} = {h} - np.mean({h})",
                              "{h} = {h} * (np.sum({h} ** 2) * 0.1 + 1.0)",
                              "{h} = {h} + np.max({h}) * 0.5",
                              "{h} = {h} / (1.0 + np.linalg.norm({h}))",
                              "{h} = np.cumsum({h}) * 0.3 + {h}",
                              "{h} = {h} + np.prod(np.cos({h}))",
                              "{h} = {h} * np.mean(%s * {h})" % rng.choice(VEC_READS),
                              "{h} = {h} - {h}.sum() * 0.2 + {h}.mean()"])])
    if feature == "slice":
        return B([rng.choice(["{h} = np.concatenate([{h}[1:], {h}[:1] * 2.0])",
                              "{h} = {h}[::-1] * 0.5 + {h}",
                              "{h} = {h} * np.concatenate([{h}[:2], {h}[2:] ** 2])",
                              "{h} = np.where({h} > 0.0, {h}, 0.1 * {h})",
                              "{h} = {h} + %s[1:3].sum() * {h}[-1]" % rng.choice(VEC_READS),
                              "{h} = np.stack([{h}[0], {h}[1] * 2.0, {h}[2] ** 2, {h}[3]])",
                              "{h} = {h}.reshape(2, 2).T.reshape(-1) + {h}"])])
    if feature == "matmul":
        return B([rng.choice(['{h} = np.tanh(p["W"] @ {h})', '{h} = {h} @ p["W"] * 0.5 + {h}',
                              "{h} = {h} + ({h} @ %s) * 0.1" % rng.choice(VEC_READS),
                              '{h} = (p["W"].T @ {h}) * 0.3 + np.sin({h})',
                              '{h} = np.tanh(net.l1.w @ {h} + net.l1.b)'])])
    if feature == "branch_attribute":
        leaf = rng.choice(["net.l2.b", "dc.a", "net.l1.b"])
        if v < 50:
            return B([f"{{h}} = {leaf} if {{h}}[1] > {c(rng, -0.5, 0.5)} else {{h}} * 0.7"])
        return B([f"if np.sum({{h}}) > {c(rng, -1, 1)}:", f"    {{h}} = {leaf}", "else:",
                  f"    {{h}} = {{h}} * {leaf}"])
    if feature == "branch":
        e = lambda: f"({expr(rng, n)}) * 1.0" if rng.random() < 0.5 else f"{expr(rng, n)} + 0.0"  # noqa: E731
        if v < 50:
            return B([f"if np.sum({{h}}) > {c(rng, -1, 1)}:", f"    {{h}} = {e()}",
                      f"elif {{h}}[0] < {c(rng, -1, 0)}:", f"    {{h}} = {e()} * 0.5",
                      "else:", f"    {{h}} = {e()} + 0.1"])
        return B([f"{{h}} = {e()} if {{h}}[1] > {c(rng, -0.5, 0.5)} else {e()} * 0.7"])
    if feature == "for_loop":
        if v < 40:
            return B([f"for i_{{t}} in range({rng.randint(1, 3)}):",
                      f"    {{h}} = {e()} * 0.5 + 0.1 * i_{{t}}"])
        if v < 70:
            return B([f"for i_{{t}}, a_{{t}} in enumerate({rng.choice(VEC_READS)}):",
                      f"    {{h}} = {{h}} + a_{{t}} * 0.2 * np.sin({{h}}[i_{{t}}])"])
        return B([f"for a_{{t}}, b_{{t}} in zip({rng.choice(VEC_READS)}, {{h}}):",
                  f"    {{h}} = {{h}} * 0.9 + a_{{t}} * b_{{t}} * 0.1"])
    if feature == "while_loop":
        return B([f"k_{{t}} = 0", f"while np.sum(np.abs({{h}})) < {c(rng, 2, 6)} and k_{{t}} < 4:",
                  f"    {{h}} = {{h}} * 1.3 + 0.1", f"    k_{{t}} += 1"])
    if feature == "break_continue":
        return B([f"for i_{{t}} in range(4):",
                  f"    if {{h}}[i_{{t}}] > {c(rng, 0.2, 0.8)}:", "        continue",
                  f"    {{h}} = {e()} * 0.5 + {{h}} * 0.5",
                  f"    if np.sum({{h}}) > {c(rng, -0.5, 1.5)}:", "        break"])
    if feature == "nested_break":
        return B([f"for i_{{t}} in range(3):",
                  f"    for j_{{t}} in range(3):",
                  f"        {{h}} = {{h}} * 0.9 + 0.1 * np.sin({{h}} + j_{{t}})",
                  f"        if np.sum({{h}}) > {c(rng, -1, 1)}:", "            break",
                  f"    {{h}} = {{h}} + 0.05 * i_{{t}}"])
    if feature == "loop_else":
        if v < 50:
            return B([f"for i_{{t}} in range(3):",
                      "    {h} = {h} * 0.9 + 0.1 * np.sin({h})",
                      f"    if {{h}}[i_{{t}}] > {c(rng, -0.5, 0.9)}:", "        break",
                      "else:", f"    {{h}} = {{h}} * 0.5 + {c(rng)}"])
        return B([f"k_{{t}} = 0", f"while k_{{t}} < 3:", f"    k_{{t}} += 1",
                  f"    if np.sum({{h}}) > {c(rng, -1, 2)}:", "        break",
                  f"    {{h}} = {{h}} * 1.1 + 0.05 * {e()}",
                  "else:", f"    {{h}} = {{h}} - 0.1 * k_{{t}} * {{h}}"])
    if feature == "walrus":
        if v < 50:
            return B([f"if (s_{{t}} := np.sum({{h}} ** 2)) > {c(rng, 0.5, 3)}:",
                      f"    {{h}} = {{h}} * 0.5 + 0.1 * s_{{t}}", "else:", f"    {{h}} = {{h}} + 0.05 * s_{{t}}"])
        return B([f"{{h}} = (w_{{t}} := np.tanh({e()})) * 0.5 + w_{{t}} ** 2 * 0.1"])
    if feature == "match_case":
        if v < 50:
            return B([f'mode_{{t}} = "a" if np.sum({{h}}) > {c(rng, -1, 1)} else "{rng.choice("bcd")}"',
                      f"match mode_{{t}}:", '    case "a":', f"        {{h}} = np.sin({{h}}) + {{h}} * 0.5",
                      '    case "b" | "c":', f"        {{h}} = {{h}} * {c(rng)}",
                      "    case _:", "        {h} = {h} + 0.1 * np.cos({h})"])
        return B(["match ({h}[0], {h}[1]):", f"    case (a_{{t}}, b_{{t}}) if a_{{t}} > b_{{t}}:",
                  f"        {{h}} = {{h}} * 0.8 + 0.1 * a_{{t}}", f"    case (a_{{t}}, b_{{t}}):",
                  f"        {{h}} = {{h}} + b_{{t}} * 0.3"])
    if feature == "text_and_math":
        fn = rng.choice(["math.fsum([{h}[0], {h}[1] ** 2, 0.5])", "math.prod([{h}[0], {h}[2], 1.5])",
                         "math.hypot({h}[0], {h}[1], {h}[2])", "pow({h}[3], 2) + pow(2.0, {h}[0])",
                         "len(list(zip({h}, {h}[::-1]))) * {h}[1]"])
        return B([f"s_{{t}} = {fn}",
                  'msg_{t} = "{:.3f}".format(s_{t}) + ", %.2f" % {h}[0] + ", " + format({h}[1], ".2f") + str({h}[2])',
                  "{h} = {h} * (0.8 + 0.1 * len(msg_{t}.split(\",\"))) + 0.1 * s_{t}"])
    if feature == "item_swap":
        # (built from x, a 1-D argument: the items of a local of known rank are numbers; the
        # rank of the state after helpers and matmuls is not known, and such writes are refused)
        make = rng.choice(["x * 1.0", "x.copy()", "np.tanh(x) + 0.5"])
        if v < 50:
            return B([f"w_{{t}} = {make}", "w_{t}[0], w_{t}[3] = w_{t}[3], w_{t}[0] * 2.0",
                      "{h} = w_{t} * 0.5 + {h} * 0.5"])
        return B([f"w_{{t}} = {make}", "a_{t} = w_{t}[1]", f"w_{{t}}[1] = w_{{t}}[2] * {c(rng)}",
                  "w_{t}[2] = a_{t}", "{h} = w_{t} + a_{t} * 0.1"])
    if feature == "early_return":
        name = f"settle_{v}"
        src = (f"def {name}(u):\n    for i in range(4):\n        u = u * 0.9 + 0.1 * np.sin(u)\n"
               f"        if np.sum(u) > {c(rng, -1, 1)}:\n            return u * 2.0\n"
               f"    if u[0] > 0.0:\n        return u + 1.0\n    return u")
        return B([f"{{h}} = {name}({{h}})"], [(name, src)])
    if feature == "early_return_main":
        # "@@RETURN expr": f returns expr; g returns it with its gradient (driver_first only)
        if v < 50:
            return B([f"if np.sum({{h}}) > {c(rng, -1.5, 1.5)}:", "    @@RETURN np.sum({h} ** 2) * 0.5"])
        return B([f"for i_{{t}} in range(3):", "    {h} = {h} * 0.8 + 0.2 * np.cos({h})",
                  f"    if {{h}}[i_{{t}}] > {c(rng, 0.0, 0.9)}:", "        @@RETURN np.sum(np.sin({h}))"])
    if feature == "comprehension":
        if v < 40:
            return B([f"parts_{{t}} = [np.sin({{h}}[i]) * (i + 1) for i in range(len({{h}}))]",
                      f"{{h}} = {{h}} + np.stack(parts_{{t}}) * 0.3"])
        if v < 70:
            return B([f"{{h}} = {{h}} * (1.0 + 0.1 * sum([{{h}}[i] ** 2 for i in range(3)]))"])
        return B(["d_{t} = {k: {h} * w for k, w in (('a', 0.5), ('b', 0.25))}",
                  "{h} = d_{t}['a'] + np.cos(d_{t}['b'])"])
    if feature == "helper":
        name, name2 = f"helper_{v}", f"inner_{v}"
        src = f"def {name2}(a):\n    return {expr(rng, ['a'])}"
        src2 = f"def {name}(a, b):\n    return {name2}(a) * 0.5 + {expr(rng, ['a', 'b'])} * 0.3"
        return B([f"{{h}} = {name}({{h}}, {rng.choice(VEC_READS)})"], [(name2, src), (name, src2)])
    if feature == "helper_rebind":
        name = f"step_{v}"
        src = f"def {name}(a, b):\n    return a * b + np.sin(a) * 0.1"
        if v < 60:
            return B([f"for i_{{t}} in range({rng.randint(2, 3)}):", f"    {{h}} = {name}({{h}}, {c(rng)})"],
                     [(name, src)])
        return B([f"k_{{t}} = 0", f"while k_{{t}} < 2:", f"    {{h}} = {name}({{h}}, {c(rng)})",
                  f"    k_{{t}} += 1"], [(name, src)])
    if feature == "closure":
        if v < 50:
            return B([f"s_{{t}} = {{h}} * 0.5", f"def inner_{{t}}(u):",
                      f"    return u * s_{{t}} + np.sin(s_{{t}}) * 0.1",
                      f"{{h}} = inner_{{t}}({{h}}[::-1])"])
        if v < 75:
            return B([f"scale_{{t}} = lambda u: u * {{h}}[0]", f"{{h}} = scale_{{t}}({{h}}) + {{h}}"])
        return B([f"def inner_{{t}}(u):", f"    return u * {{h}}[1] + x * 0.1",
                  f"{{h}} = inner_{{t}}({{h}}) * 0.5"])
    if feature == "method":
        return B([rng.choice(["{h} = net.apply({h}) + {h} * 0.5", "{h} = {h} * net.wnorm()"])])
    if feature == "callable_subobject":
        return B([rng.choice(["{h} = net.l1({h})", "{h} = net.l2(net.l1({h})) * 0.5 + {h}",
                              "layer_{t} = net.l2\n{h} = layer_{t}({h}) + {h}"])])
    if feature == "attr_chain":
        return B([rng.choice(["{h} = {h} + net.l1.w.sum() * 0.1",
                              "{h} = {h} * net.l1.w.T.reshape(-1)[4]",
                              "{h} = {h} * (1.0 + net.l2.b.mean())",
                              "{h} = {h} + dc.a.reshape(2, 2).sum(axis=0).sum() * 0.2"])])
    if feature == "object_built":
        if v < 50:
            return B([f"m_{{t}} = Lin(p[\"W\"] * 0.5, {{h}})", f"{{h}} = m_{{t}}(x) + {{h}} * 0.5"])
        unused = rng.choice(VEC_READS + ['p["W"] @ {h}', '{h} ** 2'])
        return B([f"m_{{t}} = Affine(p[\"W\"], {{h}} * 0.5, {unused})", f"{{h}} = m_{{t}}({{h}})"])
    if feature == "dataclass_read":
        return B([rng.choice(["{h} = {h} * dc.a + dc.b", "{h} = np.tanh({h} + dc.a * dc.b)"])])
    if feature == "alias_copy":
        return B([f"z_{{t}} = {{h}}.copy()", f"z_{{t}}[0] = {{h}}[1] * 2.0", f"{{h}} = z_{{t}} * {{h}}"])
    if feature == "alias_view":
        return B(rng.choice([
            ["z_{t} = {h}", "z_{t}[1] = z_{t}[1] * 0.5 + 0.2", "{h} = {h} + z_{t}"],
            ["w_{t} = {h}[1:]", "w_{t} *= 1.5", "{h} = {h} * 1.0"],
            ["z_{t} = {h} * 1.0", "w_{t} = z_{t}[:2]", "w_{t}[0] = 3.0", "{h} = {h} + z_{t}"],
            ["z_{t} = {h} + 0.0", "y_{t} = z_{t}", "y_{t} += {h}", "{h} = z_{t} * 0.5"],
            ["lst_{t} = [{h}, {h} * 2.0]", "al_{t} = lst_{t}", "al_{t}[0] = {h} * 3.0", "{h} = lst_{t}[0] + lst_{t}[1]"],
            ["dd_{t} = {'a': {h}}", "ee_{t} = dd_{t}", "ee_{t}['a'] = {h} ** 2", "{h} = dd_{t}['a'] + {h}"],
        ]))
    if feature == "inplace_sort":
        return B([f"z_{{t}} = {{h}} * 1.0", f"z_{{t}}.sort()", f"{{h}} = {{h}} + 0.5 * z_{{t}} * z_{{t}}[::-1]"])
    if feature == "inplace_other":
        return B(rng.choice([
            ["z_{t} = {h} * 1.0", "z_{t} += x", "{h} = z_{t} * {h}"],
            ["z_{t} = np.zeros(4)", "z_{t}[1:3] = {h}[:2]", "{h} = {h} + z_{t}"],
            ["z_{t} = {h} * 1.0", "z_{t}.fill(0.5)", "{h} = {h} * z_{t}"],
            ["z_{t} = {h} * 1.0", "np.multiply(z_{t}, 2.0, out=z_{t})", "{h} = z_{t} + {h}"],
            ["z_{t} = np.zeros(4)", "np.copyto(z_{t}, {h})", "{h} = z_{t} * {h}"],
            ["z_{t} = {h} * 1.0", "z_{t}[2] *= {h}[0]", "{h} = z_{t} + {h}"],
        ]))
    if feature == "repeated_index":
        return B(rng.choice([
            ["z_{t} = np.zeros(4)", "z_{t}[[0, 0]] = {h}[:2]", "{h} = {h} + z_{t}"],
            ["z_{t} = {h} * 1.0", "z_{t}[[1, 1]] += {h}[:2]", "{h} = z_{t} * 0.5"],
            ["z_{t} = np.zeros(4)", "np.add.at(z_{t}, [0, 0], {h}[:2])", "{h} = {h} + z_{t}"],
        ]))
    if feature == "list_ops":
        return B(rng.choice([
            ["acc_{t} = []", "for i_{t} in range(3):", "    acc_{t}.append({h} * (i_{t} + 1))",
             "{h} = sum(acc_{t}) * 0.2"],
            ["acc_{t} = [{h}, {h} ** 2, np.sin({h})]", "acc_{t}.reverse()", "{h} = acc_{t}[0] + 0.5 * acc_{t}[1]"],
            ["acc_{t} = [{h} * 0.5]", "acc_{t} += [{h} ** 2]", "{h} = np.stack(acc_{t}).sum(axis=0)"],
        ]))
    if feature == "arg_mutation":
        name = f"push_{v}"
        return B(rng.choice([
            [f"{name}(buf, {{h}})", "{h} = {h} + buf[-1] * 0.5"],
            ["buf[0][1] = {h}[0]", "{h} = {h} * buf[0]"],
            ["z_{t} = buf[1]", "z_{t}[0] = {h}[2]", "{h} = {h} + buf[1]"],
            [f"set_{v}(buf[0], {{h}}[3])", "{h} = {h} - buf[0] * 0.3"],
        ]), [(name, f"def {name}(lst, v):\n    lst.append(v * 2.0)"),
             (f"set_{v}", f"def set_{v}(a, v):\n    a[0] = v")])
    if feature == "self_write":
        return B([rng.choice(["{h} = st.add({h})\n{h} = {h} + st.total",
                              "{h} = st.record({h})\n{h} = {h} * (1.0 + st.hist[-1] * 0.1)",
                              "{h} = st.scale({h})"])])
    if feature == "traced_op_args":
        return B([rng.choice(["{h} = {h} + np.linspace(0.0, {h}[0], 4)",
                              "{h} = {h} * np.interp(0.3, np.sort({h}) + np.arange(4.0), np.arange(4.0))",
                              "{h} = {h} + np.linspace({h}[1], 1.0, 4) * 0.5",
                              "{h} = {h} + np.full(4, {h}[2]) * 0.5"])])
    if feature == "index_tricks":
        name = f"glue_{v}"
        src = f"def {name}(u):\n    return np.r_[u[2:], u[:2]] * 0.5 + u"
        return B(rng.choice([[f"{{h}} = {name}({{h}})"], ["{h} = np.r_[{h}[1:], {h}[:1]] + {h}"],
                             ["{h} = np.c_[{h}, {h} ** 2].sum(axis=1)"]]), [(name, src)])
    if feature == "star_args":
        name = f"total_{v}"
        src = f"def {name}(*us, scale=0.1):\n    return sum(u * u for u in us) * scale"
        return B([f"{{h}} = {{h}} + {name}({{h}}, {rng.choice(VEC_READS)})"], [(name, src)])
    raise ValueError(f"unknown feature {feature}")


# ---------------------------------------------------------------------------
# targets: the x of dlgradient, and the argument paths of its leaves

@dataclass
class Target:
    feature: str
    text: str          # what is passed to dlgradient after y (may be several, comma separated)
    expected: object   # structure of paths (tuple-of-steps marks a path, wrapped in Ref)
    nargs: int = 1     # how many x's (the result is a tuple when > 1)
    touch: List[str] = field(default_factory=list)   # leaves a loss term reads, so y depends on them


@dataclass(frozen=True)
class Ref:
    path: tuple


def make_target(feature: str, rng: random.Random) -> Target:
    R = lambda s: Ref(P(s))                            # noqa: E731
    if feature == "target_arg":
        return Target(feature, "x", R("x"), touch=["x"])
    if feature == "target_dict_leaf":
        k = rng.choice(['p["v"]', 'p["W"]'])
        return Target(feature, k, R(k), touch=[k])
    if feature == "target_attr_leaf":
        k = rng.choice(["net.l1.w", "net.l2.b", "dc.a"])
        return Target(feature, k, R(k), touch=[k])
    if feature == "target_dict":
        return Target(feature, "p", R("p"), touch=['p["s"]'])
    if feature == "target_object":
        k = rng.choice(["net", "net.l1"])
        return Target(feature, k, R(k), touch=[])
    if feature == "target_dataclass":
        return Target(feature, "dc", R("dc"), touch=["dc.b"])
    if feature == "target_tuple_arg":
        return Target(feature, "pair", R("pair"), touch=["pair[0]", "pair[1]"])
    if feature == "target_built_list":
        return Target(feature, '[x, p["v"]]', [R("x"), R('p["v"]')], touch=["x", 'p["v"]'])
    if feature == "target_built_tuple":
        return Target(feature, "(x, dc.b)", (R("x"), R("dc.b")), touch=["x", "dc.b"])
    if feature == "target_built_dict":
        return Target(feature, '{"a": x, "b": p["s"]}', {"a": R("x"), "b": R('p["s"]')},
                      touch=["x", 'p["s"]'])
    if feature == "target_multi_x":
        return Target(feature, 'x, p["W"], net.l1.b', (R("x"), R('p["W"]'), R("net.l1.b")), nargs=3,
                      touch=["x", "net.l1.b"])
    if feature == "target_starred":
        return Target(feature, '*[x, pair[1]]', (R("x"), R("pair[1]")), nargs=2, touch=["x", "pair[1]"])
    if feature == "target_starred_comprehension":
        return Target(feature, '*[p[k] for k in ("v", "s")]', (R('p["v"]'), R('p["s"]')), nargs=2,
                      touch=['p["v"]', 'p["s"]'])
    raise ValueError(feature)


# ---------------------------------------------------------------------------
# programs

@dataclass
class Program:
    seed: int
    blocks: List[Block]
    target: Target
    driver: str
    loss: str                       # the loss from the state "{h}" (and the touch terms)
    tail: List[Block] = field(default_factory=list)      # driver_reassigned: blocks after the reassignment
    second_target: Optional[Target] = None               # driver_several
    state: str = "h"                                     # driver_reassigned: the reassigned name

    @property
    def features(self) -> List[str]:
        out = [b.feature for b in self.blocks + self.tail] + [self.target.feature, self.driver]
        if self.second_target is not None:
            out.append(self.second_target.feature)
        return sorted(set(out))

    @property
    def low_precision(self) -> bool:
        """Whether a block stores values in float32 (the checker's differences take larger steps)."""
        return any("float32" in text for b in self.blocks + self.tail for text in b.lines + [d for _, d in b.defs])

    # -- rendering --------------------------------------------------------
    def _defs(self) -> str:
        seen, out = set(), []
        for b in self.blocks + self.tail:
            for name, src in b.defs:
                if name not in seen:
                    seen.add(name)
                    out.append(src)
        return "\n\n\n".join(out)

    def _body(self, blocks: List[Block], h: str, start: int = 0, mode: str = "f") -> List[str]:
        lines = []
        for k, b in enumerate(blocks):
            for line in b.render(h, str(start + k)):
                for part in line.split("\n"):
                    if "@@RETURN " in part:
                        indent, value = part.split("@@RETURN ")
                        if mode == "f":
                            lines.append(f"{indent}return {value}")
                        else:
                            lines += [f"{indent}y_early = {value}",
                                      f"{indent}return y_early, dlgradient(y_early, {self.target.text})"]
                    else:
                        lines.append(part)
        return lines

    def _loss(self, h: str) -> str:
        return self.loss.replace("{h}", h)

    def body_lines(self, mode: str = "f") -> List[str]:
        """The body computing y (indent 0); ``mode`` "g" turns early returns into returns with gradients."""
        if self.driver == "driver_reassigned":
            s = self.state
            lines = [] if s == "x" else [f"{s} = x * 1.0"]
            lines += self._body(self.blocks, s)
            lines += [f"t = {s} * 1.0"] + self._body(self.tail, "t", len(self.blocks))
            lines += [f"y = {self._loss('t')}"]
            return lines
        return ["h = x * 1.0"] + self._body(self.blocks, "h", 0, mode) + [f"y = {self._loss('h')}"]

    def source(self) -> str:
        ind = lambda ls: "\n".join("    " + x for x in ls)        # noqa: E731
        body = self.body_lines()
        parts = [PRELUDE]
        defs = self._defs()
        if defs:
            parts.append("\n" + defs + "\n")
        parts.append(f"\ndef f({ARGS}):\n{ind(body)}\n    return y\n")
        t = self.target
        if self.driver == "driver_second_order":
            parts.append(f"\ndef g1({ARGS}):\n{ind(body)}\n    return y, dlgradient(y, {t.text})\n")
            parts.append(f"\ndef g({ARGS}):\n{ind(body)}\n"
                         f"    gr = dlgradient(y, {t.text}, EnableHigherDerivatives=True)\n"
                         f"    z = np.sum(gr ** 2) + 0.5 * y\n"
                         f"    return z, dlgradient(z, {t.text})\n")
        elif self.driver == "driver_several":
            t2 = self.second_target
            parts.append(f"\ndef g({ARGS}):\n{ind(body)}\n"
                         f"    g_a = dlgradient(y, {t.text})\n"
                         f"    g_b = dlgradient(y, {t2.text})\n    return y, g_a, g_b\n")
        elif self.driver == "driver_reassigned":
            s = self.state
            pre = ([] if s == "x" else [f"{s} = x * 1.0"]) + self._body(self.blocks, s)
            tail = self._body(self.tail, "t", len(self.blocks))
            parts.append(f"\ndef g({ARGS}):\n{ind(body)}\n    return y, dlgradient(y, {s})\n")
            parts.append(f"\ndef pre({ARGS}):\n{ind(pre)}\n    return {s}\n")
            # the reference: y as a function of the current value of the name (x's slot holds it;
            # the original x is passed too, because the tail may read it when the name is not x)
            targ = "x_now, x, p, net, dc, pair, st, buf" if s != "x" else f"x_now, x_orig, p, net, dc, pair, st, buf"
            head = [f"{s} = x_now"] if s != "x" else ["x = x_now"]
            parts.append(f"\ndef tail({targ}):\n{ind(head + [f't = {s} * 1.0'] + tail + [f'y = {self._loss(chr(116))}'])}\n"
                         "    return y\n")
        else:
            parts.append(f"\ndef g({ARGS}):\n{ind(self.body_lines('g'))}\n    return y, dlgradient(y, {t.text})\n")
        parts.append(MAKE_ARGS.format(seed=self.seed))
        return "\n".join(parts)


LOSSES = ["np.sum({h} ** 2)", "np.sum(np.sin({h})) + np.sum({h} ** 2) * 0.5", "np.mean(np.tanh({h})) * 3.0",
          "np.sum({h} * {h}[::-1])", "np.log(1.0 + np.sum({h} ** 2))"]

DRIVER_WEIGHTS = {"driver_first": 6, "driver_several": 1, "driver_second_order": 1, "driver_reassigned": 2,
                  "driver_accelerated": 1}
# blocks through which a reassigned name is carried (the reassignment is in a loop or branch)
REASSIGNING = ["for_loop", "while_loop", "branch", "helper_rebind", "break_continue", "nested_break"]
# blocks that write into the state name in place: never with the argument x as the state
# (the reference would then differentiate with respect to a mutated input)
WRITES_STATE = {"alias_view"}


def generate(seed: int, features: Optional[List[str]] = None, avoid=()) -> Program:
    """The program of ``seed`` drawn from ``features`` (all by default).

    ``avoid``: pairs "driver+block" (e.g. "driver_second_order+break_continue"): programs of
    that driver never get that block.
    """
    rng = random.Random(seed)
    allowed = set(FEATURES if features is None else features)
    blocks = [f for f in BLOCK_FEATURES if f in allowed] or ["elementwise"]
    targets = [f for f in TARGET_FEATURES if f in allowed] or ["target_arg"]
    drivers = [f for f in DRIVER_FEATURES if f in allowed] or ["driver_first"]
    driver = rng.choices(drivers, [DRIVER_WEIGHTS[d] for d in drivers])[0]
    if driver == "driver_second_order":
        # second derivatives: a single array x (the loss is sum(gr ** 2) + y/2)
        singles = [t for t in targets if t in ("target_arg", "target_dict_leaf", "target_attr_leaf")]
        target = make_target(rng.choice(singles or ["target_arg"]), rng)
    elif driver == "driver_reassigned":
        target = make_target("target_arg", rng)
    else:
        target = make_target(rng.choice(targets), rng)
    second = make_target(rng.choice(targets), rng) if driver == "driver_several" else None
    n_blocks = rng.randint(2, 5)
    avoided = {pair.split("+", 1)[1] for pair in avoid if pair.split("+", 1)[0] == driver}
    if driver not in ("driver_first", "driver_accelerated"):
        avoided.add("early_return_main")         # the other drivers need the whole body
    blocks = [b for b in blocks if b not in avoided] or ["elementwise"]
    chosen = [make_block(rng.choice(blocks), rng) for _ in range(n_blocks)]
    tail: List[Block] = []
    state = "h"
    if driver == "driver_reassigned":
        state = rng.choice(["x", "v"])
        reassigning = [f for f in REASSIGNING if f in allowed] or ["for_loop"]
        pre = [make_block(rng.choice(reassigning), rng)]
        pre += [b for b in chosen[:1] if not (state == "x" and b.feature in WRITES_STATE)]
        tail = chosen[1:]
        chosen = pre
    loss = rng.choice(LOSSES)
    touch = list(target.touch) + (list(second.touch) if second else [])
    if driver != "driver_reassigned":
        for leaf in touch:
            if rng.random() < 0.7:
                loss += f" + 0.3 * np.sum(np.sin({leaf}))"
    return Program(seed, chosen, target, driver, loss, tail, second, state)
