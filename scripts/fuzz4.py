"""An independent differential random-program tester for sct (red team H, dec 25).

    python scripts/fuzz4.py --n 200 --seed 0 [--out /tmp/fuzz4] [--show] [--print] [--big]

(--big: 15 to 30 statements, blocks nested three deep; --f32-exact: float32 values bit for bit, not
to 1e-6; --exact: float64 ones too, not to 1e-12; --print: the program of --seed only)

Generates random numpy functions ``f(x, y, s)`` from a grammar of its own (reassigned names,
augmented assignment on names, slices and items of private arrays, views and second names, tuple
swaps, for/while loops with break/continue, if/elif/else on values, helpers at module level and
closures/lambdas/nonlocal, lists and dicts of arrays, fancy and boolean indexing, broadcasting
between (3,1) and (1,4), reductions with axis/keepdims, Python floats mixed with 0-d arrays, early
returns) and checks, for each program plain Python runs without error on to finite values:

* ``dlfeval`` of ``f`` with ``dlgradient`` at its end (``f_g``) or of a wrapper calling it
  (``wrap``): the values exactly as plain Python's (1e-12 relative, same dtype and shape) and every
  gradient against central differences (step 1e-6, 1e-4 relative; coordinates where the forward and
  backward differences disagree, a kink or a jump within the step, are skipped);
* the same compiled code called again with new values and other shapes (the cache is per kind);
* float32 inputs: values and dtypes as plain Python's, gradients float32;
* ``sct.jvp`` against directional differences of both outputs;
* the function given as a dict or a list of its inputs (``dlgradient(loss, p)``), and through an
  ``AcceleratedFunction`` (``dlaccelerate(f)``, also called outside ``dlfeval``);
* where plain Python raises (another shape that does not broadcast), that sct raises too;
* every third program, a second derivative (``dlgradient`` of ``sum(dlgradient(loss, x) * v)``)
  against differences of sct's first-order gradient.

A CompileError (or an EvaluationError raised by sct itself, not by numpy) is a refusal, tallied by
reason; anything else that differs is printed with its seed, the program kept as
``OUT/fail_SEED.txt``.  Exits 1 when a program gave a wrong value or gradient or an internal error.
"""
import argparse
import collections
import importlib.util
import math
import os
import random
import sys
import traceback

import numpy as np

BIG = False
F64_RTOL = 1e-12
F32_RTOL = 1e-6   # float32 values: numpy's own rounding, up to a few ulps (a reduction's order)
MAXD = 2
SH = {'S': (), 'A': (3,), 'B': (4,), 'M': (3, 4), 'T': (4, 3), 'C': (3, 1), 'R': (1, 4), 'Q': (3, 3)}
ARR = [k for k in SH]

UNARY = [
    'np.tanh({e})', 'np.sin({e})', 'np.cos({e})', 'np.exp(np.tanh({e}))', 'np.log(1.0 + ({e}) ** 2)',
    'np.sqrt(({e}) ** 2 + 1.0)', 'np.abs({e})', '({e}) ** 2', '({e}) ** 3', '(np.abs({e}) + 0.5) ** 1.5',
    'np.maximum({e}, 0.2)', 'np.minimum({e}, -0.1)', 'np.clip({e}, -1.0, 1.0)', '-({e})',
    '1.0 / (1.0 + ({e}) ** 2)', 'np.where({e} > 0, {e}, 0.3 * ({e}))', 'np.square({e})',
    '({e}) / (1.0 + np.abs({e}))', 'np.arctan({e})', 'np.expm1(np.tanh({e}))', 'np.log1p(({e}) ** 2)',
    'np.hypot({e}, 1.0)', 'np.sinh(np.tanh({e}))', 'abs({e})', 'np.sign({e}) * ({e})',
    'np.floor({e}) + ({e})', '({e}).astype(np.float64)', '({e}).copy()', 'np.positive({e})',
    'pow({e}, 2)', 'np.power({e}, 2)', 'np.float_power(np.abs({e}) + 1.0, 0.5)', '({e}) * 0.5',
    '2.0 * ({e})', '({e}) - 1.0', '0.5 - ({e})', '({e}) ** 2.0', 'np.exp(-({e}) ** 2)',
    'np.sqrt(np.abs({e}) + 0.1)', 'np.cbrt(({e}) ** 2 + 1.0)', 'np.reciprocal(1.0 + ({e}) ** 2)',
    'np.fmax({e}, 0.0)', 'np.round({e}, 1) + ({e})', '(({e}) + 1.0) ** 2 - 1.0',
]
BINARY = [
    '{a} + {b}', '{a} - {b}', '{a} * {b}', '{a} / (1.0 + ({b}) ** 2)', 'np.maximum({a}, {b})',
    'np.minimum({a}, {b})', 'np.where({a} > {b}, {a}, {b})', 'np.where({a} > 0, {b}, {a})',
    '({a} + {b}) * 0.5', 'np.add({a}, {b})', 'np.multiply({a}, {b})', 'np.arctan2({a}, 1.0 + ({b}) ** 2)',
    'np.subtract({a}, {b})', '{a} * np.tanh({b})', '({a}) ** 2 + ({b}) ** 2',
]
# target -> list of (source shapes..., template); {0}, {1} are sub-expressions of those shapes;
# {i3}/{j4}: random indices
CONV = {
    'S': [('M', 'np.sum({0})'), ('M', '({0}).mean()'), ('M', '({0})[{i3}, {j4}]'), ('M', 'np.max({0})'),
          ('M', '({0}).min()'), ('A', '({0})[{i3}]'), ('B', '({0})[-1]'), ('B', 'np.dot({0}, {0})'),
          ('B', '({0}) @ ({0})'), ('Q', 'np.trace({0})'), ('B', 'np.prod(({0})[:2])'),
          ('A', 'np.linalg.norm({0})'), ('B', 'np.sum({0}, axis=0)'), ('A', 'np.mean({0}, axis=-1)'),
          ('M', 'np.sum({0}, axis=(0, 1))'), ('B', 'np.vdot({0}, {1})'), ('A', 'np.inner({0}, {1})'),
          ('M', '({0})[-1, -1]'), ('C', '({0})[{i3}, 0]'), ('R', '({0})[0, {j4}]'), ('Q', 'np.linalg.det({0})'),
          ('B', 'sum({0})'), ('A', 'max(({0})[0], ({0})[1])'), ('B', 'np.amax({0})'), ('M', 'np.std({0})'),
          ('B', 'np.var({0})'), ('B', '({0}).sum()'), ('Q', 'np.sum(np.diag({0}))'),
          ('M', 'np.einsum("ij,ij->", {0}, {1})'), ('B', 'np.median({0})')],
    'A': [('M', 'np.sum({0}, axis=1)'), ('M', '({0}).max(axis=-1)'), ('M', '({0})[:, {j4}]'),
          ('M', '({0}) @ ({1})'.replace('{1}', '{1}')), ('C', '({0})[:, 0]'), ('C', '({0}).reshape(3)'),
          ('C', '({0}).ravel()'), ('A', 'np.cumsum({0})'), ('A', '({0})[::-1]'), ('A', '({0})[[2, 0, 1]]'),
          ('A', 'np.roll({0}, 1)'), ('Q', 'np.diag({0})'), ('T', '({0}).mean(axis=0)'), ('A', 'np.sort({0})'),
          ('M', 'np.min({0}, axis=1)'), ('B', '({0})[:3]'), ('B', '({0})[1:]'), ('C', '({0}).flatten()'),
          ('Q', '({0})[:, {i3}]'), ('Q', '({0}) @ ({1})'), ('A', 'np.flip({0})'), ('C', 'np.squeeze({0}, axis=1)'),
          ('M', 'np.einsum("ij,j->i", {0}, {1})'), ('A', 'np.cumprod(np.tanh({0}) + 1.0)'),
          ('M', '({0})[:, 1:].sum(axis=1)'), ('Q', 'np.linalg.solve({0} + 3.0 * np.eye(3), {1})')],
    'B': [('M', 'np.sum({0}, axis=0)'), ('M', '({0})[{i3}]'), ('M', '({0})[-1, :]'), ('R', '({0})[0]'),
          ('R', 'np.squeeze({0}, 0)'), ('B', 'np.cumsum({0})'), ('B', '({0})[::-1]'), ('B', '({0})[[3, 1, 0, 2]]'),
          ('A', '({0}) @ ({1})'), ('T', 'np.max({0}, axis=1)'), ('B', 'np.concatenate([({0})[:2], ({0})[2:] * 2.0])'),
          ('A', 'np.concatenate([{0}, ({0})[:1]])'), ('B', 'np.flip({0})'), ('M', 'np.prod(np.tanh({0}) + 1.0, axis=0)'),
          ('M', '({0}).mean(0)'), ('T', '({0})[:, -1]'), ('B', 'np.roll({0}, -1)'), ('B', 'np.sort({0})'),
          ('B', '({0})[np.array([0, 0, 2, 3])]'), ('M', '({0})[1:3].sum(axis=0)'), ('A', 'np.hstack([{0}, ({0})[2:]])'),
          ('R', '({0}).reshape(-1)'), ('M', '({0}).T.sum(axis=1)'), ('B', 'np.diff({0}, prepend=0.0)'),
          ('B', 'np.append(({0})[1:], 1.0)'), ('T', 'np.einsum("ji->i", {0})'), ('B', 'np.cumsum(({0})[::-1])[::-1]')],
    'M': [('T', '({0}).T'), ('T', 'np.transpose({0})'), ('T', 'np.swapaxes({0}, 0, 1)'), ('A', 'np.outer({0}, {1})'),
          ('C', '({0}) * ({1})'), ('C', '({0}) + ({1})'), ('A', '({0})[:, None] * ({1})'), ('B', 'np.tile({0}, (3, 1))'),
          ('M', 'np.cumsum({0}, axis=1)'), ('M', '({0})[::-1, :]'), ('M', '({0})[:, [1, 0, 3, 2]]'),
          ('Q', '({0}) @ ({1})'), ('T', '({0}).reshape(3, 4)'), ('B', 'np.stack([{0}, ({0}) * 2.0, -({0})])'),
          ('A', 'np.stack([{0}] * 4, axis=1)'), ('M', '({0}).reshape(4, 3).T'), ('M', '({0}).reshape(-1).reshape(3, 4)'),
          ('M', 'np.sort({0}, axis=-1)'), ('B', 'np.broadcast_to({0}, (3, 4)) * 1.0'), ('M', 'np.roll({0}, 1, axis=0)'),
          ('M', 'np.cumsum({0}, axis=-2)'), ('M', 'np.vstack([({0})[:1], ({0})[1:] * 0.5])'),
          ('M', 'np.concatenate([({0})[:, :2], ({0})[:, 2:]], axis=1)'), ('A', 'np.einsum("i,j->ij", {0}, {1})'),
          ('M', '({0})[np.array([2, 0, 1])]'), ('M', 'np.flip({0}, axis=1)'), ('M', 'np.triu(np.tanh({0}))'),
          ('Q', 'np.einsum("ij,jk->ik", {0}, {1})'), ('M', '({0}) - ({0}).mean(axis=1, keepdims=True)'),
          ('M', '({0}) / (1.0 + np.sum(({0}) ** 2, axis=0, keepdims=True))'), ('M', '({0})[:, ::-1][::-1]'),
          ('M', 'np.maximum.accumulate({0}, axis=1)')],
    'T': [('M', '({0}).T'), ('M', 'np.transpose({0}, (1, 0))'), ('M', '({0}).reshape(4, 3)'), ('B', 'np.outer({0}, {1})'),
          ('T', 'np.cumsum({0}, axis=0)'), ('M', 'np.moveaxis({0}, 0, 1)'), ('A', 'np.stack([{0}] * 4)')],
    'C': [('A', '({0})[:, None]'), ('A', '({0}).reshape(-1, 1)'), ('A', '({0})[..., np.newaxis]'),
          ('M', 'np.sum({0}, axis=1, keepdims=True)'), ('M', '({0})[:, {j4}:{j4} + 1]'),
          ('M', '({0}).max(axis=-1, keepdims=True)'), ('M', '({0})[:, [{j4}]]'), ('A', 'np.expand_dims({0}, 1)'),
          ('M', 'np.mean({0}, axis=-1, keepdims=True)'), ('R', '({0}).T[:3]'), ('A', 'np.atleast_2d({0}).T')],
    'R': [('B', '({0})[None]'), ('B', '({0}).reshape(1, -1)'), ('B', '({0})[np.newaxis, :]'),
          ('M', '({0}).mean(axis=0, keepdims=True)'), ('M', '({0})[{i3}:{i3} + 1]'),
          ('M', 'np.min({0}, axis=0, keepdims=True)'), ('B', 'np.atleast_2d({0})'), ('C', '({0}).T @ ({1})'),
          ('M', 'np.prod(np.tanh({0}) + 1.0, axis=0, keepdims=True)'), ('M', '({0})[[{i3}]]')],
    'Q': [('M', '({0}) @ ({1})'), ('A', 'np.outer({0}, {1})'), ('A', 'np.diag({0})'), ('M', '({0})[:, :3]'),
          ('Q', '({0}).T'), ('Q', 'np.triu({0})'), ('Q', 'np.tril({0}, -1)'), ('M', '({0})[:, 1:] * 1.0'),
          ('Q', 'np.linalg.inv({0} + 4.0 * np.eye(3))'), ('Q', '({0}) @ ({0}).T'), ('M', 'np.cov({0})')],
}
SECOND = {  # the shape of {1} in templates that have one
    ('S', 'np.vdot({0}, {1})'): 'B', ('S', 'np.inner({0}, {1})'): 'A', ('S', 'np.einsum("ij,ij->", {0}, {1})'): 'M',
    ('A', '({0}) @ ({1})'): None, ('A', 'np.einsum("ij,j->i", {0}, {1})'): 'B',
    ('A', 'np.linalg.solve({0} + 3.0 * np.eye(3), {1})'): 'A',
    ('B', '({0}) @ ({1})'): 'M', ('M', 'np.outer({0}, {1})'): 'B', ('M', '({0}) * ({1})'): 'R',
    ('M', '({0}) + ({1})'): 'B', ('M', '({0})[:, None] * ({1})'): 'B', ('M', '({0}) @ ({1})'): 'M',
    ('M', 'np.einsum("i,j->ij", {0}, {1})'): 'B', ('M', 'np.einsum("ij,jk->ik", {0}, {1})'): 'M',
    ('T', 'np.outer({0}, {1})'): 'A', ('R', '({0}).T @ ({1})'): 'M', ('Q', '({0}) @ ({1})'): 'T',
    ('Q', 'np.outer({0}, {1})'): 'A',
}


def second_shape(target, src, tmpl):
    key = (target, tmpl)
    if key in SECOND and SECOND[key] is not None:
        return SECOND[key]
    if target == 'A' and tmpl == '({0}) @ ({1})':
        return {'M': 'B', 'Q': 'A'}[src]
    return None


BCAST = {  # target -> pairs of operand shapes that broadcast to it
    'S': [('S', 'S'), ('S', 'P'), ('P', 'S')],
    'A': [('A', 'A'), ('A', 'S'), ('S', 'A'), ('A', 'P')],
    'B': [('B', 'B'), ('B', 'S'), ('S', 'B'), ('P', 'B')],
    'M': [('M', 'M'), ('M', 'S'), ('C', 'R'), ('R', 'C'), ('M', 'B'), ('B', 'M'), ('C', 'M'), ('M', 'R'), ('M', 'P'),
          ('C', 'B')],
    'T': [('T', 'T'), ('T', 'S'), ('T', 'A'), ('A', 'T')],
    'C': [('C', 'C'), ('C', 'S'), ('S', 'C')],
    'R': [('R', 'R'), ('R', 'S'), ('R', 'B'), ('B', 'R')],
    'Q': [('Q', 'Q'), ('Q', 'A'), ('C', 'A'), ('Q', 'S')],
    'P': [('P', 'P')],
}
PY_UN = ['math.tanh({e})', 'math.sin({e})', 'math.exp(math.tanh({e}))', '({e}) ** 2', 'abs({e})', '-({e})',
         'math.sqrt(({e}) ** 2 + 1.0)', 'max({e}, 0.1)', 'min({e}, 0.5)', 'math.log1p(({e}) ** 2)', '({e}) * 1.5']


class Gen:
    def __init__(self, rng):
        self.r = rng
        self.lines = []
        self.counter = 0
        self.helpers_used = set()
        self.pool = rng.choice([3, 5, 15, 15])

    # ---- expressions -------------------------------------------------------------------
    def names(self, env, k):
        return [n for n, s in env.items() if s == k]

    def leaf(self, env, k):
        r = self.r
        if k == 'P':
            c = self.names(env, 'P')
            if c and r.random() < 0.6:
                return r.choice(c)
            if env.get('_loopvar') and r.random() < 0.3:
                return f'({env["_loopvar"]} + 1) * 0.5'
            if r.random() < 0.5:
                return f'float({self.expr(env, "S", 1)})'
            return repr(round(r.uniform(-1.5, 1.5), 2))
        c = self.names(env, k)
        if c and r.random() < 0.8:
            return r.choice(c)
        have = set(env[n] for n in env if not n.startswith('_'))
        opts = [(src, t) for src, t in CONV[k] if src in have and '{1}' not in t]
        if opts and r.random() < 0.85:
            src, tmpl = r.choice(opts)
            e0 = r.choice(self.names(env, src))
            i3 = r.randrange(3)
            return tmpl.replace('{0}', e0).replace('{i3}', str(i3)).replace('{j4}', str(r.randrange(4)))
        if r.random() < 0.5:
            return self.conv(env, k, 1)
        if k == 'S':
            return repr(round(r.uniform(-1.5, 1.5), 2)) if r.random() < 0.5 else f'np.float64({round(r.uniform(-1, 1), 2)})'
        n = int(np.prod(SH[k]))
        return f'np.linspace({round(r.uniform(-1, 0), 2)}, {round(r.uniform(0, 1), 2)}, {n}).reshape{SH[k]}'

    def conv(self, env, k, d):
        r = self.r
        if k == 'P':
            return self.leaf(env, 'P')
        src, tmpl = r.choice(CONV[k])
        e0 = self.expr(env, src, d - 1)
        e1 = None
        if '{1}' in tmpl:
            s2 = second_shape(k, src, tmpl)
            e1 = self.expr(env, s2, d - 1)
        i3 = env.get('_loopvar') if env.get('_loopvar') and r.random() < 0.4 else r.randrange(3)
        j4 = r.randrange(4)
        if isinstance(i3, str) and '{i3} + 1' in tmpl:
            i3 = r.randrange(3)
        return tmpl.replace('{0}', e0).replace('{1}', e1 or '').replace('{i3}', str(i3)).replace('{j4}', str(j4))

    def expr(self, env, k, d):
        r = self.r
        if d <= 0 or r.random() < 0.25:
            return self.leaf(env, k)
        x = r.random()
        if k == 'P':
            if x < 0.5:
                return r.choice(PY_UN).replace('{e}', self.expr(env, 'P', d - 1))
            a, b = self.expr(env, 'P', d - 1), self.expr(env, 'P', d - 1)
            return r.choice(['{a} + {b}', '{a} * {b}', '{a} - {b}', '{a} / (1.0 + ({b}) ** 2)']).format(a=a, b=b)
        if x < 0.35:
            return r.choice(UNARY).replace('{e}', self.expr(env, k, d - 1))
        if x < 0.7:
            ka, kb = r.choice(BCAST[k])
            a, b = self.expr(env, ka, d - 1), self.expr(env, kb, d - 1)
            return '(' + r.choice(BINARY).format(a=a, b=b) + ')'
        if x < 0.8 and self.helper_ok(env):
            return self.helper_call(env, k, d)
        return self.conv(env, k, d)

    def helper_ok(self, env):
        return True

    def helper_call(self, env, k, d):
        r = self.r
        h = r.choice(['h_scale', 'h_norm', 'h_loop', 'h_branch', 'h_pair0', 'h_pair1', 'h_kw', 'h_rec', 'h_write',
                      'closure', 'lam'])
        if h == 'h_write' and k in ('S',):
            h = 'h_scale'
        if h in ('closure', 'lam'):
            fn = env.get('_closure' if h == 'closure' else '_lambda')
            if fn:
                return f'{fn}({self.expr(env, k, d - 1)})'
            h = 'h_norm'
        self.helpers_used.add(h)
        e = self.expr(env, k, d - 1)
        if h == 'h_scale':
            return f'h_scale({e})' if r.random() < 0.5 else f'h_scale({e}, {round(r.uniform(-2, 2), 2)})'
        if h == 'h_norm':
            return f'h_norm({e})'
        if h == 'h_loop':
            return f'h_loop({e}, {r.randrange(1, 4)})'
        if h == 'h_branch':
            return f'h_branch({e})'
        if h == 'h_pair0':
            return f'h_pair({e}, {self.expr(env, k, d - 1)})[0]'
        if h == 'h_pair1':
            return f'h_pair({e}, {self.expr(env, k, d - 1)})[1]'
        if h == 'h_kw':
            return f'h_kw({e}, c={round(r.uniform(-1, 1), 2)})'
        if h == 'h_rec':
            return f'h_rec({e}, {r.randrange(0, 3)})'
        if h == 'h_write':
            return f'h_write({e})'
        raise AssertionError(h)

    # ---- statements ----------------------------------------------------------------------
    def fresh(self, env):
        pool = ['a', 'b', 'c', 'u', 'v', 'w', 'z', 't', 'q', 'acc', 'h', 'g2', 'm', 'n1', 'tmp'][:self.pool]
        free = [p for p in pool if p not in env]
        if free and self.r.random() < 0.8:
            return self.r.choice(free)
        self.counter += 1
        return f'v{self.counter}'

    def emit(self, ind, s):
        self.lines.append('    ' * ind + s)

    def assignable(self, env):
        return [n for n in env if not n.startswith('_') and n not in env.get('_frozen', ())]

    def stmt(self, env, ind, budget, depth):
        r = self.r
        x = r.random()
        ks = [k for k in ARR]
        if self.pool == 3 and x < 0.5 and self.assignable(env):
            nm = r.choice(self.assignable(env))
            k = env[nm]
            if r.random() < 0.5 and k in ARR:
                self.emit(ind, f'{nm} {r.choice(["+=", "-=", "*="])} {self.expr(env, k, r.randrange(1, 3))}')
            else:
                self.emit(ind, f'{nm} = {self.expr(env, k, r.randrange(1, 3))}')
            return 1
        if x < 0.2 or not self.assignable(env):
            k = r.choice(ks + ['P'])
            nm = self.fresh(env)
            self.emit(ind, f'{nm} = {self.expr(env, k, r.randrange(1, 4))}')
            env[nm] = k
            return 1
        if x < 0.32:
            nm = r.choice(self.assignable(env))
            k = env[nm]
            self.emit(ind, f'{nm} = {self.expr(env, k, r.randrange(1, 4))}')
            return 1
        if x < 0.42:  # augmented assignment on a name
            cands = self.assignable(env)
            own = [c for c in cands if c not in ('x', 'y', 's')]
            nm = r.choice(own if own and r.random() < 0.9 else cands)
            k = env[nm]
            op = r.choice(['+=', '-=', '*=', '/='])
            kk = r.choice([kb for ka, kb in BCAST.get(k, []) if ka == k] or [k])
            e = self.expr(env, kk, r.randrange(1, 3))
            if op == '/=':
                e = f'(1.0 + ({e}) ** 2)'
            self.emit(ind, f'{nm} {op} {e}')
            return 1
        if x < 0.52:  # private array with element/slice writes
            k = r.choice(['A', 'B', 'M', 'T', 'Q'])
            nm = self.fresh(env)
            src = [n for n in self.names(env, k)]
            if src and r.random() < 0.6:
                self.emit(ind, f'{nm} = {r.choice(src)}.copy()')
            elif r.random() < 0.5:
                self.emit(ind, f'{nm} = np.zeros({SH[k]})')
            else:
                self.emit(ind, f'{nm} = {self.expr(env, k, 1)} * 1.0')
            env[nm] = k
            for _ in range(r.randrange(1, 4)):
                self.write_into(env, ind, nm, k)
            return 2
        if x < 0.58:  # swap / tuple unpacking
            cands = [(a, b) for a in self.assignable(env) for b in self.assignable(env) if a != b and env[a] == env[b]]
            if cands:
                a, b = r.choice(cands)
                form = r.choice(['{a}, {b} = {b}, {a} * 2.0', '{a}, {b} = {b} + {a}, {a} - {b}',
                                 '{a}, {b} = {b}, {a}', '({a}, {b}) = (np.tanh({b}), {a} * 0.5)'])
                self.emit(ind, form.format(a=a, b=b))
                return 1
            k = r.choice(ks)
            n1, n2 = self.fresh(env), None
            env[n1] = k
            n2 = self.fresh(env)
            env[n2] = k
            del env[n1], env[n2]
            self.emit(ind, f'{n1}, {n2} = h_pair({self.expr(env, k, 1)}, {self.expr(env, k, 1)})')
            self.helpers_used.add('h_pair0')
            env[n1] = k
            env[n2] = k
            return 1
        if x < 0.62:
            return self.alias_stmt(env, ind) if r.random() < 0.5 else self.adv_stmt(env, ind, depth)
        if x < 0.66 and depth < MAXD and budget > 3:
            return self.if_block(env, ind, budget, depth)
        if x < 0.76 and depth < MAXD and budget > 3:
            return self.for_block(env, ind, budget, depth)
        if x < 0.81 and depth < MAXD and budget > 3:
            return self.while_block(env, ind, budget, depth)
        if x < 0.87:
            return self.list_build(env, ind, depth)
        if x < 0.91:
            return self.dict_block(env, ind)
        if x < 0.96 and depth == 0:
            return self.closure_def(env, ind)
        k = r.choice(ks)
        nm = self.fresh(env)
        self.emit(ind, f'{nm} = {self.helper_call(env, k, 2)}')
        env[nm] = k
        return 1

    def alias_stmt(self, env, ind):
        r = self.r
        arrs = [n for n in self.assignable(env) if env[n] in ('A', 'B', 'M', 'T', 'Q', 'C', 'R')]
        y = r.random()
        if not arrs or y < 0.15:
            k = r.choice(['S', 'A', 'B', 'M', 'P'])
            nm = self.fresh(env)
            self.emit(ind, f'{nm} = {self.expr(env, k, 2)} if {self.cond(env)} else {self.expr(env, k, 1)}')
            env[nm] = k
            return 1
        src = r.choice(arrs)
        k = env[src]
        if y < 0.3:
            nm = self.fresh(env)
            self.emit(ind, f'{nm} = {src}')
            env[nm] = k
            self.write_into(env, ind, r.choice([nm, src]), k)
            return 2
        if y < 0.5 and k in ('M', 'T', 'Q', 'A', 'B'):
            nm = self.fresh(env)
            base = self.fresh(dict(env, **{nm: k}))
            init = r.choice([f'{src}.copy()', f'np.zeros_like({src})', f'np.ones_like({src}) * 0.5',
                             f'np.array({src})', f'{src} + 0.0', f'np.empty_like({src})'])
            self.emit(ind, f'{base} = {init}')
            if init.startswith('np.empty_like'):
                self.emit(ind, f'{base}[...] = {src} * 0.5')
            env[base] = k
            if len(SH[k]) == 2:
                view, vk = r.choice([(f'{base}[1]', {'M': 'B', 'T': 'A', 'Q': 'A'}[k]), (f'{base}[:, 1:2]', None),
                                     (f'{base}[1:]', None), (f'{base}.T', None), (f'{base}[:, 0]', None)])
            else:
                view, vk = r.choice([(f'{base}[1:]', None), (f'{base}[::2]', None), (f'{base}[:2]', None)])
            self.emit(ind, f'{nm} = {view}')
            if r.random() < 0.5:
                self.write_into(env, ind, base, k)
            else:
                self.emit(ind, f'{nm} {r.choice(["+=", "*=", "-="])} {self.expr(env, "S", 1)}')
            if vk:
                env[nm] = vk
            else:
                self.emit(ind, f'{self.fresh(env)} = np.sum({nm})')
            return 3
        if y < 0.65:
            nm = self.fresh(env)
            dt = r.choice(['np.float32', 'np.float64', 'float'])
            self.emit(ind, f'{nm} = np.zeros({SH[k]}, dtype={dt})')
            env[nm] = k
            if k in ('A', 'B', 'M', 'T', 'Q') and r.random() < 0.6:
                lv = 'i' if '_loopvar' not in env else 'jj'
                self.emit(ind, f'for {lv} in range({SH[k][0]}):')
                self.emit(ind + 1, f'{nm}[{lv}] {r.choice(["=", "+="])} {src}[{lv}] * {self.expr(env, "S", 1)}')
            else:
                self.write_into(env, ind, nm, k)
            return 2
        if y < 0.8:
            # accumulate rows
            if k in ('M', 'T', 'Q'):
                rk = {'M': 'B', 'T': 'A', 'Q': 'A'}[k]
                acc = self.fresh(env)
                self.emit(ind, f'{acc} = np.zeros({SH[k][1]})')
                self.emit(ind, f'for rr in {src}:')
                self.emit(ind + 1, f'{acc} {r.choice(["+=", "-="])} rr * {self.expr(env, "S", 1)}')
                if r.random() < 0.5:
                    self.emit(ind + 1, f'if np.sum({acc}) > {round(r.uniform(-1, 1), 2)}:')
                    self.emit(ind + 2, r.choice(['break', 'continue']))
                env[acc] = rk
                return 3
            nm = self.fresh(env)
            self.emit(ind, f'{nm} = {src}.sum() or {self.expr(env, "S", 1)}')
            env[nm] = 'S'
            return 1
        # write into any existing array (may be an argument or an alias: sct must follow or refuse)
        self.write_into(env, ind, src, k)
        return 1

    def adv_stmt(self, env, ind, depth):
        r = self.r
        y = r.random()
        mats = [n for n in self.assignable(env) if env[n] == 'M']
        vecs = [n for n in self.assignable(env) if env[n] in ('A', 'B')]
        if y < 0.1:
            # helper writing into its argument, in a loop
            k = r.choice(['A', 'B', 'M'])
            nm = self.fresh(env)
            self.emit(ind, f'{nm} = np.zeros({SH[k]})')
            env[nm] = k
            self.helpers_used.add('fill')
            self.emit(ind, f'for i2 in range({SH[k][0]}):')
            rowk = {'A': 'S', 'B': 'S', 'M': 'B'}[k]
            self.emit(ind + 1, f'fill({nm}, i2, {self.expr(env, rowk, 2)} * (i2 + 1))')
            return 2
        if y < 0.2:
            # tuple-returning helper in a loop, unpacked onto the names it reads
            cands = [(a, b) for a in self.assignable(env) for b in self.assignable(env)
                     if a != b and env[a] == env[b] and env[a] in ARR and '[' not in a + b]
            if not cands:
                return 0
            a, b = r.choice(cands)
            self.emit(ind, f'for i2 in range({r.randrange(1, 4)}):')
            self.emit(ind + 1, f'{a}, {b} = h_pair({a} * 0.5, {b})')
            if r.random() < 0.5:
                self.emit(ind + 1, f'if np.sum({a}) > {round(r.uniform(-1, 1), 2)}:')
                self.emit(ind + 2, r.choice(['break', 'continue']))
                self.emit(ind + 1, f'{b} = {b} * 0.9')
            return 2
        if y < 0.3 and mats:
            # data-dependent integer indices
            m = r.choice(mats)
            nm = self.fresh(env)
            form = r.choice([f'{m}[np.arange(3), np.argmax({m}, axis=1)]', f'{m}[np.argsort({m}[:, 0])]',
                             f'np.take_along_axis({m}, np.argsort({m}, axis=1), axis=1)',
                             f'{m}[{m} > 0]', f'{m}[np.nonzero({m} > 0.2)]', f'np.take({m}, [0, 5, 11])',
                             f'{m}.flatten()[np.argmin({m})] * np.ones(3)', f'{m}[:, np.argmax(np.sum({m}, axis=0))]',
                             f'np.compress({m}[:, 0] > -2.0, {m}[:, 1])'])
            self.emit(ind, f'{nm} = {form}')
            nm2 = self.fresh(dict(env, **{nm: 'X'}))
            self.emit(ind, f'{nm2} = np.sum({nm} ** 2) + np.sum(np.sin({nm}))')
            env[nm2] = 'S'
            return 2
        if y < 0.4:
            # python float accumulator with counters
            nm = self.fresh(env)
            cnt = self.fresh(dict(env, **{nm: 'P'}))
            self.emit(ind, f'{nm} = 0.0')
            self.emit(ind, f'{cnt} = 0')
            src = r.choice(mats + vecs) if mats + vecs else 'y'
            self.emit(ind, f'for val in {src}.flat if {r.random() < 0.5} else {src}.ravel():')
            self.emit(ind + 1, f'if val > {round(r.uniform(-1, 1), 2)}:')
            self.emit(ind + 2, f'{nm} += float(val) ** 2')
            self.emit(ind + 2, f'{cnt} += 1')
            self.emit(ind + 1, 'else:')
            self.emit(ind + 2, f'{nm} -= val.item() * 0.5')
            self.emit(ind, f'{nm} = {nm} / ({cnt} + 1)')
            env[nm] = 'P'
            env[cnt] = 'P'
            return 3
        if y < 0.5:
            # list of arrays modified per item
            k = r.choice(['S', 'A', 'B', 'M'])
            lst = f'L{self.counter}'
            self.counter += 1
            self.emit(ind, f'{lst} = [{self.expr(env, k, 1)}, {self.expr(env, k, 1)}, {self.expr(env, k, 1)}]')
            self.emit(ind, f'{lst}[{r.randrange(3)}] = {lst}[{r.randrange(3)}] * {self.expr(env, "S", 1)}')
            if r.random() < 0.5:
                self.emit(ind, f'for i2 in range(len({lst})):')
                self.emit(ind + 1, f'{lst}[i2] {r.choice(["=", "+="])} {lst}[i2 - 1] * 0.5')
            nm = self.fresh(env)
            self.emit(ind, f'{nm} = ' + r.choice([f'sum(v_ * w_ for v_, w_ in zip({lst}, (0.3, 0.5, 0.7)))',
                                                   f'sum({lst}[1:], {lst}[0])', f'np.stack({lst}).mean(axis=0)',
                                                   f'sum(v_ * (j_ + 1) for j_, v_ in enumerate({lst}))']))
            env[nm] = k
            return 3
        if y < 0.6:
            # dict of params walked by items
            d = f'P{self.counter}'
            self.counter += 1
            ks = [r.choice(['S', 'B']) for _ in range(3)]
            items = ', '.join(f'"k{j}": {self.expr(env, kk, 1)}' for j, kk in enumerate(ks))
            self.emit(ind, f'{d} = {{{items}}}')
            nm = self.fresh(env)
            self.emit(ind, f'{nm} = 0.0')
            self.emit(ind, f'for key, val in {d}.items():')
            self.emit(ind + 1, f'{nm} = {nm} + np.sum(val ** 2) * len(key)')
            if r.random() < 0.5:
                self.emit(ind + 1, f'{d}[key] = val * 0.5')
            self.emit(ind, f'{nm} = {nm} + np.sum({d}["k0"])')
            env[nm] = 'S'
            return 3
        if y < 0.7 and depth == 0:
            # early return under a condition
            live = [n for n in self.assignable(env) if env[n] in ARR and '[' not in n]
            if not live:
                return 0
            v = r.choice(live)
            self.emit(ind, f'if {self.cond(env)}:')
            self.emit(ind + 1, f'return np.sum(np.sin({v})) * 0.7 + np.sum(x) * 0.1, {v}')
            return 2
        if y < 0.8:
            # lambdas over a loop variable (late binding), list of closures
            nm = self.fresh(env)
            k = r.choice(['S', 'B', 'M'])
            e = self.expr(env, k, 1)
            if r.random() < 0.5:
                self.emit(ind, f'fs = [lambda u, c_=c_: u * c_ + 0.1 for c_ in range(3)]')
            else:
                self.emit(ind, f'fs = [lambda u: u * c_ + 0.1 for c_ in range(3)]')
            self.emit(ind, f'{nm} = sum(fn({e}) for fn in fs)')
            env[nm] = k
            return 2
        if y < 0.9:
            # nested loops with break/continue and a data-dependent trip count
            nm = self.fresh(env)
            k = r.choice(['S', 'B'])
            self.emit(ind, f'{nm} = {self.expr(env, k, 1)} * 1.0')
            self.emit(ind, f'nn = int(np.sum(y > 0)) + 1')
            self.emit(ind, 'for i3 in range(nn):')
            self.emit(ind + 1, 'for j3 in range(3):')
            self.emit(ind + 2, f'if j3 > i3:')
            self.emit(ind + 3, 'break')
            self.emit(ind + 2, f'if (i3 + j3) % 2 == 1:')
            self.emit(ind + 3, 'continue')
            self.emit(ind + 2, f'{nm} = {nm} * 0.8 + np.tanh({nm}) * {self.expr(env, "S", 1)}')
            env[nm] = k
            return 3
        # conditional value selection via python and/or on floats
        nm = self.fresh(env)
        a, b = self.expr(env, 'P', 1), self.expr(env, 'P', 1)
        self.emit(ind, f'{nm} = ({a} > 0 and {a}) or {b}')
        env[nm] = 'P'
        return 1

    def write_into(self, env, ind, nm, k):
        if k not in ('A', 'B', 'M', 'T', 'Q'):
            self.emit(ind, f'{nm}[0] {self.r.choice(["=", "+="])} {self.expr(env, "S", 1)}')
            return
        r = self.r
        op = r.choice(['=', '+=', '-=', '*=', '='])
        sh = SH[k]
        lv = env.get('_loopvar')
        forms = []
        if len(sh) == 1:
            i = r.randrange(sh[0])
            forms += [(f'{nm}[{i}]', 'S'), (f'{nm}[1:3]', None), (f'{nm}[:]', k), (f'{nm}[::2]', None),
                      (f'{nm}[-1]', 'S'), (f'{nm}[{nm} > 0]', 'SONLY'), (f'{nm}[[0, 2]]', None)]
            if lv:
                forms.append((f'{nm}[{lv}]', 'S'))
        else:
            i = r.randrange(sh[0])
            j = r.randrange(sh[1])
            row = {'M': 'B', 'T': 'A', 'Q': 'A'}[k]
            col = {'M': 'A', 'T': 'B', 'Q': 'A'}[k]
            forms += [(f'{nm}[{i}]', row), (f'{nm}[{i}, {j}]', 'S'), (f'{nm}[:, {j}]', col), (f'{nm}[1:, :2]', None),
                      (f'{nm}[{nm} < 0]', 'SONLY'), (f'{nm}[..., {j}]', col), (f'{nm}[-1, 1:]', None),
                      (f'{nm}[[0, 2], {j}]', None)]
            if lv:
                forms.append((f'{nm}[{lv}]', row))
        tgt, vk = r.choice(forms)
        if vk is None or vk == 'SONLY':
            vk = 'S' if vk == 'SONLY' or r.random() < 0.5 else 'P'
        e = self.expr(env, vk, r.randrange(1, 3))
        if op == '*=':
            e = f'np.tanh({e})'
        self.emit(ind, f'{tgt} {op} {e}')

    def cond(self, env):
        r = self.r
        e = self.expr(env, 'S', 2)
        c = round(r.uniform(-1, 1), 2)
        form = r.choice(['{e} > {c}', 'float({e}) > {c}', '{e} < {c}', 'np.sum({e}) >= {c}', '{e} > 0 and {c} < 0.5',
                         'not ({e} > {c})', 'bool({e} > {c})'])
        return form.format(e=e, c=c)

    def block(self, env, ind, n, depth):
        start = len(self.lines)
        inner = dict(env)
        for _ in range(n):
            self.stmt(inner, ind, 1, depth)
        if len(self.lines) == start:
            self.emit(ind, 'pass')
        # names made inside are forgotten afterwards (they may be unbound on other paths)
        return inner

    def if_block(self, env, ind, budget, depth):
        r = self.r
        self.emit(ind, f'if {self.cond(env)}:')
        self.block(env, ind + 1, r.randrange(1, 4), depth + 1)
        if r.random() < 0.4:
            self.emit(ind, f'elif {self.cond(env)}:')
            self.block(env, ind + 1, r.randrange(1, 3), depth + 1)
        if r.random() < 0.6:
            self.emit(ind, 'else:')
            self.block(env, ind + 1, r.randrange(1, 3), depth + 1)
        return 3

    def for_block(self, env, ind, budget, depth):
        r = self.r
        n = r.randrange(1, 4)
        lv = 'i' if '_loopvar' not in env else 'j'
        form = r.random()
        inner = dict(env)
        if form < 0.7:
            self.emit(ind, f'for {lv} in range({n}):' if r.random() < 0.7 else f'for {lv} in range({n} - 1, -1, -1):')
            inner['_loopvar'] = lv
        else:
            mats = [nm for nm in env if env[nm] in ('M', 'T', 'Q') and not nm.startswith('_')]
            if not mats:
                self.emit(ind, f'for {lv} in range({n}):')
                inner['_loopvar'] = lv
            else:
                m = r.choice(mats)
                rk = {'M': 'B', 'T': 'A', 'Q': 'A'}[env[m]]
                rowname = 'row' if 'row' not in env else 'row2'
                if r.random() < 0.5:
                    self.emit(ind, f'for {lv}, {rowname} in enumerate({m}):')
                    inner['_loopvar'] = lv if env[m] != 'T' else None
                else:
                    self.emit(ind, f'for {rowname} in {m}:')
                inner[rowname] = rk
                inner['_frozen'] = tuple(env.get('_frozen', ())) + (rowname, m)
        start = len(self.lines)
        for _ in range(r.randrange(1, 4)):
            self.stmt(inner, ind + 1, 1, depth + 1)
        if len(self.lines) == start:
            self.emit(ind + 1, 'pass')
        if r.random() < 0.35:
            self.emit(ind + 1, f'if {self.cond(inner)}:')
            self.emit(ind + 2, r.choice(['break', 'continue']))
            self.stmt(inner, ind + 1, 1, depth + 1)
        if r.random() < 0.2 and inner.get('_loopvar'):
            self.emit(ind + 1, f'if {inner["_loopvar"]} == 1:')
            self.emit(ind + 2, r.choice(['continue', 'break']))
            self.stmt(inner, ind + 1, 1, depth + 1)
        if r.random() < 0.2:
            self.emit(ind, 'else:')
            self.block(env, ind + 1, 1, depth + 1)
        return 4

    def while_block(self, env, ind, budget, depth):
        r = self.r
        cnt = 'k' if 'k' not in env else 'k2'
        n = r.randrange(1, 4)
        self.emit(ind, f'{cnt} = 0')
        if r.random() < 0.5:
            self.emit(ind, f'while {cnt} < {n}:')
        else:
            self.emit(ind, f'while {cnt} < {n} and {self.cond(env)}:')
        inner = dict(env)
        inner[cnt] = 'P'
        inner['_frozen'] = tuple(env.get('_frozen', ())) + (cnt,)
        self.emit(ind + 1, f'{cnt} += 1')
        for _ in range(r.randrange(1, 4)):
            self.stmt(inner, ind + 1, 1, depth + 1)
        if r.random() < 0.3:
            self.emit(ind + 1, f'if {self.cond(inner)}:')
            self.emit(ind + 2, 'break')
        env[cnt] = 'P'
        return 4

    def list_build(self, env, ind, depth):
        r = self.r
        k = r.choice(['S', 'A', 'B', 'M', 'C'])
        lst = 'lst' if 'lst' not in env else f'lst{self.counter}'
        self.counter += 1
        n = r.randrange(1, 4)
        nm = self.fresh(env)
        if r.random() < 0.3:
            e = self.expr(dict(env, _loopvar='ii'), k, 2)
            self.emit(ind, f'{lst} = [{e} for ii in range({n})]')
        else:
            self.emit(ind, f'{lst} = []')
            self.emit(ind, f'for ii in range({n}):')
            inner = dict(env, _loopvar='ii')
            self.emit(ind + 1, f'{lst}.append({self.expr(inner, k, 2)})')
            if r.random() < 0.3:
                self.emit(ind + 1, f'{lst}.append({self.expr(inner, k, 1)})')
        red = r.choice(['sum({l})', 'np.stack({l}).sum(axis=0)', 'np.mean(np.stack({l}, axis=-1), axis=-1)',
                        'np.sum(np.array({l}), axis=0)', '{l}[-1] + {l}[0]', 'max({l}, key=lambda q: float(np.sum(q)))'
                        if False else 'np.stack({l})[0]', 'np.stack({l}).max(axis=0)'])
        if k == 'S' and r.random() < 0.3:
            red = r.choice(['np.concatenate([np.atleast_1d(q) for q in {l}]).sum()', 'np.array({l}).prod()', 'max({l})'])
        if k in ('A', 'B') and r.random() < 0.3:
            red = 'np.concatenate({l}).sum()'
            self.emit(ind, f'{nm} = {red.format(l=lst)}')
            env[nm] = 'S'
            return 2
        self.emit(ind, f'{nm} = {red.format(l=lst)}')
        env[nm] = k
        return 2

    def dict_block(self, env, ind):
        r = self.r
        d = 'prm' if 'prm' not in env else f'prm{self.counter}'
        self.counter += 1
        ka, kb = r.choice(ARR), r.choice(ARR)
        self.emit(ind, f'{d} = {{"a": {self.expr(env, ka, 1)}, "b": {self.expr(env, kb, 1)}}}')
        env[d] = 'D'
        env[f'{d}["a"]'] = ka
        env[f'{d}["b"]'] = kb
        if r.random() < 0.5:
            self.emit(ind, f'for key in {d}:')
            self.emit(ind + 1, f'{d}[key] = {d}[key] * {round(r.uniform(0.5, 1.5), 2)}')
        del env[d]
        return 2

    def closure_def(self, env, ind):
        r = self.r
        caps = [n for n in env if env[n] in ('S', 'P') and not n.startswith('_') and '[' not in n]
        cap = r.choice(caps) if caps else '0.5'
        x = r.random()
        if x < 0.5:
            nm = 'inner' if '_closure' not in env else 'inner2'
            self.emit(ind, f'def {nm}(v):')
            body = r.choice(['return v * {c} + np.tanh(v)', 'return np.sin(v) * ({c} + 1.0)',
                             'out = v * 0.5\n{i}    out = out + {c}\n{i}    return out'])
            self.emit(ind + 1, body.format(c=cap, i='    ' * ind))
            env['_closure'] = nm
        elif x < 0.8:
            self.emit(ind, f'sq = lambda v: v * v * {cap} + v')
            env['_lambda'] = 'sq'
        else:
            # nonlocal accumulator
            accs = [n for n in env if env[n] in ARR and not n.startswith('_') and '[' not in n
                    and n not in env.get('_frozen', ())]
            if not accs:
                return 0
            acc = r.choice(accs)
            self.emit(ind, 'def bump(dv):')
            self.emit(ind + 1, f'nonlocal {acc}')
            self.emit(ind + 1, f'{acc} = {acc} + dv')
            self.emit(ind, f'bump({self.expr(env, env[acc], 1)})')
            if r.random() < 0.5:
                self.emit(ind, f'for ii in range(2):')
                self.emit(ind + 1, f'bump({self.expr(dict(env, _loopvar="ii"), env[acc], 1)} * 0.5)')
        return 1


HELPERS = '''
def h_scale(a, c=2.0):
    return a * c


def h_norm(a):
    return a / np.sqrt(np.sum(a * a) + 1.0)


def h_loop(a, n):
    acc = a * 0
    for k in range(n):
        acc = acc + a ** 2 / (k + 1)
    return acc


def h_branch(a):
    if np.sum(a) > 0:
        return a * 2.0
    else:
        return -a + 0.5


def h_pair(a, b):
    return a * b + np.tanh(a), a - b


def h_kw(a, *, c=1.0):
    return np.tanh(a) * c + a


def h_rec(a, n):
    if n <= 0:
        return a
    return h_rec(np.sin(a) + a * 0.5, n - 1)


def fill(buf, i, v):
    buf[i] = v


def h_write(a):
    b = a.copy()
    b[0] = b[0] * 2.0
    b[-1] += 1.0
    return b
'''

INPUTS = [('x', 'M'), ('y', 'B'), ('s', 'S')]


def make_program(seed, n_stmts=None):
    r = random.Random(seed)
    g = Gen(r)
    ins = list(INPUTS)
    if r.random() < 0.3:
        ins[0] = ('x', r.choice(['A', 'T', 'Q']))
    env = {n: k for n, k in ins}
    for n_, k_ in ins:
        if r.random() < 0.3:
            g.emit(1, f'{n_} = {n_}' + r.choice(['.copy()', ' * 1.0', ' + 0.0']))
    n = n_stmts or (r.randrange(15, 30) if BIG else r.randrange(3, 20))
    i = 0
    while i < n:
        i += g.stmt(env, 1, n - i, 0)
    live = [nm for nm in env if not nm.startswith('_') and env[nm] in ARR + ['P']]
    picks = r.sample(live, min(len(live), r.randrange(1, 4)))
    terms = []
    for p in picks:
        if env[p] == 'P':
            terms.append(f'{p} * 0.3')
        else:
            terms.append(r.choice(['np.sum({p} * {c})', 'np.sum(np.sin({p}))', 'np.sum({p} ** 2) * {c}',
                                   'np.mean(np.tanh({p}))']).format(p=p, c=round(r.uniform(-1, 1), 2)))
    inp = r.choice(ins)[0]
    terms.append(f'np.sum(np.sin({inp})) * 0.1')
    aux = r.choice(picks)
    body = '\n'.join(g.lines)
    loss = ' + '.join(terms)
    params = ', '.join(n for n, _ in ins)
    params0 = ', '.join(n + '_in' for n, _ in ins)
    src = (f'import math\nimport numpy as np\nfrom sct import dlaccelerate, dlgradient\n{HELPERS}\n\n'
           f'def f({params}):\n{body}\n    loss = {loss}\n    return loss, {aux}\n\n\n'
           f'def f_g({params}):\n    {params0} = {params}\n{body}\n    loss = {loss}\n    return loss, {aux}, dlgradient(loss, {params0})\n\n\n'
           f'def wrap({params}):\n    loss, aux = f({params})\n    return loss, aux, dlgradient(loss, {params})\n\n\n'
           f'def wrapd(p):\n    loss, aux = f(' + ', '.join(f'p["{n}"]' for n, _ in ins) + ')\n'
           f'    return loss, aux, dlgradient(loss, p)\n\n\n'
           f'f_acc = dlaccelerate(f)\n\n\n'
           f'def wrapa({params}):\n    loss, aux = f_acc({params})\n    return loss, aux, dlgradient(loss, {params})\n\n\n'
           f'def wrapl(xs):\n    loss, aux = f(*xs)\n    return loss, aux, dlgradient(loss, xs)\n\n\n'
           f'def hv({params}, vx):\n    {params0} = {params}\n    loss, aux = f({params})\n'
           f'    gx = dlgradient(loss, {ins[0][0]}_in)\n    zz = np.sum(gx * vx)\n'
           f'    return zz, dlgradient(zz, {params0})\n')
    return src, ins


def rand_inputs(ins, rng, dtype=np.float64):
    out = []
    for _, k in ins:
        out.append(np.asarray(rng.uniform(-1.2, 1.2, SH[k]), dtype=dtype))
    return out


def load(src, path):
    with open(path, 'w') as fh:
        fh.write(src)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def plain(fun, args):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        return fun(*[a.copy() for a in args])


def finite(v):
    try:
        a = np.asarray(v, dtype=np.float64)
    except Exception:
        return False
    return bool(np.all(np.isfinite(a))) and float(np.max(np.abs(a), initial=0.0)) < 1e6


def same_value(a, b, rtol=None):
    if rtol is None:
        rtol = F64_RTOL
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return f'shape {a.shape} vs {b.shape}'
    if a.dtype != b.dtype:
        return f'dtype {a.dtype} vs {b.dtype}'
    if rtol == 0.0 and not np.array_equal(a, b, equal_nan=True):
        return f'value {a!r} vs {b!r} (not bit for bit)'
    if not np.allclose(a, b, rtol=rtol, atol=rtol * 1e-3):
        return f'value {a!r} vs {b!r}'
    return None


def fd_grad(fun, args, idx, h=1e-6):
    """central differences of fun's loss in args[idx]; NaN where fwd/bwd disagree (kink)."""
    base = np.array(args[idx], dtype=np.float64)
    g = np.zeros(base.shape)
    f0 = float(plain(fun, args)[0])
    for ix in np.ndindex(base.shape) if base.shape else [()]:
        vals = []
        for sgn in (1, -1):
            a = [x.copy() for x in args]
            b = base.copy()
            b[ix] += sgn * h
            a[idx] = b
            vals.append(float(plain(fun, a)[0]))
        fp, fm = vals
        fw, bw = (fp - f0) / h, (f0 - fm) / h
        c = (fp - fm) / (2 * h)
        if abs(fw - bw) > 1e-4 * (1 + abs(c)):
            g[ix] = np.nan
        else:
            g[ix] = c
    return g


def classify(exc):
    msg = str(exc).split('\n')[0]
    import re
    msg = re.sub(r'^.*?, line \d+: ', '', msg)
    msg = re.sub(r'`[^`]*`', '`...`', msg)
    msg = re.sub(r"'[^']*'", "'...'", msg)
    return msg[:110]


def call_variant(dlfeval, dlarray, fun, variant, ins, args):
    xs = [dlarray(a.copy()) for a in args]
    if variant == 'wrapd':
        loss, aux, g = dlfeval(fun, {n: v for (n, _), v in zip(ins, xs)})
        return loss, aux, [g[n] for n, _ in ins]
    if variant == 'wrapl':
        loss, aux, g = dlfeval(fun, xs)
        return loss, aux, list(g)
    return dlfeval(fun, *xs)


def run_one(seed, workdir, stats, verbose=False, variants=('f_g', 'wrap', 'f_g', 'wrapd', 'f_g', 'wrapl', 'f_g', 'wrapa')):
    import sct
    from sct import dlarray, dlfeval, extractdata
    src, ins = make_program(seed)
    path = os.path.join(workdir, f'p{seed}.py')
    try:
        mod = load(src, path)
    except SyntaxError as e:
        stats['gen_syntax'] += 1
        return ('gen', f'syntax {e}')
    rng = np.random.default_rng(seed)
    trials = [rand_inputs(ins, rng) for _ in range(2)]
    # the same compiled code called again with other shapes (the cache is per kind, not shape)
    for rows, cols in [(5, 4), (3, 6), (2, 4), (4, 3), (1, 4)]:
        alt = {'M': (rows, cols), 'B': (cols,), 'A': (rows,), 'T': (cols, rows), 'Q': (rows, rows), 'S': ()}
        trials.append([np.asarray(rng.uniform(-1.2, 1.2, alt[k])) for _, k in ins])
    ok_trials = []
    raising = []
    for args in trials:
        try:
            res = plain(mod.f, args)
        except Warning:
            continue
        except Exception as e:
            if len(raising) < 2:
                raising.append((args, e))
            continue
        if finite(res[0]) and finite(res[1]):
            ok_trials.append((args, res))
            if len(ok_trials) >= 4:
                break
    if not ok_trials:
        stats['plain_fail'] += 1
        os.remove(path)
        return None
    stats['programs'] += 1
    problems = []
    variant = variants[seed % len(variants)]
    if '        return np.sum(np.sin(' in src:
        variant = 'wrap'
    fun = getattr(mod, variant)
    for args, res in ok_trials:
        try:
            out = call_variant(dlfeval, dlarray, fun, variant, ins, args)
        except sct.CompileError as e:
            stats['refused'] += 1
            stats['refused:' + classify(e)] += 1
            return ('refused', classify(e))
        except sct.EvaluationError as e:
            if e.__cause__ is None or isinstance(e.__cause__, sct.SctError):
                stats['refused'] += 1
                stats['refused(run):' + classify(e)] += 1
                return ('refused', classify(e))
            stats['evalerror'] += 1
            stats['evalerror:' + classify(e)] += 1
            problems.append(('evalerror', str(e)[:2000]))
            break
        except Exception as e:
            stats['internal'] += 1
            problems.append(('internal', traceback.format_exc()[-3000:]))
            break
        loss, aux, grads = out
        v1 = same_value(extractdata(loss) if hasattr(loss, 'shape') or True else loss, res[0])
        if hasattr(loss, 'dtype') is False:
            v1 = same_value(np.asarray(loss), np.asarray(res[0]))
        else:
            v1 = same_value(np.asarray(extractdata(loss)), np.asarray(res[0]))
        a_out = extractdata(aux) if hasattr(aux, 'dtype') or hasattr(aux, 'shape') else aux
        v2 = same_value(np.asarray(a_out), np.asarray(res[1]))
        if v1 or v2:
            if v1 and v1.startswith('dtype') and not v2:
                pass
            problems.append(('value', f'loss: {v1} aux: {v2}'))
        for i, (a, gr) in enumerate(zip(args, grads)):
            gr = np.asarray(extractdata(gr))
            if 'float32' in src:      # rounding to float32 inside: differences are noise
                stats['fd_skipped_f32'] += 1
                break
            fd = fd_grad(mod.f, args, i)
            if gr.shape != a.shape:
                problems.append(('grad', f'input {ins[i][0]} grad shape {gr.shape} vs {a.shape}'))
                continue
            mask = np.isfinite(fd)
            stats['fd_skipped'] += int((~mask).sum())
            # (differences of a large loss carry its rounding: |f| * 1e-16 / 1e-6 absolute, and more
            # where the loss is a sum of large terms)
            big = float(np.max(np.abs(fd[mask]), initial=0.0))
            f0 = abs(float(res[0]))
            if not np.allclose(gr[mask], fd[mask], rtol=1e-4, atol=1e-5 + 1e-8 * big + 1e-9 * f0):
                problems.append(('grad', f'input {ins[i][0]}: sct {gr!r}\n fd {fd!r}'))
        if problems:
            break
    # where plain Python raises (another shape that does not broadcast, an index out of range),
    # the compiled code must raise too, not return a value
    if not problems:
        for args, exc in raising:
            try:
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    out = call_variant(dlfeval, dlarray, fun, variant, ins, args)
            except Exception:
                stats['raises_too'] += 1
                continue
            problems.append(('no-raise', f'plain Python raised {type(exc).__name__}: {exc} for shapes '
                             f'{[np.shape(a) for a in args]}; sct returned {out[0]!r}'))
    if problems:
        kind = problems[0][0]
        stats['wrong:' + kind] += 1
        stats['wrong'] += kind in ('value', 'grad')
        with open(os.path.join(workdir, f'fail_{seed}.txt'), 'w') as fh:
            fh.write(f'# variant {variant}\n{src}\n\n' + '\n'.join(f'{k}: {m}' for k, m in problems))
        return problems[0]
    # the AcceleratedFunction called outside dlfeval gives plain Python's values
    if variant == 'wrapa' and not problems:
        for args, res in ok_trials[:2]:
            try:
                out = mod.f_acc(*[a.copy() for a in args])
            except sct.SctError as e:
                stats['acc_refused:' + classify(e)] += 1
                break
            v1 = same_value(np.asarray(extractdata(out[0])), np.asarray(res[0]))
            v2 = same_value(np.asarray(extractdata(out[1])), np.asarray(res[1]))
            if v1 or v2:
                problems.append(('acc-value', f'loss: {v1} aux: {v2}'))
    # float32 inputs: values and dtypes as plain Python's
    args = [a.astype(np.float32) for a in ok_trials[0][0]]
    try:
        res = plain(mod.f, args)
        good = finite(res[0]) and finite(res[1])
    except Exception:
        good = False
    if good:
        try:
            out = call_variant(dlfeval, dlarray, fun, variant, ins, args)
            loss, aux, grads = out
            v1 = same_value(np.asarray(extractdata(loss)), np.asarray(res[0]), rtol=F32_RTOL)
            v2 = same_value(np.asarray(extractdata(aux) if hasattr(aux, 'shape') else aux), np.asarray(res[1]), rtol=F32_RTOL)
            if v1 or v2:
                problems.append(('value32', f'loss: {v1} aux: {v2}'))
            for i, (a, gr) in enumerate(zip(args, grads)):
                gr = np.asarray(extractdata(gr))
                if gr.dtype != np.float32 or gr.shape != a.shape:
                    problems.append(('grad32', f'input {ins[i][0]} grad {gr.dtype} {gr.shape}'))
            stats['f32_checked'] += 1
        except sct.SctError as e:
            stats['f32_error:' + classify(e)] += 1
        except Exception as e:
            problems.append(('internal32', traceback.format_exc()[-3000:]))
    # forward mode: sct.jvp against directional differences of loss and aux
    if not problems and 'float32' not in src:
        args, res = ok_trials[0]
        trng = np.random.default_rng(seed + 11)
        tans = tuple(trng.uniform(-1, 1, np.shape(a)) for a in args)
        try:
            val, jv = sct.jvp(mod.f, tuple(a.copy() for a in args), tans)
            v1 = same_value(np.asarray(extractdata(val[0])), np.asarray(res[0]))
            v2 = same_value(np.asarray(extractdata(val[1])), np.asarray(res[1]))
            if v1 or v2:
                problems.append(('jvp-value', f'loss: {v1} aux: {v2}'))
            h = 1e-6
            outs = []
            for sg in (1, 0, -1):
                outs.append(plain(mod.f, [a + sg * h * t for a, t in zip(args, tans)]))
            for j in range(2):
                fp, f0, fm = (np.asarray(o[j], dtype=np.float64) for o in outs)
                fw, bw, c = (fp - f0) / h, (f0 - fm) / h, (fp - fm) / (2 * h)
                ok = np.abs(fw - bw) <= 1e-4 * (1 + np.abs(c))
                got = np.asarray(extractdata(jv[j]), dtype=np.float64)
                if got.shape != c.shape:
                    problems.append(('jvp', f'output {j}: tangent shape {got.shape} vs {c.shape}'))
                elif not np.allclose(got[ok], c[ok], rtol=1e-4, atol=1e-5):
                    problems.append(('jvp', f'output {j}: sct {got!r}\n fd {c!r}'))
            stats['jvp_checked'] += 1
        except sct.SctError as e:
            stats['jvp_refused:' + classify(e)] += 1
        except Exception:
            problems.append(('internal-jvp', traceback.format_exc()[-3000:]))
    # second order: d/d(inputs) of sum(dloss/dx * v), against differences of the first-order gradient
    if not problems and seed % 3 == 0 and 'float32' not in src:
        args = ok_trials[0][0]
        vx = np.random.default_rng(seed + 7).uniform(-1, 1, args[0].shape)
        def g1(a):
            o = dlfeval(mod.wrap, *[dlarray(t.copy()) for t in a])
            return float(np.sum(np.asarray(extractdata(o[2][0])) * vx))
        try:
            zz, g2 = dlfeval(mod.hv, *[dlarray(a.copy()) for a in args], vx)
            z_ref = g1(args)
            if not np.allclose(float(extractdata(zz)), z_ref, rtol=1e-9, atol=1e-12):
                problems.append(('hvp-value', f'{float(extractdata(zz))} vs {z_ref}'))
            for i, a in enumerate(args):
                gr = np.asarray(extractdata(g2[i]))
                h = 1e-6
                fd = np.zeros(a.shape)
                for ix in (np.ndindex(a.shape) if a.shape else [()]):
                    vals = []
                    for sg in (1, 0, -1):
                        aa = [t.copy() for t in args]
                        b = np.array(a, dtype=np.float64)
                        b[ix] += sg * h
                        aa[i] = b
                        vals.append(g1(aa))
                    fp, f0, fm = vals
                    fw, bw, c = (fp - f0) / h, (f0 - fm) / h, (fp - fm) / (2 * h)
                    fd[ix] = np.nan if abs(fw - bw) > 1e-3 * (1 + abs(c)) else c
                mask = np.isfinite(fd)
                if not np.allclose(gr[mask], fd[mask], rtol=1e-3, atol=1e-4):
                    problems.append(('hvp-grad', f'input {ins[i][0]}: sct {gr!r}\n fd {fd!r}'))
            stats['hvp_checked'] += 1
        except sct.SctError as e:
            stats['hvp_refused:' + classify(e)] += 1
        except Exception:
            problems.append(('internal-hvp', traceback.format_exc()[-3000:]))
    # where plain Python raises (another shape that does not broadcast, an index out of range),
    # the compiled code must raise too, not return a value
    if not problems:
        for args, exc in raising:
            try:
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    out = call_variant(dlfeval, dlarray, fun, variant, ins, args)
            except Exception:
                stats['raises_too'] += 1
                continue
            problems.append(('no-raise', f'plain Python raised {type(exc).__name__}: {exc} for shapes '
                             f'{[np.shape(a) for a in args]}; sct returned {out[0]!r}'))
    if problems:
        kind = problems[0][0]
        stats['wrong:' + kind] += 1
        stats['wrong'] += not kind.startswith('internal')
        stats['internal'] += kind.startswith('internal')
        with open(os.path.join(workdir, f'fail_{seed}.txt'), 'w') as fh:
            fh.write(f'# variant {variant}\n{src}\n\n' + '\n'.join(f'{k}: {m}' for k, m in problems))
        return problems[0]
    stats['ok'] += 1
    os.remove(path)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=100)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='/tmp/fuzz4')
    ap.add_argument('--show', action='store_true')
    ap.add_argument('--print', action='store_true')
    ap.add_argument('--f32-exact', action='store_true', help='float32 values bit for bit')
    ap.add_argument('--exact', action='store_true', help='float64 and float32 values bit for bit')
    ap.add_argument('--big', action='store_true', help='15-30 statements, blocks nested 3 deep')
    a = ap.parse_args()
    global F32_RTOL, F64_RTOL
    if a.f32_exact:
        F32_RTOL = 0.0
    if a.exact:
        F32_RTOL = F64_RTOL = 0.0
    if a.big:
        global BIG, MAXD
        BIG, MAXD = True, 3
    os.makedirs(a.out, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # this checkout's sct
    if a.print:
        print(make_program(a.seed)[0])
        return 0
    sys.path.insert(0, a.out)
    stats = collections.Counter()
    for s in range(a.seed, a.seed + a.n):
        res = run_one(s, a.out, stats)
        if (s - a.seed) % 25 == 24:
            with open(os.path.join(a.out, 'stats.txt'), 'w') as fh:
                fh.write(f'through seed {s}\n' + ''.join(f'{k}: {v}\n' for k, v in sorted(stats.items())))
        if res and res[0] != 'refused':
            print(f'seed {s}: {res[0]}: {res[1][:300]}', flush=True)
        elif res and a.show:
            print(f'seed {s}: refused: {res[1]}', flush=True)
    for k, v in sorted(stats.items()):
        print(f'{k}: {v}')
    return 1 if stats['wrong'] or stats['internal'] or stats['evalerror'] else 0


if __name__ == '__main__':
    sys.exit(main())
