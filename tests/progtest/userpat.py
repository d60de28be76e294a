"""Blocks of what users write that the other features do not draw (``--features userpat``).

Matrix algebra (``@``, ``.T``, ``np.dot``, ``np.einsum``, ``np.linalg.solve / inv / det /
slogdet / cholesky``), reductions with ``axis`` / ``keepdims``, broadcasting of ``(n, 1)`` against
``(1, m)``, ``np.concatenate / stack / split``, fancy and boolean indexing (reads and writes of
copies), piecewise functions (``np.where``, ``np.clip``, ``np.maximum``), softmax / logsumexp,
``while`` loops whose number of steps depends on the data (converging iterations), parameters
in dicts and lists walked in loops (weight decay), helpers calling helpers two or three deep and
called in loops with different arguments, closure factories, lambdas (late binding), user
classes with methods (``__call__``, properties, inheritance), float32 casts, matrices built in
place, scalar accumulators, array methods, code that reads shapes, one helper called with
arrays of different shapes, and type tests (isinstance(v, np.ndarray) of the arguments' arrays).  Every block reads the state ``{h}`` (4 floats) and the arguments
and writes the state again (generator.py); arguments are never written.
"""
from __future__ import annotations

import random
from typing import List, Tuple

USERPAT_FEATURES = [
    "linalg", "einsum_dot", "axis_reduce", "broadcast2d", "concat_split", "fancy_index", "bool_index",
    "piecewise", "softmax_lse", "while_converge", "param_containers", "layer_lists", "helper_deep",
    "closure_factory", "lambda_binding", "user_class", "float32_cast", "matrix_inplace", "scalar_accum",
    "array_methods", "shape_generic", "generator_fn", "try_assert", "type_tests",
]

VEC = ['x', 'p["v"]', 'p["s"]', 'dc.a', 'dc.b', 'pair[0]', 'pair[1]', 'net.l1.b', 'net.l2.b']
MAT = ['p["W"]', 'net.l1.w', 'net.l2.w']


def _c(rng: random.Random, lo: float = 0.3, hi: float = 0.9) -> str:
    return f"{rng.uniform(lo, hi):.2f}"


def _fill(rng: random.Random, lines: List[str]) -> List[str]:
    """Replace each ``@V`` by a random (4,) argument, ``@M`` by a (4, 4) one, ``@C`` by a constant."""
    out = []
    for line in lines:
        while "@V" in line:
            line = line.replace("@V", rng.choice(VEC), 1)
        while "@M" in line:
            line = line.replace("@M", rng.choice(MAT), 1)
        while "@C" in line:
            line = line.replace("@C", _c(rng), 1)
        out.append(line)
    return out


def _spd(rng: random.Random) -> str:
    """A symmetric positive definite (4, 4) matrix, from the arguments or from the state."""
    return rng.choice(['M_{t} = @M @ @M.T * 0.5 + np.eye(4) * 2.0',
                       'M_{t} = np.outer({h}, {h}) * 0.3 + @M @ @M.T * 0.2 + np.eye(4) * 1.5',
                       'M_{t} = np.diag(1.5 + {h} ** 2) + @M * @M.T * 0.1'])


def make_userpat_block(feature: str, rng: random.Random) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Lines (with ``{h}`` and ``{t}``) and module-level defs of one block of ``feature``."""
    v = rng.randrange(10 ** 5)
    defs: List[Tuple[str, str]] = []
    if feature == "linalg":
        use = rng.choice([
            ["{h} = np.linalg.solve(M_{t}, {h}) + 0.1 * {h}"],
            ["{h} = np.linalg.inv(M_{t}) @ {h} * 0.8 + 0.1 * {h}"],
            ["{h} = {h} * np.linalg.det(M_{t}) ** 0.25 * 0.5"],
            ["sg_{t}, ld_{t} = np.linalg.slogdet(M_{t})", "{h} = {h} * (1.0 + 0.1 * ld_{t})"],
            ["L_{t} = np.linalg.cholesky(M_{t})", "{h} = L_{t} @ {h} * 0.4 + np.tanh(L_{t}.T @ @V) * 0.1"],
            ["{h} = {h} + 0.1 * np.trace(M_{t} @ np.diag({h}))"],
            ["{h} = np.linalg.solve(M_{t}, np.stack([{h}, @V], axis=1)).sum(axis=1)"],
            ["{h} = {h} @ np.linalg.inv(M_{t}) @ {h} * 0.1 + {h}"],
            ["{h} = np.tanh(np.linalg.matrix_power(M_{t} * 0.3, 2) @ {h})"],
            ["{h} = {h} * (1.0 + 0.05 * np.linalg.eigvalsh(M_{t}).sum())"],
        ])
        return _fill(rng, [_spd(rng)] + use), defs
    if feature == "einsum_dot":
        return _fill(rng, rng.choice([
            ['{h} = np.einsum("ij,j->i", @M, {h}) * 0.5 + {h} * 0.5'],
            ['{h} = {h} * np.einsum("i,i->", {h}, @V) * 0.3 + {h}'],
            ["{h} = np.dot(@M, {h}) * 0.5 + np.dot({h}, @V) * 0.1"],
            ['{h} = np.einsum("ij,ik->jk", np.outer({h}, @V), @M).sum(axis=0) * 0.2 + {h}'],
            ["{h} = {h}.dot(@M) * 0.5 + {h} * 0.2"],
            ["{h} = np.tensordot(@M, {h}, axes=1) * 0.5 + {h} * 0.3"],
            ["{h} = (@M @ np.diag({h}) @ @M.T).sum(axis=1) * 0.2 + {h}"],
            ['{h} = np.einsum("ii->i", np.outer({h}, @V)) + {h} * 0.5'],
            ['{h} = np.einsum("ij,ij->i", @M, np.outer({h}, {h})) * 0.3 + {h}'],
            ["{h} = {h} @ @M.T @ @M * 0.2 + {h}"],
            ["{h} = np.matmul(@M, {h}[:, None])[:, 0] * 0.5 + {h} * 0.5"],
            ["{h} = ({h}[None, :] @ @M @ {h}[:, None])[0, 0] * 0.1 + {h}"],
            ['{h} = np.einsum("i,ij,j", {h}, @M, @V) * 0.2 + {h}'],
            ["{h} = np.inner({h}, @M) * 0.5 + {h} * 0.5"],
            ["{h} = np.outer({h}, @V).T @ {h} * 0.2 + {h}"],
        ])), defs
    if feature == "axis_reduce":
        make = rng.choice(["Z_{t} = np.outer({h}, @V) + @M * 0.5", "Z_{t} = {h}[:, None] * @M",
                           "Z_{t} = np.sin(@M + {h})"])
        return _fill(rng, [make] + rng.choice([
            ["{h} = Z_{t}.sum(axis=0) * 0.5"],
            ["{h} = np.mean(Z_{t}, axis=1) + {h} * 0.5"],
            ["{h} = (Z_{t} - Z_{t}.mean(axis=1, keepdims=True)).sum(axis=0) + {h}"],
            ["{h} = np.max(Z_{t}, axis=1) * 0.5 + {h} * 0.5"],
            ["{h} = np.min(Z_{t}, axis=0) * 0.5 + {h} * 0.5"],
            ["{h} = np.std(Z_{t}, axis=0) + {h} * 0.5"],
            ["{h} = np.var(Z_{t}, axis=1, ddof=1) + {h} * 0.5"],
            ["{h} = np.linalg.norm(Z_{t}, axis=0) * 0.3 + {h} * 0.5"],
            ["{h} = np.tanh(Z_{t}.prod(axis=1)) + {h}"],
            ["{h} = np.sum(Z_{t}, axis=(0, 1), keepdims=True)[0] * 0.1 + {h}"],
            ["{h} = np.cumsum(Z_{t}, axis=0)[-1] * 0.3 + {h} * 0.5"],
            ["{h} = np.mean(Z_{t} ** 2, axis=1, keepdims=True).ravel() * 0.5 + {h}"],
            ["{h} = (Z_{t} / (1.0 + np.abs(Z_{t}).sum(axis=0, keepdims=True))).sum(axis=1) + {h} * 0.5"],
            ["{h} = Z_{t}.sum(axis=-1) / Z_{t}.shape[1] + {h} * 0.5"],
            ["{h} = np.median(Z_{t}, axis=0) * 0.5 + {h}"],
            ["{h} = Z_{t}.max(axis=0) - Z_{t}.min(axis=0) + {h} * 0.5"],
            ["{h} = np.mean(Z_{t}, axis=0, keepdims=True)[0] + np.sum(Z_{t}, axis=1, keepdims=True)[:, 0] * 0.1"],
        ])), defs
    if feature == "broadcast2d":
        return _fill(rng, rng.choice([
            ["D_{t} = ({h}[:, None] - {h}[None, :]) ** 2", "{h} = np.exp(-D_{t}).sum(axis=1) * 0.3 + {h} * 0.5"],
            ["D_{t} = {h}.reshape(4, 1) * @V.reshape(1, 4)", "{h} = D_{t} @ {h} * 0.2 + {h}"],
            ["G_{t} = np.exp(-(@V[:, None] - {h}) ** 2)", "{h} = G_{t}.mean(axis=0) + {h} * 0.5"],
            ["{h} = (@M * {h}).sum(axis=1) * 0.5 + {h} * 0.5"],
            ["{h} = (@M * {h}[:, None]).sum(axis=0) * 0.5 + {h} * 0.5"],
            ["{h} = ({h}[:, None, None] * @M[None]).sum(axis=(0, 2)) * 0.2 + {h} * 0.5"],
            ["R_{t} = {h}[None, :2] + {h}[2:, None]", "{h} = np.tanh(R_{t}.ravel()) + {h} * 0.5"],
            ["{h} = {h} + np.broadcast_to({h}[:1], (4,)) * 0.5"],
            ["{h} = np.tile({h}[:2], 2) * 0.5 + {h}"],
            ["{h} = np.repeat({h}[::2], 2) * 0.5 + {h}"],
            ["K_{t} = 1.0 / (1.0 + ({h}[:, None] - @V[None, :]) ** 2)", "{h} = K_{t} @ {h} * 0.3"],
            ["{h} = ({h}[:, None] * {h}[None, :] * @M).sum(axis=0) * 0.3 + {h}"],
            ["{h} = (np.ones((3, 1)) * {h}).sum(axis=0) * 0.3 + {h} * 0.2"],
            ["{h} = ({h} + np.zeros((2, 4))).mean(axis=0) * 0.9"],
        ])), defs
    if feature == "concat_split":
        return _fill(rng, rng.choice([
            ["a_{t}, b_{t} = np.split({h}, 2)", "{h} = np.concatenate([b_{t} * 2.0, a_{t} ** 2]) * 0.5"],
            ["parts_{t} = np.split({h}, [1, 3])", "{h} = np.concatenate(parts_{t}[::-1]) * 0.5 + {h}"],
            ["S_{t} = np.stack([{h}, @V], axis=1)", "{h} = S_{t} @ np.array([0.5, 0.3])"],
            ["S_{t} = np.vstack([{h}, @V, {h} ** 2])", "{h} = S_{t}.sum(axis=0) * 0.3"],
            ["{h} = np.hstack([{h}[2:], {h}[:2] * @V[:2]])"],
            ["S_{t} = np.column_stack([{h}, @V])", "{h} = S_{t}[:, 0] * S_{t}[:, 1] + {h}"],
            ["{h} = np.concatenate([{h}[:, None], @V[:, None]], axis=1).max(axis=1)"],
            ["a_{t}, b_{t} = {h}[:2], {h}[2:]", "{h} = np.append(a_{t} * b_{t}, a_{t} + b_{t})"],
            ["rows_{t} = [{h}[i] * @V[i] for i in range(4)]", "{h} = np.array(rows_{t}) + {h}"],
            ["{h} = np.stack([{h}, {h} ** 2]).T.reshape(-1)[:4] + {h}"],
            ["first_{t}, *rest_{t} = {h}", "{h} = np.array(rest_{t} + [first_{t}]) * 0.5 + {h}"],
            ["u_{t}, w_{t} = np.hsplit(np.stack([{h}, @V], axis=1), 2)", "{h} = (u_{t} * w_{t}).ravel() + {h}"],
            ["{h} = np.concatenate(([{h}[0] * 2.0], {h}[1:3], [{h}[3] ** 2]))"],
            ["{h} = np.block([{h}[:2] * 0.5, {h}[2:]]) + {h}"],
        ])), defs
    if feature == "fancy_index":
        return _fill(rng, rng.choice([
            ["{h} = {h}[[2, 0, 3, 1]] * 0.5 + {h}"],
            ["idx_{t} = np.array([0, 0, 3, 1])", "{h} = {h}[idx_{t}] + {h} * 0.5"],
            ["order_{t} = np.argsort({h})", "{h} = {h}[order_{t}] * @V + {h} * 0.5"],
            ["{h} = @M[[1, 3]][:, [0, 2]].ravel() * {h} + {h}"],
            ["{h} = @M[np.arange(4), [1, 0, 3, 2]] * {h} + {h}"],
            ["{h} = np.take({h}, [3, 3, 1, 0]) + {h}"],
            ["{h} = {h} + @M[np.argmax({h})] * 0.5"],
            ["z_{t} = {h}.copy()", "z_{t}[[0, 2]] = {h}[[1, 3]] * 2.0", "{h} = z_{t} + {h}"],
            ["Z_{t} = np.zeros((4, 4))", "Z_{t}[np.arange(4), np.arange(4)] = {h}", "{h} = Z_{t} @ @V + {h}"],
            ["{h} = @M[..., 1] * {h} + {h}"],
            ["{h} = @M[:, ::-1][1] * {h} + {h}"],
            ["{h} = np.take_along_axis(@M * {h}, np.argsort(@M, axis=1), axis=1)[:, 0] + {h}"],
            ["z_{t} = np.zeros(4)", "z_{t}[[3, 1]] += {h}[:2]", "{h} = z_{t} + {h}"],
            ["z_{t} = {h} * 1.0", "z_{t}[np.array([1, 2])] *= {h}[:2]", "{h} = z_{t}"],
            ["{h} = {h}[np.array([[0, 1], [2, 3]])].sum(axis=1).repeat(2) * 0.5"],
            ["{h} = {h} * @M[1, [0, 3, 2, 1]]"],
        ])), defs
    if feature == "bool_index":
        return _fill(rng, rng.choice([
            ["{h} = {h} + np.sum({h}[{h} > @C]) * 0.3"],
            ["mask_{t} = @V > 0", "z_{t} = {h}.copy()", "z_{t}[mask_{t}] = z_{t}[mask_{t}] * 2.0", "{h} = z_{t}"],
            ["z_{t} = {h} * 1.0", "z_{t}[z_{t} < 0] = 0.0", "{h} = z_{t} + 0.1 * {h}"],
            ["mask_{t} = @V > 0", "{h} = np.where(mask_{t}, {h}, {h} ** 2)"],
            ["sel_{t} = {h}[@V > 0]", "{h} = {h} * (1.0 + 0.1 * np.sum(sel_{t} ** 2))"],
            ["z_{t} = np.zeros(4)", "mask_{t} = {h} > 0", "z_{t}[mask_{t}] = {h}[mask_{t}]", "{h} = z_{t} + {h} * 0.5"],
            ["z_{t} = {h} * 1.0", "z_{t}[@V > 0] += 0.5", "{h} = z_{t} * {h}"],
            ["cnt_{t} = np.count_nonzero({h} > 0)", "{h} = {h} * (1.0 + 0.1 * cnt_{t})"],
            ["z_{t} = {h} * 1.0", "z_{t}[np.abs(z_{t}) > @C] *= 0.5", "{h} = z_{t}"],
            ["{h} = {h} * (@V > 0) + {h} ** 2 * (@V <= 0)"],
            ["{h} = np.where(np.isfinite({h}), {h}, 0.0) * 0.9"],
        ])), defs
    if feature == "piecewise":
        return _fill(rng, rng.choice([
            ["{h} = np.where({h} > 0, {h} ** 2, 0.5 * {h})"],
            ["{h} = np.clip({h}, -0.5, 0.7) + 0.1 * {h}"],
            ["{h} = {h}.clip(-0.4, 0.4) * 2.0 + 0.1 * {h}"],
            ["{h} = np.maximum({h}, 0.2 * {h})"],
            ["{h} = np.minimum({h}, @V) + 0.1 * {h}"],
            ["{h} = np.maximum({h}, 0.0) + 0.3 * {h}"],
            ["{h} = np.abs({h}) * 0.5 + {h}"],
            ["a_{t} = np.abs({h})", "{h} = np.where(a_{t} < 0.5, 0.5 * {h} ** 2, 0.5 * (a_{t} - 0.25))"],
            ["{h} = np.sign({h}) * np.sqrt(np.abs({h}) + 0.1)"],
            ["{h} = np.select([{h} < -0.3, {h} > 0.3], [{h} * 2.0, {h} ** 3], default={h} * 0.5)"],
            ["{h} = {h} * max(float({h}[0]), 0.1)"],
            ["{h} = np.where({h} > @V, {h}, @V)"],
            ["{h} = np.fmax({h}, -0.2) * np.fmin({h}, 0.8)"],
            ["{h} = np.clip({h}, None, 0.5) + np.clip({h}, -0.2, None)"],
            ["{h} = np.clip({h}, @V, @V + 0.5)"],
            ["{h} = {h} * min(np.sum({h} ** 2), 1.0)"],
        ])), defs
    if feature == "softmax_lse":
        if rng.random() < 0.2:
            defs.append(("import scipy.special", "import scipy.special"))
            return _fill(rng, rng.choice([
                ["{h} = {h} - scipy.special.logsumexp({h})"],
                ["{h} = scipy.special.softmax({h} * 2.0) * 4.0"],
                ["Z_{t} = np.outer({h}, @V)", "{h} = scipy.special.logsumexp(Z_{t}, axis=1) * 0.5"],
                ["{h} = scipy.special.log_softmax({h}) * 0.5"],
                ["{h} = scipy.special.expit({h}) * 2.0 - 1.0 + {h} * 0.1"],
            ])), defs
        return _fill(rng, rng.choice([
            ["e_{t} = np.exp({h} - np.max({h}))", "{h} = e_{t} / np.sum(e_{t}) * 4.0"],
            ["m_{t} = np.max({h})", "lse_{t} = m_{t} + np.log(np.sum(np.exp({h} - m_{t})))", "{h} = {h} - lse_{t}"],
            ["Z_{t} = np.outer({h}, @V) + @M", "Z_{t} = Z_{t} - Z_{t}.max(axis=1, keepdims=True)",
             "P_{t} = np.exp(Z_{t})", "P_{t} /= P_{t}.sum(axis=1, keepdims=True)", "{h} = P_{t} @ {h} + {h} * 0.5"],
            ["Z_{t} = np.outer({h}, @V) + @M",
             "logp_{t} = Z_{t} - np.log(np.exp(Z_{t}).sum(axis=1, keepdims=True))",
             "{h} = {h} * (1.0 - 0.1 * logp_{t}[np.arange(4), [1, 0, 3, 2]].mean())"],
            ["Q_{t} = np.outer({h}, @V)", "S_{t} = Q_{t} @ Q_{t}.T / 2.0",
             "A_{t} = np.exp(S_{t} - S_{t}.max(axis=-1, keepdims=True))",
             "A_{t} = A_{t} / A_{t}.sum(axis=-1, keepdims=True)", "{h} = A_{t} @ {h}"],
            ["{h} = 1.0 / (1.0 + np.exp(-{h})) * 2.0 - 1.0 + 0.1 * {h}"],
            ["{h} = np.logaddexp(0.0, {h}) - 0.5"],
            ["{h} = np.logaddexp({h}, @V) * 0.5"],
        ])), defs
    if feature == "while_converge":
        return _fill(rng, rng.choice([
            # fixed point of a contraction, stopped by its residual
            ["s_{t} = {h} * 0.5", "k_{t} = 0",
             "while np.max(np.abs(s_{t} - np.tanh(@M @ s_{t} * 0.4 + {h}))) > 1e-10 and k_{t} < 60:",
             "    s_{t} = np.tanh(@M @ s_{t} * 0.4 + {h})", "    k_{t} += 1",
             "{h} = s_{t}"],
            # Newton's method on z ** 3 + z = c, item by item
            ["z_{t} = {h} * 0.0", "it_{t} = 0",
             "while np.max(np.abs(z_{t} ** 3 + z_{t} - {h})) > 1e-12 and it_{t} < 50:",
             "    z_{t} = z_{t} - (z_{t} ** 3 + z_{t} - {h}) / (3.0 * z_{t} ** 2 + 1.0)", "    it_{t} += 1",
             "{h} = z_{t} + 0.1 * {h}"],
            # gradient descent on a quadratic, stopped by the gradient's norm
            ["w_{t} = np.zeros(4)", "gr_{t} = w_{t} - {h}", "n_{t} = 0",
             "while np.linalg.norm(gr_{t}) > 1e-11 and n_{t} < 200:",
             "    w_{t} = w_{t} - 0.5 * gr_{t}", "    gr_{t} = w_{t} - {h}", "    n_{t} += 1",
             "{h} = w_{t} * @C + {h} * 0.2"],
            # while True with a data-dependent break
            ["s_{t} = {h} * 1.0", "while True:", "    s_{t} = s_{t} * 0.5 + 0.1 * np.sin({h})",
             "    if np.sum(s_{t} ** 2) < @C:", "        break", "{h} = s_{t} + {h} * 0.5"],
            # a data-dependent count of steps (piecewise smooth)
            ["s_{t} = {h} * 1.0", "while np.sum(np.abs(s_{t})) > @C:", "    s_{t} = s_{t} * 0.7",
             "{h} = s_{t} + 0.2 * {h}"],
        ])), defs
    if feature == "param_containers":
        return _fill(rng, rng.choice([
            ['for k_{t} in ("v", "s"):', "    {h} = {h} * 0.7 + p[k_{t}] * 0.3"],
            ["for name_{t}, w_{t} in p.items():", "    if w_{t}.ndim == 1:", "        {h} = {h} + 0.1 * w_{t} * {h}",
             "    else:", "        {h} = np.tanh(w_{t} @ {h}) * 0.5 + {h} * 0.5"],
            ["reg_{t} = sum(np.sum(w ** 2) for w in p.values())", "{h} = {h} * (1.0 + 0.01 * reg_{t})"],
            ["reg_{t} = 0.0", "for w_{t} in [net.l1.w, net.l1.b, net.l2.w]:", "    reg_{t} = reg_{t} + np.sum(w_{t} ** 2)",
             "{h} = {h} + 0.01 * reg_{t}"],
            ['pp_{t} = {"a": net.l1.w, "b": net.l1.b}', '{h} = np.tanh(pp_{t}["a"] @ {h} + pp_{t}["b"])'],
            ['cfg_{t} = {"scale": @C, "shift": @V}', '{h} = {h} * cfg_{t}["scale"] + cfg_{t}["shift"] * 0.1'],
            ['p2_{t} = dict(p)', 'p2_{t}["v"] = p["v"] * 2.0', '{h} = {h} * p2_{t}["v"] + p["v"]'],
            ['p2_{t} = {**p, "s": {h}}', '{h} = p2_{t}["s"] * p2_{t}["v"] + 0.5 * {h}'],
            ["for k_{t} in sorted(p):", "    {h} = {h} + 0.05 * p[k_{t}].sum() * {h}"],
            ['{h} = {h} * getattr(net, "l1").b + vars(dc)["a"] * 0.5'],
            ['pl_{t} = [p["v"], p["s"], dc.a]', "{h} = {h} + sum(pl_{t}) * 0.2 + pl_{t}[-1] * {h}"],
            ['pt_{t} = (p["W"], p["v"])', "W_{t}, b_{t} = pt_{t}", "{h} = np.tanh(W_{t} @ {h} + b_{t})"],
            ['st_{t} = {"acc": {h} * 0.0}', 'for w_{t} in (p["v"], p["s"]):',
             '    st_{t}["acc"] = st_{t}["acc"] + w_{t} * {h}', '{h} = st_{t}["acc"] + {h} * 0.5'],
            ['ws_{t} = {k: p[k] * 0.5 for k in ("v", "s")}', '{h} = {h} + ws_{t}["v"] * ws_{t}["s"]'],
            ["g_{t} = p.get(\"missing\", {h} * 0.5)", "{h} = g_{t} + p.get(\"v\") * 0.1"],
        ])), defs
    if feature == "layer_lists":
        if rng.random() < 0.2:
            defs.append(("import functools", "import functools"))
            return _fill(rng, ["{h} = functools.reduce(lambda u, L: L(u), [net.l1, net.l2], {h})"]), defs
        return _fill(rng, rng.choice([
            ["layers_{t} = [net.l1, net.l2]", "for L_{t} in layers_{t}:", "    {h} = L_{t}({h})"],
            ["for L_{t} in (net.l1, net.l2):", "    {h} = np.tanh(L_{t}.w @ {h} + L_{t}.b) * 0.5 + {h} * 0.5"],
            ["Ws_{t} = [p[\"W\"], net.l1.w, net.l2.w]", "for i_{t}, W_{t} in enumerate(Ws_{t}):",
             "    {h} = np.tanh(W_{t} @ {h}) * (0.5 + 0.1 * i_{t})"],
            ["for W_{t}, b_{t} in zip([net.l1.w, net.l2.w], [net.l1.b, net.l2.b]):", "    {h} = np.tanh(W_{t} @ {h} + b_{t})"],
            ["for L_{t} in reversed([net.l1, net.l2]):", "    {h} = L_{t}({h}) + {h} * 0.3"],
            ["outs_{t} = [L({h}) for L in (net.l1, net.l2)]", "{h} = sum(outs_{t}) * 0.5"],
            ["{h} = np.mean([L({h}) for L in (net.l1, net.l2)], axis=0) + {h} * 0.2"],
            ["for L_{t} in [net.l1, net.l2] * 2:", "    {h} = L_{t}({h}) * 0.5 + {h} * 0.5"],
            ["ls_{t} = [net.l1, net.l2]", "for i_{t} in range(len(ls_{t})):", "    {h} = ls_{t}[i_{t}]({h}) + {h} * 0.1"],
            ["ls_{t} = {\"enc\": net.l1, \"dec\": net.l2}", "for name_{t} in (\"enc\", \"dec\"):",
             "    {h} = ls_{t}[name_{t}]({h})"],
        ])), defs
    if feature == "helper_deep":
        lin, act, mlp, model = f"lin_{v}", f"act_{v}", f"mlp_{v}", f"model_{v}"
        defs += [(lin, f"def {lin}(W, b, u):\n    return W @ u + b"),
                 (act, f"def {act}(z, k=0.5):\n    return np.tanh(z) * k + z * 0.1"),
                 (mlp, f"def {mlp}(layer, u, k=0.5):\n    return {act}({lin}(layer.w, layer.b, u), k=k)"),
                 (model, f"def {model}(net, u, ks=(0.5, 0.3)):\n    for layer, k in zip((net.l1, net.l2), ks):\n"
                         f"        u = {mlp}(layer, u, k)\n    return u")]
        stats, norm = f"stats_{v}", f"normed_{v}"
        defs += [(stats, f"def {stats}(u):\n    return u.mean(), np.sqrt(u.var() + 0.1)"),
                 (norm, f"def {norm}(u, eps=0.1):\n    m, s = {stats}(u)\n    return (u - m) / (s + eps)")]
        return _fill(rng, rng.choice([
            [f"{{h}} = {mlp}(net.l1, {{h}})"],
            ["for L_{t} in (net.l1, net.l2):", f"    {{h}} = {mlp}(L_{{t}}, {{h}}, k=0.3)"],
            ["for i_{t} in range(3):", f"    {{h}} = {mlp}(net.l1, {{h}}, 0.2 + 0.1 * i_{{t}})"],
            [f"{{h}} = {model}(net, {{h}})"],
            [f"{{h}} = {model}(net, {{h}}, ks=(0.4, 0.6)) + {model}(net, @V) * 0.5"],
            ["for a_{t} in ({h}, @V, {h} ** 2):", f"    {{h}} = {{h}} * 0.5 + {act}(a_{{t}}) * 0.5"],
            [f"{{h}} = {norm}({{h}}) * 0.5 + {{h}}"],
            [f"m_{{t}}, s_{{t}} = {stats}({{h}} * @V)", "{h} = ({h} - m_{t}) * s_{t}"],
            [f"{{h}} = {act}({lin}(@M, @V, {{h}}), 0.7) + {norm}(@V, eps=0.2) * 0.1"],
        ])), defs
    if feature == "closure_factory":
        mk = f"make_scaler_{v}"
        defs.append((mk, f"def {mk}(a):\n    def scale(u):\n        return u * a + np.sin(a) * 0.1\n    return scale"))
        mk2 = f"make_counter_{v}"
        defs.append((mk2, f"def {mk2}():\n    total = [0.0]\n\n    def add(u):\n        total[0] = total[0] + np.sum(u)\n"
                          f"        return u * 0.5\n    return add, total"))
        return _fill(rng, rng.choice([
            [f"sc_{{t}} = {mk}({{h}}[0] * 0.5)", "{h} = sc_{t}({h})"],
            [f"sc_{{t}} = {mk}(@V)", "{h} = sc_{t}({h}) + sc_{t}(@V) * 0.1"],
            [f"fs_{{t}} = [{mk}(k) for k in (0.5, @C)]", "for f_{t} in fs_{t}:", "    {h} = f_{t}({h})"],
            [f"add_{{t}}, tot_{{t}} = {mk2}()", "{h} = add_{t}({h})", "{h} = add_{t}({h} ** 2)",
             "{h} = {h} + tot_{t}[0] * 0.1"],
            ["acc_{t} = {h} * 0.0", "def bump_{t}(u):", "    nonlocal acc_{t}", "    acc_{t} = acc_{t} + u",
             "    return u * 0.5", "{h} = bump_{t}({h}) + bump_{t}(@V)", "{h} = {h} + acc_{t} * 0.3"],
            ["def outer_{t}(u):", "    def inner(w):", "        return np.tanh(w * u)", "    return inner(u + 1.0) + inner(@V)",
             "{h} = outer_{t}({h}) * 0.5"],
            [f"sc_{{t}} = {mk}({mk}(@C)(@V))", "{h} = sc_{t}({h})"],
        ])), defs
    if feature == "lambda_binding":
        return _fill(rng, rng.choice([
            # the lambda reads k when it is called: the later value
            ["k_{t} = {h}[0]", "f_{t} = lambda u: u * k_{t}", "k_{t} = {h}[1] * 0.5", "{h} = f_{t}({h}) + {h}"],
            # late binding: every lambda of the list reads the last w
            ["fs_{t} = [lambda u: u * w for w in (0.5, 0.7, @C)]", "for f_{t} in fs_{t}:", "    {h} = f_{t}({h}) + 0.1"],
            ["fs_{t} = [lambda u, w=w: u * w for w in (0.5, 0.7, @C)]", "for f_{t} in fs_{t}:", "    {h} = f_{t}({h}) + 0.1"],
            ["fs_{t} = [lambda u, a=a: u * a for a in ({h}, @V)]", "{h} = fs_{t}[0]({h}) + fs_{t}[1]({h})"],
            ["sq_{t} = lambda u, a=@V: u * a", "{h} = sq_{t}({h}) + sq_{t}({h}, {h}) * 0.5"],
            ["best_{t} = max([{h}, @V, {h} ** 2], key=lambda a: float(np.sum(a)))", "{h} = best_{t} + {h} * 0.5"],
            ["{h} = np.array(list(map(lambda a, b: a * b, {h}, @V))) + {h}"],
            ["ops_{t} = [np.sin, np.tanh, lambda u: u ** 2]", "for op_{t} in ops_{t}:", "    {h} = op_{t}({h}) * 0.5 + {h} * 0.5"],
            ["ops_{t} = {\"s\": np.sin, \"q\": lambda u: u * u}", "{h} = ops_{t}[\"s\"]({h}) + ops_{t}[\"q\"]({h}) * 0.5"],
            ["srt_{t} = sorted([{h}, @V], key=lambda a: a[0])", "{h} = srt_{t}[0] * 0.5 + srt_{t}[1] * {h}"],
            ["comp_{t} = lambda f, g: lambda u: f(g(u))", "{h} = comp_{t}(np.sin, lambda u: u * 2.0)({h})"],
        ])), defs
    if feature == "user_class":
        cls, sub, seq = f"Scaler_{v}", f"Shifted_{v}", f"Seq_{v}"
        defs += [(cls, f"class {cls}:\n    def __init__(self, a, b):\n        self.a = a\n        self.b = b\n\n"
                       f"    def shift(self, u):\n        return u + self.b * 0.1\n\n"
                       f"    @property\n    def size(self):\n        return np.sum(self.a ** 2)\n\n"
                       f"    def __call__(self, u):\n        return self.shift(u * self.a)"),
                 (sub, f"class {sub}({cls}):\n    def shift(self, u):\n        return super().shift(u) * 0.5 + self.size * 0.01"),
                 (seq, f"class {seq}:\n    def __init__(self, *layers):\n        self.layers = list(layers)\n\n"
                       f"    def __call__(self, u):\n        for layer in self.layers:\n            u = layer(u)\n        return u\n\n"
                       f"    def __len__(self):\n        return len(self.layers)\n\n"
                       f"    def __getitem__(self, i):\n        return self.layers[i]")]
        return _fill(rng, rng.choice([
            [f"m_{{t}} = {cls}(@V, {{h}})", "{h} = m_{t}({h})"],
            [f"m_{{t}} = {sub}({{h}}, @V)", "{h} = m_{t}({h}) + m_{t}.size * 0.1"],
            [f"s_{{t}} = {seq}(net.l1, {cls}(@V, @V), net.l2)", "{h} = s_{t}({h}) * 0.5 + {h} * 0.5"],
            [f"s_{{t}} = {seq}(net.l1, net.l2)", "for i_{t} in range(len(s_{t})):", "    {h} = s_{t}[i_{t}]({h}) + {h} * 0.2"],
            [f"ms_{{t}} = [{cls}(@V * k, {{h}}) for k in (0.5, 1.0)]", "for m_{t} in ms_{t}:", "    {h} = m_{t}({h})"],
            [f"m_{{t}} = {cls}(@V, @V)", "m_{t}.a = {h} * 0.5", "{h} = m_{t}({h}) + m_{t}.a"],
            ["d_{t} = DC({h}, @V)", "{h} = d_{t}.a * d_{t}.b + {h} * 0.5"],
            ["lin_{t} = Lin(@M * 0.5, {h})", "{h} = lin_{t}({h}) + net.apply({h}) * 0.2"],
        ])), defs
    if feature == "float32_cast":
        return _fill(rng, rng.choice([
            ["h32_{t} = {h}.astype(np.float32)", "{h} = (h32_{t} * 0.5 + np.sin(h32_{t})).astype(np.float64)"],
            ["{h} = {h} * np.float32(0.5) + {h} * 0.2"],
            ["W32_{t} = @M.astype(np.float32)", "{h} = np.tanh(W32_{t} @ {h})"],
            ["{h} = np.asarray({h} ** 2, dtype=np.float32) + {h}"],
            ["z_{t} = np.zeros(4, dtype=np.float32)", "z_{t}[:] = {h}", "{h} = z_{t} * {h} + {h} * 0.5"],
            ["{h} = np.float64(np.sum({h}.astype(np.float32) ** 2)) * {h} * 0.2 + {h}"],
        ])), defs
    if feature == "matrix_inplace":
        return _fill(rng, rng.choice([
            ["M_{t} = np.zeros((4, 4))", "for i_{t} in range(4):", "    M_{t}[i_{t}, :] = {h} * @V[i_{t}]",
             "{h} = M_{t}.sum(axis=1) * 0.5 + {h}"],
            ["M_{t} = np.eye(4)", "M_{t}[0, 1:] = {h}[1:]", "{h} = M_{t} @ {h} * 0.5"],
            ["M_{t} = @M.copy()", "np.fill_diagonal(M_{t}, {h})", "{h} = M_{t} @ @V * 0.5 + {h} * 0.5"],
            ["M_{t} = np.outer({h}, {h})", "M_{t}[np.tril_indices(4, -1)] = 0.0", "{h} = M_{t}.sum(axis=0) * 0.5"],
            ["M_{t} = @M * 1.0", "M_{t}[:, 1] += {h}", "M_{t}[2] *= 0.5", "{h} = M_{t} @ {h} * 0.3 + {h}"],
            ["{h} = np.tril(np.outer({h}, @V)).sum(axis=1) + {h} * 0.5"],
            ["M_{t} = np.zeros((4, 4))", "M_{t}[np.diag_indices(4)] = {h}", "{h} = M_{t} @ @V + {h}"],
            ["M_{t} = np.eye(4)", "M_{t}[1:3, 1:3] = np.eye(2) * {h}[0]", "{h} = M_{t} @ {h}"],
            ["M_{t} = np.zeros((4, 4))", "for i_{t} in range(4):", "    for j_{t} in range(i_{t} + 1):",
             "        M_{t}[i_{t}, j_{t}] = {h}[i_{t}] * {h}[j_{t}]", "{h} = M_{t} @ @V * 0.5 + {h} * 0.5"],
            ["M_{t} = np.ones((2, 4))", "M_{t}[0] = {h}", "M_{t}[1] = M_{t}[0] ** 2", "{h} = M_{t}.prod(axis=0) + {h}"],
            ["M_{t} = np.zeros((4, 4))", "M_{t} += np.outer({h}, @V)", "M_{t} -= np.diag(np.diag(M_{t}))",
             "{h} = M_{t}.sum(axis=0) + {h}"],
        ])), defs
    if feature == "scalar_accum":
        return _fill(rng, rng.choice([
            ["tot_{t} = 0.0", "for i_{t} in range(4):", "    tot_{t} += {h}[i_{t}] * @V[i_{t}]", "{h} = {h} * (1.0 + 0.1 * tot_{t})"],
            ["tot_{t} = sum({h}[i] ** 2 for i in range(len({h})))", "{h} = {h} / (1.0 + tot_{t})"],
            ["acc_{t} = []", "for a_{t}, b_{t} in zip({h}, @V):", "    acc_{t}.append(a_{t} * b_{t})", "{h} = np.array(acc_{t}) + {h}"],
            ["{h} = np.array([{h}[0] * {h}[1], {h}[1] + {h}[2], {h}[2] - {h}[3], {h}[3]])"],
            ["{h} = np.asarray([math.tanh(a) for a in {h}]) + {h} * 0.5"],
            ["lst_{t} = {h}.tolist()", "{h} = np.array([a ** 2 for a in lst_{t}]) * 0.5 + {h}"],
            ["{h} = {h} * float(np.sum({h})) * 0.2 + {h}"],
            ["{h} = {h} * {h}.sum().item() * 0.2 + {h}"],
            ["{h} = {h} * np.float64({h}[0]) + {h}"],
            ["idx_{t} = int(np.argmax({h}))", "{h} = {h} * {h}[idx_{t}] + {h}"],
            ["m_{t} = {h}[0]", "for a_{t} in {h}[1:]:", "    if a_{t} > m_{t}:", "        m_{t} = a_{t}", "{h} = {h} - m_{t}"],
            ["s_{t} = 0.0", "i_{t} = 0", "while i_{t} < len({h}):", "    s_{t} = s_{t} + {h}[i_{t}] ** 2", "    i_{t} += 1",
             "{h} = {h} * (1.0 + 0.1 * s_{t})"],
            ["{h} = {h} * (0.5 + 0.1 * {h}.item(0))"],
            ["a_{t}, b_{t}, c_{t}, d_{t} = {h}", "{h} = np.array([b_{t}, a_{t} * c_{t}, d_{t}, c_{t}]) * 0.5 + {h}"],
        ])), defs
    if feature == "array_methods":
        return _fill(rng, rng.choice([
            ["{h} = {h} - {h}.max() * 0.5 + {h}.min() * 0.2"],
            ["{h} = ({h} - {h}.mean()) / ({h}.std() + 0.5)"],
            ["{h} = {h} * (1.0 + 0.1 * {h}.var())"],
            ["{h} = {h}.cumsum() * 0.3 + {h}.prod() * 0.1"],
            ["{h} = {h}.reshape(2, 2).T.ravel() * 0.5 + {h}.flatten()"],
            ["{h} = {h}[None].squeeze(0) * 0.5 + {h}[:, None].squeeze() * 0.5"],
            ["{h} = {h}.astype(float) * 0.9 + {h}.copy() * 0.1"],
            ["{h} = {h}.sum(keepdims=True) * 0.1 + {h}"],
            ["{h} = abs({h}) * 0.5 + (-{h}) * 0.2 + (+{h})"],
            ["{h} = {h}.take([1, 2, 3, 0]) + {h}.repeat(2)[::2] * 0.5"],
            ["{h} = {h} % 1.0 + {h} * 0.5"],
            ["{h} = {h} + {h}.dot(@V) * 0.2 + {h}.T * 0.1"],
            ["{h} = {h}.conj().real + {h}.mean(axis=0) * 0.5"],
            ["{h} = np.round({h}, 2) * 0.1 + {h}"],
            ["{h} = {h}.reshape(-1, 2).mean(axis=1).repeat(2) + {h} * 0.5"],
            ["{h} = {h}.__mul__(0.5) + {h}.__pow__(2) * 0.5"],
            ["{h} = np.ptp({h}) * {h} * 0.2 + {h}"],
            ["{h} = np.diff({h}, prepend={h}[:1]) + {h} * 0.5"],
            ["{h} = np.roll({h}, 1) * 0.5 + np.flip({h}) * 0.2 + {h} * 0.3"],
        ])), defs
    if feature == "shape_generic":
        nrm, pad, pairs = f"nrm_{v}", f"padto_{v}", f"pairs_{v}"
        defs += [(nrm, f"def {nrm}(u):\n    return u / np.sqrt(np.sum(u ** 2) / u.size + 1.0)"),
                 (pad, f"def {pad}(u, n):\n    out = np.zeros(n)\n    out[:len(u)] = u\n    return out"),
                 (pairs, f"def {pairs}(u):\n    tot = u[0] * 0.0\n    for i in range(u.shape[0] - 1):\n"
                         f"        tot = tot + u[i] * u[i + 1]\n    return tot")]
        return _fill(rng, rng.choice([
            [f"{{h}} = {nrm}({{h}}) + {nrm}(np.outer({{h}}, @V)).sum(axis=0) * 0.1 + {nrm}({{h}}[:2]).sum() * 0.1"],
            [f"{{h}} = {pad}({{h}}[:2], 4) + {pad}({{h}}[:3] * 0.5, 4) + {pad}({{h}}, 6)[:4] * 0.2"],
            [f"{{h}} = {{h}} * (1.0 + 0.1 * {pairs}({{h}}) + 0.1 * {pairs}({{h}}[:2]) + 0.05 * {pairs}(np.concatenate([{{h}}, @V])))"],
            ["for i_{t} in range({h}.shape[0]):", "    {h} = {h} + 0.1 * np.sin({h}[i_{t}]) * @V"],
            ["n_{t} = {h}.size", "{h} = {h}.reshape(n_{t} // 2, 2).sum(axis=0).repeat(2) * 0.5 + {h}"],
            ["if {h}.ndim == 1 and len({h}) == 4:", "    {h} = {h} * 0.9 + 0.1", "else:", "    {h} = {h} * 0.0"],
            [f"{{h}} = {nrm}({{h}}) * 0.5 + {nrm}(@M)[0] * 0.5"],
            ["for k_{t} in (1, 2, 4):", f"    {{h}} = {{h}} + 0.1 * {nrm}({{h}}[:k_{{t}}]).sum() * @V"],
        ])), defs
    if feature == "generator_fn":
        gen = f"gen_{v}"
        defs.append((gen, f"def {gen}(u, n=3):\n    for i in range(n):\n        yield u * (i + 1) * 0.3"))
        return _fill(rng, rng.choice([
            [f"{{h}} = sum({gen}({{h}})) * 0.3"],
            [f"{{h}} = np.stack(list({gen}({{h}}, 2))).mean(axis=0) + {{h}} * 0.5"],
            ["{h} = sum(a * b for a, b in zip({h}, @V)) * 0.3 + {h}"],
            [f"for g_{{t}} in {gen}(@V):", "    {h} = {h} * 0.8 + g_{t} * 0.1"],
            ["{h} = np.array(list(a * 2.0 for a in {h})) * 0.5"],
            [f"{{h}} = np.fromiter(({{h}}[i] * 0.5 for i in range(4)), dtype=float) + {{h}} * 0.5"],
        ])), defs
    if feature == "try_assert":
        return _fill(rng, rng.choice([
            ["assert {h}.shape == (4,)", "{h} = {h} * @C"],
            ["try:", "    {h} = np.linalg.solve(np.eye(4) * 2.0 + np.outer({h}, {h}) * 0.1, {h})",
             "except np.linalg.LinAlgError:", "    {h} = {h} * 0.5"],
            ["try:", '    z_{t} = p["missing"]', "except KeyError:", "    z_{t} = {h} * 0.5", "{h} = z_{t} + {h} * 0.5"],
            ['with np.errstate(over="ignore"):', "    {h} = np.tanh({h}) + {h} * 0.5"],
            ["if not isinstance({h}, float):", "    {h} = {h} * 0.9 + 0.05"],
            ["try:", "    {h} = {h} * 0.5", "finally:", "    {h} = {h} + 0.1"],
        ])), defs
    if feature == "type_tests":
        # tests whose answer is the same for the numpy arrays of the plain reference and the dlarrays sct is
        # given (a dlarray is no np.ndarray: isinstance(v, (np.ndarray, dlarray)), as the error of sct advises)
        return _fill(rng, rng.choice([
            ["tot_{t} = 0.0", "for v_{t} in (x, @V, 2.0):", "    if isinstance(v_{t}, (np.ndarray, dlarray)):",
             "        tot_{t} = tot_{t} + np.sum(v_{t} ** 2)", "{h} = {h} * (1.0 + 0.1 * tot_{t})"],
            ["for k_{t}, v_{t} in p.items():", "    if isinstance(v_{t}, (np.ndarray, dlarray)) and v_{t}.ndim == 1:",
             "        {h} = {h} + 0.1 * v_{t}"],
            ["s_{t} = float(np.sum({h} * @V))", "{h} = {h} * (0.9 if isinstance(s_{t}, float) else 0.6)"],
            ["{h} = {h} * (0.9 if type(@V) in (np.ndarray, dlarray) else 0.6)"],
            ["{h} = {h} * (0.9 if np.ndim({h}[0] * @V[1]) == 0 else 0.6)"],
        ])), defs
    raise ValueError(f"unknown feature {feature}")
