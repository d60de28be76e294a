"""Red team C (Dec 23): single numpy operations called with the argument combinations real code
passes (negative / tuple axes, keepdims, dtype=, ord=, ddof=, weights=, where=, initial=, None
bounds, prepend/append, offsets, pad modes, tuple shifts, float32 and complex128 inputs, 0-d and
empty arrays, broadcasting), each compared with plain numpy (value) and central differences
(gradient, and for a subset the second derivative through sct's own first-order gradient).

    python tests/redteam_dec23c_gen.py --n 2000 --seed 0

Each case is an expression ``EXPR`` of ``x`` (and constants ``K``, ``W``); the generated module has

    def f(x):                       # direct
        out = EXPR
        y = np.sum(np.real(out * W))
        return y, dlgradient(y, x)

and the same with the op in a helper function and in a loop.  Outcomes: ok, refused (an SctError),
internal (another exception), value, grad, dtype (gradient dtype is not the input's), grad2.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import random
import sys
import tempfile
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
# this checkout's sct, not an installed one (the script's own folder comes first on sys.path)
sys.path.insert(0, os.path.dirname(HERE))

from gradcheck import numerical_gradient  # noqa: E402

# --- inputs -----------------------------------------------------------------------------------


def make_input(rng: np.random.Generator, kind, dtype):
    shape = kind if isinstance(kind, tuple) else None
    if kind == "spd":
        a = rng.standard_normal((3, 3))
        v = a @ a.T + 3 * np.eye(3)
    elif kind == "sq":
        v = rng.standard_normal((3, 3)) + 2 * np.eye(3)
    elif kind == "sym":
        a = rng.standard_normal((3, 3))
        v = a + a.T
    elif kind == "pos":
        v = rng.uniform(0.5, 2.0, (3, 4))
    elif kind == "posv":
        v = rng.uniform(0.5, 2.0, (5,))
    elif kind == "unit":
        v = rng.uniform(-0.8, 0.8, (3, 4))
    elif kind == "ties":
        v = np.array([[1.0, 1.0, -2.0, 0.0], [0.5, 0.0, 0.5, 3.0], [0.0, 2.0, 2.0, -1.0]])
    else:
        v = rng.standard_normal(shape)
    if dtype == "c128":
        v = v + 1j * rng.standard_normal(v.shape) * (0.5 if kind not in ("ties",) else 0.0)
        if kind in ("spd",):
            v = (v + v.conj().T) / 2 + 3 * np.eye(3)
        return v.astype(np.complex128)
    return np.asarray(v, dtype=np.float32 if dtype == "f32" else np.float64)


# --- the op templates ---------------------------------------------------------------------------
# each returns (expr, input kind, allowed dtypes, constants dict)

R = ["f64", "f32"]
RC = ["f64", "f32", "c128"]
M = (3, 4)
T3 = (2, 3, 4)


def pick(r, xs):
    return r.choice(xs)


def pq(r, xs):
    return repr(r.choice(xs))


def axis_for(r, ndim, allow_tuple=True, allow_none=True):
    opts = list(range(-ndim, ndim))
    if allow_none:
        opts.append(None)
    if allow_tuple and ndim >= 2:
        opts += [(0, -1), (-1, 0), (-2, -1)] if ndim >= 2 else []
        if ndim == 3:
            opts += [(0, 2), (1, 2), (0, 1, 2)]
    return r.choice(opts)


def t_reduce(r):
    op = pick(r, ["sum", "mean", "prod", "max", "min", "amax", "amin", "nansum", "nanmean", "ptp",
                  "nanmax", "nanmin", "nanprod"])
    kind = pick(r, [M, T3, (4,), (), (0, 3)])
    ndim = len(kind)
    ax = axis_for(r, ndim, allow_tuple=op not in ("ptp",)) if ndim else pick(r, [None, ()])
    kw = [f"axis={ax!r}"]
    if r.random() < 0.5:
        kw.append("keepdims=True")
    if op in ("sum", "prod", "mean", "nansum", "nanprod", "nanmean") and r.random() < 0.3:
        kw.append("dtype=np.float64")
    if op in ("sum", "prod", "max", "min", "amax", "amin", "nansum", "nanprod") and r.random() < 0.4:
        kw.append(f"initial={pick(r, [0.0, 0.5, -1.0, 2.0, 10.0])}")
    if op in ("sum", "mean", "max", "min", "prod", "nansum", "nanmean") and r.random() < 0.4 and ndim:
        kw.append("where=K")
        if op in ("max", "min") and not any(k.startswith("initial") for k in kw):
            kw.append("initial=0.25")
        shape = kind
        if r.random() < 0.5 and ndim >= 2:
            shape = (1,) + kind[1:]
        k = np.random.default_rng(r.randrange(1 << 30)).random(shape) < 0.6
        consts = {"K": k}
    else:
        consts = {}
    if (0 in kind) and op in ("max", "min", "amax", "amin", "ptp", "nanmax", "nanmin"):
        pass
    dts = R if op in ("max", "min", "amax", "amin", "ptp", "nanmax", "nanmin") else RC
    return f"np.{op}(x, {', '.join(kw)})", kind, dts, consts


def t_method_reduce(r):
    op = pick(r, ["sum", "mean", "prod", "max", "min", "std", "var", "cumsum", "cumprod", "ptp"])
    kind = pick(r, [M, T3])
    ax = axis_for(r, len(kind), allow_tuple=op not in ("cumsum", "cumprod", "ptp"))
    if op in ("cumsum", "cumprod") and ax is not None and r.random() < 0.5:
        return f"x.{op}({ax})", kind, RC, {}
    kw = [f"axis={ax!r}"]
    if op not in ("cumsum", "cumprod") and r.random() < 0.5:
        kw.append("keepdims=True")
    if op in ("std", "var") and r.random() < 0.6:
        kw.append(f"ddof={pick(r, [0, 1, 2])}")
    dts = R if op in ("max", "min", "ptp") else RC
    return f"x.{op}({', '.join(kw)})", kind, dts, {}


def t_stat(r):
    op = pick(r, ["std", "var", "nanstd", "nanvar"])
    kind = pick(r, [M, T3, (5,)])
    ax = axis_for(r, len(kind))
    kw = [f"axis={ax!r}"]
    if r.random() < 0.7:
        kw.append(f"ddof={pick(r, [0, 1, 2])}")
    if r.random() < 0.5:
        kw.append("keepdims=True")
    if op in ("std", "var") and r.random() < 0.3 and len(kind) >= 2:
        kw.append("where=K")
        return (f"np.{op}(x, {', '.join(kw)})", kind, RC,
                {"K": np.random.default_rng(r.randrange(1 << 30)).random(kind) < 0.7})
    return f"np.{op}(x, {', '.join(kw)})", kind, RC, {}


def t_average(r):
    kind = pick(r, [M, T3, (5,)])
    nd = len(kind)
    ax = pick(r, [None] + list(range(-nd, nd)) + ([(0, 1)] if nd >= 2 else []))
    g = np.random.default_rng(r.randrange(1 << 30))
    kw = [f"axis={ax!r}"]
    consts = {}
    form = r.random()
    if form < 0.7:
        if ax is None or isinstance(ax, tuple) or r.random() < 0.5:
            wshape = kind if not isinstance(ax, tuple) else kind
        else:
            wshape = (kind[ax],)
        consts["K"] = g.uniform(0.2, 2.0, wshape)
        kw.append("weights=K")
    if r.random() < 0.4:
        kw.append("keepdims=True")
    if r.random() < 0.3:
        return f"np.average(x, {', '.join(kw)}, returned=True)[{pick(r, [0, 1])}]", kind, RC, consts
    return f"np.average(x, {', '.join(kw)})", kind, RC, consts


def t_average_wrt_weights(r):
    # gradient with respect to the weights (x is the weights)
    g = np.random.default_rng(r.randrange(1 << 30))
    kind = pick(r, [M, (5,)])
    ax = pick(r, [None, 0, -1] if len(kind) == 2 else [None, 0])
    consts = {"K": g.standard_normal(kind)}
    expr = f"np.average(K, axis={ax!r}, weights=x * x + 0.5)"
    if r.random() < 0.3:
        expr = f"np.average(K, axis={ax!r}, weights=x * x + 0.5, returned=True)[{pick(r, [0, 1])}]"
    return expr, kind, R, consts


def t_norm(r):
    form = r.random()
    if form < 0.4:
        kind = pick(r, [(4,), (5,), ()])
        o = pick(r, [None, 1, 2, -1, -2, 0, 3, 0.5, "np.inf", "-np.inf", -3])
        ostr = o if isinstance(o, str) else repr(o)
        extra = ", keepdims=True" if r.random() < 0.3 else ""
        if kind == () and o not in (None,):
            kind = (4,)
        return f"np.linalg.norm(x, ord={ostr}{extra})", kind, RC, {}
    if form < 0.8:
        kind = pick(r, [M, (4, 3), (3, 3)])
        o = pick(r, [None, "'fro'", "'nuc'", "np.inf", "-np.inf", 1, -1, 2, -2])
        ostr = o if isinstance(o, str) else repr(o)
        ax = pick(r, ["", ", axis=(0, 1)", ", axis=(1, 0)", ", axis=(-1, -2)"])
        extra = ", keepdims=True" if r.random() < 0.3 else ""
        return f"np.linalg.norm(x, ord={ostr}{ax}{extra})", kind, RC, {}
    kind = pick(r, [M, T3])
    ax = pick(r, list(range(-len(kind), len(kind))))
    o = pick(r, [None, 1, 2, "np.inf", "-np.inf", 3, 0.5])
    ostr = o if isinstance(o, str) else repr(o)
    extra = ", keepdims=True" if r.random() < 0.4 else ""
    return f"np.linalg.norm(x, ord={ostr}, axis={ax}{extra})", kind, RC, {}


def t_clip(r):
    kind = pick(r, [M, (5,), ()])
    g = np.random.default_rng(r.randrange(1 << 30))
    lo = pick(r, ["None", "-0.3", "K", "-1"])
    hi = pick(r, ["None", "0.4", "L", "1.2"])
    if lo == "None" and hi == "None":
        hi = "0.4"
    consts = {"K": g.uniform(-1, 0, kind[-1:] if kind else ()), "L": g.uniform(0, 1, kind[-1:] if kind else ())}
    if r.random() < 0.3:
        return f"x.clip({lo}, {hi})", kind, R, consts
    if r.random() < 0.3:
        return f"np.clip(x, {lo}, {hi}) * x", kind, R, consts
    return f"np.clip(x, {lo}, {hi})", kind, R, consts


def t_clip_bounds_active(r):
    # the bounds depend on x (gradient flows into the bounds)
    kind = pick(r, [M, (5,)])
    lo = pick(r, ["None", "x * 0.5 - 0.2", "np.sin(x)"])
    hi = pick(r, ["None", "x * 0.3 + 0.3", "np.cos(x) - 0.5"])
    if lo == "None" and hi == "None":
        hi = "np.cos(x) - 0.5"
    return f"np.clip(np.tanh(2 * x), {lo}, {hi})", kind, R, {}


def t_where(r):
    g = np.random.default_rng(r.randrange(1 << 30))
    form = pick(r, ["a", "b", "c", "d", "e"])
    if form == "a":
        return "np.where(x > 0, x, 0.5 * x)", M, RC if False else R, {}
    if form == "b":
        return "np.where(K, x, np.sin(x[:1]))", M, R, {"K": g.random((3, 1)) < 0.5}
    if form == "c":
        return "np.where(K, x[:, :1], x[:1, :])", (4, 4), RC, {"K": g.random((4, 4)) < 0.5}
    if form == "d":
        return "np.where(x > 0.2, np.exp(x), 1.5)", (5,), R, {}
    return "np.where(K, 2.0, x ** 2)", (), R, {"K": np.bool_(r.random() < 0.5)}


def t_take(r):
    g = np.random.default_rng(r.randrange(1 << 30))
    form = pick(r, ["take", "take_ax", "tal", "pal", "take_mode", "take_neg", "take_2d"])
    if form == "take":
        return "np.take(x, K)", M, RC, {"K": g.integers(0, 12, (5,))}
    if form == "take_2d":
        return "np.take(x, K, axis=-1)", T3, RC, {"K": g.integers(-4, 4, (2, 3))}
    if form == "take_ax":
        ax = pick(r, [0, 1, -1, -2])
        n = M[ax]
        return f"np.take(x, K, axis={ax})", M, RC, {"K": g.integers(0, n, (4,))}
    if form == "take_mode":
        mode = pick(r, ["'wrap'", "'clip'"])
        return f"np.take(x, K, axis=1, mode={mode})", M, RC, {"K": g.integers(-6, 9, (5,))}
    if form == "take_neg":
        return "x.take(K)", M, RC, {"K": g.integers(-12, 12, (2, 3))}
    if form == "tal":
        ax = pick(r, [0, 1, -1, -2, None])
        if ax is None:
            return "np.take_along_axis(x, K, axis=None)", M, RC, {"K": g.integers(0, 12, (7,))}
        n = M[ax]
        shp = list(M)
        shp[ax] = pick(r, [1, 2, 5])
        if r.random() < 0.4:
            return f"np.take_along_axis(x, np.argsort(x, axis={ax}), axis={ax})", M, R, {}
        return f"np.take_along_axis(x, K, axis={ax})", M, RC, {"K": g.integers(0, n, shp)}
    # put_along_axis (in place, then read)
    return "put_along(x, K, L)", M, R, {"K": g.integers(0, 4, (3, 2)), "L": g.standard_normal((3, 2))}


def t_cum(r):
    op = pick(r, ["cumsum", "cumprod", "diff", "nancumsum", "nancumprod"])
    kind = pick(r, [M, T3, (5,)])
    nd = len(kind)
    if op == "diff":
        ax = pick(r, list(range(-nd, nd)))
        kw = [f"axis={ax}"]
        if r.random() < 0.5:
            kw.append(f"n={pick(r, [1, 2, 3])}")
        shp = list(kind)
        shp[ax] = 1
        if r.random() < 0.4:
            kw.append(pick(r, ["prepend=0.0", "prepend=K"]))
        if r.random() < 0.4:
            kw.append(pick(r, ["append=1.5", "append=K"]))
        g = np.random.default_rng(r.randrange(1 << 30))
        return f"np.diff(x, {', '.join(kw)})", kind, RC, {"K": g.standard_normal(shp)}
    ax = pick(r, [None] + list(range(-nd, nd)))
    kw = [f"axis={ax}"]
    if r.random() < 0.3:
        kw.append("dtype=np.float64")
    return f"np.{op}(x, {', '.join(kw)})", kind, RC if "nan" not in op else R, {}


def t_sort(r):
    kind = pick(r, [M, T3, (5,)])
    nd = len(kind)
    ax = pick(r, list(range(-nd, nd)) + [None])
    form = pick(r, ["sort", "method", "argsort", "partition", "median", "quantile", "percentile", "msort"])
    if form == "sort":
        return f"np.sort(x, axis={ax})", kind, R, {}
    if form == "method":
        a = ax if ax is not None else -1
        return f"sort_copy(x, {a})", kind, R, {}
    if form == "argsort":
        return f"x.flat[np.argsort(x, axis=None)]" if ax is None else f"np.take_along_axis(x, np.argsort(-x, axis={ax}), axis={ax})", kind, R, {}
    if form == "partition":
        a = ax if ax is not None else -1
        n = kind[a]
        return f"np.partition(x, {r.randrange(-n, n)}, axis={a})", kind, R, {}
    if form == "median":
        return f"np.median(x, axis={ax}{', keepdims=True' if r.random() < 0.3 else ''})", kind, R, {}
    q = pick(r, ["0.3", "[0.1, 0.5, 0.9]", "0.0", "1.0"])
    method = pick(r, ["", ", method='nearest'", ", method='lower'", ", method='higher'", ", method='midpoint'"])
    if form == "percentile":
        q = q.replace("0.", "").replace("1.0", "100") if q != "0.0" else "0"
        q = {"3": "30", "[1, 5, 9]": "[10, 50, 90]"}.get(q, q)
        return f"np.percentile(x, {q}, axis={ax}{method})", kind, R, {}
    return f"np.quantile(x, {q}, axis={ax}{method})", kind, R, {}


def t_einsum(r):
    forms = [
        ("'ii->i'", ["sq"]), ("'ii'", ["sq"]), ("'ij,jk->ik'", ["sq", "sq2"]), ("'...i,...i->...'", [M, M]),
        ("'ij->'", [M]), ("'ij->ji'", [M]), ("'i,i'", [(4,), (4,)]), ("'...ij->...ji'", [T3]),
        ("'ijk,ik->j'", [T3, (2, 4)]), ("'i,j->ij'", [(3,), (4,)]), ("'ij,ij->i'", [M, M]),
        ("'iij->j'", [(3, 3, 2)]), ("'ij,j'", [M, (4,)]), ("'bij,bjk->bik'", [(2, 3, 3), (2, 3, 3)]),
        ("'...,...'", [(), ()]), ("'i...->...'", [T3]), ("'ii,i->i'", ["sq", (3,)]),
    ]
    sub, shapes = pick(r, forms)
    g = np.random.default_rng(r.randrange(1 << 30))
    kind = shapes[0] if shapes[0] not in ("sq", "sq2") else "sq"
    consts = {}
    args = ["x"]
    for k, s in enumerate(shapes[1:]):
        if s == "sq2":
            s = (3, 3)
        if s == "sq":
            s = (3, 3)
        name = "KL"[k]
        consts[name] = g.standard_normal(s)
        args.append(name if r.random() < 0.6 or s != (kind if isinstance(kind, tuple) else (3, 3)) else "x")
    if r.random() < 0.3:
        args = args[::-1]
    if r.random() < 0.2:
        return f"np.einsum({sub}, {', '.join(args)}, optimize=True)", kind, RC, consts
    return f"np.einsum({sub}, {', '.join(args)})", kind, RC, consts


def t_tensordot(r):
    g = np.random.default_rng(r.randrange(1 << 30))
    forms = [
        (T3, (3, 4, 2), "2"), (T3, (4, 5), "1"), (T3, (4, 3), "([1, 2], [1, 0])"), (M, (4, 3), "0"),
        (M, (3, 4), "([0], [0])"), (M, (3, 4), "((0, 1), (0, 1))"), (T3, (2, 5), "([0], [0])"),
        (M, (4, 2), "([-1], [0])"), (T3, (3, 2), "[[0, 1], [1, 0]]"),
    ]
    a, b, ax = pick(r, forms)
    if r.random() < 0.5:
        return f"np.tensordot(x, K, axes={ax})", a, RC, {"K": g.standard_normal(b)}
    # x second
    return f"np.tensordot(K, x, axes={ax})", b, RC, {"K": g.standard_normal(a)}


def t_linalg(r):
    op = pick(r, ["solve", "solve_vec", "inv", "det", "slogdet0", "slogdet1", "eigh_w", "eigh_v", "eigvalsh",
                  "svd_s", "svd_u", "svd_full", "qr_q", "qr_r", "cholesky", "pinv", "lstsq", "matrix_power",
                  "svdvals", "solve_batched", "inv_batched", "det_batched", "cond", "matrix_rank_norm", "qr_complete",
                  "svd_wide", "pinv_wide", "lstsq_res", "eigvals", "tensorsolve_like"])
    g = np.random.default_rng(r.randrange(1 << 30))
    K = g.standard_normal((3, 2))
    if op == "solve":
        return "np.linalg.solve(x, K)", "sq", RC, {"K": K}
    if op == "solve_vec":
        return "np.linalg.solve(K, x)", (3,), RC, {"K": g.standard_normal((3, 3)) + 2 * np.eye(3)}
    if op == "solve_batched":
        return "np.linalg.solve(x + 3 * np.eye(4), K)", T3[:1] + (4, 4), RC, {"K": g.standard_normal((2, 4, 1))}
    if op == "inv":
        return "np.linalg.inv(x)", "sq", RC, {}
    if op == "inv_batched":
        return "np.linalg.inv(x + 3 * np.eye(3))", (2, 3, 3), RC, {}
    if op == "det":
        return "np.linalg.det(x)", "sq", RC, {}
    if op == "det_batched":
        return "np.linalg.det(x)", (2, 3, 3), RC, {}
    if op == "slogdet0":
        return "np.linalg.slogdet(x)[1]", "sq", RC, {}
    if op == "slogdet1":
        return "np.linalg.slogdet(x).logabsdet * np.linalg.slogdet(x)[0]", "sq", RC, {}
    if op == "eigh_w":
        return "np.linalg.eigh(x" + pick(r, ['', ', UPLO="U"']) + ")[0]", "sym", RC, {}
    if op == "eigh_v":
        return "np.abs(np.linalg.eigh(x)[1])", "sym", R, {}
    if op == "eigvalsh":
        return "np.linalg.eigvalsh(x" + pick(r, ['', ', UPLO="U"']) + ")", "sym", RC, {}
    if op == "eigvals":
        return "np.sort(np.real(np.linalg.eigvals(x @ x.T)))", M, R, {}
    if op == "svd_s":
        return f"np.linalg.svd(x{pick(r, ['', ', full_matrices=False', ', compute_uv=False'])})" + (
            "[1]" if True else ""), M, RC, {}
    if op == "svd_u":
        return "np.abs(np.linalg.svd(x, full_matrices=False)[0])", M, R, {}
    if op == "svd_full":
        return "np.abs(np.linalg.svd(x)[2][:3])", M, R, {}
    if op == "svd_wide":
        return "np.linalg.svd(x, compute_uv=False)", (4, 3), RC, {}
    if op == "svdvals":
        return "np.linalg.svdvals(x)", M, RC, {}
    if op == "qr_q":
        return "np.linalg.qr(x" + pick(r, ['', ', mode="reduced"']) + ")[0]", (4, 3), R, {}
    if op == "qr_r":
        return "np.linalg.qr(x)[1]", pick(r, [(4, 3), (3, 3)]), RC, {}
    if op == "qr_complete":
        return "np.linalg.qr(x, mode='r')", (4, 3), R, {}
    if op == "cholesky":
        return "np.linalg.cholesky(x)", "spd", RC, {}
    if op == "pinv":
        return "np.linalg.pinv(x)", M, RC, {}
    if op == "pinv_wide":
        return "np.linalg.pinv(x)", (4, 3), R, {}
    if op == "lstsq":
        return "np.linalg.lstsq(x, K, rcond=None)[0]", (3, 3) if False else (4, 3), RC, {"K": g.standard_normal((4, 2))}
    if op == "lstsq_res":
        return "np.linalg.lstsq(x, K, rcond=None)[1]", (4, 3), R, {"K": g.standard_normal((4, 2))}
    if op == "matrix_power":
        return f"np.linalg.matrix_power(x, {pick(r, [0, 1, 2, 3, -1, -2])})", "sq", RC, {}
    if op == "cond":
        return "np.linalg.cond(x)", "sq", R, {}
    if op == "matrix_rank_norm":
        return "np.linalg.norm(x, 2) / np.linalg.norm(x, -2)", "sq", R, {}
    return "np.linalg.multi_dot([x, K, K.T])", "sq", RC, {"K": K}


def t_products(r):
    g = np.random.default_rng(r.randrange(1 << 30))
    form = pick(r, ["kron", "kron2", "outer", "outer2", "inner", "inner2", "dot", "vdot", "cross", "matmul",
                    "dot_s", "inner0"])
    if form == "kron":
        return "np.kron(x, K)", M, RC, {"K": g.standard_normal((2, 3))}
    if form == "kron2":
        return "np.kron(K, x)", (3,), RC, {"K": g.standard_normal((2, 2))}
    if form == "outer":
        return "np.outer(x, K)", M, RC, {"K": g.standard_normal((2, 2))}
    if form == "outer2":
        return "np.outer(x, x)", (4,), RC, {}
    if form == "inner":
        return "np.inner(x, K)", M, RC, {"K": g.standard_normal((5, 4))}
    if form == "inner0":
        return "np.inner(x, 2.5)", M, RC, {}
    if form == "inner2":
        return "np.inner(x, x)", T3, RC, {}
    if form == "dot":
        return "np.dot(x, K)", T3, RC, {"K": g.standard_normal((4, 2))}
    if form == "dot_s":
        return "np.dot(x, 1.5)", M, RC, {}
    if form == "vdot":
        return "np.vdot(x, K)", M, RC, {"K": g.standard_normal(M) + 1j * g.standard_normal(M)}
    if form == "cross":
        return f"np.cross(x, K{pick(r, ['', ', axis=0', ', axisa=0, axisb=0'])})", (3, 3), RC, {"K": g.standard_normal((3, 3))}
    return "K @ x @ K.T", (4, 4), RC, {"K": g.standard_normal((2, 4))}


def t_diag(r):
    form = pick(r, ["trace", "diag", "diagv", "diagonal", "tril", "triu", "trace3"])
    k = pick(r, [0, 1, -1, 2, -2, 3])
    if form == "trace":
        return f"np.trace(x, offset={k})", M, RC, {}
    if form == "trace3":
        return f"np.trace(x, offset={k}, axis1={pick(r, [0, 1])}, axis2=2)", T3, RC, {}
    if form == "diag":
        return f"np.diag(x, k={k})", M, RC, {}
    if form == "diagv":
        return f"np.diag(x, {k})", (3,), RC, {}
    if form == "diagonal":
        return f"np.diagonal(x, offset={k}, axis1={pick(r, [0, -1, 2])}, axis2=1)", T3, RC, {}
    return f"np.{form}(x, k={k})", pick(r, [M, T3]), RC, {}


def t_pad(r):
    kind = pick(r, [M, (5,)])
    mode = pick(r, ["'constant'", "'edge'", "'reflect'", "'symmetric'", "'wrap'", "'linear_ramp'",
                    "'maximum'", "'mean'", "'minimum'", "'median'", "'empty'"])
    pw = pick(r, ["1", "(1, 2)", "((1, 0), (0, 2))" if len(kind) == 2 else "((2, 1),)", "2"])
    extra = ""
    if mode == "'constant'" and r.random() < 0.5:
        extra = ", constant_values=1.5"
    if mode in ("'reflect'", "'symmetric'") and r.random() < 0.5:
        extra = ", reflect_type='odd'"
    if mode == "'linear_ramp'" and r.random() < 0.5:
        extra = ", end_values=0.5"
    if mode in ("'maximum'", "'mean'", "'minimum'", "'median'") and r.random() < 0.5:
        extra = ", stat_length=2"
    if mode == "'empty'":
        return f"np.pad(x, {pw}, mode={mode})[tuple(slice(2, -2) for _ in range(x.ndim))]", kind, RC, {}
    return f"np.pad(x, {pw}, mode={mode}{extra})", kind, RC if mode not in ("'maximum'", "'minimum'", "'median'") else R, {}


def t_shape(r):
    form = pick(r, ["roll", "roll2", "moveaxis", "swapaxes", "transpose", "stack", "concat", "split", "asplit",
                    "repeat", "tile", "flip", "rot90", "broadcast", "squeeze", "expand", "hstack", "vstack",
                    "reshape", "ravelF", "atleast", "column_stack", "dstack", "rollaxis", "append", "insert",
                    "delete", "unstack"])
    if form == "roll":
        return f"np.roll(x, {pick(r, [1, -2, 5])}, axis={pick(r, [None, 0, -1])})", M, RC, {}
    if form == "roll2":
        return f"np.roll(x, {pick(r, ['(1, -1)', '(2, 1)', '[1, 3]'])}, axis={pick(r, ['(0, 1)', '(1, 0)', '(-1, 0)', '(1, 1)'])})", M, RC, {}
    if form == "moveaxis":
        return f"np.moveaxis(x, {pick(r, ['0', '-1', '(0, 1)', '[0, 2]'])}, {pick(r, ['-1', '1', '(2, 0)', '[-1, 0]'])})".replace(
            "x, 0, (2, 0)", "x, 0, 2").replace("x, -1, (2, 0)", "x, -1, 0").replace("x, 0, [-1, 0]", "x, 0, -1").replace(
            "x, -1, [-1, 0]", "x, -1, 0").replace("x, (0, 1), -1", "x, (0, 1), (2, 1)").replace(
            "x, (0, 1), 1", "x, (0, 1), (1, 0)").replace("x, [0, 2], -1", "x, [0, 2], (2, 1)").replace(
            "x, [0, 2], 1", "x, [0, 2], (1, 0)"), T3, RC, {}
    if form == "swapaxes":
        return f"np.swapaxes(x, {pick(r, [0, -1, 1])}, {pick(r, [2, -3, 1])}) * np.arange(4.0).reshape(4, 1, 1)[:x.shape[2]]"[:0] + f"np.swapaxes(x, {pick(r, [0, -1, 1])}, {pick(r, [2, -3, 1])})", T3, RC, {}
    if form == "transpose":
        return pick(r, ["np.transpose(x, (1, 0, 2))", "np.transpose(x, axes=(2, 0, 1))", "x.transpose(1, 2, 0)",
                        "x.transpose((0, 2, 1))", "np.transpose(x, (-1, 0, 1))", "x.T", "np.permute_dims(x, (2, 1, 0))"]), T3, RC, {}
    if form == "stack":
        return f"np.stack([x, 2 * x, np.sin(x)], axis={pick(r, [0, 1, -1, 2, -3])})", M, R, {}
    if form == "unstack":
        return f"np.stack(np.unstack(x, axis={pick(r, [0, 1, -1])})[::-1])", M, RC, {}
    if form == "concat":
        return f"np.concatenate([x, x[:1] * 3 if {pick(r, [0, -2])} == 0 else x[:1] * 3, x ** 2], axis={pick(r, [0, -2])})", M, RC, {}
    if form == "split":
        a = pick(r, [0, 1, -1])
        n = M[a]
        if r.random() < 0.5:
            return f"np.split(x, {pick(r, ['[1, 3]', '[2]', '[0, 2, 2]', '[-1]'])}, axis={a})[{pick(r, [0, 1, -1])}]", M, RC, {}
        return f"np.split(x, {[s for s in (1, 2, 3, 4) if n % s == 0][-1]}, axis={a})[-1]", M, RC, {}
    if form == "asplit":
        return f"np.array_split(x, {pick(r, [2, 3, 5])}, axis={pick(r, [0, 1, -1])})[{pick(r, [0, 1, -1])}]", M, RC, {}
    if form == "repeat":
        return f"np.repeat(x, {pick(r, ['2', '[1, 0, 2]', '3'])}, axis={pick(r, [None, 0, -2])})".replace(
            "[1, 0, 2], axis=None", "[1, 0, 2], axis=0"), M, RC, {}
    if form == "tile":
        return f"np.tile(x, {pick(r, ['2', '(2, 1)', '(1, 2, 2)', '[3]', '(2, 1, 1, 1)'])})", M, RC, {}
    if form == "flip":
        return f"np.flip(x, {pick(r, ['None', '0', '-1', '(0, 1)', '(2, 0)'])})", T3, RC, {}
    if form == "rot90":
        return f"np.rot90(x, {pick(r, [1, 2, 3, -1, 5])}, axes={pick(r, ['(0, 1)', '(1, 2)', '(2, 0)', '(-1, -2)'])})", T3, RC, {}
    if form == "broadcast":
        return "np.broadcast_to(x[:, :1], (2, 3, 4))", M, RC, {}
    if form == "squeeze":
        return f"np.squeeze(x[:, :1, None], axis={pick(r, ['None', '1', '(1, 2)', '-1'])})", M, RC, {}
    if form == "expand":
        return f"np.expand_dims(x, {pick(r, ['0', '-1', '(0, 2)', '(-1, 0)'])})", M, RC, {}
    if form == "hstack":
        return "np.hstack([x, x[:, :1], np.ones((3, 2))])", M, RC, {}
    if form == "vstack":
        return "np.vstack([x[0], x, x[-1:] * 2])", M, RC, {}
    if form == "column_stack":
        return "np.column_stack([x[:, 0], x, x[:, 1] * 2])", M, RC, {}
    if form == "dstack":
        return "np.dstack([x, x ** 2])", M, R, {}
    if form == "reshape":
        return "np.reshape(x, " + pick(r, ['(4, 3)', '(-1,)', '(2, -1)', '-1']) + ", order=" + pick(r, ['"C"', '"F"']) + ")", M, RC, {}
    if form == "ravelF":
        return "x.ravel(order=" + pick(r, ['"F"', '"C"', '"K"', '"A"']) + ") * np.arange(12.0)", M, RC, {}
    if form == "atleast":
        return f"np.atleast_{pick(r, [1, 2, 3])}d(x) * 2", pick(r, [(), (3,), M]), RC, {}
    if form == "rollaxis":
        return f"np.rollaxis(x, {pick(r, [0, 2, -1])}, {pick(r, [0, 1, 3])})", T3, RC, {}
    if form == "append":
        return f"np.append(x, x[:1] * 2, axis={pick(r, [0, None])})", M, RC, {}
    if form == "insert":
        return f"np.insert(x, {pick(r, ['1', '[0, 2]', '-1'])}, {pick(r, ['x[:, 0]', '7.0'])}, axis=1)", (3, 3), RC, {}
    return f"np.delete(x, {pick(r, ['1', '[0, 2]', '-1', 'slice(0, 2)'])}, axis={pick(r, [0, 1, None])})", M, RC, {}


def t_elementwise(r):
    g = np.random.default_rng(r.randrange(1 << 30))
    form = pick(r, ["maximum", "minimum", "fmax", "fmin", "abs", "sign", "power_neg", "power_int", "arctan2",
                    "hypot", "logaddexp", "logaddexp2", "sinc", "heaviside", "maxbcast", "power_xx", "power_ax",
                    "sqrt_abs", "square", "reciprocal", "cbrt", "copysign", "floor_mix", "fabs", "mod", "fmod",
                    "exp2", "log_pos", "float_power", "absolute_c", "angle", "real_imag", "conj", "expm1_log1p",
                    "deg", "sinh_cosh", "arcfuncs", "divmod", "true_divide", "nan_to_num", "around", "modf",
                    "frexp_ldexp", "interp", "polyval", "polyval_x"])
    if form in ("maximum", "minimum", "fmax", "fmin"):
        other = pick(r, ["x[::-1]", "0.0", "K", "x.T[:3, :1]", "x", "1.0"])
        return f"np.{form}(x, {other})", "ties", R, {"K": np.array([1.0, 0.0, 2.0, 0.0])}
    if form == "maxbcast":
        return "np.maximum(x[:, :1], x[:1, :])", (4, 4), R, {}
    if form == "abs":
        return pick(r, ["np.abs(x) * x", "np.abs(x)", "abs(x)"]), pick(r, ["ties", M]), RC, {}
    if form == "absolute_c":
        return "np.absolute(x) ** 3", M, RC, {}
    if form == "fabs":
        return "np.fabs(x)", "ties", R, {}
    if form == "sign":
        return "np.sign(x) * x ** 2", "ties", R, {}
    if form == "power_neg":
        return f"np.power(x, {pick(r, [2, 3, -1, -2, 0, 1, '2.0', '3.0'])})", "ties" if r.random() < 0.3 else M, RC, {}
    if form == "power_int":
        return f"x ** {pick(r, ['2', '3', '-1', '-3', 'np.int64(2)', 'K'])}", M, RC, {"K": np.array([1, 2, 3, -1])}
    if form == "power_xx":
        return "np.abs(x) ** x", M, R, {}
    if form == "power_ax":
        return f"{pick(r, ['2.0', '0.5', 'K'])} ** x", M, RC, {"K": g.uniform(0.5, 2, (4,))}
    if form == "float_power":
        return f"np.float_power(x, {pick(r, ['2', '3.0', '-1', 'K'])})", M, R, {"K": np.array([1.0, 2.0, 3.0, 2.0])}
    if form == "arctan2":
        return pick(r, ["np.arctan2(x, K)", "np.arctan2(K, x)", "np.arctan2(x, x[::-1])", "np.arctan2(x[:, :1], x)"]), M, R, {"K": g.standard_normal(4)}
    if form == "hypot":
        return pick(r, ["np.hypot(x, K)", "np.hypot(K, x)", "np.hypot(x, x[::-1])", "np.hypot(x[:, :1], x)"]), M, R, {"K": g.standard_normal(4)}
    if form in ("logaddexp", "logaddexp2"):
        return pick(r, [f"np.{form}(x, K)", f"np.{form}(x, x)", f"np.{form}(x[:, :1], x)"]), M, R, {"K": g.standard_normal(4)}
    if form == "sinc":
        return "np.sinc(x)", pick(r, ["ties", M]), R, {}
    if form == "heaviside":
        return f"np.heaviside(x, {pick(r, ['0.5', '0.0', '1.0'])}) * x", M, R, {}
    if form == "sqrt_abs":
        return "np.sqrt(np.abs(x) + 0.1)", M, RC, {}
    if form == "square":
        return "np.square(x)", M, RC, {}
    if form == "reciprocal":
        return "np.reciprocal(x)", M, RC, {}
    if form == "cbrt":
        return "np.cbrt(x)", M, R, {}
    if form == "copysign":
        return pick(r, ["np.copysign(x, K)", "np.copysign(K, x)"]), M, R, {"K": g.standard_normal(4)}
    if form == "floor_mix":
        return f"np.{pick(r, ['floor', 'ceil', 'round', 'rint', 'trunc', 'fix'])}(3 * x) * x", M, R, {}
    if form == "around":
        return f"np.around(x, {pick(r, [0, 1, 2])}) + x", M, R, {}
    if form == "modf":
        return f"np.modf(3 * x)[{pick(r, [0, 1])}] * x", M, R, {}
    if form == "frexp_ldexp":
        return "np.ldexp(x, 2)", M, R, {}
    if form == "mod":
        return pick(r, ["np.mod(x, 0.7)", "x % 0.7", "np.remainder(x, K)", "np.mod(2.0, x)"]), M, R, {"K": g.uniform(0.5, 1.0, 4)}
    if form == "fmod":
        return pick(r, ["np.fmod(x, 0.7)", "np.fmod(x, K)", "np.fmod(2.0, x)"]), M, R, {"K": g.uniform(0.5, 1.0, 4)}
    if form == "divmod":
        return f"np.divmod(x, 0.7)[{pick(r, [0, 1])}] * x", M, R, {}
    if form == "true_divide":
        return pick(r, ["np.true_divide(x, K)", "np.divide(K, x)", "x // 0.3 * x"]), M, RC, {"K": g.uniform(0.5, 1.0, 4)}
    if form == "exp2":
        return "np.exp2(x)", M, RC, {}
    if form == "log_pos":
        return f"np.{pick(r, ['log', 'log2', 'log10', 'log1p', 'sqrt'])}(x)", "pos", RC, {}
    if form == "angle":
        return f"np.angle(x{pick(r, ['', ', deg=True'])})", M, RC, {}
    if form == "real_imag":
        return pick(r, ["np.real(x) * np.imag(x)", "x.real ** 2 + 3 * x.imag", "np.imag(x * x)"]), M, RC, {}
    if form == "conj":
        return pick(r, ["np.conj(x) * K", "x.conj()", "np.conjugate(x) * x"]), M, RC, {"K": g.standard_normal(4) + 1j}
    if form == "expm1_log1p":
        return "np.log1p(np.expm1(x * 0.5))", M, R, {}
    if form == "deg":
        return pick(r, ["np.deg2rad(x)", "np.rad2deg(x)", "np.radians(x)", "np.degrees(x)"]), M, R, {}
    if form == "sinh_cosh":
        return f"np.{pick(r, ['sinh', 'cosh', 'tanh', 'arcsinh', 'tan', 'arctan'])}(x)", M, RC, {}
    if form == "arcfuncs":
        return f"np.{pick(r, ['arcsin', 'arccos', 'arctanh'])}(x)", "unit", R, {}
    if form == "nan_to_num":
        return "np.nan_to_num(np.log(x), nan=0.5, neginf=-3.0)", "ties", R, {}
    if form == "interp":
        return pick(r, ["np.interp(x, K, L)", "np.interp(K2, L, x[0])", "np.interp(x, K, L, left=0.0, right=2.0)",
                        "np.interp(x, K, L, period=2.0)"]), M, R, {
            "K": np.array([-1.0, -0.2, 0.3, 1.1]), "L": g.standard_normal(4),
            "K2": np.array([-2.0, -0.5, 0.0, 0.7, 1.5])}
    if form == "polyval":
        return "np.polyval(x[0], x[1:])", M, RC, {}
    return pick(r, ["np.polyval(K, x)", "np.polyval(x, 0.7)", "np.polyval(x, K)"]), (4,), RC, {"K": g.standard_normal(3)}


def t_empty0d(r):
    form = pick(r, ["sum0", "mean0", "max0", "sum_empty", "prod_empty", "norm0", "cumsum0", "matmul_empty",
                    "concat_empty", "mean_empty_ax", "einsum0", "std0", "sort0", "stack0", "max_empty_init"])
    if form == "sum0":
        return "np.sum(x, keepdims=True) * x", (), RC, {}
    if form == "mean0":
        return "np.mean(x)", (), RC, {}
    if form == "max0":
        return "np.max(x)", (), R, {}
    if form == "sum_empty":
        return f"np.sum(x, axis={pick(r, [0, 1, None])})", (0, 3), RC, {}
    if form == "prod_empty":
        return "np.prod(x, axis=0)", (0, 3), RC, {}
    if form == "max_empty_init":
        return "np.max(x, axis=0, initial=0.5)", (0, 3), R, {}
    if form == "norm0":
        return "np.linalg.norm(x)", pick(r, [(), (0,)]), RC, {}
    if form == "cumsum0":
        return "np.cumsum(x)", (), RC, {}
    if form == "matmul_empty":
        return "x @ x.T", (3, 0), RC, {}
    if form == "concat_empty":
        return "np.concatenate([x, np.zeros((0, 4))])", M, RC, {}
    if form == "mean_empty_ax":
        return "np.mean(x, axis=1)", (3, 0)[::-1] + (), RC, {}
    if form == "einsum0":
        return "np.einsum(',->', x, x)", (), RC, {}
    if form == "std0":
        return "np.std(x)", (), RC, {}
    if form == "sort0":
        return "np.sort(x, axis=None)", (), R, {}
    return "np.stack([x, x])", (), RC, {}


def t_f32_mix(r):
    # float32 inputs meeting float64 constants / python floats / int arrays
    g = np.random.default_rng(r.randrange(1 << 30))
    form = pick(r, ["x * K", "x + 1.5", "np.sum(x, dtype=np.float64)", "x.astype(np.float64) ** 2",
                    "np.float64(2.0) * x", "x * np.float32(2.0)", "np.mean(x.astype(np.float64))",
                    "np.maximum(x, K)", "np.where(x > 0, x, K)", "x @ K.T", "np.exp(x) / np.sum(np.exp(x))",
                    "x.astype(np.float32)", "np.asarray(x, dtype=np.float64)", "x * np.arange(4)",
                    "np.linalg.norm(x, axis=1)", "np.cumsum(x, axis=0, dtype=np.float64)"])
    return form, M, ["f32"], {"K": g.standard_normal((4,))}


def t_more(r):
    g = np.random.default_rng(r.randrange(1 << 30))
    form = pick(r, ["einsum_ell", "einsum_rep", "max_where_init", "clip_bcast", "tal_neg", "norm_mat_axis",
                    "det_f32", "maximum_self", "min_init_ax", "sum_where_bcast", "cumsum_neg", "diff0",
                    "take_scalar", "sort_desc", "einsum_trace3", "outer_mat", "inner_vec", "kron_vec",
                    "trace_neg", "tri_neg", "roll_neg", "pad_tuple", "repeat_arr", "tile0", "interp_x",
                    "std_ddof_all", "norm_keep_vec", "norm_neg_axis", "logaddexp_big", "power_frac",
                    "where_scalar_cond", "solve_vec_b", "matrix_power_big", "pinv_square", "inv_f32",
                    "cholesky_upper", "svd_vals_batched", "eigh_batched", "qr_batched", "slogdet_batched",
                    "norm_batched", "cross_2d", "average_nd_w"])
    if form == "einsum_ell":
        return "np.einsum('...ij,...jk->...ik', x, K)", T3, RC, {"K": g.standard_normal((4, 2))}
    if form == "einsum_rep":
        return "np.einsum('ii,jj->ij', x, K)", (3, 3), RC, {"K": g.standard_normal((3, 3))}
    if form == "einsum_trace3":
        return "np.einsum('iii->', x) + np.einsum('iij->ij', x).sum()", (3, 3, 3), RC, {}
    if form == "max_where_init":
        op = pick(r, ["max", "min", "amax"])
        return f"np.{op}(x, axis={pick(r, [0, -1, None, (0, 1)])}, where=K, initial={pick(r, ['-5.0', '5.0', '0.0'])})", M, R, {
            "K": g.random((3, 4)) < 0.5}
    if form == "min_init_ax":
        return f"np.min(x, axis={pick(r, [0, 1, -1])}, initial={pick(r, ['0.0', '-0.3', '0.3'])}, keepdims={pick(r, [True, False])})", M, R, {}
    if form == "clip_bcast":
        return pick(r, ["np.clip(x, K, L)", "np.clip(x, K[:, :1], None)", "np.clip(x, None, L[:1])", "np.clip(x, K, x[:1] + 0.1)"]), M, R, {
            "K": g.uniform(-1, 0, (3, 1)), "L": g.uniform(0, 1, (1, 4))}
    if form == "sum_where_bcast":
        return f"np.{pick(r, ['sum', 'mean', 'prod'])}(x, axis={pick(r, [0, 1, None])}, where=K)", M, RC, {"K": g.random((1, 4)) < 0.6}
    if form == "tal_neg":
        return "np.take_along_axis(x, K, axis=-1)", M, RC, {"K": g.integers(-4, 4, (3, 6))}
    if form == "norm_mat_axis":
        o = pick(r, ["'fro'", "'nuc'", "1", "-1", "2", "-2", "np.inf", "-np.inf", "None"])
        return f"np.linalg.norm(x, ord={o}, axis={pick(r, ['(1, 2)', '(2, 1)', '(0, 2)', '(-1, 0)'])})", T3, RC, {}
    if form == "norm_batched":
        return f"np.linalg.norm(x, axis={pick(r, ['-1', '(-2, -1)', '1'])}, keepdims=True)", T3, RC, {}
    if form == "det_f32":
        return "np.linalg.det(x)", "sq", ["f32"], {}
    if form == "inv_f32":
        return "np.linalg.inv(x)", "sq", ["f32"], {}
    if form == "maximum_self":
        return pick(r, ["np.maximum(x, x.T)", "np.minimum(x, x[::-1, ::-1])", "np.fmax(x, x.T)", "np.maximum(x, x)"]), "sym", R, {}
    if form == "cumsum_neg":
        return f"np.{pick(r, ['cumsum', 'cumprod'])}(x, axis={pick(r, [-1, -2, -3])})", T3, RC, {}
    if form == "diff0":
        return f"np.diff(x, n={pick(r, [0, 1, 4])}, axis={pick(r, [0, 1])})", M, RC, {}
    if form == "take_scalar":
        return f"np.take(x, {pick(r, [0, -1, 5])}) * x", M, RC, {}
    if form == "sort_desc":
        return f"-np.sort(-x, axis={pick(r, [0, 1, -1])})", M, R, {}
    if form == "outer_mat":
        return "np.outer(x, x[0])", M, RC, {}
    if form == "inner_vec":
        return "np.inner(x, x) + np.inner(x[0], x[1])", M, RC, {}
    if form == "kron_vec":
        return pick(r, ["np.kron(x[0], x[:, 1])", "np.kron(x, x[:2, :2])", "np.kron(x[0], K)"]), M, RC, {"K": g.standard_normal((2, 2))}
    if form == "trace_neg":
        return f"np.trace(x, offset={pick(r, [-1, -2, 1, 5])}, axis1={pick(r, [-1, 0])}, axis2={pick(r, [-2, 1])})", T3, RC, {}
    if form == "tri_neg":
        return f"np.{pick(r, ['tril', 'triu'])}(x, {pick(r, [-1, -5, 5, 2])})", M, RC, {}
    if form == "roll_neg":
        return f"np.roll(x, {pick(r, ['(-1, 2)', '-5', '[-7, 3]'])}, axis={pick(r, ['(0, -1)', '(-1, -2)', '(2, 1)'])})".replace("-5, axis", "-5, axis"), T3, RC, {}
    if form == "pad_tuple":
        mode = pick(r, ["'constant'", "'edge'", "'wrap'", "'reflect'", "'symmetric'"])
        return f"np.pad(x, {pick(r, ['((0, 1), (2, 0))', '((1, 1),)', '(0, 0)', '[[1, 0], [0, 1]]'])}, mode={mode})", M, RC, {}
    if form == "repeat_arr":
        return f"np.repeat(x, K, axis={pick(r, [0, -2])})", M, RC, {"K": np.array([2, 0, 1])}
    if form == "tile0":
        return f"np.tile(x, {pick(r, ['(0, 1)', '1', '(1, 1, 1)'])}) * 2", M, RC, {}
    if form == "interp_x":
        return pick(r, ["np.interp(x, x[0], x[1])", "np.interp(K, np.sort(x[0]), x[1])", "np.interp(x, K, K ** 2)"]), M, R, {"K": np.array([-1.0, 0.0, 0.5, 1.0])}
    if form == "std_ddof_all":
        return f"np.{pick(r, ['std', 'var'])}(x, ddof={pick(r, [0, 1, 3])}, axis={pick(r, [None, (0, 1), 0])})", M, RC, {}
    if form == "norm_keep_vec":
        return f"np.linalg.norm(x, ord={pick(r, [1, 2, 'np.inf', 3, -1])}, axis=-1, keepdims=True)", M, RC, {}
    if form == "norm_neg_axis":
        return f"np.linalg.norm(x, axis={pick(r, [-1, -2, 0])})", M, RC, {}
    if form == "logaddexp_big":
        return pick(r, ["np.logaddexp(50 * x, 40 * x[::-1])", "np.logaddexp2(30 * x, 0.0)"]), M, R, {}
    if form == "power_frac":
        return pick(r, ["np.power(np.abs(x) + 0.1, 1.5)", "(x ** 2 + 0.1) ** -0.5", "np.power(x, K)", "np.power(-2.0, x)"]), M, R, {
            "K": np.array([1, 2, 3, 0])}
    if form == "where_scalar_cond":
        return "np.where(np.sum(x) > 0, x, -x) * x", M, RC, {}
    if form == "solve_vec_b":
        return "np.linalg.solve(x, x[:, 0])", "sq", RC, {}
    if form == "matrix_power_big":
        return f"np.linalg.matrix_power(x * 0.5, {pick(r, [4, 5, -3])})", "sq", RC, {}
    if form == "pinv_square":
        return "np.linalg.pinv(x)", "sq", RC, {}
    if form == "cholesky_upper":
        return "np.linalg.cholesky(x, upper=True)", "spd", RC, {}
    if form == "svd_vals_batched":
        return "np.linalg.svd(x, compute_uv=False)", T3, RC, {}
    if form == "eigh_batched":
        return "np.linalg.eigvalsh(x + np.swapaxes(x, -1, -2))", (2, 3, 3), RC, {}
    if form == "qr_batched":
        return "np.linalg.qr(x)[1]", (2, 4, 3), RC, {}
    if form == "slogdet_batched":
        return "np.linalg.slogdet(x + 3 * np.eye(3))[1]", (2, 3, 3), RC, {}
    if form == "cross_2d":
        return "np.cross(x[:, :3], K[:, :3])", M, RC, {"K": g.standard_normal((3, 4))}
    k = g.uniform(0.2, 2, (2,))
    return f"np.average(x, axis=0, weights=K)", T3, RC, {"K": k}


def t_more2(r):
    g = np.random.default_rng(r.randrange(1 << 30))
    form = pick(r, ["out_sum", "out_ufunc", "out_inplace", "cov", "corrcoef", "trapezoid", "trapezoid_x",
                    "convolve", "correlate", "vector_norm", "matrix_norm", "vecdot", "matvec", "vecmat",
                    "einsum_list", "select", "choose", "piecewise", "logspace", "geomspace", "sum_empty_axes",
                    "clip_kw", "method_init", "cumulative", "linspace", "meshgrid", "gradient", "ediff1d",
                    "nanmedian", "nanpercentile", "convolve_same", "sum_bool_where", "prod_neg_axis",
                    "unique_vals", "flatten", "diagflat", "fill_diag", "put", "setitem_mask", "argmax_take",
                    "max_keep_where", "std_where_keep", "linalg_outer", "linalg_diag", "cross_vec",
                    "einsum_scalar", "block", "apply_along_axis", "cumsum_out"])
    if form == "out_sum":
        return "np.sum(x, axis=0, out=np.empty(4))", M, RC if False else R, {}
    if form == "cumsum_out":
        return "np.cumsum(x, axis=1, out=np.empty((3, 4)))", M, R, {}
    if form == "out_ufunc":
        return pick(r, ["np.multiply(x, 2.0, out=np.empty((3, 4)))", "np.exp(x, out=np.zeros((3, 4)))",
                        "np.add(x, x[0], out=np.empty_like(x))"]), M, R, {}
    if form == "out_inplace":
        return pick(r, ["inplace_mul(x)", "inplace_clip(x)", "inplace_exp(x)"]), M, R, {}
    if form == "cov":
        return pick(r, ["np.cov(x)", "np.cov(x, rowvar=False)", "np.cov(x, ddof=0)", "np.cov(x, bias=True)",
                        "np.cov(x[0], x[1])", "np.cov(x, aweights=K)", "np.cov(x, fweights=L)"]), M, RC, {
            "K": g.uniform(0.5, 2, 4), "L": np.array([1, 2, 1, 3])}
    if form == "corrcoef":
        return pick(r, ["np.corrcoef(x)", "np.corrcoef(x, rowvar=False)", "np.corrcoef(x[0], x[1])"]), M, R, {}
    if form == "trapezoid":
        return f"np.trapezoid(x, dx={pick(r, ['0.5', '1.0'])}, axis={pick(r, [0, -1, 1])})", M, R, {}
    if form == "trapezoid_x":
        return pick(r, ["np.trapezoid(K, x=np.cumsum(np.abs(x[0]) + 0.1))", "np.trapezoid(x, x=K2, axis=-1)",
                        "np.trapezoid(x, x=np.sort(x[0]))"]), M, R, {"K": g.standard_normal(4), "K2": np.array([0.0, 0.5, 1.5, 2.0])}
    if form == "convolve":
        return f"np.convolve(x[0], K, mode={pq(r, ['full', 'valid', 'same'])})", M, RC, {"K": g.standard_normal(3)}
    if form == "convolve_same":
        return "np.convolve(x[0], x[1, :2], mode='same')", M, RC, {}
    if form == "correlate":
        return f"np.correlate(x[0], K, mode={pq(r, ['full', 'valid', 'same'])})", M, RC, {"K": g.standard_normal(3) + 0.5j}
    if form == "vector_norm":
        return f"np.linalg.vector_norm(x, ord={pick(r, ['2', '1', 'np.inf', '-np.inf', '3', '0.5'])}, axis={pick(r, ['None', '0', '-1', '(0, 1)'])}, keepdims={pick(r, [True, False])})", M, RC, {}
    if form == "matrix_norm":
        o = pick(r, ["'fro'", "'nuc'", '1', '-1', '2', '-2', 'np.inf', '-np.inf'])
        return f"np.linalg.matrix_norm(x, ord={o}, keepdims={pick(r, [True, False])})", pick(r, [M, T3]), RC, {}
    if form == "vecdot":
        return pick(r, ["np.vecdot(x, K)", "np.vecdot(x, x, axis=0)", "np.linalg.vecdot(x, K[None])"]), M, RC, {"K": g.standard_normal(4) + 1j}
    if form == "matvec":
        return "np.matvec(x, K)", M, RC, {"K": g.standard_normal(4)}
    if form == "vecmat":
        return "np.vecmat(K, x)", M, RC, {"K": g.standard_normal(3) + 0.5j}
    if form == "einsum_list":
        return pick(r, ["np.einsum(x, [0, 1], [1])", "np.einsum(x, [0, 1], x, [0, 1], [0])", "np.einsum(x, [Ellipsis, 1])"]), M, RC, {}
    if form == "select":
        return "np.select([x > 0.5, x < -0.5], [x ** 2, np.sin(x)], default=x * 3)", M, R, {}
    if form == "choose":
        return "np.choose(K, [x, x ** 2, -x])", M, R, {"K": g.integers(0, 3, (3, 4))}
    if form == "piecewise":
        return "np.piecewise(x, [x < 0, x >= 0], [lambda v: v ** 2, lambda v: np.sin(v)])", M, R, {}
    if form == "logspace":
        return "np.logspace(x[0, 0], x[0, 1], 5)", M, R, {}
    if form == "geomspace":
        return "np.geomspace(np.abs(x[0, 0]) + 0.5, np.abs(x[0, 1]) + 2.0, 4)", M, R, {}
    if form == "linspace":
        return f"np.linspace(x[0], x[1], {pick(r, [3, 5])}, axis={pick(r, [0, -1, 1])}, endpoint={pick(r, [True, False])})", M, RC, {}
    if form == "meshgrid":
        return f"np.meshgrid(x[0], x[1, :3], indexing={pq(r, ['xy', 'ij'])})[{pick(r, [0, 1])}]", M, RC, {}
    if form == "gradient":
        return f"np.gradient(x, axis={pick(r, [0, 1, -1])}{pick(r, ['', ', edge_order=2'])})", M, RC, {}
    if form == "ediff1d":
        return "np.ediff1d(x, to_begin=0.5)", M, RC, {}
    if form == "nanmedian":
        return f"np.nanmedian(x, axis={pick(r, [0, 1, None])})", M, R, {}
    if form == "nanpercentile":
        return f"np.nanpercentile(x, {pick(r, [30, 50, 90])}, axis={pick(r, [0, 1, None])})", M, R, {}
    if form == "sum_empty_axes":
        return f"np.{pick(r, ['sum', 'prod', 'max', 'mean'])}(x, axis=())", M, R, {}
    if form == "clip_kw":
        return pick(r, ["np.clip(x, min=-0.3)", "np.clip(x, max=0.3)", "np.clip(x, a_min=-0.2, a_max=None)", "x.clip(max=0.1)",
                        "x.clip(min=K)"]), M, R, {"K": g.uniform(-1, 0, 4)}
    if form == "method_init":
        return f"x.{pick(r, ['max', 'min', 'sum', 'prod'])}(axis={pick(r, [0, 1])}, initial={pick(r, ['0.0', '1.0'])}, where=K)", M, R, {"K": g.random((3, 4)) < 0.6}
    if form == "cumulative":
        return f"np.{pick(r, ['cumulative_sum', 'cumulative_prod'])}(x, axis={pick(r, [0, 1, -1])}, include_initial={pick(r, [True, False])})", M, RC, {}
    if form == "sum_bool_where":
        return "np.sum(x * (x > 0), where=x < 1.0)", M, R, {}
    if form == "prod_neg_axis":
        return f"np.prod(x, axis={pick(r, [-1, -2, (-1, -2)])})", M, RC, {}
    if form == "unique_vals":
        return "np.unique(x)", M, R, {}
    if form == "flatten":
        return f"x.flatten({pq(r, ['C', 'F'])}) * np.arange(12.0)", M, RC, {}
    if form == "diagflat":
        return f"np.diagflat(x[0], {pick(r, [0, 1, -1])})", M, RC, {}
    if form == "fill_diag":
        return "fill_diag(x)", (3, 3), R, {}
    if form == "put":
        return "put_copy(x)", M, R, {}
    if form == "setitem_mask":
        return "mask_set(x)", M, R, {}
    if form == "argmax_take":
        return f"np.take_along_axis(x, np.expand_dims(np.argmax(x, axis={pick(r, [0, 1])}), {pick(r, [0, 1])}), axis={pick(r, [0, 1])})".replace(
            "axis=0), 1), axis=0", "axis=0), 0), axis=0").replace("axis=1), 0), axis=1", "axis=1), 1), axis=1").replace(
            "axis=0), 1), axis=1", "axis=0), 0), axis=0").replace("axis=1), 0), axis=0", "axis=1), 1), axis=1").replace(
            "axis=0), 0), axis=1", "axis=0), 0), axis=0").replace("axis=1), 1), axis=0", "axis=1), 1), axis=1"), M, R, {}
    if form == "max_keep_where":
        return "np.max(x, axis=1, keepdims=True, where=K, initial=-10.0)", M, R, {"K": g.random((1, 4)) < 0.7}
    if form == "std_where_keep":
        return f"np.{pick(r, ['std', 'var'])}(x, axis=1, keepdims=True, where=K, ddof={pick(r, [0, 1])})", M, RC, {"K": np.array([[True, True, False, True]])}
    if form == "linalg_outer":
        return "np.linalg.outer(x[0], x[1])", M, RC, {}
    if form == "linalg_diag":
        return f"np.linalg.diagonal(x, offset={pick(r, [0, 1, -1])})", T3, RC, {}
    if form == "cross_vec":
        return "np.linalg.cross(x[:, :3], K)", M, RC, {"K": g.standard_normal(3)}
    if form == "einsum_scalar":
        return "np.einsum('ij,->ij', x, 2.5)", M, RC, {}
    if form == "block":
        return "np.block([[x, x[:, :1]], [x[:1], x[:1, :1]]])", M, RC, {}
    return "np.apply_along_axis(lambda v: v ** 2 * np.sum(v), 1, x)", M, R, {}


TEMPLATES = [t_reduce, t_method_reduce, t_stat, t_average, t_average_wrt_weights, t_norm, t_clip,
             t_clip_bounds_active, t_where, t_take, t_cum, t_sort, t_einsum, t_tensordot, t_linalg, t_products,
             t_diag, t_pad, t_shape, t_elementwise, t_empty0d, t_f32_mix, t_more, t_more, t_more2, t_more2, t_more2]

HELPERS = '''
def put_along(x, K, L):
    z = x.copy()
    np.put_along_axis(z, K, L * z[:, :2], axis=1)
    return z


def inplace_mul(x):
    z = x.copy()
    np.multiply(z, 2.0, out=z)
    return z


def inplace_clip(x):
    z = x * 1.0
    np.clip(z, -0.3, 0.4, out=z)
    return z


def inplace_exp(x):
    z = x + 0.0
    np.exp(z, out=z)
    z += x
    return z


def fill_diag(x):
    z = x.copy()
    np.fill_diagonal(z, x[0] ** 2)
    return z


def put_copy(x):
    z = x.copy()
    np.put(z, [0, 5, -1], x[1, :3] * 2)
    return z


def mask_set(x):
    z = x.copy()
    z[z > 0.3] = 0.3
    z[x < -0.5] *= 2
    return z


def sort_copy(x, a):
    z = x.copy()
    z.sort(axis=a)
    return z
'''

VARIANTS = ["direct", "helper", "loop", "lambda"]


def function_source(k, expr, variant, order2):
    reduce_ = f"np.sum(np.real(out * W{k}))"
    if variant == "direct":
        body = f"    out = {expr}\n    y = {reduce_}\n"
    elif variant == "helper":
        body = f"    out = h{k}(x)\n    y = {reduce_}\n"
    elif variant == "lambda":
        body = f"    op = lambda x: {expr}\n    out = op(x)\n    y = {reduce_}\n"
    else:
        body = (f"    y = 0.0\n    for i in range(2):\n        out = {expr}\n"
                f"        y = y + {reduce_} * (i + 1)\n")
    src = f"def h{k}(x):\n    return {expr}\n\n\n" if variant == "helper" else ""
    src += f"def f{k}(x):\n{body}    return y, dlgradient(y, x)\n\n\n"
    if order2:
        src += (f"def s{k}(x):\n{body}    g = dlgradient(y, x, EnableHigherDerivatives=True)\n"
                f"    z = np.sum(np.real(g * V{k}))\n    return z, dlgradient(z, x)\n\n\n")
    plain_body = body.replace(f"h{k}(x)", f"({expr})")
    src += f"def p{k}(x):\n{plain_body}    return y\n\n\n"
    return src


class Case:
    def __init__(self, k, template, expr, kind, dtype, consts, variant, order2, seed):
        self.k, self.template, self.expr, self.kind, self.dtype = k, template, expr, kind, dtype
        self.consts, self.variant, self.order2, self.seed = consts, variant, order2, seed

    def describe(self):
        return (f"case {self.k} [{self.template}] {self.variant}{' order2' if self.order2 else ''} "
                f"dtype={self.dtype} kind={self.kind} seed={self.seed}: {self.expr}")


def generate(n, seed, only=""):
    r = random.Random(seed)
    cases = []
    templates = [t for t in TEMPLATES if only in t.__name__] or TEMPLATES
    for k in range(n):
        t = r.choice(templates)
        expr, kind, dtypes, consts = t(r)
        dtype = r.choice(dtypes)
        variant = r.choice(VARIANTS) if r.random() < 0.5 else "direct"
        # (no second derivative at ties: differences of a first derivative across its jump)
        order2 = r.random() < 0.2 and kind != "ties"
        cases.append(Case(k, t.__name__, expr, kind, dtype, consts, variant, order2, r.randrange(1 << 30)))
    return cases


def build_module(cases, path):
    src = "import numpy as np\nfrom sct import dlgradient\n\n" + HELPERS + "\n\n"
    for c in cases:
        src += function_source(c.k, c.expr, c.variant, c.order2)
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def tolerance(dtype):
    return (3e-3, 3e-3) if dtype == "f32" else (1e-5, 1e-6)


def run_case(mod, c):
    """Returns (outcome, detail)."""
    import sct
    from sct import dlarray, dlfeval, extractdata
    from sct.errors import SctError
    rng = np.random.default_rng(c.seed)
    x = make_input(rng, c.kind, c.dtype)
    for name, v in c.consts.items():
        setattr(mod, name, v)
    # plain numpy first
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                out = eval(c.expr, {**vars(mod), "np": np, "x": x.copy()})
            except Exception as e:  # plain numpy refuses: skip
                return "skip", f"numpy: {type(e).__name__}: {e}"
    out = np.asarray(out)
    if out.dtype.kind not in "fc" or not np.all(np.isfinite(out)):
        return "skip", f"numpy out dtype {out.dtype} / non-finite"
    wr = np.random.default_rng(c.seed + 1)
    W = wr.standard_normal(out.shape)
    if np.iscomplexobj(out) and c.dtype == "c128":
        W = W + 1j * wr.standard_normal(out.shape)
    setattr(mod, f"W{c.k}", W)
    if c.order2:
        setattr(mod, f"V{c.k}", wr.standard_normal(x.shape))
    f = getattr(mod, f"f{c.k}")
    p = getattr(mod, f"p{c.k}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            want = p(x.copy())
    if not np.all(np.isfinite(want)):
        return "skip", "non-finite value"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got, grad = dlfeval(f, dlarray(x.copy()))
    except SctError as e:
        return "refused", f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
    except Exception as e:
        return "internal", f"{type(e).__name__}: {e}\n{traceback.format_exc()[-2000:]}"
    got = np.asarray(extractdata(got))
    grad = np.asarray(extractdata(grad))
    rtol, atol = tolerance(c.dtype)
    if not np.allclose(got, want, rtol=max(rtol, 1e-7), atol=atol * max(1, np.abs(want))):
        return "value", f"got {got} want {want}"
    if grad.shape != x.shape:
        return "grad", f"gradient shape {grad.shape} != {x.shape}"
    if grad.dtype != x.dtype:
        return "dtype", f"gradient dtype {grad.dtype} != input {x.dtype}"
    x64 = x.astype(np.result_type(x, np.float64))

    def pfun(xv):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return float(np.real(p(xv)))
    # float32: a function that casts to float32 (x.astype(np.float32), dtype=np.float32) rounds a
    # step of 1e-6 away; a larger step and tolerance
    f32 = c.dtype == "f32"
    num = numerical_gradient(pfun, [x64], 0, step=1e-3 if f32 else 1e-6)
    if not np.allclose(grad, num, rtol=1e-2 if f32 else max(rtol, 1e-4),
                       atol=(1e-2 if f32 else max(atol, 1e-5)) * max(1, np.max(np.abs(num), initial=0))):
        return "grad", f"got\n{grad}\nwant\n{num}"
    if not c.order2 or c.dtype == "f32":
        return "ok", ""
    V = getattr(mod, f"V{c.k}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z, g2 = dlfeval(getattr(mod, f"s{c.k}"), dlarray(x.copy()))
    except SctError as e:
        return "refused2", f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
    except Exception as e:
        return "internal", f"order2 {type(e).__name__}: {e}\n{traceback.format_exc()[-2000:]}"
    z = float(np.asarray(extractdata(z)))
    if not np.isclose(z, np.sum(np.real(grad * V)), rtol=1e-7, atol=1e-9):
        return "value2", f"z {z} vs first-order gradient . V {np.sum(np.real(grad * V))}"
    g2 = np.asarray(extractdata(g2))

    def zfun(xv):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, g1 = dlfeval(f, dlarray(np.asarray(xv, dtype=x.dtype)))
        return float(np.sum(np.real(np.asarray(extractdata(g1)) * V)))
    num2 = numerical_gradient(zfun, [x64], 0, step=1e-5)
    if not np.allclose(g2, num2, rtol=1e-4, atol=1e-4 * max(1, np.max(np.abs(num2), initial=0))):
        return "grad2", f"got\n{g2}\nwant\n{num2}"
    return "ok", ""


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="")
    ap.add_argument("--show", default="value,grad,dtype,grad2,internal")
    ap.add_argument("--showrefused", action="store_true")
    args = ap.parse_args(argv)
    cases = generate(args.n, args.seed, args.only)
    d = tempfile.mkdtemp(prefix="rt23c_")
    mod = build_module(cases, os.path.join(d, f"rt23c_mod{args.seed}.py"))
    counts = collections.Counter()
    refusals = collections.Counter()
    show = set(args.show.split(","))
    for c in cases:
        outcome, detail = run_case(mod, c)
        counts[outcome] += 1
        if outcome == "refused":
            refusals[(c.template, detail[:160])] += 1
        if outcome in show:
            print("=" * 80)
            print(outcome.upper(), c.describe())
            print(detail[:1500])
    print(dict(counts))
    if args.showrefused:
        for (t, d_), n in refusals.most_common():
            print(n, t, d_)
    return 0


if __name__ == "__main__":
    sys.exit(main())
