"""A second random-program generator: typed expression and statement trees.

Unlike tests/progtest (one (4,) float64 state threaded through blocks) this one keeps an
environment of many kinds of values -- Python floats and ints, 0-d arrays, (2,), (3,), (2,3),
(3,1), (1,3), (3,3) arrays, bool masks, integer index arrays -- and builds expressions over a
broad op table (numpy functions and methods sct registers, the math module, Python builtins,
operators) and statements (augmented assignment, slice/index/mask writes, aliases, tuple
unpacking, if/elif/else and while on traced values, for over range/arrays/zip/enumerate,
module-level helpers with defaults and keyword arguments, lambdas, closures, list and dict
accumulation, early return).

``generate(seed)`` returns the source of one self-contained module:
    f(a, B, c, k)      the user's program (plain Python; a scalar result)
    g...               the driver sct runs (dlfeval + dlgradient, containers, second order, ...)
    make_args(...)     the arguments; DRIVER / WRT / DTYPE describe what the runner checks.
"""
from __future__ import annotations

import random
from typing import Dict, List, Optional, Tuple

import numpy as np

SHAPES = [(), (2,), (3,), (2, 3), (3, 1), (1, 3), (3, 3)]
DRIVERS = ["first", "first", "first", "inline", "dict", "list", "second", "jvp", "hvp", "accel", "float32"]


def bshape(s, t):
    try:
        return tuple(np.broadcast_shapes(s, t))
    except ValueError:
        return None


PARTNERS = {s: [t for t in SHAPES if bshape(s, t) == s] for s in SHAPES}

# elementwise unary templates: {0} the operand (it appears once)
UNARY = [
    "np.sin({0})", "np.cos({0})", "np.tanh({0})", "np.exp(0.3 * {0})", "np.log1p({0} ** 2)",
    "np.sqrt(1.0 + {0} ** 2)", "np.abs({0})", "np.square({0})", "np.arctan({0})", "np.sinh(0.5 * {0})",
    "np.cosh(0.3 * {0})", "np.expm1(0.2 * {0})", "-{0}", "+{0}", "np.negative({0})",
    "np.clip({0}, -0.6, 0.8)", "np.maximum({0}, 0.1)", "np.minimum({0}, -0.2)", "np.fmax({0}, 0.0)",
    "np.fmin({0}, 0.3)", "np.hypot({0}, 0.5)", "({0}) % 1.3", "({0}) // 0.7", "np.floor({0})",
    "np.round({0}, 1)", "np.cbrt(2.5 + {0})", "np.sinc(0.5 * {0})", "np.float_power(1.2 + {0} ** 2, 1.5)",
    "np.power({0}, 2)", "({0}) ** 3", "2.0 ** ({0})", "np.exp2(0.5 * {0})", "np.log(1.5 + np.tanh({0}))",
    "np.log2(2.0 + np.sin({0}))", "np.log10(2.0 + np.cos({0}))", "np.reciprocal(1.5 + {0} ** 2)",
    "1.0 / (1.2 + ({0}) ** 2)", "np.arcsin(0.9 * np.tanh({0}))", "np.arccos(0.8 * np.sin({0}))",
    "np.arctanh(0.7 * np.tanh({0}))", "np.arcsinh({0})", "np.arccosh(1.5 + {0} ** 2)",
    "np.deg2rad({0})", "np.degrees(0.01 * {0})", "np.real({0})", "np.conj({0})", "np.fabs({0})",
    "np.trunc({0})", "np.rint({0})", "np.ceil({0})", "np.fix({0})", "np.nan_to_num({0})",
    "np.copysign({0}, -0.5)", "np.logaddexp({0}, 0.3)", "np.logaddexp2({0}, -0.4)", "abs({0})",
    "np.positive({0})", "np.tan(0.5 * np.tanh({0}))", "np.fmod({0}, 0.9)", "np.remainder({0}, 1.1)",
    "np.exp(-({0}) ** 2)", "np.sign({0})", "np.heaviside_free({0})",
]
UNARY = [u for u in UNARY if "heaviside_free" not in u]
METHOD_UNARY = ["({0}).clip(-0.5, 0.9)", "({0}).round(1)", "({0}).astype(np.float64)", "({0}).copy()",
                "({0}).conj()", "({0}).conjugate()"]
MATH_UNARY = ["math.sin({0})", "math.exp(0.3 * {0})", "math.tanh({0})", "math.log1p({0} ** 2)",
              "math.sqrt(1.0 + {0} ** 2)", "math.atan({0})", "math.hypot({0}, 0.4)", "math.atan2({0}, 1.3)",
              "math.erf({0})", "math.erfc({0})", "math.fabs({0})", "math.pow(1.1 + {0} ** 2, 0.7)",
              "math.cos({0})", "math.expm1(0.2 * {0})", "math.floor({0})", "math.ceil({0})", "math.trunc({0})",
              "math.fmod({0}, 0.9)", "math.cosh(0.3 * {0})", "math.asinh({0})", "math.log(2.0 + math.sin({0}))",
              "math.log2(1.5 + {0} ** 2)", "math.log10(1.5 + {0} ** 2)", "math.sinh(0.4 * {0})",
              "math.tan(0.4 * math.tanh({0}))", "math.acos(0.5 * math.tanh({0}))", "math.asin(0.5 * math.sin({0}))",
              "math.acosh(1.2 + {0} ** 2)", "math.atanh(0.5 * math.tanh({0}))",
              "float({0})", "abs({0})", "pow({0}, 2)", "pow({0}, 3)", "round({0}, 2)", "round({0})"]
BINARY = ["({0}) + ({1})", "({0}) - ({1})", "({0}) * ({1})", "({0}) / (1.3 + ({1}) ** 2)",
          "({0}) / (0.5 + np.abs({1}))", "(1.1 + ({0}) ** 2) ** (0.5 * np.tanh({1}))", "np.add({0}, {1})",
          "np.subtract({0}, {1})", "np.multiply({0}, {1})", "np.maximum({0}, {1})", "np.minimum({0}, {1})",
          "np.fmax({0}, {1})", "np.fmin({0}, {1})", "np.hypot({0}, {1})", "np.arctan2({0}, 1.5 + ({1}) ** 2)",
          "np.logaddexp({0}, {1})", "np.logaddexp2({0}, {1})", "np.where(({0}) > ({1}), {0}, {1})",
          "np.divide({0}, 1.2 + ({1}) ** 2)", "np.power(1.2 + ({0}) ** 2, 0.5 * np.tanh({1}))",
          "np.float_power(1.3 + ({0}) ** 2, np.cos({1}))", "({0}) % (2.0 + np.abs({1}))",
          "({0}) // (1.5 + ({1}) ** 2)", "np.true_divide({0}, 2.0 + np.cos({1}))"]
PY_BINARY = ["max({0}, {1})", "min({0}, {1})", "sum([{0}, {1}])", "pow(1.5 + ({0}) ** 2, {1})",
             "math.atan2({0}, {1} ** 2 + 1.0)", "math.hypot({0}, {1})", "math.copysign({0}, {1})"]


class Var:
    __slots__ = ("kind", "shape", "fresh")

    def __init__(self, kind, shape, fresh=False):
        self.kind, self.shape, self.fresh = kind, shape, fresh


class Gen:
    def __init__(self, seed: int, c_shape, dtype: str):
        self.r = random.Random(seed)
        self.n = 0
        self.c_shape = c_shape
        self.dtype = dtype
        self.helpers: List[Tuple[str, List, Tuple]] = []     # name, [(param, shape, default)], ret shape
        self.module_lines: List[str] = []
        self.env: Dict[str, Var] = {}
        self.maxd = 3
        self.loop_vars: List[Tuple[str, int]] = []           # int loop variables and their bound
        self.in_helper = False

    # -- names ---------------------------------------------------------------------------------
    def name(self, prefix="v"):
        self.n += 1
        return f"{prefix}{self.n}"

    def vars_of(self, kind, shape=None, fresh=None):
        return [n for n, v in self.env.items() if v.kind in kind and (shape is None or v.shape == shape)
                and (fresh is None or v.fresh == fresh)]

    def const(self):
        return repr(round(self.r.uniform(-1.5, 1.5), 2))

    # -- expressions: (source, fresh) -----------------------------------------------------------
    def expr(self, S, d=0) -> str:
        return self.ex(S, d)[0]

    def ex(self, S, d=0):
        r = self.r
        if d >= self.maxd + 3:
            return self.literal(S), True
        if d >= self.maxd or r.random() < 0.2 + 0.15 * d:
            return self.leaf(S, d)
        kinds = ["unary"] * 5 + ["binary"] * 5 + ["convert"] * 2 + ["special"] * 2 + ["cond"]
        if S == ():
            kinds += ["math"] * 2 + ["pybin"] + ["reduce"] * 2
        if len(S) >= 1:
            kinds += ["method"]
        if self.helpers:
            kinds += ["helper"]
        if self.vars_of(("lam",)):
            kinds += ["lambda"]
        k = r.choice(kinds)
        if k == "unary":
            u = r.choice(UNARY)
            return u.format(self.expr(S, d + 1)), "np.real" not in u   # np.real(x) is x for real x
        if k == "method":
            u = r.choice(METHOD_UNARY)
            return u.format(self.expr(S, d + 1)), ".conj" not in u      # x.conj() is x for real x
        if k == "math":
            return r.choice(MATH_UNARY).format(self.expr((), d + 1)), True
        if k == "pybin":
            return r.choice(PY_BINARY).format(self.expr((), d + 1), self.expr((), d + 1)), True
        if k == "binary":
            t1 = r.choice(PARTNERS[S])
            t2 = S if bshape(t1, S) == S and t1 != S else r.choice(PARTNERS[S])
            if bshape(t1, t2) != S:
                t2 = S
            if r.random() < 0.5:
                t1, t2 = t2, t1
            return r.choice(BINARY).format(self.expr(t1, d + 1), self.expr(t2, d + 1)), True
        if k == "reduce":
            return self.reduce_to_scalar(d), True
        if k == "cond":
            a, b = self.expr(S, d + 1), self.expr(r.choice(PARTNERS[S]), d + 1)
            m = self.mask_expr(r.choice(PARTNERS[S]), d + 1)
            return r.choice([f"np.where({m}, {a}, {b})", f"({a}) * ({m})", f"np.where({m}, {a}, 0.0)",
                             f"({a}) * ({m}).astype(float)"]), True
        if k == "helper":
            return self.call_helper(S, d)
        if k == "lambda":
            return self.call_lambda(S, d)
        if k == "special":
            src, fresh = self.special(S, d)
            return f"({src})", fresh        # a conditional expression must not swallow what follows
        return self.convert(S, d)

    def literal(self, S):
        if S == ():
            return self.const()
        vals = np.round(np.array([self.r.uniform(-1, 1) for _ in range(int(np.prod(S)))]).reshape(S), 2)
        return f"np.array({vals.tolist()!r})"

    def leaf(self, S, d):
        r = self.r
        names = self.vars_of(("arr", "pyf"), S)
        if S == ():
            names += self.vars_of(("int",)) if r.random() < 0.2 else []
            if self.loop_vars and r.random() < 0.3:
                names.append(r.choice(self.loop_vars)[0])
        if names and r.random() < 0.85:
            return r.choice(names), False
        if r.random() < 0.15 or d >= self.maxd + 2:
            return self.literal(S), True
        return self.convert(S, d + 1)

    def mask_expr(self, S, d):
        r = self.r
        ms = self.vars_of(("mask",), S)
        if ms and r.random() < 0.5:
            return r.choice(ms)
        op = r.choice([">", "<", ">=", "<=", "!="])
        a = self.expr(S, d + 1)
        b = self.expr(r.choice(PARTNERS[S]), d + 2) if r.random() < 0.5 else self.const()
        form = r.choice(["({a}) {op} ({b})", "np.greater({a}, {b})", "np.less_equal({a}, {b})",
                         "np.logical_and(({a}) > -0.5, ({b}) < 0.8)", "np.logical_not(({a}) > ({b}))",
                         "(({a}) > 0.1) | (({b}) < -0.2)", "(({a}) > -0.3) & (({b}) < 0.6)"])
        return form.format(a=a, b=b, op=op)

    def reduce_to_scalar(self, d):
        r = self.r
        U = r.choice([(2,), (3,), (2, 3), (3, 1), (1, 3), (3, 3)])
        e = self.expr(U, d + 1)
        forms = ["np.sum({0})", "np.mean({0})", "np.max({0})", "np.min({0})", "np.prod(0.5 + 0.3 * np.tanh({0}))",
                 "np.linalg.norm({0})", "np.std({0})", "np.var({0})", "({0}).sum()", "({0}).mean()",
                 "({0}).max()", "({0}).min()", "np.sum(({0}) ** 2)", "np.average({0})", "np.amax({0})",
                 "np.ptp({0})", "np.median({0})", "np.nansum({0})", "np.nanmean({0})", "({0}).prod()",
                 "({0}).std()", "({0}).var()", "np.sum(np.abs({0}))", "np.trace(np.atleast_2d({0}))",
                 "np.logaddexp.reduce({0}, axis=None)" if False else "np.sum(np.exp({0}))",
                 "np.count_nonzero(({0}) > 0.1) * 0.5", "np.all(({0}) > -5.0) * np.sum({0})"]
        if U in ((2,), (3,)):
            forms += ["sum({0})", "max({0})", "min({0})", "({0})[1]", "({0})[-1]", "np.dot({0}, {1})",
                      "({0}) @ ({1})", "np.vdot({0}, {1})", "np.inner({0}, {1})", "float(({0})[0])",
                      "({0}).item(0)", "np.linalg.norm({0}, 1)", "np.linalg.norm({0}, np.inf)",
                      "sorted({0})[0]", "sum(t * t for t in {0})", "np.sum(({0})[({0}) > 0.0])",
                      "({0}).tolist()[0]", "np.interp(0.3, [0.0, 0.5, 1.0], np.resize({0}, 3))"]
            forms = [f for f in forms if "np.resize" not in f]
            return r.choice(forms).format(e, self.expr(U, d + 1))
        if U == (3, 3):
            forms += ["np.linalg.det(np.eye(3) + 0.2 * {0})", "np.trace({0})", "({0})[1, 2]",
                      "np.linalg.norm({0}, 'fro')", "np.sum(np.linalg.inv(2.0 * np.eye(3) + 0.3 * {0}))",
                      "np.sum(np.linalg.solve(3.0 * np.eye(3) + 0.2 * {0}, np.ones(3)))",
                      "np.linalg.slogdet(np.eye(3) + 0.1 * {0})[1]", "np.sum(np.diag({0}))",
                      "np.sum(np.triu({0}))", "np.sum(np.tril({0}, -1))",
                      "np.einsum('ij,ij->', {0}, {0})", "np.einsum('ii', {0})"]
        if U == (2, 3):
            forms += ["({0})[1, 2]", "({0})[0][1]", "np.sum(({0})[:, 1:])", "np.einsum('ij->', {0})"]
        return r.choice(forms).format(e)

    def convert(self, S, d):
        """An expression of shape S built from values of other shapes."""
        r = self.r
        if S == ():
            return self.reduce_to_scalar(d), True
        if S == (2,):
            c = [('({0}) @ ({1})', [(2, 3), (3,)], 1), ('({0})[:, 0]', [(2, 3)], 0), ('np.sum({0}, axis=1)', [(2, 3)], 1),
                 ('({0})[:2]', [(3,)], 0), ('np.diff({0})', [(3,)], 1), ('({0})[1:]', [(3,)], 0),
                 ('np.max({0}, axis=1)', [(2, 3)], 1), ('({0}).mean(axis=-1)', [(2, 3)], 1),
                 ('np.dot({0}, {1})', [(2, 3), (3,)], 1), ('np.array([{0}, {1}])', [(), ()], 1),
                 ("np.einsum('ij,j->i', {0}, {1})", [(2, 3), (3,)], 1), ('({0})[[0, 2]]', [(3,)], 1),
                 ('np.linspace({0}, 1.0, 2)', [()], 1), ('np.hstack([{0}, {1}])', [(), ()], 1)]
        elif S == (3,):
            c = [('({0})[0]', [(2, 3)], 0), ('np.mean({0}, axis=0)', [(2, 3)], 1), ('({0}).sum(0)', [(2, 3)], 1),
                 ('np.max({0}, axis=0)', [(2, 3)], 1), ('({0})[:, 0]', [(3, 1)], 0), ('({0})[0]', [(1, 3)], 0),
                 ('({0}).ravel()', [(3, 1)], 0), ('np.squeeze({0})', [(1, 3)], 0), ('({0}).reshape(3)', [(1, 3)], 0),
                 ('np.diag({0})', [(3, 3)], 1), ('({0}) @ ({1})', [(3, 3), (3,)], 1), ('({0}) @ ({1})', [(3,), (3, 3)], 1),
                 ('np.array([{0}, {1}, {2}])', [(), (), ()], 1), ('np.append({0}, {1})', [(2,), ()], 1),
                 ('np.concatenate([{0}, [{1}]])', [(2,), ()], 1), ('({0}) @ ({1})', [(2,), (2, 3)], 1),
                 ('np.cumsum({0})', [(3,)], 1), ('np.sort({0})', [(3,)], 1), ('np.flip({0})', [(3,)], 0),
                 ('np.roll({0}, 1)', [(3,)], 1), ('({0})[::-1]', [(3,)], 0), ('({0})[[2, 0, 1]]', [(3,)], 1),
                 ('np.take({0}, [1, 1, 0])', [(3,)], 1), ('np.cumprod(0.8 + 0.2 * np.tanh({0}))', [(3,)], 1),
                 ('np.cross({0}, {1})', [(3,), (3,)], 1), ('({0}).sum(axis=1)', [(3, 3)], 1),
                 ('np.linalg.solve(2.0 * np.eye(3) + 0.2 * ({0}), {1})', [(3, 3), (3,)], 1),
                 ('np.ravel({0})', [(3, 1)], 0), ('({0}).reshape(-1)', [(3,)], 0),
                 ('np.convolve({0}, [1.0, 0.5])', [(2,)], 1), ('np.gradient({0})', [(3,)], 1),
                 ('np.full(3, {0})', [()], 1), ('np.zeros(3) + {0}', [()], 1), ('np.ones_like({0}) * {1}', [(3,), ()], 1),
                 ('np.polyval([1.0, -0.5, {0}], {1})', [(), (3,)], 1)]
            idx = self.vars_of(("idx",))
            if idx:
                c += [('({0})[%s]' % r.choice(idx), [(3,)], 1), ('np.take({0}, %s)' % r.choice(idx), [(3,)], 1)]
        elif S == (2, 3):
            c = [('np.outer({0}, {1})', [(2,), (3,)], 1), ('np.stack([{0}, {1}])', [(3,), (3,)], 1),
                 ('np.tile({0}, (2, 1))', [(3,)], 1), ('({0}) * ({1})[:, None]', [(3,), (2,)], 1),
                 ('np.vstack([{0}, {1}])', [(1, 3), (1, 3)], 1), ('({0})[:2]', [(3, 3)], 0),
                 ('({0})[1:, :]', [(3, 3)], 0), ('np.broadcast_to({0}, (2, 3))', [(3,)], 0),
                 ('({0}).T.T', [(2, 3)], 0), ('np.reshape({0}, (3, 2)).reshape(2, 3)', [(2, 3)], 0),
                 ('np.transpose(({0})[:, :2])', [(3, 3)], 0), ('np.array([{0}, {1}])', [(3,), (3,)], 1),
                 ('np.concatenate([{0}, {1}], axis=0)', [(1, 3), (1, 3)], 1), ('({0}) @ ({1})', [(2, 3), (3, 3)], 1),
                 ('np.flipud({0})', [(2, 3)], 0), ('np.cumsum({0}, axis=1)', [(2, 3)], 1),
                 ('np.roll({0}, 1, axis=1)', [(2, 3)], 1), ('np.sort({0}, axis=1)', [(2, 3)], 1),
                 ('np.diff({0}, axis=0)', [(3, 3)], 1), ('np.zeros((2, 3)) + {0}', [(3,)], 1)]
        elif S == (3, 1):
            c = [('({0})[:, None]', [(3,)], 0), ('({0}).reshape(3, 1)', [(3,)], 0), ('np.expand_dims({0}, 1)', [(3,)], 0),
                 ('({0}).T', [(1, 3)], 0), ('({0})[:, 1:2]', [(3, 3)], 0), ('({0}) @ ({1})', [(3, 3), (3, 1)], 1),
                 ('np.sum({0}, axis=1, keepdims=True)', [(3, 3)], 1), ('np.atleast_2d({0}).T', [(3,)], 0),
                 ('np.reshape({0}, (-1, 1))', [(1, 3)], 0)]
        elif S == (1, 3):
            c = [('({0})[None, :]', [(3,)], 0), ('({0}).reshape(1, -1)', [(3,)], 0), ('np.atleast_2d({0})', [(3,)], 0),
                 ('({0}).T', [(3, 1)], 0), ('({0})[:1]', [(2, 3)], 0), ('np.mean({0}, axis=0, keepdims=True)', [(2, 3)], 1),
                 ('np.expand_dims({0}, axis=0)', [(3,)], 0), ('({0}) @ ({1})', [(1, 3), (3, 3)], 1),
                 ('np.swapaxes({0}, 0, 1)', [(3, 1)], 0)]
        else:  # (3, 3)
            c = [('np.outer({0}, {1})', [(3,), (3,)], 1), ('({0}) * ({1})', [(3, 1), (1, 3)], 1),
                 ('({0}) + ({1})', [(3, 1), (1, 3)], 1), ('np.diag({0})', [(3,)], 1),
                 ('({0}).T @ ({1})', [(2, 3), (2, 3)], 1), ('({0}) @ ({1})', [(3, 3), (3, 3)], 1),
                 ('np.eye(3) * {0}', [()], 1), ('({0}).T', [(3, 3)], 0), ('np.triu({0})', [(3, 3)], 1),
                 ('np.kron({0}, {1})', [(3, 1), (1, 3)], 1), ('np.matmul({0}, {1})', [(3, 1), (1, 3)], 1),
                 ('np.linalg.inv(2.0 * np.eye(3) + 0.2 * ({0}))', [(3, 3)], 1), ('np.rot90({0})', [(3, 3)], 0),
                 ("np.einsum('i,j->ij', {0}, {1})", [(3,), (3,)], 1), ('np.vstack([{0}, {1}])', [(2, 3), (1, 3)], 1),
                 ('np.linalg.matrix_power(0.5 * ({0}), 2)', [(3, 3)], 1)]
        if d >= self.maxd:
            # deep: prefer forms whose operands exist as variables (fewer literals)
            have = {v.shape for v in self.env.values() if v.kind in ("arr", "pyf")}
            near = [t for t in c if all(s in have for s in t[1])]
            c = near or c
        tpl, shapes, fresh = r.choice(c)
        return tpl.format(*[self.expr(s, d + 1) for s in shapes]), bool(fresh)

    def special(self, S, d):
        r = self.r
        a = self.expr(S, d + 1)
        if S == ():
            return r.choice([f"max({a}, {self.expr((), d + 1)}, 0.2)", f"abs({a})", f"float({a}) * 2",
                             f"int({a} > 0) * {self.expr((), d + 1)}", f"({a}) if ({a}) > 0.1 else -0.5 * ({a})",
                             f"(lambda t: t * t + 0.1)({a})"]), True
        forms = [f"np.where(({a}) > 0.0, {a}, 0.1 * ({a}))", f"np.clip({a}, {self.expr((), d + 1)}, 2.0)",
                 f"({a}) * {len(S) and S[0]}", f"np.sin({a}) if np.sum({a}) > 0 else np.cos({a})",
                 f"np.maximum.accumulate({a})" if False else f"np.nan_to_num({a}, nan=0.0)",
                 f"({a}) - np.mean({a})", f"({a}) / (1.0 + np.linalg.norm({a}))",
                 f"np.exp({a} - np.max({a}))", f"({a}) * len({a})", f"({a}) * ({a}).shape[0]",
                 f"({a}) + np.arange({S[-1]})", f"np.full_like({a}, 0.5) * ({a})"]
        return r.choice(forms), True

    # -- helpers, lambdas -------------------------------------------------------------------------
    def make_helper(self):
        r = self.r
        name = f"h{len(self.helpers)}"
        np_ = r.randint(1, 3)
        params = []
        for j in range(np_):
            params.append((["u", "w", "z"][j], r.choice([(3,), (2, 3), (), (3,)]), None))
        if r.random() < 0.6:
            params.append(("scale", (), repr(round(r.uniform(0.2, 1.5), 2))))
        ret = r.choice([p[1] for p in params] + [()])
        saved, saved_loops = self.env, self.loop_vars
        self.env = {p: Var("arr", s) for p, s, _ in params}
        self.loop_vars = []
        self.in_helper = True
        sig = ", ".join(p if dflt is None else f"{p}={dflt}" for p, _, dflt in params)
        body = self.block(r.randint(1, 3), 1, allow_return=True, ret_shape=ret)
        out = self.expr(ret, 1)
        self.env, self.loop_vars, self.in_helper = saved, saved_loops, False
        lines = [f"def {name}({sig}):"] + body + [f"    return {out}", "", ""]
        self.module_lines += lines
        self.helpers.append((name, params, ret))

    def call_helper(self, S, d):
        r = self.r
        cands = [h for h in self.helpers if h[2] == S]
        if not cands:
            return self.convert(S, d)
        name, params, _ = r.choice(cands)
        req = [(p, s) for p, s, dflt in params if dflt is None]
        opt = [(p, s) for p, s, dflt in params if dflt is not None]
        style = r.random()
        args = [self.expr(s, d + 1) for _, s in req]
        if style < 0.4:
            text = ", ".join(args)
        elif style < 0.7:
            pairs = [f"{p}={a}" for (p, _), a in zip(req, args)]
            r.shuffle(pairs)
            text = ", ".join(pairs)
        else:
            text = ", ".join(args[:1] + [f"{p}={a}" for (p, _), a in zip(req[1:], args[1:])])
        if opt and r.random() < 0.6:
            text += (", " if text else "") + f"scale={self.expr((), d + 1) if r.random() < 0.5 else self.const()}"
        return f"{name}({text})", True

    def call_lambda(self, S, d):
        r = self.r
        names = [n for n in self.vars_of(("lam",)) if self.env[n].shape == S]
        if not names:
            return self.convert(S, d)
        return f"{r.choice(names)}({self.expr(S, d + 1)})", True

    # -- statements -------------------------------------------------------------------------------
    def block(self, n, ind, allow_return=False, ret_shape=(), nested=False) -> List[str]:
        lines = []
        for _ in range(n):
            lines += self.stmt(ind, allow_return, ret_shape, nested)
        return lines or ["    " * ind + "pass"]

    def scoped(self, fn):
        saved = dict(self.env)
        out = fn()
        # names bound inside a nested block are not read after it (they may be unbound on some path);
        # existing names keep their kinds (reassignments inside keep kind and shape)
        self.env = {k: v for k, v in self.env.items() if k in saved}
        for k, v in saved.items():
            if self.env[k].fresh != v.fresh:
                self.env[k] = Var(v.kind, v.shape, False)
        return out

    def stmt(self, ind, allow_return, ret_shape, nested) -> List[str]:
        r = self.r
        p = "    " * ind
        kinds = ["assign"] * 4 + ["reassign"] * 3 + ["aug"] * 2 + ["buf"] + ["write"] * 3 + ["unpack"] + \
                ["if"] * 2 + ["for"] * 4 + ["while"] * 2 + ["mask"] + ["list"] + ["dict"]
        if not self.in_helper:
            kinds += ["lambda", "closure"]
        if not self.vars_of(("idx",)):
            kinds += ["idx"]
        if allow_return and not nested:
            kinds += ["early"]
        if ind >= 3:
            kinds = ["assign", "reassign", "aug", "write"]
        k = r.choice(kinds)
        if k == "assign" or (k in ("reassign", "aug") and not self.vars_of(("arr", "pyf"))):
            S = r.choice(SHAPES)
            src, fresh = self.ex(S)
            v = self.name()
            self.env[v] = Var("arr", S, fresh and S != ())
            return [f"{p}{v} = {src}"]
        if k == "reassign":
            v = r.choice(self.vars_of(("arr", "pyf")))
            var = self.env[v]
            src, fresh = self.ex(var.shape)
            if var.fresh and not fresh:
                src = f"({src}) + 0.0"
            return [f"{p}{v} = {src}"]
        if k == "aug":
            v = r.choice(self.vars_of(("arr", "pyf")))
            var = self.env[v]
            op = r.choice(["+=", "-=", "*=", "/=", "**=", "+=", "*="])
            if var.fresh or var.shape == () and var.kind == "pyf":
                rhs_shape = r.choice(PARTNERS[var.shape])
            else:
                # an in-place operator would write through to an argument: rebind instead
                rhs_shape = r.choice(PARTNERS[var.shape])
                if self.env[v].shape != ():
                    e = self.expr(rhs_shape)
                    return [f"{p}{v} = {v} + ({e})"]
                return [f"{p}{v} = {v} * 0.5 + {self.expr(())}"]
            e = self.expr(rhs_shape)
            if op == "/=":
                e = f"(1.2 + ({e}) ** 2)"
            elif op == "**=":
                if var.kind == "pyf" or var.shape == ():
                    return [f"{p}{v} = abs({v}) ** 1.5 + 0.1"]
                op, e = "*=", f"np.tanh({e})"
            return [f"{p}{v} {op} {e}"]
        if k == "buf":
            S = r.choice([(3,), (2, 3), (3, 3), (3, 1), (1, 3), (2,)])
            v = self.name("w")
            form = r.choice(["np.zeros({S})", "({e}).copy()", "np.array({e})", "np.ones({S}) * 0.5",
                             "({e}) * 1.0", "np.empty({S}) * 0.0 + ({e})", "np.zeros_like({e})"])
            line = f"{p}{v} = " + form.format(S=S, e=self.expr(S))
            self.env[v] = Var("arr", S, True)
            bufs = self.vars_of(("arr",), S, True)
            if len(bufs) > 1 and r.random() < 0.3 and not nested:
                # an alias of another buffer: writes through either name change both
                other = r.choice([b for b in bufs if b != v])
                return [f"{p}{v} = {other}"]
            return [line]
        if k == "write":
            bufs = [b for b in self.vars_of(("arr",), None, True) if self.env[b].shape != ()]
            if not bufs:
                return self.stmt(ind, allow_return, ret_shape, nested)
            v = r.choice(bufs)
            return [p + self.write(v, self.env[v].shape)]
        if k == "unpack":
            form = r.random()
            if form < 0.3:
                S1, S2 = r.choice(SHAPES), r.choice(SHAPES)
                a, b = self.name(), self.name()
                line = f"{p}{a}, {b} = {self.expr(S1)}, {self.expr(S2)}"
                self.env[a], self.env[b] = Var("arr", S1), Var("arr", S2)
                return [line]
            if form < 0.5:
                vs = [n for n in self.vars_of(("arr", "pyf")) if not self.env[n].fresh]
                same = {}
                for n in vs:
                    same.setdefault(self.env[n].shape, []).append(n)
                pairs = [l for l in same.values() if len(l) >= 2]
                if pairs:
                    x, y = r.sample(r.choice(pairs), 2)
                    return [f"{p}{x}, {y} = {y}, {x}"]
            if form < 0.75:
                a, b = self.name(), self.name()
                line = f"{p}{a}, {b} = {self.expr((2, 3))}"
                self.env[a], self.env[b] = Var("arr", (3,)), Var("arr", (3,))
                return [line]
            a, b, c = self.name(), self.name(), self.name()
            line = f"{p}{a}, {b}, {c} = {self.expr((3,))}"
            for n in (a, b, c):
                self.env[n] = Var("arr", ())
            return [line]
        if k == "mask":
            S = r.choice([(3,), (2, 3), (3,), ()])
            m = self.name("m")
            line = f"{p}{m} = {self.mask_expr(S, 1)}"
            self.env[m] = Var("mask", S)
            return [line]
        if k == "idx":
            i = self.name("idx")
            src = r.choice(["np.array([2, 0, 1])", "np.argsort({e})", "np.array([1, 1, 0])", "np.arange(3)[::-1]",
                            "np.flatnonzero(np.ones(3))", "np.argsort(-({e}))"]).format(e=self.expr((3,)))
            self.env[i] = Var("idx", (3,))
            return [f"{p}{i} = {src}"]
        if k == "if":
            cond = self.cond()
            body = self.scoped(lambda: self.block(r.randint(1, 2), ind + 1, allow_return, ret_shape, True))
            lines = [f"{p}if {cond}:"] + body
            if r.random() < 0.4:
                cond2 = self.cond()
                body2 = self.scoped(lambda: self.block(r.randint(1, 2), ind + 1, allow_return, ret_shape, True))
                lines += [f"{p}elif {cond2}:"] + body2
            if r.random() < 0.6:
                body3 = self.scoped(lambda: self.block(r.randint(1, 2), ind + 1, allow_return, ret_shape, True))
                lines += [f"{p}else:"] + body3
            return lines
        if k == "for":
            return self.for_stmt(p, ind, allow_return, ret_shape)
        if k == "while":
            i = self.name("k")
            bound = r.randint(1, 4)
            if r.random() < 0.5:
                head = f"{p}while {i} < {bound}:"
            else:
                head = f"{p}while {self.cond()} and {i} < {bound}:"
            self.loop_vars.append((i, bound))
            body = self.scoped(lambda: self.block(r.randint(1, 2), ind + 1, allow_return, ret_shape, True))
            self.loop_vars.pop()
            self.env[i] = Var("int", ())
            return [f"{p}{i} = 0", head] + body + [f"{p}    {i} += 1"]
        if k == "list":
            acc = self.name("acc")
            S = r.choice([(), (3,), (2, 3)])
            i = self.name("i")
            n = r.randint(1, 4)
            self.loop_vars.append((i, n))
            e = self.expr(S)
            self.loop_vars.pop()
            use = r.choice([f"sum({acc})", f"np.stack({acc})" if S else f"np.array({acc})", f"{acc}[-1]",
                            f"{acc}[0]", f"np.sum({acc}, axis=0)", f"max({acc})" if S == () else f"{acc}[len({acc}) - 1]"])
            v = self.name()
            lines = [f"{p}{acc} = []", f"{p}for {i} in range({n}):", f"{p}    {acc}.append({e})"]
            if r.random() < 0.3:
                lines = [f"{p}{acc} = [{e.replace(i, '0') if False else self.expr(S)} for {i} in range({n})]"]
                self.loop_vars.append((i, n))
                lines = [f"{p}{acc} = [{self.expr(S)} for {i} in range({n})]"]
                self.loop_vars.pop()
            shape = S
            if use.startswith("np.stack") or use.startswith("np.array("):
                self.env[v] = Var("arr", (n,) + S)
                if (n,) + S not in SHAPES:
                    use = f"np.sum({acc}, axis=0)"
                    self.env[v] = Var("arr", S)
            else:
                self.env[v] = Var("arr", shape)
            return lines + [f"{p}{v} = {use}"]
        if k == "dict":
            dd = self.name("d")
            S = r.choice([(), (3,)])
            i = self.name("i")
            n = r.randint(1, 3)
            self.loop_vars.append((i, n))
            e = self.expr(S)
            self.loop_vars.pop()
            v = self.name()
            use = r.choice([f"sum({dd}.values())", f"{dd}['k0']", f"{dd}.get('k0')",
                            f"sum(val for key, val in {dd}.items())", f"{dd}['k{n - 1}']"])
            self.env[v] = Var("arr", S)
            return [f"{p}{dd} = {{}}", f"{p}for {i} in range({n}):", f"{p}    {dd}['k' + str({i})] = {e}",
                    f"{p}{v} = {use}"]
        if k == "lambda":
            S = r.choice([(), (3,), (2, 3)])
            lam = self.name("lam")
            t = "t"
            self.env[t] = Var("arr", S)
            body = self.expr(S, 1)
            del self.env[t]
            self.env[lam] = Var("lam", S)
            return [f"{p}{lam} = lambda {t}: {body}"]
        if k == "closure":
            S = r.choice([(), (3,), (2, 3)])
            fn = self.name("inner")
            saved = dict(self.env)
            self.env = {n: v for n, v in self.env.items() if v.kind in ("arr", "pyf")}
            self.env["t"] = Var("arr", S)
            body = self.expr(S, 1)
            self.env = saved
            self.env[fn] = Var("lam", S)
            return [f"{p}def {fn}(t):", f"{p}    return {body}"]
        if k == "early":
            cond = self.cond()
            return [f"{p}if {cond}:", f"{p}    return {self.expr(ret_shape, 1)}"]
        return []

    def cond(self):
        r = self.r
        e0 = self.expr((), 2)
        forms = [f"{e0} > {self.const()}", f"np.sum({self.expr((3,), 2)}) > {self.const()}",
                 f"np.any({self.expr((3,), 2)} > 0.5)", f"np.all({self.expr((2, 3), 2)} < 1.0)",
                 f"float({e0}) < {self.const()}", f"{e0} > 0 and {self.expr((), 2)} < 1.0",
                 f"not ({e0} > 0.3)", f"{e0} <= {self.expr((), 2)}", f"{self.const()} < {e0} < 1.5"]
        ms = self.vars_of(("mask",), ())
        if ms:
            forms.append(r.choice(ms))
        return r.choice(forms)

    def for_stmt(self, p, ind, allow_return, ret_shape):
        r = self.r
        form = r.choice([0, 0, 0, 1, 2, 3, 4, 5])
        i = self.name("i")
        if form == 0:
            n = r.randint(1, 4)
            head = f"for {i} in range({n}):"
            self.loop_vars.append((i, n))
            body = self.scoped(lambda: self.block(r.randint(1, 3), ind + 1, allow_return, ret_shape, True))
            self.loop_vars.pop()
            return [p + head] + body
        e = self.name("e")
        if form == 1:
            S = r.choice([(3,), (2, 3), (3, 3)])
            src = self.expr(S)
            head = f"for {e} in {src}:"
            el = S[1:]
        elif form == 2:
            S = r.choice([(3,), (2, 3)])
            head = f"for {i}, {e} in enumerate({self.expr(S)}):"
            el = S[1:]
            self.loop_vars.append((i, S[0]))
        elif form == 3:
            e2 = self.name("e")
            head = f"for {e}, {e2} in zip({self.expr((3,))}, ({self.expr((2, 3))}).T):"
            el = ()
            self.env[e2] = Var("arr", (2,))
        elif form == 4:
            head = f"for {e} in [{self.expr((3,))}, {self.expr((3,))}]:"
            el = (3,)
        else:
            head = f"for {e} in reversed(range(2)):"
            el = None
            self.loop_vars.append((e, 2))
        if el is not None:
            self.env[e] = Var("arr", el)
        body = self.scoped(lambda: self.block(r.randint(1, 3), ind + 1, allow_return, ret_shape, True))
        if form in (2, 5):
            self.loop_vars.pop()
        self.env.pop(e, None)
        for n in list(self.env):
            if n.startswith("e") and n not in ("e",) and False:
                pass
        return [p + head] + body

    def write(self, v, S):
        r = self.r
        e = self.expr
        loops = [n for n, b in self.loop_vars if b <= S[0]]
        if S == (3,) or S == (2,):
            m = S[0]
            forms = [f"{v}[1] = {e(())}", f"{v}[1:] = {e((m - 1,)) if m - 1 in (2, 3) else e(())}",
                     f"{v}[1:] += {e(())}", f"{v}[:2] *= {e((2,))}", f"{v}[-1] -= {e(())}",
                     f"{v}[:] = {e(S)}", f"{v}[::-1] = {e(S)}", f"{v}[0] = {v}[-1] * {e(())}"]
            if S == (3,):
                forms += [f"{v}[{self.mask_expr((3,), 1)}] = {e(())}", f"{v}[[2, 0]] = {e((2,))}",
                          f"{v}[[0, 0, 1]] += {e((3,))}", f"{v}[{v} > 0.2] *= 0.5",
                          f"{v}[:] = {v}[::-1]", f"{v}[1:] = {v}[:-1]", f"{v}[np.array([1, 2])] += {e((2,))}"]
                idx = self.vars_of(("idx",))
                if idx:
                    forms.append(f"{v}[{r.choice(idx)}] = {e((3,))}")
            if loops:
                forms.append(f"{v}[{r.choice(loops)}] = {e(())}")
                forms.append(f"{v}[{r.choice(loops)}] += {e(())}")
            return r.choice(forms)
        if S == (2, 3):
            forms = [f"{v}[0] = {e((3,))}", f"{v}[:, 1] = {e((2,))}", f"{v}[1, 2] = {e(())}",
                     f"{v}[:, 1:] += {e(())}", f"{v}[{v} > 0.5] = {e(())}", f"{v}[1] *= {e((3,))}",
                     f"{v}[0, :2] -= {e((2,))}", f"{v}[...] = {e((2, 3))}", f"{v}[:, ::2] = 0.0"]
            if loops:
                forms.append(f"{v}[{r.choice(loops)}] = {e((3,))}")
            return r.choice(forms)
        if S == (3, 3):
            return r.choice([f"{v}[0] = {e((3,))}", f"{v}[:, 2] -= {e((3,))}",
                             f"{v}[np.arange(3), np.arange(3)] = {e((3,))}", f"{v}[1:, 1:] *= {e(())}",
                             f"{v}[np.triu_indices(3, 1)] = 0.0" if False else f"{v}[0, 1] = {v}[1, 0]",
                             f"{v}[{v} < 0.0] = 0.0", f"{v}[2] = {v}[0] + {e((3,))}"])
        if S == (3, 1):
            return r.choice([f"{v}[1, 0] = {e(())}", f"{v}[:, 0] = {e((3,))}", f"{v}[1:] += {e(())}"])
        return r.choice([f"{v}[0, 1] = {e(())}", f"{v}[0] = {e((3,))}", f"{v}[:, :2] *= {e(())}"])


def function_body(gen: Gen, n_stmts: int) -> List[str]:
    lines = gen.block(n_stmts, 1, allow_return=True, ret_shape=())
    final = gen.r.choice(["np.sum({0})", "{1}", "np.sum({0}) + {1}", "np.mean(np.tanh({0})) * 3.0 + {1}"])
    out = final.format(gen.expr(gen.r.choice([(3,), (2, 3), (3, 1), (3, 3)]), 1), gen.expr((), 1))
    names = [n for n, v in gen.env.items() if v.kind in ("arr", "pyf")]
    picks = gen.r.sample(names, min(len(names), gen.r.randint(1, 3)))
    out += "".join(f" + {gen.r.choice(['0.5 * ', '', '-0.3 * '])}np.sum(np.sin({n}))" for n in picks)
    return lines + [f"    return {out}"]


HEADER = '''"""fuzz2 program {seed} (driver {driver}, dtype {dtype}, c shape {cshape})."""
import math

import numpy as np

import sct
from sct import dlarray, dlfeval, dlgradient

'''


def generate(seed: int) -> str:
    r = random.Random(seed)
    c_shape = r.choice([(), (3, 1), (1, 3)])
    driver = r.choice(DRIVERS)
    dtype = "float32" if driver == "float32" else "float64"
    gen = Gen(seed * 7 + 1, c_shape, dtype)
    for _ in range(r.choice([0, 1, 1, 2])):
        gen.make_helper()
    gen.env = {"a": Var("arr", (3,)), "B": Var("arr", (2, 3)), "c": Var("arr", c_shape), "k": Var("pyf", ())}
    body = function_body(gen, r.randint(2, 7))
    early = any(line.strip().startswith("return") for line in body[:-1])
    if driver == "inline" and early:
        driver = "first"
    wrt_choices = [("a",), ("B",), ("a", "B"), ("a", "B", "c"), ("c",), ("B", "a")]
    wrt = r.choice(wrt_choices)
    src = [HEADER.format(seed=seed, driver=driver, dtype=dtype, cshape=c_shape)]
    src += gen.module_lines
    src += ["def f(a, B, c, k):"] + body + ["", ""]
    src += driver_source(driver, wrt, body)
    vals = np.random.default_rng(seed).uniform(-1.2, 1.2, size=3 + 6 + 3 + 3)
    src += ["def make_args(variant=0):",
            "    rng = np.random.default_rng(%d + 1000 * variant)" % seed,
            f"    dt = np.{dtype}",
            "    a = rng.uniform(-1.2, 1.2, 3).astype(dt)",
            "    B = rng.uniform(-1.2, 1.2, (2, 3)).astype(dt)",
            f"    c = np.asarray(rng.uniform(-1.2, 1.2, {c_shape!r})).astype(dt)",
            f"    k = {round(float(vals[-1]), 3)!r}",
            "    return a, B, c, k", "", "",
            f"DRIVER = {driver!r}", f"WRT = {wrt!r}", f"DTYPE = {dtype!r}", f"SEED = {seed!r}",
            "W = np.array([0.3, -0.7, 1.1])", ""]
    return "\n".join(src)


def driver_source(driver, wrt, body) -> List[str]:
    ws = ", ".join(wrt)
    if driver in ("first", "float32", "accel"):
        return ["def g(a, B, c, k):", "    y = f(a, B, c, k)", f"    return y, dlgradient(y, {ws})", "", ""]
    if driver == "inline":
        last = body[-1].strip()[len("return "):]
        # the body may rebind a, B, c: differentiate w.r.t. the arguments under other names
        ins = ", ".join(f"{w}_in" for w in wrt)
        return (["def g(a, B, c, k):", f"    {ins.replace('_in', '_in0') if False else ins} = {ws}"] + body[:-1]
                + [f"    y = {last}", f"    return y, dlgradient(y, {ins})", "", ""])
    if driver == "dict":
        return ["def g(P, c, k):", "    y = f(P['a'], P['B'], c, k)", "    return y, dlgradient(y, P)", "", ""]
    if driver == "list":
        return ["def g(L, c, k):", "    y = f(L[0], L[1], c, k)", "    return y, dlgradient(y, L)", "", ""]
    if driver == "second":
        return ["def g(a, B, c, k):", "    y = f(a, B, c, k)", "    return y, dlgradient(y, a)", "", "",
                "def g2(a, B, c, k, w):", "    y = f(a, B, c, k)",
                "    ga = dlgradient(y, a, EnableHigherDerivatives=True)", "    z = np.sum(ga * w)",
                "    return z, dlgradient(z, a)", "", ""]
    if driver in ("jvp", "hvp"):
        return ["def g(a, B, c, k):", "    y = f(a, B, c, k)", "    return y, dlgradient(y, a)", "", "",
                "def fa(a):", "    return f(a, B0, C0, K0)", "", ""]
    raise ValueError(driver)
