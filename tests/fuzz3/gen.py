"""A third random-program generator: execution-guided programs with data-shaped control flow.

tests/progtest threads one (4,) state through feature blocks; tests/fuzz2 builds typed expression
trees over fixed shapes (2,), (3,), (2, 3), ...  This one *runs* the program while it writes it:
every candidate statement is executed (plain numpy, on the arguments of ``make_args(0)``) together
with the statements kept so far and kept only if it runs cleanly (no exception, no floating-point
warning, finite values).  Knowing every value lets it write what the others cannot:

  * sizes drawn per program (x of length 3..6, M (R, C), a 3-d T (P, R, C)), ranks 0-4;
  * integer index arithmetic: x[i + 1] - x[i], x[-1 - i], x[::2], x[1:-1], x[idx], boolean masks,
    np.where with one and three arguments, np.take(axis=...), argmax indexing;
  * loops whose exits depend on the data (while with a traced test, break/continue on comparisons
    of traced values, early return inside a for in a helper), thresholds placed away from the
    values so central differences stay meaningful;
  * writes into fresh arrays (y[i] = ..., y[mask] *= ..., y[idx] += ... with repeated indices,
    np.add.at, overlapping y[1:] += y[:-1], writes through views);
  * lists grown in loops then np.stack/np.concatenate/np.array, filtered comprehensions;
  * reductions with axis tuples, negative axes and keepdims; matmul/dot/einsum/tensordot/outer/
    inner/kron on 1-3-d operands; reshape/transpose(perm)/swapaxes/moveaxis/expand_dims/squeeze;
  * Python ints/floats/bools and int arrays mixed with float arrays; math on float()/.item();
  * helpers with defaults, keyword-only arguments, ``b=None``, dict and list parameters, tuple
    results, closures and lambdas capturing loop variables (late and early binding).

``generate(seed)`` returns the source of one self-contained module: ``f(x, M, T, s, n, idx, opts)``
(the user's program, plain Python, a scalar result), the driver(s) sct runs and ``make_args``.
"""
from __future__ import annotations

import math
import random
import warnings
from typing import Dict, List, Optional

import numpy as np

ARGS = "x, M, T, s, n, idx, opts"
DIFF = ("x", "M", "T")
DRIVERS = ["first"] * 4 + ["inline"] * 2 + ["dict", "second", "second", "jvp", "jvp", "hvp", "accel", "accel", "jac"]
NOVALUE = object()

MAKE_ARGS = '''def make_args(variant=0):
    rng = np.random.default_rng(SEED + 1000 * variant)
    N, R, C, P = DIMS
    x = rng.uniform(-1.2, 1.2, N)
    M = rng.uniform(-1.2, 1.2, (R, C))
    T = rng.uniform(-1.2, 1.2, (P, R, C))
    s = round(float(rng.uniform(-1.0, 1.0)), 3)
    n = NINT
    idx = rng.integers(0, N, N)
    opts = {"w": rng.uniform(-1.0, 1.0, N), "alpha": round(float(rng.uniform(0.2, 1.5)), 3), "k": 2}
    return x, M, T, s, n, idx, opts
'''

HEADER = '''"""fuzz3 program {seed} (driver {driver}, wrt {wrt})."""
import math

import numpy as np

import sct
from sct import dlarray, dlfeval, dlgradient, dljacobian

SEED = {seed}
DIMS = {dims!r}
NINT = {nint!r}

'''

# helper templates: (source with {name} and constants, call forms {0} = an argument, kinds of argument)
HELPERS = [
    # early return inside a for on a traced comparison
    ('''def {name}(v, thr={t}):
    for i in range(len(v)):
        if v[i] > thr:
            return v[i] * {c} + np.sum(v)
    return np.mean(v) - thr
''', ["{name}({a1})", "{name}({a1}, thr={t2})", "{name}({a1}, {t2})"], 1),
    # while with a traced exit
    ('''def {name}(z, rate={r}, limit=8):
    steps = 0
    while abs(z) > {t} and steps < limit:
        z = z * rate + 0.05 * math.sin(z)
        steps += 1
    return z + 0.01 * steps
''', ["{name}({a0})", "{name}({a0}, rate=0.5)", "{name}({a0}, limit=3)", "{name}(z={a0}, rate={r2})"], 0),
    # b=None default and a keyword-only argument
    ('''def {name}(a, b=None, *, scale={c}, axis=-1):
    if b is None:
        b = a
    return np.sum(a * b, axis=axis) * scale
''', ["{name}({an})", "{name}({an}, scale={c2})", "{name}({an}, {an}, axis=0)", "{name}(a={an}, b=np.tanh({an}))",
      "{name}({an}, axis=None)"], 9),
    # recurrence written into a fresh array
    ('''def {name}(v, decay={r}):
    out = np.zeros_like(v)
    out[0] = v[0]
    for i in range(1, len(v)):
        out[i] = out[i - 1] * decay + v[i]
    return out
''', ["{name}({a1})", "{name}({a1}, decay={r2})", "{name}({a1}, {r2})"], 1),
    # dict parameter
    ('''def {name}(v, cfg):
    w = cfg["w"]
    return np.tanh(v * cfg["alpha"]) + w[:1] * cfg["k"]
''', ["{name}({an}, opts)", "{name}({an}, {{'w': np.ones(2), 'alpha': {c}, 'k': 3}})"], 9),
    # list parameter
    ('''def {name}(vs, p=2):
    total = 0.0
    for v in vs:
        total = total + np.sum(np.abs(v) ** p)
    return total
''', ["{name}([{an}, {an}])", "{name}([{an}], p=3)", "{name}(({an}, {an}, {an}))"], 9),
    # a tuple result with an integer
    ('''def {name}(v):
    j = int(np.argmax(v))
    return v[j], j
''', ["{name}({a1})[0]", "{name}({a1})[0] * {name}({a1})[1]", "sum({name}({a1}))"], 1),
    # closure factory
    ('''def {name}(c):
    def inner(u):
        return np.tanh(u * c) + c
    return inner
''', ["{name}({c})({an})", "{name}({a0})({an})"], 9),
    # nested ifs on traced comparisons
    ('''def {name}(u, w):
    if np.sum(u) > {t}:
        if np.max(w) < {t2}:
            return u * 2.0
        return u - np.mean(w)
    elif np.min(u) < -{r}:
        return u * u
    return np.sin(u)
''', ["{name}({an}, {an})"], 9),
    # data-dependent count of iterations over rows, with continue
    ('''def {name}(A, thr={t}):
    acc = np.zeros(A.shape[-1])
    for row in A:
        if np.mean(row) < thr:
            continue
        acc = acc + row
    return acc
''', ["{name}({a2})", "{name}({a2}, thr={t2})"], 2),
    # recursion with a traced base value
    ('''def {name}(v, depth=2):
    if depth == 0:
        return v
    return {name}(np.tanh(v) * {c}, depth - 1) + v
''', ["{name}({an})", "{name}({an}, depth=1)", "{name}({an}, 3)"], 9),
]


def fval(v):
    return isinstance(v, float) or (isinstance(v, (np.ndarray, np.generic)) and v.dtype.kind == "f")


def ival(v):
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, (np.ndarray, np.generic))
                                                                  and v.dtype.kind in "iu")


def good(v):
    if isinstance(v, (bool, np.bool_)):
        return True
    if fval(v) or ival(v):
        a = np.asarray(v)
        if a.size > 400:
            return False
        return bool(np.all(np.isfinite(a))) and (a.size == 0 or float(np.max(np.abs(a))) < 1e5)
    return True


class Gen:
    def __init__(self, seed: int):
        self.seed = seed
        self.r = random.Random(seed * 31 + 7)
        r = self.r
        self.dims = (r.randint(3, 6), r.randint(2, 4), r.randint(2, 5), r.randint(2, 3))
        if r.random() < 0.4:
            self.dims = (self.dims[0], self.dims[1], self.dims[0], self.dims[3])   # M @ x works
        self.nint = r.choice([2, 3])
        self.glob = {"np": np, "math": math, "SEED": seed, "DIMS": self.dims, "NINT": self.nint}
        exec(MAKE_ARGS, self.glob)
        self.helper_src: List[str] = []
        self.helpers: List[tuple] = []          # (call forms, kind, name)
        self.body: List[str] = []
        self.names: Dict[str, str] = {n: "arg" for n in ARGS.split(", ")}
        self.fresh: set = set()                 # arrays f made (writable without touching arguments)
        self.n = 0
        self.early = False
        self.ns = self.run(self.body)
        assert self.ns is not None

    # -- execution ---------------------------------------------------------------------------------
    def run(self, lines, variant=0):
        src = "def __f(%s):\n" % ARGS + "\n".join(lines or ["    pass"]) + "\n    return ('__ns', dict(locals()))\n"
        g = dict(self.glob)
        try:
            with warnings.catch_warnings(), np.errstate(all="raise"):
                warnings.simplefilter("error")
                exec(src, g)
                out = g["__f"](*g["make_args"](variant))
        except Exception:
            return None
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], str) and out[0] == "__ns"):
            return None       # an early return taken at the generation point: not wanted
        ns = out[1]
        if not all(good(v) for v in ns.values()):
            return None
        return ns

    def accept(self, lines, new_names=(), fresh=()):
        """Append lines to f's body if the whole body still runs; bind new_names."""
        ns = self.run(self.body + lines)
        if ns is None:
            return False
        self.body += lines
        self.ns = ns
        for nm in new_names:
            self.names[nm] = "var"
        for nm in fresh:
            self.fresh.add(nm)
        return True

    def ev(self, text, scope):
        try:
            with warnings.catch_warnings(), np.errstate(all="raise"):
                warnings.simplefilter("error")
                v = eval(text, self.glob, scope)
        except Exception:
            return NOVALUE
        return v if good(v) else NOVALUE

    def name(self, p="v"):
        self.n += 1
        return f"{p}{self.n}"

    # -- picking operands ---------------------------------------------------------------------------
    def floats(self, scope, rank=None, minsize=1):
        out = []
        for k, v in scope.items():
            if k.startswith("__") or k in ("opts",) or callable(v):
                continue
            if fval(v) and (rank is None or np.ndim(v) in (rank if isinstance(rank, tuple) else (rank,))) \
                    and np.size(v) >= minsize:
                out.append(k)
        return out

    def ints(self, scope, rank=None):
        return [k for k, v in scope.items() if not k.startswith("__") and ival(v)
                and (rank is None or np.ndim(v) == rank)]

    def const(self, lo=-1.5, hi=1.5):
        return repr(round(self.r.uniform(lo, hi), 2))

    def thr(self, value, spread=0.6):
        """A threshold at least 0.08 away from value, on a random side."""
        side = self.r.choice([-1, 1])
        return repr(round(float(value) + side * self.r.uniform(0.08, spread), 3))

    # -- expressions ---------------------------------------------------------------------------------
    def expr(self, scope, d=0, want=None, tries=25):
        """(text, value) of a float expression; want filters on the value."""
        for _ in range(tries):
            t = self.build(scope, d)
            if t is None:
                continue
            v = self.ev(t, scope)
            if v is NOVALUE or not fval(v):
                continue
            if want is not None and not want(v):
                continue
            return t, v
        # fall back to a leaf that fits
        leaves = [k for k in self.floats(scope) if want is None or want(scope[k])]
        if leaves:
            k = self.r.choice(leaves)
            return k, scope[k]
        return None

    def scalar(self, scope, d=0):
        return self.expr(scope, d, want=lambda v: np.ndim(v) == 0)

    def leaf(self, scope):
        fl = self.floats(scope)
        return self.r.choice(fl) if fl else None

    def sub(self, scope, d, want=None):
        if d >= 2 or self.r.random() < 0.3 + 0.25 * d:
            cands = [k for k in self.floats(scope) if want is None or want(scope[k])]
            if cands:
                k = self.r.choice(cands)
                return k, scope[k]
        return self.expr(scope, d + 1, want, tries=6)

    def build(self, scope, d):
        r = self.r
        kinds = ["unary"] * 3 + ["binary"] * 4 + ["reduce"] * 3 + ["shape"] * 2 + ["product"] * 2 + ["index"] * 4 \
            + ["math"] + ["mix"] * 2 + ["where"] + ["ifexp"]
        if self.helpers:
            kinds += ["helper"] * 2
        if any(callable(v) and not isinstance(v, type) and k not in self.glob for k, v in scope.items()
               if not k.startswith("__")):
            kinds += ["call"]
        k = r.choice(kinds)
        if d >= 2:
            k = r.choice(["reduce", "index", "unary", "binary"])
        a = self.sub(scope, d)
        if a is None:
            return None
        at, av = a
        nd = np.ndim(av)
        shp = np.shape(av)
        if k == "unary":
            return r.choice(["np.tanh({0})", "np.sin({0})", "np.exp(0.5 * {0})", "np.log1p(({0}) ** 2)",
                             "np.abs({0})", "np.maximum({0}, 0.0)", "({0}) ** 2", "np.sqrt(1.0 + ({0}) ** 2)",
                             "-({0})", "1.0 / (1.0 + ({0}) ** 2)", "np.cos({0})", "np.clip({0}, -0.5, 0.7)",
                             "np.square({0})", "({0}) * 0.5"]).format(at)
        if k == "binary":
            b = self.sub(scope, d)
            if b is None:
                return None
            bt, bv = b
            op = r.choice(["+", "-", "*", "*", "/ (1.5 + np.abs({b})) * 0 + {a} /"])
            adapts = ["{b}", "({b})[..., None]", "({b})[:, None]", "({b})[None]", "({b}).T", "np.sum({b})",
                      "({b}).mean(axis=-1)", "({b})[0]", "({b})[..., 0]", "({b}).mean(axis=0, keepdims=True)",
                      "np.max({b}, axis=-1, keepdims=True)", "({b})[:, None, :]", "({b}).reshape(-1)[:1]"]
            r.shuffle(adapts)
            for ad in adapts[:5]:
                bb = ad.format(b=bt)
                bbv = self.ev(bb, scope)
                if bbv is NOVALUE:
                    continue
                try:
                    out = np.broadcast_shapes(np.shape(av), np.shape(bbv))
                except ValueError:
                    continue
                if len(out) > 4 or int(np.prod(out)) > 200:
                    continue
                if op.startswith("/"):
                    return f"({at}) / (1.5 + np.abs({bb}))"
                return f"({at}) {op} ({bb})"
            return None
        if k == "reduce":
            if nd == 0:
                return f"np.sum({at})"
            fn = r.choice(["np.sum", "np.mean", "np.max", "np.min", "np.std", "np.var", "np.prod", "np.linalg.norm",
                           "np.cumsum", "np.diff", "np.sort", "np.ptp", "np.median", "np.amax", "np.average",
                           ".sum", ".mean", ".max", ".min", "np.cumprod", "np.any"])
            ax = r.choice([None, "int", "int", "neg", "tuple"])
            if ax == "int":
                ax = str(r.randrange(nd))
            elif ax == "neg":
                ax = str(-r.randint(1, nd))
            elif ax == "tuple" and nd >= 2:
                axes = r.sample(range(-nd, 0) if r.random() < 0.5 else range(nd), 2)
                ax = "(%d, %d)" % tuple(axes)
            else:
                ax = None
            kd = r.random() < 0.3
            arg = at if fn not in ("np.prod", "np.cumprod") else f"0.7 + 0.3 * np.tanh({at})"
            if fn == "np.any":
                return f"np.any(({at}) > {self.const()}) * np.sum({at})"
            if fn in ("np.cumsum", "np.diff", "np.sort", "np.cumprod"):
                if ax is None or ax.startswith("("):
                    return f"{fn}({arg})" if fn != "np.diff" or nd == 1 else f"np.diff({arg}, axis=-1)"
                return f"{fn}({arg}, axis={ax})"
            if fn.startswith("."):
                kw = "" if ax is None else f"axis={ax}"
                if kd:
                    kw += (", " if kw else "") + "keepdims=True"
                return f"({at}){fn}({kw})"
            kw = "" if ax is None else f", axis={ax}"
            if kd and fn not in ("np.median", "np.average", "np.ptp"):
                kw += ", keepdims=True"
            return f"{fn}({arg}{kw})"
        if k == "shape":
            forms = ["({0}).T", "({0}).reshape(-1)", "np.expand_dims({0}, {ax})", "({0})[None]", "({0})[..., None]",
                     "np.flip({0}, {ax0})", "np.roll({0}, {sh}, axis={ax0})", "({0}).ravel()", "np.atleast_2d({0})",
                     "({0}).flatten()"]
            if nd >= 2:
                perm = list(range(nd))
                r.shuffle(perm)
                i, j = r.sample(range(-nd, nd), 2)
                forms += [f"np.transpose({{0}}, {tuple(perm)})", f"np.swapaxes({{0}}, {i}, {j})",
                          f"np.moveaxis({{0}}, {i}, {j})", "({0}).reshape({s0}, -1)", "({0}).reshape(-1, {sl})",
                          "({0}).transpose()", "np.squeeze(({0})[:1], axis=0)", "({0}).swapaxes(0, -1)"]
            if nd >= 1 and 1 in shp:
                forms += [f"np.squeeze({{0}}, axis={shp.index(1)})", "np.squeeze({0})"]
            if nd == 0:
                return None
            return r.choice(forms).format(at, ax=r.randint(-nd - 1, nd), ax0=r.randint(-nd, nd - 1),
                                          sh=r.randint(-2, 2), s0=shp[0], sl=shp[-1])
        if k == "product":
            b = self.sub(scope, d)
            if b is None:
                return None
            bt, bv = b
            forms = ["({a}) @ ({b})", "np.dot({a}, {b})", "np.matmul({a}, {b})", "np.outer({a}, {b})",
                     "np.inner({a}, {b})", "np.tensordot({a}, {b}, axes={k})", "np.kron({a}, {b})",
                     "({a}) @ ({b}).T", "({a}).T @ ({b})", "np.vdot({a}, {b})", "np.einsum({spec!r}, {a}, {b})",
                     "np.tensordot({a}, {b}, axes=({ia}, {ib}))"]
            f = r.choice(forms)
            spec = self.einsum_spec(np.shape(av), np.shape(bv))
            nb = np.ndim(bv)
            return f.format(a=at, b=bt, k=r.randint(0, 2), spec=spec,
                            ia=r.randint(-max(nd, 1), max(nd, 1) - 1), ib=r.randint(-max(nb, 1), max(nb, 1) - 1))
        if k == "index":
            return self.index(at, av, scope)
        if k == "math":
            e = self.scalar_text(at, av)
            if e is None:
                return None
            return r.choice(["math.exp(0.3 * {0})", "math.sin({0})", "math.tanh({0})", "math.sqrt(1.0 + {0} ** 2)",
                             "math.atan2({0}, 1.5)", "math.hypot({0}, 0.5)", "math.log1p({0} ** 2)", "math.erf({0})",
                             "math.cos({0}) * {0}", "max({0}, 0.2)", "abs({0})", "min({0}, {c})", "round({0}, 1)",
                             "math.fabs({0})", "float({0}) ** 2"]).format(e, c=self.const())
        if k == "mix":
            ii = self.ints(scope)
            forms = ["({0}) * n", "n * ({0})", "({0}) + True", "({0}) * (({0}) > {c})", "(({0}) > {c}) * ({0})",
                     "({0}) / n", "({0}) ** n", "({0}) * float(n)", "({0}) + s", "s * ({0})", "({0}) * len(({0}))"
                     if nd else "({0}) * 2", "np.float64(s) * ({0})", "({0}) * opts['alpha']", "({0}) * opts['k']",
                     "({0}) - int(({0}) > 0)" if nd == 0 else "({0}) - (({0}) > 0).astype(int)",
                     "({0}) * np.arange({L})" if nd else "({0}) * 3", "(({0}) > {c}).sum() + ({0})",
                     "np.where(({0}) > {c}, 1, 0) * ({0})", "({0}) + np.sum(idx) * 0.1", "({0}) // 1.0 + ({0})"]
            if ii:
                forms += ["({0}) * {i}", "{i} * ({0})"]
            return r.choice(forms).format(at, c=self.const(), L=shp[-1] if nd else 1,
                                          i=r.choice(ii) if ii else "n")
        if k == "where":
            b = self.sub(scope, d, want=lambda v: np.shape(v) == shp or np.ndim(v) == 0)
            if b is None:
                return None
            c = self.cond_on(at, av, elementwise=True)
            return f"np.where({c}, {at}, {b[0]})"
        if k == "ifexp":
            b = self.sub(scope, d, want=lambda v: np.shape(v) == shp)
            if b is None:
                return None
            return f"(({at}) if {self.cond(scope)} else ({b[0]}))"
        if k == "helper":
            return self.helper_call(scope)
        if k == "call":
            fns = [kk for kk, v in scope.items() if callable(v) and not isinstance(v, type) and kk not in self.glob
                   and not kk.startswith("__")]
            fn = r.choice(fns)
            v = scope[fn]
            if isinstance(v, list):
                return None
            return f"{fn}({at})"
        return None

    def einsum_spec(self, sa, sb):
        r = self.r
        letters = "ijklmn"
        la = [letters[q] for q in range(len(sa))]
        used = len(sa)
        lb = []
        for q, size in enumerate(sb):
            same = [la[p] for p in range(len(sa)) if sa[p] == size and la[p] not in lb]
            if same and r.random() < 0.7:
                lb.append(r.choice(same))
            else:
                lb.append(letters[used])
                used += 1
        allc = list(dict.fromkeys(la + lb))
        out = [c for c in allc if r.random() < 0.5]
        r.shuffle(out)
        return "".join(la) + "," + "".join(lb) + "->" + "".join(out)

    def scalar_text(self, at, av):
        """A Python float (or numpy scalar) extracted from the value at."""
        r = self.r
        nd = np.ndim(av)
        if nd == 0:
            return r.choice([f"float({at})", f"({at})", f"np.asarray({at}).item()"])
        first = "[" + ", ".join(str(r.randint(-q, q - 1)) for q in np.shape(av)) + "]"
        return r.choice([f"float(({at}){first})", f"({at}){first}.item()", f"float(np.sum({at}))",
                         f"({at}).max().item()", f"({at}).item({r.randrange(np.size(av))})",
                         f"float(({at}).flat[0])", f"({at}).tolist()" + "".join(f"[{q}]" for q in first[1:-1].split(", "))])

    def index(self, at, av, scope):
        r = self.r
        nd = np.ndim(av)
        if nd == 0:
            return None
        shp = np.shape(av)
        n0 = shp[0]
        forms = [f"({at})[{r.randint(-n0, n0 - 1)}]", f"({at})[-1]", f"({at})[::2]", f"({at})[1:-1]",
                 f"({at})[::-1]", f"({at})[{r.randint(-n0, n0)}:{r.randint(-n0, n0)}]",
                 f"({at})[{r.randint(0, n0)}::{r.choice([-2, -1, 1, 2, 3])}]",
                 f"({at})[({at}) > {self.thr(np.median(av))}]", f"({at})[np.where(({at}) > {self.thr(np.median(av))})]",
                 f"({at})[np.argmax({at})]" if nd == 1 else f"({at}).reshape(-1)[np.argmax({at})]",
                 f"({at})[np.argsort({at})]" if nd == 1 else f"np.take({at}, np.argsort(({at})[0]), axis=-1)"
                 if nd == 2 else f"({at})[..., 0]",
                 f"np.take({at}, {r.choice(['idx', '[0, -1, 0]', 'np.array([1, 0])', 'idx[:2]'])}, axis={r.randint(-nd, nd - 1)})",
                 f"({at})[idx % {n0}]", f"({at})[[0, -1]]", f"({at})[np.nonzero(({at}) > {self.thr(np.mean(av))})]",
                 f"({at})[1:] - ({at})[:-1]", f"({at})[{n0 // 2}:] * 2.0", f"({at})[..., -1]"]
        if nd >= 2:
            s1 = shp[1]
            forms += [f"({at})[:, {r.randint(-s1, s1 - 1)}]", f"({at})[{r.randint(-n0, n0 - 1)}, {r.randint(-s1, s1 - 1)}]",
                      f"({at})[:, 1:]", f"({at})[:, ::-1]", f"({at})[1:, :-1]", f"({at})[..., ::2]",
                      f"({at})[[0, -1]][:, [0]]", f"({at})[:, None, 0]", f"({at})[np.ix_([0, -1], [0])]",
                      f"({at})[:, idx % {s1}]", f"({at})[({at})[:, 0] > {self.thr(np.median(np.asarray(av)[:, 0]))}]",
                      f"({at})[np.arange({min(n0, s1)}), np.arange({min(n0, s1)})]"]
        if nd >= 3:
            forms += [f"({at})[:, {r.randint(0, shp[1] - 1)}, :]", f"({at})[..., 0, :]", f"({at})[-1, :, ::-1]",
                      f"({at})[:, :, {r.randint(0, shp[2] - 1)}]"]
        return r.choice(forms)

    def cond_on(self, at, av, elementwise=False):
        r = self.r
        if elementwise:
            t = self.thr(np.median(av))
            return r.choice([f"({at}) > {t}", f"({at}) < {t}", f"np.abs({at}) >= {abs(float(t))}",
                             f"np.logical_and(({at}) > {t}, ({at}) < {float(t) + 1.0})", f"~(({at}) > {t})"])
        v = float(np.asarray(av).reshape(-1)[0]) if np.ndim(av) == 0 else None
        if np.ndim(av) == 0:
            t = self.thr(v)
            return r.choice([f"{at} > {t}", f"{at} < {t}", f"float({at}) >= {t}", f"not ({at} > {t})",
                             f"{t} < {at} < {float(t) + 5.0}" if r.random() < 0.5 else f"{at} <= {t}"])
        t = self.thr(np.max(av))
        t2 = self.thr(np.min(av))
        return r.choice([f"np.max({at}) > {t}", f"np.any(({at}) > {t})", f"np.all(({at}) > {t2})",
                         f"({at}).min() < {t2}", f"np.sum({at}) > {self.thr(np.sum(av))}"])

    def cond(self, scope):
        r = self.r
        for _ in range(10):
            e = self.expr(scope, 1)
            if e is None:
                continue
            c = self.cond_on(*e)
            if r.random() < 0.2:
                e2 = self.scalar(scope, 1)
                if e2 is not None:
                    c2 = self.cond_on(*e2)
                    c = f"({c}) {r.choice(['and', 'or'])} ({c2})"
            if self.ev(c, scope) is not NOVALUE:
                return c
        return "s > 0"

    # -- helpers --------------------------------------------------------------------------------------
    def make_helper(self):
        r = self.r
        tpl, calls, kind = r.choice(HELPERS)
        name = f"h{len(self.helpers)}"
        src = tpl.format(name=name, t=self.const(-0.5, 0.8), t2=self.const(-0.5, 0.8), c=self.const(0.3, 1.2),
                         r=self.const(0.3, 0.8))
        g = dict(self.glob)
        exec(src, g)
        self.glob[name] = g[name]
        self.helper_src.append(src)
        self.helpers.append((calls, kind, name))

    def helper_call(self, scope):
        r = self.r
        calls, kind, name = r.choice(self.helpers)
        form = r.choice(calls)
        want = {0: lambda v: np.ndim(v) == 0, 1: lambda v: np.ndim(v) == 1 and np.size(v) >= 1,
                2: lambda v: np.ndim(v) == 2, 9: None}[kind]
        args = {}
        for key in ("a0", "a1", "a2", "an"):
            if "{" + key + "}" in form:
                e = self.sub(scope, 2, want=want if key != "an" else None)
                if e is None:
                    return None
                args[key] = e[0]
        # every {an} the same operand (shapes must agree)
        return form.format(name=name, t2=self.const(-0.5, 0.8), c=self.const(0.3, 1.2), c2=self.const(0.3, 1.2),
                           r2=self.const(0.3, 0.8), **{k: args.get(k, "x") for k in ("a0", "a1", "a2", "an")})

    # -- statements -------------------------------------------------------------------------------------
    def statement(self):
        r = self.r
        kinds = ["assign"] * 4 + ["fresh"] * 2 + ["write"] * 4 + ["for_range"] * 4 + ["while"] * 2 \
            + ["rows"] * 2 + ["listacc"] * 2 + ["comp"] + ["ifs"] * 2 + ["closures"] + ["early"] + ["aug"] * 2 \
            + ["view"] * (self.r.random() < 0.3) + ["unpack"]
        k = r.choice(kinds)
        return getattr(self, "st_" + k)()

    def st_assign(self):
        e = self.expr(self.ns)
        if e is None:
            return False
        v = self.name()
        ok = self.accept([f"    {v} = {e[0]}"], [v])
        val = self.ns.get(v) if ok else None
        if isinstance(val, np.ndarray) and val.ndim and val.flags.writeable and not any(
                isinstance(o, np.ndarray) and np.shares_memory(val, o) for k, o in self.ns.items() if k != v):
            self.fresh.add(v)     # a new array no other name shares: writable (views are st_view's)
        return ok

    def st_aug(self):
        sc = [k for k in self.floats(self.ns) if self.names.get(k) == "var" and
              (k in self.fresh or not isinstance(self.ns[k], np.ndarray))]      # (a 0-d array may be a view)
        if not sc:
            return self.st_assign()
        v = self.r.choice(sc)
        shp = np.shape(self.ns[v])
        e = self.expr(self.ns, 1, want=lambda u: np.broadcast_shapes(np.shape(u), shp) == shp if np.ndim(u) <= len(shp)
                      else False)
        if e is None:
            return False
        op = self.r.choice(["+=", "-=", "*=", "/="])
        rhs = e[0] if op != "/=" else f"(1.5 + ({e[0]}) ** 2)"
        return self.accept([f"    {v} {op} {rhs}"])

    def st_fresh(self):
        r = self.r
        e = self.expr(self.ns, 1, want=lambda v: np.ndim(v) >= 1)
        if e is None:
            return False
        y = self.name("y")
        form = r.choice(["np.zeros_like({0})", "({0}).copy()", "np.array({0})", "np.ones_like({0}) * 0.5",
                         "np.zeros({s})", "np.empty_like({0})", "np.full({s}, {c})", "({0}) + 0.0",
                         "np.zeros({s}, dtype=float)"])
        lines = [f"    {y} = " + form.format(e[0], s=np.shape(e[1]), c=self.const())]
        if "empty" in form:
            lines.append(f"    {y}[...] = {e[0]}")
        return self.accept(lines, [y], [y])

    def write_line(self, y, scope, loopvar=None):
        r = self.r
        yv = scope[y]
        shp = np.shape(yv)
        nd = len(shp)

        def e_of(target):
            tv = self.ev(target, scope)
            if tv is NOVALUE:
                return None
            ts = np.shape(tv)
            e = self.expr(scope, 1, want=lambda u: (np.ndim(u) <= len(ts) and
                                                    _bcast(np.shape(u), ts) == ts))
            return e[0] if e else None
        n0 = shp[0]
        targets = [f"{y}[{r.randint(-n0, n0 - 1)}]", f"{y}[1:]", f"{y}[::2]", f"{y}[1:-1]", f"{y}[-1]", f"{y}[::-1]",
                   f"{y}[...]", f"{y}[:{max(1, n0 - 1)}]"]
        if nd >= 2:
            targets += [f"{y}[:, {r.randint(0, shp[1] - 1)}]", f"{y}[{r.randint(0, n0 - 1)}, {r.randint(0, shp[1] - 1)}]",
                        f"{y}[:, 1:]", f"{y}[..., -1]"]
        if loopvar:
            targets += [f"{y}[{loopvar}]"] * 4
        special = [f"    {y}[1:] += {y}[:-1]", f"    {y}[:] = {y}[::-1]", f"    {y}[1:] = {y}[:-1] * {self.const()}",
                   f"    {y}[{y} > {self.thr(np.median(yv))}] *= {self.const()}",
                   f"    {y}[{y} < {self.thr(np.median(yv))}] = {self.const()}"]
        if nd == 1:
            special += [f"    {y}[idx % {n0}] = {self.const()}", f"    {y}[idx % {n0}] += 1.0",
                        f"    np.add.at({y}, idx % {n0}, {self.const()})", f"    {y}[[0, 0, -1]] -= 0.5",
                        f"    {y}[np.argmax({y})] = 0.0", f"    {y}[:len({y}) // 2] *= 2.0"]
            xs = [k for k in self.floats(scope, 1) if np.size(scope[k]) == n0 and k != y]
            if xs:
                xx = r.choice(xs)
                special += [f"    {y}[idx % {n0}] = {xx}", f"    {y}[idx % {n0}] += {xx}",
                            f"    np.add.at({y}, idx % {n0}, {xx})", f"    {y}[{xx} > {self.thr(np.median(scope[xx]))}] = "
                            f"{xx}[{xx} > 0.0].sum()" if False else f"    {y}[np.where({xx} > 0.0)] += 1.0",
                            f"    {y}[{xx} > {self.thr(np.median(scope[xx]))}] *= np.tanh({xx}[0])"]
        if r.random() < 0.35:
            return r.choice(special)
        tgt = r.choice(targets)
        e = e_of(tgt)
        if e is None:
            return None
        return f"    {tgt} {r.choice(['=', '=', '+=', '-=', '*='])} {e}"

    def st_write(self):
        fr = [y for y in sorted(self.fresh) if y in self.ns and isinstance(self.ns[y], np.ndarray) and self.ns[y].ndim >= 1
              and self.ns[y].dtype.kind == "f" and self.ns[y].flags.writeable]
        if not fr:
            return self.st_fresh()
        y = self.r.choice(fr)
        line = self.write_line(y, self.ns)
        return line is not None and self.accept([line])

    def st_view(self):
        fr = [y for y in sorted(self.fresh) if y in self.ns and isinstance(self.ns[y], np.ndarray) and self.ns[y].ndim >= 1
              and self.ns[y].dtype.kind == "f" and self.ns[y].shape[0] >= 2]
        if not fr:
            return self.st_fresh()
        y = self.r.choice(fr)
        w = self.name("w")
        src = self.r.choice([f"{y}[1:]", f"{y}[::2]", f"{y}[0]" if self.ns[y].ndim >= 2 else f"{y}[:2]",
                             f"{y}.reshape(-1)", f"{y}.T", f"{y}[::-1]"])
        if not self.accept([f"    {w} = {src}"], [w], [w]):
            return False
        line = self.write_line(w, self.ns)
        return line is not None and self.accept([line])

    def loop_scope(self, var, value, extra=None):
        sc = dict(self.ns)
        if var:
            sc[var] = value
        if extra:
            sc.update(extra)
        return sc

    def body_lines(self, scope, loopvar, accs, ind="        ", allow_jump=True):
        """1-3 lines inside a loop: accumulate, write, break/continue on a traced comparison."""
        r = self.r
        out = []
        for _ in range(r.randint(1, 3)):
            k = r.choice(["acc", "acc", "write", "jump" if allow_jump else "acc", "ifacc"])
            if k == "acc" or k == "ifacc":
                acc = r.choice(accs)
                ashp = np.shape(scope[acc])
                e = self.expr(scope, 1, want=lambda u: np.ndim(u) <= len(ashp) and _bcast(np.shape(u), ashp) == ashp)
                if e is None:
                    continue
                line = f"{acc} = {acc} {r.choice(['+', '+', '-', '* 0.9 +'])} {e[0]}"
                if k == "ifacc":
                    out += [f"{ind}if {self.cond(scope)}:", f"{ind}    {line}"]
                    if r.random() < 0.5:
                        out += [f"{ind}else:", f"{ind}    {acc} = {acc} * {self.const(0.3, 1.1)}"]
                else:
                    out.append(ind + line)
            elif k == "write":
                fr = [y for y in sorted(self.fresh) if y in scope and isinstance(scope[y], np.ndarray) and scope[y].ndim >= 1
                      and scope[y].dtype.kind == "f"]
                if fr:
                    line = self.write_line(r.choice(fr), scope, loopvar)
                    if line:
                        out.append(ind + line.strip())
            else:
                out += [f"{ind}if {self.cond(scope)}:", f"{ind}    {r.choice(['break', 'continue'])}"]
        return out

    def acc_init(self):
        """(lines, names) of one or two accumulators."""
        r = self.r
        a = self.name("acc")
        e = self.expr(self.ns, 1)
        form = r.choice(["0.0", "0.0", "np.zeros_like({0})", "({0}) * 0.0", "np.zeros({s})", "0"])
        if e is None:
            form = "0.0"
        line = f"    {a} = " + form.format(e[0] if e else "", s=np.shape(e[1]) if e else ())
        return [line], [a]

    def run_loop(self, pre, head, var, value, extra=None, body_extra=()):
        """Write a loop: pre lines bind accumulators, head the for/while line."""
        accs = [ln.split(" = ")[0].strip() for ln in pre if " = " in ln]
        if not self.accept(pre, accs, [a for a in accs if a.startswith("y")]):
            return False
        scope = self.loop_scope(var, value, extra) if var else dict(self.ns)
        body = list(body_extra) + self.body_lines(scope, var, accs)
        if not body:
            return False
        return self.accept([head] + body)

    def st_for_range(self):
        r = self.r
        vs = [k for k in self.floats(self.ns, (1, 2, 3)) if np.shape(self.ns[k])[0] >= 2]
        if not vs:
            return False
        v = r.choice(vs)
        n0 = np.shape(self.ns[v])[0]
        i = self.name("i")
        pre, accs = self.acc_init()
        head, first = r.choice([(f"for {i} in range(len({v})):", 0), (f"for {i} in range(len({v}) - 1):", 0),
                                (f"for {i} in range(1, len({v})):", 1), (f"for {i} in range({v}.shape[0] - 1, -1, -1):", n0 - 1),
                                (f"for {i} in range(0, len({v}), 2):", 0), (f"for {i} in reversed(range(len({v}))):", n0 - 1),
                                (f"for {i} in range(n):", 0)])
        extra = []
        if r.random() < 0.6:
            acc = accs[0]
            diff = r.choice([f"{v}[{i} + 1] - {v}[{i}]" if "- 1)" in head else f"{v}[{i}] - {v}[{i} - 1]",
                             f"{v}[{i}] * {v}[-1 - {i}]", f"{v}[{i} % len({v})]", f"{v}[:{i} + 1].sum()",
                             f"np.sum({v}[{i}:])", f"{v}[{i}] * {i}", f"{v}[len({v}) - 1 - {i}]"])
            extra.append(f"        {acc} = {acc} + np.sum({diff})" if np.ndim(self.ns[v]) > 1 or "sum" not in diff
                         else f"        {acc} = {acc} + {diff}")
        ok = self.run_loop(pre, "    " + head, i, first, body_extra=extra)
        return ok

    def st_while(self):
        r = self.r
        e = self.scalar(self.ns, 1)
        if e is None:
            return False
        z, k = self.name("z"), self.name("k")
        val = float(e[1])
        form = r.random()
        rate = self.const(0.3, 0.8)
        if form < 0.4:
            t = round(abs(val) * r.uniform(0.05, 0.5) + 0.02, 3)
            lines = [f"    {z} = {e[0]}", f"    {k} = 0", f"    while abs({z}) > {t} and {k} < 20:",
                     f"        {z} = {z} * {rate} + 0.01 * np.tanh({z})", f"        {k} += 1"]
        elif form < 0.7:
            lines = [f"    {z} = {e[0]}", f"    {k} = 0", "    while True:", f"        {z} = np.sin({z}) * {rate} + 0.1",
                     f"        {k} = {k} + 1", f"        if {z} < {self.thr(0.1 / (1 - float(rate)), 0.3)} or {k} >= 6:",
                     "            break"]
        else:
            vs = [kk for kk in self.floats(self.ns, 1) if np.size(self.ns[kk]) >= 2]
            if not vs:
                return False
            v = r.choice(vs)
            t = self.thr(np.sum(self.ns[v]) * 0.5)
            lines = [f"    {z} = 0.0", f"    {k} = 0", f"    while {k} < len({v}) and {z} < {t}:",
                     f"        {z} = {z} + {v}[{k}] ** 2", f"        {k} += 1"]
        if not self.accept(lines, [z, k]):
            return False
        # use the count (an int) and the traced value
        use = r.choice([f"{z} + {k} * 0.1", f"{z} * (1 + {k})", f"x[{k} % len(x)] + {z}", f"{z}"])
        v = self.name()
        return self.accept([f"    {v} = {use}"], [v])

    def st_rows(self):
        r = self.r
        mats = self.floats(self.ns, (2, 3))
        if not mats:
            return False
        A = r.choice(mats)
        rowshape = np.shape(self.ns[A])[1:]
        i, row = self.name("i"), self.name("row")
        pre, accs = self.acc_init()
        vecs = [kk for kk in self.floats(self.ns, (1, 2)) if np.shape(self.ns[kk])[0] >= 1 and kk != A]
        forms = [(f"for {row} in {A}:", None), (f"for {i}, {row} in enumerate({A}):", 0)]
        if vecs:
            B = r.choice(vecs)
            e2 = self.name("e")
            forms.append((f"for {row}, {e2} in zip({A}, {B}):", "zip"))
        head, kind = r.choice(forms)
        extra = {row: np.asarray(self.ns[A])[0]}
        if kind == 0:
            extra[i] = 0
        if kind == "zip":
            extra[e2] = np.asarray(self.ns[B])[0]
        accs2 = accs
        if not self.accept(pre, accs2):
            return False
        scope = self.loop_scope(None, None, extra)
        body = self.body_lines(scope, i if kind == 0 else None, accs2)
        if not body:
            return False
        del rowshape
        return self.accept(["    " + head] + body)

    def st_listacc(self):
        r = self.r
        L, i = self.name("parts"), self.name("i")
        vs = [k for k in self.floats(self.ns, (1, 2, 3)) if np.shape(self.ns[k])[0] >= 2]
        if not vs:
            return False
        v = r.choice(vs)
        scope = self.loop_scope(i, 0)
        e = self.expr(scope, 1, want=lambda u: np.ndim(u) <= 2)
        if e is None:
            return False
        item = r.choice([f"{v}[{i}] * {e[0]}", f"{e[0]} + {i}", f"{e[0]}", f"np.tanh({v}[{i}])"])
        lines = [f"    {L} = []", f"    for {i} in range(len({v})):"]
        if r.random() < 0.3:
            lines += [f"        if {self.cond(scope)}:", "            continue"]
        lines.append(f"        {L}.append({item})")
        out = self.name()
        use = r.choice([f"np.stack({L})", f"np.stack({L}, axis=-1)", f"np.concatenate([np.atleast_1d(p) for p in {L}])",
                        f"np.array({L})", f"sum({L})", f"np.sum(np.array({L}), axis=0)", f"{L}[-1] if {L} else 0.0",
                        f"np.vstack({L})", f"np.mean({L}, axis=0) if len({L}) > 0 else 0.0", f"max({L}, key=np.sum) if {L} else 0.0"])
        return self.accept(lines + [f"    {out} = {use}"], [out])

    def st_comp(self):
        r = self.r
        vs = [k for k in self.floats(self.ns, (1, 2)) if np.shape(self.ns[k])[0] >= 2]
        if not vs:
            return False
        v = r.choice(vs)
        i = self.name("i")
        t = self.thr(np.median(self.ns[v]))
        out = self.name()
        form = r.choice([f"sum([{v}[{i}] * 2.0 for {i} in range(len({v})) if np.sum({v}[{i}]) > {t}])",
                         f"np.array([np.sum({v}[{i}]) ** 2 for {i} in range(len({v}))])",
                         f"sum(np.sum(u) * {i} for {i}, u in enumerate({v}))",
                         f"[np.tanh(u) for u in {v} if np.max(u) < {t}]",
                         f"{{{i}: {v}[{i}] * 0.5 for {i} in range(len({v}))}}"])
        ok = self.accept([f"    {out} = {form}"], [out])
        if ok and isinstance(self.ns[out], (list, dict)):
            o2 = self.name()
            use = (f"sum({out}.values())" if isinstance(self.ns[out], dict) else
                   r.choice([f"sum({out}) if {out} else 0.0", f"np.sum(np.array({out}))", f"len({out}) * 0.5"]))
            return self.accept([f"    {o2} = {use}"], [o2])
        return ok

    def st_ifs(self):
        r = self.r
        fl = [k for k in self.floats(self.ns) if self.names.get(k) == "var"]
        if not fl:
            return self.st_assign()
        v = r.choice(fl)
        shp = np.shape(self.ns[v])

        def rhs():
            e = self.expr(self.ns, 1, want=lambda u: np.shape(u) == shp)
            return e[0] if e else f"{v} * {self.const()}"
        c1, c2 = self.cond(self.ns), self.cond(self.ns)
        lines = [f"    if {c1}:"]
        if r.random() < 0.5:
            lines += [f"        if {c2}:", f"            {v} = {rhs()}", "        else:", f"            {v} = {rhs()}"]
        else:
            lines += [f"        {v} = {rhs()}"]
        if r.random() < 0.5:
            lines += [f"    elif {self.cond(self.ns)}:", f"        {v} = {rhs()}"]
        if r.random() < 0.6:
            lines += ["    else:", f"        {v} = {rhs()}"]
        return self.accept(lines)

    def st_closures(self):
        r = self.r
        fs, j, out = self.name("fs"), self.name("j"), self.name()
        e = self.expr(self.ns, 1)
        if e is None:
            return False
        form = r.random()
        c = self.const(0.3, 1.2)
        if form < 0.3:   # late binding: every lambda sees the last j
            lines = [f"    {fs} = []", f"    for {j} in range(3):", f"        {fs}.append(lambda u: u * {j} + {c})",
                     f"    {out} = sum(fn({e[0]}) for fn in {fs})"]
        elif form < 0.6:  # early binding through a default
            lines = [f"    {fs} = [lambda u, {j}={j}: np.tanh(u) * {j} for {j} in range(3)]",
                     f"    {out} = {fs}[1]({e[0]}) + {fs}[-1]({e[0]})"]
        elif form < 0.8:  # a nested def capturing a traced value and the loop variable
            lines = [f"    {fs} = []", f"    for {j} in range(2):", f"        def g{j}(u, {j}={j}):",
                     f"            return u * {e[0]} + {j}" if np.ndim(e[1]) == 0 else f"            return u * {j} + {c}",
                     f"        {fs}.append(g{j})", f"    {out} = {fs}[0](x) + {fs}[1](x)"]
        else:
            lines = [f"    sq = lambda u, p=2: np.abs(u) ** p", f"    {out} = sq({e[0]}) + sq({e[0]}, p=3)"]
        return self.accept(lines, [out])

    def st_early(self):
        if self.early:
            return False
        e = self.scalar(self.ns, 1)
        cond = self.cond(self.ns)
        if e is None or self.ev(cond, self.ns) is not False and self.ev(cond, self.ns) is not np.False_:
            return False
        ok = self.accept([f"    if {cond}:", f"        return {e[0]}"])
        self.early = self.early or ok
        return ok

    def st_unpack(self):
        r = self.r
        mats = [k for k in self.floats(self.ns, (1, 2)) if 2 <= np.shape(self.ns[k])[0] <= 4]
        if not mats or r.random() < 0.3:
            a, b = self.name(), self.name()
            e1, e2 = self.expr(self.ns, 1), self.expr(self.ns, 1)
            if not e1 or not e2:
                return False
            return self.accept([f"    {a}, {b} = {e1[0]}, {e2[0]}", f"    {a}, {b} = {b}, {a}"], [a, b])
        A = r.choice(mats)
        names = [self.name() for _ in range(np.shape(self.ns[A])[0])]
        if r.random() < 0.5 and len(names) >= 2:
            return self.accept([f"    {names[0]}, *{self.name('rest')} = {A}"], [names[0]])
        return self.accept([f"    {', '.join(names)} = {A}"], names)

    # -- the function's result -------------------------------------------------------------------------
    def result(self):
        r = self.r
        fl = [k for k in self.floats(self.ns) if self.names.get(k) == "var"]
        picks = r.sample(fl, min(len(fl), r.randint(2, 4))) if fl else []
        terms = ["np.sum(np.sin(x))" if not picks else None]
        for p in picks:
            terms.append(r.choice([f"np.sum(np.sin({p}))", f"np.sum({p})", f"0.5 * np.sum(({p}) ** 2)",
                                   f"np.mean(np.tanh({p}))", f"float(np.sum({p}))"]))
        terms = [t for t in terms if t]
        # the arguments the gradient is taken of contribute a little directly
        terms.append(r.choice(["0.1 * np.sum(M * M)", "0.05 * np.sum(np.cos(T))", "0.1 * np.dot(x, x)",
                               "0.01 * np.sum(T) * np.sum(M)"]))
        return "    return " + " + ".join(terms)


def _bcast(s, t):
    try:
        return tuple(np.broadcast_shapes(s, t))
    except ValueError:
        return None


def build(seed: int):
    g = Gen(seed)
    r = g.r
    for _ in range(r.choice([0, 1, 1, 2, 3])):
        g.make_helper()
    want = r.randint(4, 10)
    made = attempts = 0
    while made < want and attempts < want * 6:
        attempts += 1
        try:
            if g.statement():
                made += 1
        except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError):
            continue
    res = g.result()
    ns = g.run(g.body + [res.replace("    return ", "    __res = ")])
    if ns is None or np.ndim(ns["__res"]) != 0:
        res = "    return np.sum(np.sin(x)) + 0.1 * np.sum(M * M) + 0.05 * np.sum(np.cos(T))"
    return g, res


def generate(seed: int) -> str:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _generate(seed)


def _generate(seed: int) -> str:
    g, res = build(seed)
    r = random.Random(seed)
    driver = r.choice(DRIVERS)
    if driver == "inline" and g.early:
        driver = "first"
    wrt = r.choice([("x",), ("M",), ("T",), ("x", "M"), ("x", "T"), ("M", "T"), ("x", "M", "T"), ("T", "x")])
    if driver in ("second", "jvp", "hvp", "jac"):
        wrt = ("x",)
    src = [HEADER.format(seed=seed, driver=driver, wrt=wrt, dims=g.dims, nint=g.nint)]
    src += [h + "\n" for h in g.helper_src]
    src += [f"def f({ARGS}):"] + g.body + [res, "", ""]
    src += driver_source(driver, wrt, g.body, res)
    src += [MAKE_ARGS, "", f"DRIVER = {driver!r}", f"WRT = {wrt!r}", ""]
    return "\n".join(src)


def driver_source(driver, wrt, body, res) -> List[str]:
    ws = ", ".join(wrt)
    if driver in ("first", "accel"):
        return [f"def g({ARGS}):", f"    y = f({ARGS})", f"    return y, dlgradient(y, {ws})", "", ""]
    if driver == "inline":
        return [f"def g({ARGS}):"] + body + [res.replace("    return ", "    y = "),
                                             f"    return y, dlgradient(y, {ws})", "", ""]
    if driver == "dict":
        return ["def g(P, s, n, idx, opts):", "    y = f(P['x'], P['M'], P['T'], s, n, idx, opts)",
                "    return y, dlgradient(y, P)", "", ""]
    if driver == "second":
        return [f"def g({ARGS}):", f"    y = f({ARGS})", "    return y, dlgradient(y, x)", "", "",
                f"def g2({ARGS}, w):", f"    y = f({ARGS})", "    gx = dlgradient(y, x, EnableHigherDerivatives=True)",
                "    z = np.sum(gx * w)", "    return z, dlgradient(z, x)", "", ""]
    if driver in ("jvp", "hvp"):
        return [f"def g({ARGS}):", f"    y = f({ARGS})", "    return y, dlgradient(y, x)", "", "",
                "REST = None", "", "",
                "def fx(x):", "    return f(x, *REST)", "", ""]
    if driver == "jac":       # f of each row of X: the per-point Jacobian is each row's gradient
        return [f"def g({ARGS}):", f"    y = f({ARGS})", "    return y, dlgradient(y, x)", "", "",
                "def gj(X, M, T, s, n, idx, opts):",
                "    u = np.stack([f(X[b], M, T, s, n, idx, opts) for b in range(X.shape[0])])",
                "    return u, dljacobian(u, X, 0)", "", ""]
    raise ValueError(driver)
