"""Blocks that fill preallocated arrays in loops, the way users write trajectories.

``traj = np.zeros((T, n))`` (or ``np.empty`` / ``np.ones``; 1-D, 2-D, 3-D; float64 or
float32), then a ``for`` or ``while`` loop writes it by rows, columns or slices (``traj[t] = s``,
``traj[:, t] = s``, ``buf[4 * t:4 * t + 4] = s``, ``acc[t] += s``), reads earlier rows
(``traj[t - 1]``), fills several arrays, nests loops, branches on values, calls a helper that
returns the new state, breaks; the block then folds a loss of the whole array into the state.
About half the arrays hold at least 2048 items, so sct keeps their tape entries as shape proxies
(``rt.shape_proxy``) and writes rows in place where reference counts allow (sct/optimize.py).
"""
from __future__ import annotations

import random
from typing import List, Tuple

PREALLOC_FEATURES = [
    "prealloc_rows", "prealloc_cols", "prealloc_slices", "prealloc_accum", "prealloc_prev",
    "prealloc_multi", "prealloc_nested", "prealloc_branch", "prealloc_helper", "prealloc_break",
    "prealloc_while", "prealloc_alias", "prealloc_readback", "prealloc_rollout", "prealloc_index_kinds",
]

VEC = ['x', 'p["v"]', 'p["s"]', 'dc.a', 'net.l1.b', 'pair[0]']
BIG = 2048                                     # rt.shape_proxy's SHAPE_PROXY_SIZE


def _c(rng: random.Random, lo: float = 0.3, hi: float = 0.9) -> str:
    return f"{rng.uniform(lo, hi):.2f}"


def _step(rng: random.Random, s: str, i: str = "") -> str:
    """The new state from ``s`` (4 floats): contracting, so long loops stay finite."""
    k = f" + 0.01 * {i}" if i and rng.random() < 0.3 else ""
    return rng.choice([
        f'np.tanh(p["W"] @ {s}) * {_c(rng, 0.5, 0.9)} + 0.1 * {s}{k}',
        f"{s} * {_c(rng, 0.6, 0.9)} + 0.1 * np.sin({s} + {rng.choice(VEC)}){k}",
        f"np.tanh(net.l1.w @ {s} + net.l1.b) * 0.8{k}",
        f"{s} * {rng.choice(VEC)} * 0.5 + 0.05 * np.cos({s}){k}",
        f"np.sin({s}) * {_c(rng, 0.5, 0.9)} + {rng.choice(VEC)} * 0.1{k}",
    ])


def _dtype(rng: random.Random) -> str:
    return rng.choices(["", ", dtype=np.float64", ", dtype=float", ", dtype=np.float32"], [5, 1, 1, 2])[0]


def _alloc(rng: random.Random, shape: str, full: bool) -> str:
    """``np.zeros``/``np.ones`` always; ``np.empty`` only for arrays every item of which is written."""
    kinds = ["np.zeros", "np.zeros", "np.ones"] + (["np.empty"] if full else [])
    return f"{rng.choice(kinds)}({shape}{_dtype(rng)})"


def _scalar_loss(rng: random.Random, a: str) -> str:
    return rng.choice([f"np.mean({a} ** 2)", f"np.mean(np.sin({a}))", f"np.sum({a} * {a}) / {a}.size",
                       f"np.linalg.norm({a}) / np.sqrt({a}.size)", f"np.mean(np.tanh({a}) * {a})",
                       f"{a}.sum() / {a}.size", f"np.mean(np.cos({a}))"])


def _fold(rng: random.Random, a: str, vec: str = "") -> str:
    """``{h}`` from its old value and a loss of the whole array ``a`` (``vec``: a (4,) reduction)."""
    choices = [f"{{h}} = {{h}} * 0.5 + 0.3 * {_scalar_loss(rng, a)}",
               f"{{h}} = {{h}} * (1.0 + 0.1 * {_scalar_loss(rng, a)})"]
    if vec:
        choices += [f"{{h}} = {{h}} * 0.5 + {vec}", f"{{h}} = np.tanh({vec}) + 0.5 * {{h}}"]
    return rng.choice(choices)


def _rows_layout(rng: random.Random, a: str, s: str, basis: str) -> Tuple[str, int, str, str, List[str]]:
    """(shape, T, the row written from the state, a (4,) reduction of the whole array, set-up lines)."""
    r = rng.random()
    if r < 0.35:                                    # small (T, 4)
        T = rng.choice([2, 3, 5, 8])
        return f"({T}, 4)", T, s, f"{a}.mean(axis=0)", []
    if r < 0.5:                                     # long (T, 4): T * 4 >= 2048
        T = rng.choice([512, 520])
        return f"({T}, 4)", T, s, f"{a}.mean(axis=0)", []
    if r < 0.7:                                     # wide rows: (T, 4 * K) >= 2048 items
        T, K = rng.choice([(4, 128), (8, 64), (16, 32)])
        return (f"({T}, {4 * K})", T, f"np.repeat({s}, {K}) * {basis}",
                f"{a}.reshape({T}, 4, {K}).mean(axis=(0, 2))", [f"{basis} = np.linspace(0.5, 1.5, {4 * K})"])
    if r < 0.85:                                    # 3-D (T, 4, K), large
        T, K = rng.choice([(4, 128), (8, 64), (6, 96)])
        return (f"({T}, 4, {K})", T, f"np.outer({s}, {basis})", f"{a}.mean(axis=(0, 2))",
                [f"{basis} = np.linspace(0.5, 1.5, {K})"])
    T, K = rng.choice([(3, 2), (5, 3)])             # 3-D, small
    return (f"({T}, 4, {K})", T, f"{s}[:, None] * {basis}", f"{a}.mean(axis=(0, 2))",
            [f"{basis} = np.linspace(0.5, 1.5, {K})"])


def make_prealloc_block(feature: str, rng: random.Random):
    """Lines (with ``{h}`` and ``{t}``) and module-level defs of one block of ``feature``."""
    A, B, s, i, j = "A_{t}", "B_{t}", "s_{t}", "i_{t}", "j_{t}"
    u = rng.randrange(10 ** 5)
    if feature == "prealloc_rows":
        shape, T, row, vec, setup = _rows_layout(rng, A, s, "bas_{t}")
        head = [f"{s} = {{h}}"] + setup + [f"{A} = {_alloc(rng, shape, True)}"]
        if rng.random() < 0.5:
            loop = [f"for {i} in range({T}):", f"    {s} = {_step(rng, s, i)}", f"    {A}[{i}] = {row}"]
        else:
            loop = [f"for {i} in range({T}):", f"    {A}[{i}] = {row}", f"    {s} = {_step(rng, s, i)}"]
        tail = [_fold(rng, A, vec)] if rng.random() < 0.7 else [f"{{h}} = {s} * 0.5 + {vec}"]
        return head + loop + tail, []
    K = 0                                           # the third axis of a 3-D array (0: none)
    if feature == "prealloc_cols":
        r = rng.random()
        if r < 0.4:
            T = rng.choice([3, 5, 8])
            shape, col, vec, setup = f"(4, {T})", s, f"{A}.mean(axis=1)", []
        elif r < 0.6:
            T = 512
            shape, col, vec, setup = f"(4, {T})", s, f"{A}.mean(axis=1)", []
        else:
            T, K = rng.choice([(4, 128), (8, 64), (3, 4)])
            shape, col, vec = f"(4, {T}, {K})", f"np.outer({s}, bas_{{t}})", f"{A}.mean(axis=(1, 2))"
            setup = [f"bas_{{t}} = np.linspace(0.5, 1.5, {K})"]
        idx = f"{A}[:, {i}]" if not K or rng.random() < 0.5 else f"{A}[:, {i}, :]"
        return ([f"{s} = {{h}}"] + setup + [f"{A} = {_alloc(rng, shape, True)}",
                f"for {i} in range({T}):", f"    {s} = {_step(rng, s, i)}", f"    {idx} = {col}",
                _fold(rng, A, vec)], [])
    if feature == "prealloc_slices":
        r = rng.random()
        if r < 0.5:                                 # 1-D buffer, 4 items per step
            T = rng.choice([3, 6])
            n = rng.choice([4 * T, 4 * T + 2, 2048, 2100])
            full = n == 4 * T
            write = rng.choice([f"{A}[4 * {i}:4 * {i} + 4] = {s}", f"{A}[4 * {i}:4 * ({i} + 1)] = {s} * 0.5"])
            return ([f"{s} = {{h}}", f"{A} = {_alloc(rng, str(n), full)}", f"for {i} in range({T}):",
                     f"    {s} = {_step(rng, s, i)}", f"    {write}",
                     _fold(rng, A, f"{A}[:{4 * T}].reshape({T}, 4).mean(axis=0)")], [])
        T, W = rng.choice([(3, 4), (5, 4), (4, 512), (512, 4)])
        writes = rng.choice([
            [f"    {A}[{i}, :2] = {s}[:2]", f"    {A}[{i}, 2:4] = {s}[2:] * 0.5"],
            [f"    {A}[{i}, ::-1] = {s}"] if W == 4 else [f"    {A}[{i}, {W - 4}:] = {s}[::-1]"],
            [f"    {A}[{i}, 1:3] = {s}[1:3]"],
            [f"    {A}[{i}, :4:2] = {s}[::2]", f"    {A}[{i}, 1:4:2] = {s}[1::2] ** 2"],
        ])
        return ([f"{s} = {{h}}", f"{A} = {_alloc(rng, f'({T}, {W})', False)}", f"for {i} in range({T}):",
                 f"    {s} = {_step(rng, s, i)}"] + writes + [_fold(rng, A, f"{A}[:, :4].mean(axis=0)")], [])
    if feature == "prealloc_accum":
        r = rng.random()
        if r < 0.4:
            R, T = rng.choice([(2, 5), (3, 6), (4, 4)])
            shape, idx = f"({R}, 4)", f"{A}[{i} % {R}]"
        elif r < 0.7:
            R = T = rng.choice([3, 6, 512])
            shape, idx = f"({R}, 4)", rng.choice([f"{A}[{i}]", f"{A}[{i}, :]"])
        else:
            R, T, K = rng.choice([(4, 4, 128), (2, 6, 256), (3, 3, 2)])
            shape, idx = f"({R}, 4, {K})", f"{A}[{i} % {R}]"
        val = s if not K else f"np.outer({s}, np.linspace(0.5, 1.5, {K}))"
        ops = rng.choice([[f"    {idx} += {val}"], [f"    {idx} += {val} * {_c(rng)}", f"    {idx} *= 0.5"],
                          [f"    {idx} -= {val}"], [f"    {idx} = {val}", f"    {idx} += 0.1 * {val} ** 2"]])
        vec = f"{A}.mean(axis=0)" if not K else f"{A}.mean(axis=(0, 2))"
        return ([f"{s} = {{h}}", f"{A} = {rng.choice(['np.zeros', 'np.ones'])}({shape}{_dtype(rng)})",
                 f"for {i} in range({T}):", f"    {s} = {_step(rng, s, i)}"] + ops + [_fold(rng, A, vec)], [])
    if feature == "prealloc_prev":
        T = rng.choice([3, 5, 8, 512])
        if rng.random() < 0.6:
            rec = rng.choice([f'np.tanh(p["W"] @ {A}[{i} - 1]) + 0.1 * {A}[{i} - 1]',
                              f"{A}[{i} - 1] * {_c(rng, 0.6, 0.9)} + 0.1 * np.sin({A}[{i} - 1])",
                              f"{A}[{i} - 1] * 0.5 + 0.3 * {A}[{i} - 2] * {rng.choice(VEC)}"])
            start = 2 if f"{i} - 2" in rec else 1
            first = [f"{A}[0] = {{h}}"] + ([f"{A}[1] = np.sin({{h}})"] if start == 2 else [])
            return ([f"{A} = {_alloc(rng, f'({T}, 4)', True)}"] + first +
                    [f"for {i} in range({start}, {T}):", f"    {A}[{i}] = {rec}",
                     rng.choice([f"{{h}} = {A}[-1] * 0.5 + {A}.mean(axis=0)", _fold(rng, A, f"{A}.mean(axis=0)")])],
                    [])
        rec = rng.choice([f"{A}[:, {i} - 1] * 0.8 + 0.1 * np.cos({A}[:, {i} - 1])",
                          f'np.tanh(p["W"] @ {A}[:, {i} - 1])'])
        return ([f"{A} = {_alloc(rng, f'(4, {T})', False)}", f"{A}[:, 0] = {{h}}", f"for {i} in range(1, {T}):",
                 f"    {A}[:, {i}] = {rec}", _fold(rng, A, f"{A}.mean(axis=1)")], [])
    if feature == "prealloc_multi":
        T = rng.choice([3, 6, 512])
        one_d = rng.random() < 0.5
        ushape = f"{T}" if one_d else f"({T}, 4)"
        uval = f"np.sum({s} * {rng.choice(VEC)})" if one_d else f"np.tanh({s} * {rng.choice(VEC)})"
        upd = f"{s} * 0.9 + 0.1 * u_{{t}}" if not one_d else f"{s} * 0.9 + 0.1 * np.tanh(u_{{t}})"
        return ([f"{s} = {{h}}", f"{A} = {_alloc(rng, f'({T}, 4)', True)}", f"{B} = {_alloc(rng, ushape, True)}",
                 f"for {i} in range({T}):", f"    u_{{t}} = {uval}", f"    {A}[{i}] = {s}", f"    {B}[{i}] = u_{{t}}",
                 f"    {s} = {upd}",
                 f"{{h}} = {{h}} * 0.5 + 0.3 * {_scalar_loss(rng, A)} + 0.3 * {_scalar_loss(rng, B)}"], [])
    if feature == "prealloc_nested":
        r = rng.random()
        if r < 0.4:
            I, J = rng.choice([(2, 3), (3, 2)])
            shape, write, vec = f"({I}, {J}, 4)", f"{A}[{i}, {j}] = {s}", f"{A}.mean(axis=(0, 1))"
        elif r < 0.7:
            I, J = rng.choice([(2, 3), (4, 4), (32, 16)])
            shape, write, vec = f"({I}, {J}, 4)", f"{A}[{i}, {j}, :] = {s}", f"{A}.mean(axis=(0, 1))"
        else:
            I, J = rng.choice([(3, 4), (4, 4)])
            shape, write, vec = f"({I}, {J})", f"{A}[{i}, {j}] = {s}[{j} % 4] * 0.5", ""
        inner = [f"        {s} = {_step(rng, s, j)}", f"        {write}"]
        return ([f"{s} = {{h}}", f"{A} = {_alloc(rng, shape, True)}", f"for {i} in range({I}):",
                 f"    for {j} in range({J}):"] + inner + ([f"    {s} = {s} * 0.9"] if rng.random() < 0.5 else []) +
                [_fold(rng, A, vec)], [])
    if feature == "prealloc_branch":
        T = rng.choice([3, 5, 8, 512])
        cond = rng.choice([f"np.sum({s}) > {_c(rng, -0.5, 0.5)}", f"{s}[0] > {_c(rng, -0.3, 0.3)}",
                           f"{i} > 0 and {A}[{i} - 1, 1] > {_c(rng, -0.3, 0.3)}", f"{i} % 2 == 0"])
        body = rng.choice([
            [f"    if {cond}:", f"        {A}[{i}] = {s}", "    else:", f"        {A}[{i}] = -0.5 * {s}"],
            [f"    if {cond}:", f"        {A}[{i}] = {s} ** 2"],
            [f"    {A}[{i}] = {s}", f"    if {cond}:", f"        {A}[{i}] += 0.5 * {s}"],
            [f"    if {cond}:", f"        {s} = {s} * 0.5", f"    {A}[{i}] = {s}"],
        ])
        return ([f"{s} = {{h}}", f"{A} = {_alloc(rng, f'({T}, 4)', False)}", f"for {i} in range({T}):",
                 f"    {s} = {_step(rng, s, i)}"] + body + [_fold(rng, A, f"{A}.mean(axis=0)")], [])
    if feature == "prealloc_helper":
        T = rng.choice([3, 5, 512])
        name = f"step_{u}"
        r = rng.random()
        if r < 0.4:
            src = f"def {name}(s, W, k):\n    return np.tanh(W @ s) * k + 0.1 * s"
            loop = [f'    {s} = {name}({s}, p["W"], {_c(rng)})', f"    {A}[{i}] = {s}"]
        elif r < 0.7:
            src = (f"def {name}(s, b):\n    new = s * 0.8 + 0.1 * np.sin(b * s)\n"
                   f"    return new, new ** 2 - s")
            loop = [f"    {s}, r_{{t}} = {name}({s}, {rng.choice(VEC)})", f"    {A}[{i}] = r_{{t}}"]
        elif r < 0.85:
            src = f"def {name}(traj, k, s):\n    traj[k] = s * 2.0\n    return s * 0.9 + 0.05"
            loop = [f"    {s} = {name}({A}, {i}, {s})"]
        else:
            src = f"def {name}(s, t):\n    return s * 0.9 + 0.1 * np.cos(s + 0.01 * t)"
            loop = [f"    {A}[{i}] = {s}", f"    {s} = {name}({s}, {i})"]
        cost = f"cost_{u}"
        csrc = f"def {cost}(traj):\n    return {_scalar_loss(rng, 'traj')}"
        fold = rng.choice([f"{{h}} = {{h}} * 0.5 + 0.3 * {cost}({A})", _fold(rng, A, f"{A}.mean(axis=0)")])
        defs = [(name, src)] + ([(cost, csrc)] if cost in fold else [])
        return ([f"{s} = {{h}}", f"{A} = {_alloc(rng, f'({T}, 4)', True)}", f"for {i} in range({T}):"] + loop +
                [fold], defs)
    if feature == "prealloc_break":
        T = rng.choice([4, 6, 10, 512])
        stop = rng.choice([f"np.sum({s} ** 2) > {_c(rng, 0.2, 2.0)}", f"{s}[1] < {_c(rng, -0.5, 0.2)}"])
        if rng.random() < 0.6:
            body = [f"    {s} = {_step(rng, s, i)}", f"    {A}[{i}] = {s}", f"    if {stop}:", "        break"]
        else:
            body = [f"    {s} = {_step(rng, s, i)}", f"    if {s}[0] > {_c(rng, 0.3, 0.9)}:", "        continue",
                    f"    {A}[{i}] = {s}", f"    if {stop}:", "        break"]
        fold = rng.choice([_fold(rng, A, f"{A}.mean(axis=0)"),
                           f"{{h}} = {{h}} * 0.5 + 0.3 * {A}[:{i} + 1].mean(axis=0)"])
        return ([f"{s} = {{h}}", f"{A} = {_alloc(rng, f'({T}, 4)', False)}", f"for {i} in range({T}):"] + body +
                [fold], [])
    if feature == "prealloc_while":
        T = rng.choice([4, 6, 512])
        return ([f"{s} = {{h}}", f"{A} = {_alloc(rng, f'({T}, 4)', False)}", f"{i} = 0",
                 f"while {i} < {T} and np.sum(np.abs({s})) < {_c(rng, 1.0, 4.0)}:",
                 f"    {s} = {_step(rng, s, i)} * 1.05", f"    {A}[{i}] = {s}", f"    {i} += 1",
                 rng.choice([_fold(rng, A, f"{A}.mean(axis=0)"), f"{{h}} = {s} * 0.5 + 0.1 * {i} + {A}.mean(axis=0)"])],
                [])
    if feature == "prealloc_alias":
        # second names, views and copies of the array while rows are written into it
        T = rng.choice([3, 5, 512])
        k = rng.randrange(T)
        lines = [f"{s} = {{h}}", rng.choice([f"{A} = {_alloc(rng, f'({T}, 4)', False)}",
                                             f"{A} = np.zeros(({T},) + {s}.shape)",
                                             f"{A} = np.zeros(({T}, {s}.shape[0]))",
                                             f"{A} = np.zeros_like(np.outer(np.ones({T}), {s}))"])]
        r = rng.random()
        if r < 0.2:
            lines += [f"{B} = {A}", f"for {i} in range({T}):", f"    {s} = {_step(rng, s, i)}", f"    {A}[{i}] = {s}",
                      f"{{h}} = {{h}} * 0.5 + {B}.mean(axis=0)"]
        elif r < 0.4:
            lines += [f"snaps_{{t}} = []", f"for {i} in range({T}):", f"    {s} = {_step(rng, s, i)}",
                      f"    {A}[{i}] = {s}", f"    if {i} == {k}:", f"        snaps_{{t}}.append({A}.copy())",
                      f"{{h}} = {{h}} * 0.5 + {A}.mean(axis=0) + 0.3 * snaps_{{t}}[0].sum(axis=0)"]
        elif r < 0.6:
            lines += [f"rows_{{t}} = []", f"for {i} in range({T}):", f"    {s} = {_step(rng, s, i)}",
                      f"    {A}[{i}] = {s}", f"    rows_{{t}}.append({A}[{i}])",
                      f"{{h}} = {{h}} * 0.5 + 0.3 * np.stack(rows_{{t}}).mean(axis=0) + 0.1 * {A}[-1]"]
        elif r < 0.8:
            lines += [f"view_{{t}} = {A}[{k}]", f"for {i} in range({T}):", f"    {s} = {_step(rng, s, i)}",
                      f"    {A}[{i}] = {s}", f"{{h}} = {{h}} * 0.5 + view_{{t}} + 0.1 * {A}.mean(axis=0)"]
        else:
            lines += [f"for {i} in range({T}):", f"    {s} = {_step(rng, s, i)}", f"    {A}[{i}] = {s}",
                      f"    {B} = {A}", f"    {B}[{i}] *= 0.5",
                      f"{{h}} = {{h}} * 0.5 + {A}.mean(axis=0)"]
        return lines, []
    if feature == "prealloc_readback":
        # the loop reads the array's values (a prefix, the whole, a cyclic buffer) while writing it
        T = rng.choice([3, 6, 512])
        R = rng.choice([2, 3])
        return rng.choice([
            [f"{s} = {{h}}", f"{A} = np.zeros(({T}, 4))", "acc_{t} = 0.0", f"for {i} in range({T}):",
             f"    {s} = {_step(rng, s, i)}", f"    {A}[{i}] = {s}",
             f"    acc_{{t}} = acc_{{t}} + np.sum({A}[:{i} + 1] ** 2) * {1.0 / T:.6f}",
             f"{{h}} = {{h}} * 0.5 + 0.01 * acc_{{t}} + {A}.mean(axis=0)"],
            [f"{s} = {{h}}", f"{A} = np.zeros(({R}, 4))", f"out_{{t}} = np.zeros(({T}, 4))", f"for {i} in range({T}):",
             f"    {s} = {_step(rng, s, i)} + 0.1 * {A}.mean(axis=0)", f"    {A}[{i} % {R}] = {s}",
             f"    out_{{t}}[{i}] = {A}.sum(axis=0)", _fold(rng, f"out_{{t}}", f"out_{{t}}.mean(axis=0)")],
            [f"{A} = np.zeros(({T}, 4))", f"{A}[0] = {{h}}", f"for {i} in range(1, {T}):",
             f"    {A}[{i}] = {A}[{i}] + {A}[{i} - 1] * 0.8 + 0.1 * np.sin({A}[{i} - 1])",
             _fold(rng, A, f"{A}.mean(axis=0)")],
            [f"{A} = np.ones(({T}, 4)) * {{h}}", f"for {i} in range({T}):",
             f"    {A}[{i}] = np.tanh({A}[{i}] * {A}[{i} - 1])",
             _fold(rng, A, f"{A}.mean(axis=0)")],
        ]), []
    if feature == "prealloc_rollout":
        # a helper allocates, fills and returns the trajectory; called once or twice
        T = rng.choice([3, 5, 512])
        name = f"rollout_{u}"
        step = _step(random.Random(u), "s", "k").replace("p[\"W\"]", "W").replace("net.l1.w", "W")
        step = step.replace("net.l1.b", "b")
        for vname in VEC:
            step = step.replace(vname, "b")
        alloc = _alloc(rng, f"(n, s.shape[0])", True)
        src = (f"def {name}(s, W, b, n):\n    traj = {alloc}\n    for k in range(n):\n"
               f"        s = {step}\n        traj[k] = s\n    return traj")
        calls = [f'{A} = {name}({{h}}, p["W"], {rng.choice(VEC)}, {T})']
        if rng.random() < 0.4:
            calls += [f'{B} = {name}({A}[-1], net.l1.w, {rng.choice(VEC)}, {T})', f"{A} = {A} + {B}"]
        return calls + [_fold(rng, A, f"{A}.mean(axis=0)")], [(name, src)]
    if feature == "prealloc_index_kinds":
        # the other ways users index the row: reversed loops, negative indices, enumerate, Ellipsis,
        # a row's view written through, np.copyto, integer and boolean record arrays, resets
        T = rng.choice([3, 5, 512])
        step = _step(rng, s, i)
        r = rng.randrange(10)
        head = [f"{s} = {{h}}", f"{A} = {_alloc(rng, f'({T}, 4)', r < 6)}"]
        fold = _fold(rng, A, f"{A}.mean(axis=0)")
        if r == 0:
            body = [f"for {i} in reversed(range({T})):", f"    {s} = {step}", f"    {A}[{i}] = {s}"]
        elif r == 1:
            body = [f"for {i} in range({T}):", f"    {s} = {step}", f"    {A}[-{i} - 1] = {s}"]
        elif r == 2:
            body = [f"for {i}, w_{{t}} in enumerate(np.linspace(0.5, 1.0, {T})):", f"    {s} = {step}",
                    f"    {A}[{i}, ...] = {s} * w_{{t}}"]
        elif r == 3:
            body = [f"for {i} in range({T}):", f"    {s} = {step}", f"    {A}[{i}][:] = {s}"]
        elif r == 4:
            body = [f"for {i} in range({T}):", f"    {s} = {step}", f"    np.copyto({A}[{i}], {s})"]
        elif r == 5:
            body = [f"for {i} in range({T} - 1, -1, -1):", f"    {s} = {step}", f"    {A}[{i}, :] = {s}"]
        elif r == 6:
            head.append(f"pick_{{t}} = np.zeros({T}, dtype=int)")
            body = [f"for {i} in range({T}):", f"    {s} = {step}", f"    {A}[{i}] = {s}",
                    f"    pick_{{t}}[{i}] = int(np.argmax({s}))"]
            fold = f"{{h}} = {{h}} * 0.5 + 0.3 * np.mean({A}[np.arange({T}), pick_{{t}}] ** 2)"
        elif r == 7:
            head.append(f"keep_{{t}} = np.zeros({T}, dtype=bool)")
            body = [f"for {i} in range({T}):", f"    {s} = {step}", f"    {A}[{i}] = {s}",
                    f"    keep_{{t}}[{i}] = {s}[0] > {_c(rng, -0.3, 0.3)}"]
            fold = f"{{h}} = {{h}} * 0.5 + 0.3 * np.sum({A}[keep_{{t}}] ** 2) / {T}"
        elif r == 8:
            body = [f"for {i} in range({T}):", f"    {s} = {step}", f"    if {i} == {T // 2}:", f"        {A}[:] = 0.0",
                    f"    {A}[{i}] = {s}"]
        else:
            body = [f"{i} = 0", "while True:", f"    {s} = {step}", f"    {A}[{i}] = {s}", f"    {i} += 1",
                    f"    if {i} >= {T} or np.max(np.abs({s})) > {_c(rng, 0.8, 2.0)}:", "        break"]
        return head + body + [fold], []
    raise ValueError(f"unknown feature {feature}")
