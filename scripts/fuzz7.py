"""A differential random-program tester for sct written the way users write code (red team gen, dec 7).

    PYTHONPATH=. python scripts/fuzz7.py --n 500 --seed 0 [--out /tmp/fuzz7] [--print] [-v]
    PYTHONPATH=. python scripts/fuzz7.py --check /tmp/fuzz7/WRONG_12.py

Independent of scripts/fuzz2-6.py and scripts/progtest.py.  Each program is a module holding

* parameters as a dict (``p["W"]``), a dataclass (``p.W``) or an object of a small class with
  methods (``m.apply(h)``, ``m.score(h)``) -- W (3, 4), b (3,), w (4,) arrays and a float s;
* module-level helpers calling earlier helpers, returning arrays or tuples, with defaults;
* ``f(x, p)`` (x of shape (4,)): names reassigned many times; aliases (``a = b``) followed by
  augmented assignment; in-place writes (``buf[i] = ...``, ``buf[a:b] += ...``, ``out[:, j] *= ...``,
  fancy writes) into ``np.zeros`` buffers and ``.copy()``s; list appends then ``np.stack`` /
  ``np.concatenate`` / ``sum``; for loops over ranges, rows, ``enumerate`` and ``zip`` with
  ``break``/``continue`` on traced values; while loops; helpers called in loops; closures (late
  binding) and lambdas; tuple unpacking and swaps; dicts built and updated in the function;
  objects built in the function and their methods; ``if``/``else`` and conditional expressions on
  traced comparisons; ``np.where``/``maximum``/``minimum``/``abs``; reductions with ``axis=`` and
  ``keepdims=``; ``@``, transposes, reshapes, broadcasting, stepped and negative slices, integer
  list indexing; a scalar loss at the end.

Checked for each program plain Python runs to a finite loss without warnings:

* ``dlfeval(f_g, x, p)`` with ``dlgradient(loss, x, p)``: the value as plain Python's (1e-10
  relative; shape ()), every gradient (x and each array of p) against central differences in
  float64 (step 1e-6; a coordinate whose one-sided differences at 1e-4 disagree -- a kink of
  abs/max/where or a branch flip within 1e-4 -- is skipped), gradient dtype and shape;
* ``sct.dlaccelerate(f)`` outside ``dlfeval`` (value) and inside it (value and gradient);
* every third program, the nested ``dlgradient(sum(dlgradient(loss, x) * v), x)`` and
  ``sct.hvp`` of ``lambda z: f(z, p)`` against differences of sct's first-order gradient.

sct errors (``sct.SctError``) naming the program's file are refusals, tallied by message; one
naming another file is UNLOCATED; any other exception (also an EvaluationError whose cause is not
the program's own) is a CRASH.  Failing programs are written to OUT as runnable modules.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import random
import re
import sys
import tempfile
import traceback
import warnings

import numpy as np

VALUE_RTOL = 1e-10
GRAD_RTOL, GRAD_ATOL = 1e-5, 1e-6
SHAPES = {'S': (), 'V4': (4,), 'V3': (3,), 'M': (3, 4)}
LEN = {'V4': 4, 'V3': 3, 'M': 3}


class Gen:
    """One random program.  Shapes: S scalar, V4 (4,), V3 (3,), M (3, 4)."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.seed = seed
        self.n = 0
        self.style = self.r.choice(['dict', 'dict', 'dc', 'obj'])
        self.helpers = []        # (name, arg shapes, return shapes) of module-level helpers
        self.helper_src = []
        self.methods = {}        # name -> (arg shape, return shape) of Layer's methods
        self.class_src = []

    # ---- small pieces -------------------------------------------------------------------------
    def c(self):
        return self.r.choice(['0.5', '1.5', '0.3', '2.0', '0.7', '0.25', '1.0', '0.1', '0.9'])

    def fresh(self, base='v'):
        self.n += 1
        return f'{base}{self.n}'

    def p_(self, f):
        if self.style == 'dict':
            return f'p["{f}"]'
        return f'{"p" if self.style == "dc" else "m"}.{f}'

    def params(self):
        return {self.p_('W'): 'M', self.p_('b'): 'V3', self.p_('w'): 'V4', self.p_('s'): 'S'}

    # ---- expressions --------------------------------------------------------------------------
    def names(self, env, shp):
        return [n for n, s in env['vars'].items() if s == shp]

    def leaf(self, env, shp):
        ns = self.names(env, shp)
        r = self.r.random()
        if shp == 'S':
            if r < 0.25 or not (ns or self.names(env, 'V4') or self.names(env, 'V3')):
                return self.c()
            if r < 0.55 and ns:
                return self.r.choice(ns)
            vs = self.names(env, 'V4') + self.names(env, 'V3')
            if r < 0.8 and vs:
                v = self.r.choice(vs)
                n = LEN[env['vars'][v]]
                lv = [i for i, k in env['loops'] if k <= n]
                if lv and self.r.random() < 0.5:
                    return f'{v}[{self.r.choice(lv)}]'
                return f'{v}[{self.r.randrange(-n, n)}]'
            ms = self.names(env, 'M')
            if ms:
                return f'{self.r.choice(ms)}[{self.r.randrange(-3, 3)}, {self.r.randrange(-4, 4)}]'
            return self.r.choice(ns) if ns else self.c()
        if ns:
            return self.r.choice(ns)
        # no name of this shape (a helper's parameters): derive one from another shape
        derive = {'V4': {'M': '{a}[0]', 'V3': 'np.append({a}, 0.5)', 'S': '{a} * np.ones(4)'},
                  'V3': {'V4': '{a}[:3]', 'M': '{a}[:, 0]', 'S': '{a} * np.ones(3)'},
                  'M': {'V4': 'np.outer(np.ones(3), {a})', 'V3': '{a}[:, None] * np.ones(4)',
                        'S': '{a} * np.ones((3, 4))'}}[shp]
        srcs = [s for s in derive if s != 'S' and self.names(env, s)]
        src = self.r.choice(srcs) if srcs else 'S'
        return derive[src].format(a=self.leaf(env, src))

    def scal(self, env, d):
        return self.ex(env, 'S', d)

    def ex(self, env, shp, d):
        got = self.ex_(env, shp, d)
        return f'({got})' if ' ' in got and not (got.startswith('(') and self._closes_at_end(got)) else got

    @staticmethod
    def _closes_at_end(s):
        depth = 0
        for i, ch in enumerate(s):
            depth += ch in '([{'
            depth -= ch in ')]}'
            if depth == 0:
                return i == len(s) - 1
        return False

    def ex_(self, env, shp, d):
        if d <= 0 or self.r.random() < 0.25:
            return self.leaf(env, shp)
        kinds = ['un', 'un', 'bin', 'bin', 'bin', 'shape', 'shape', 'shape', 'where', 'mm', 'ifx', 'call']
        k = self.r.choice(kinds)
        e = lambda s=shp, dd=d - 1: self.ex(env, s, dd)
        if k == 'un':
            a = e()
            return self.r.choice([
                'np.tanh({a})', 'np.sin({a})', 'np.abs({a})', '({a}) ** 2', 'np.exp(-({a}) ** 2)',
                'np.sqrt({a} ** 2 + 1.0)', '-{a}', 'np.log1p(np.abs({a}))', 'np.cos({a})',
                'np.square({a})', 'abs({a})', 'np.arctan({a})', '({a}) * 0.5']).format(a=a)
        if k == 'bin':
            a = e()
            b = e() if shp == 'S' or self.r.random() < 0.7 else self.scal(env, d - 1)
            if self.r.random() < 0.5:
                a, b = b, a
            return self.r.choice(['({a} + {b})', '({a} - {b})', '({a} * {b})', '{a} / (1.0 + {b} ** 2)',
                                  '({a} - 0.5 * {b})']).format(a=a, b=b)
        if k == 'where':
            a, b = e(), (e() if self.r.random() < 0.6 else self.scal(env, d - 1))
            if shp == 'S':
                return f'np.where({a} > {b}, {e()}, {e()})'
            return self.r.choice([f'np.where({a} > {b}, {a}, {e()})', f'np.where({a} > 0, {e()}, {b})',
                                  f'np.where({a} < {b}, {e()}, 0.0)'])
        if k == 'mm':
            a, b = e(), (e() if self.r.random() < 0.6 else self.scal(env, d - 1))
            fn = self.r.choice(['np.maximum', 'np.minimum'])
            if shp == 'S' and self.r.random() < 0.3:
                fn = self.r.choice(['max', 'min'])
            return f'{fn}({a}, {b})'
        if k == 'ifx':
            return f'({e()} if {self.cond(env, d - 1)} else {e()})'
        if k == 'call':
            got = self.call(env, shp, d - 1)
            if got:
                return got
        return self.shape_op(env, shp, d)

    def cond(self, env, d):
        a = self.scal(env, min(d, 1))
        return self.r.choice([f'{a} > {self.c()}', f'{a} > 0', f'{a} < {self.r.choice(["0.0", "-0.2", "0.4"])}',
                              f'{a} >= {self.scal(env, 0)}'])

    def call(self, env, shp, d):
        opts = []
        for name, args, ret in self.helpers:
            if ret == shp:
                opts.append((name, args, None))
            elif isinstance(ret, tuple) and shp in ret:
                opts.append((name, args, ret.index(shp)))
        for name, (args, ret) in env['funcs'].items():
            if ret == shp:
                opts.append((name, args, None))
        for obj in env['objs']:
            for meth, (a, ret) in self.methods.items():
                if ret == shp:
                    opts.append((f'{obj}.{meth}', [a], None))
        if not opts:
            return None
        name, args, idx = self.r.choice(opts)
        argsrc = ', '.join(self.ex(env, a, d) for a in args)
        s = f'{name}({argsrc})'
        return s if idx is None else f'{s}[{idx}]'

    def shape_op(self, env, shp, d):
        e = lambda s, dd=d - 1: self.ex(env, s, dd)
        if shp == 'S':
            ch = self.r.choice(['sum4', 'sum3', 'mean', 'dot4', 'dot3', 'max', 'min', 'msum', 'trace',
                                'norm', 'elem', 'vdot', 'meth', 'mask', 'comp', 'float', 'clip', 'einsum'])
            if ch == 'sum4':
                return self.r.choice(['np.sum({a})', '{a}.sum()', 'np.mean({a})', 'sum({a})']).format(a=e('V4'))
            if ch == 'sum3':
                return self.r.choice(['np.sum({a})', '{a}.mean()', 'np.prod(np.tanh({a}))']).format(a=e('V3'))
            if ch == 'mean':
                return f'np.mean({e("M")}, axis=(0, 1))'
            if ch == 'dot4':
                return f'{e("V4")} @ {e("V4")}'
            if ch == 'dot3':
                return f'np.dot({e("V3")}, {e("V3")})'
            if ch == 'max':
                return self.r.choice(['np.max({a})', '{a}.max()', 'np.amax({a})']).format(a=e(self.r.choice(['V4', 'V3'])))
            if ch == 'min':
                return self.r.choice(['np.min({a})', '{a}.min()']).format(a=e(self.r.choice(['V4', 'V3'])))
            if ch == 'msum':
                return self.r.choice(['np.sum({a} * {b})', '{a}.sum()', 'np.sum({a}, axis=1)[{i}]',
                                      'np.mean({a}, axis=0, keepdims=True)[0, {j}]']).format(
                    a=e('M'), b=e('M'), i=self.r.randrange(-3, 3), j=self.r.randrange(-4, 4))
            if ch == 'trace':
                a = e('M')
                return f'np.trace({a} @ {a}.T)'
            if ch == 'mask':
                a = e('V4')
                return self.r.choice([f'np.sum({a}[{a} > 0])', f'{a}[{a} < 0.3].sum()', f'np.sum(np.where({a} > 0, {a}, 0.0))'])
            if ch == 'comp':
                a = e('V4')
                return self.r.choice([f'sum([t * t for t in {a}])', f'sum(np.tanh(t) for t in {a})',
                                      f'sum({a}[k] * (k + 1) for k in range(4))', f'max([t for t in {a}])'])
            if ch == 'float':
                return f'float({e("S")})'
            if ch == 'clip':
                return f'np.sum(np.clip({e("V4")}, -0.5, 0.8))'
            if ch == 'einsum':
                return self.r.choice([f'np.einsum("ij,j->", {e("M")}, {e("V4")})', f'np.einsum("i,i", {e("V3")}, {e("V3")})'])
            if ch == 'norm':
                return f'np.linalg.norm({e("V4")} + 2.0)'
            if ch == 'vdot':
                return f'{e("V3")} @ {e("M")} @ {e("V4")}'
            if ch == 'meth' and self.methods:
                got = self.call(env, 'S', d - 1)
                if got:
                    return got
            return self.leaf(env, 'S')
        if shp == 'V4':
            i, j = self.r.randrange(-3, 3), self.r.randrange(-4, 4)
            ch = self.r.choice([
                '{M}[{i}]', '{M}[{i}, :]', 'np.sum({M}, axis=0)', '{M}.mean(axis=0)', 'np.max({M}, axis=0)',
                '{M}.T @ {V3}', '{V3} @ {M}', 'np.concatenate([{V3}, {V3}[:1]])', 'np.concatenate([{V4}[::2], {V4}[1::2]])',
                '{V4}[::-1]', '{V4}[[3, 1, 0, 2]]', '{M}.reshape(4, 3)[:, {k}]', 'np.sum({M}, axis=0, keepdims=True)[0]',
                '{V4}.reshape(2, 2).T.reshape(4)', 'np.cumsum({V4})', '{M}[::2].sum(axis=0)', '{M}[[0, 2], :].min(axis=0)',
                'np.dot({V3}, {M})', '{M}[-1, ::-1]', '{V4} * {M}[{i}]', 'np.append({V3}, {S})',
                '({V3}[:, None] * {M}).sum(axis=0)', '{M}.T.dot({V3})', '{V4}[[0, 0, 1, 3]]', 'np.clip({V4}, -1.0, 1.0)',
                'np.linalg.norm({M}, axis=0)', 'np.concatenate(np.split({V4}, 2)[::-1])', '{M}[{i}] - {M}[{i}].mean()',
                'np.einsum("ij,i->j", {M}, {V3})', 'np.array([{S}, {S}, {S}, {S}])', '{V4}[np.array([2, 0, 1, 3])]'])
            k = self.r.randrange(-3, 3)
        elif shp == 'V3':
            i, j = self.r.randrange(-3, 3), self.r.randrange(-4, 4)
            k = 0
            ch = self.r.choice([
                '{M} @ {V4}', 'np.dot({M}, {V4})', '{M}.sum(axis=1)', '{M}[:, {j}]', '{M}[:, -1]', 'np.max({M}, axis=1)',
                '{V4}[1:]', '{V4}[:3]', '{V4}[-3:]', '{V4}[[0, 2, 3]]', '{V4}[::-1][:3]', '{M}.mean(axis=1, keepdims=True)[:, 0]',
                '({M} @ {M}.T) @ {V3}', '{M}[:, 1:3].sum(axis=-1)', '{V3}[::-1]', '{V3}[[2, 2, 0]]', '{M}.dot({V4})',
                'np.min({M}, axis=-1)', '{M}[:, ::2] @ {V4}[1::2]', 'np.linalg.norm({M}, axis=1)',
                'np.array([{S}, {S}, 0.5])', 'np.hstack([{V4}[:1], {V4}[2:]])', 'np.ptp({M}, axis=1)'])
        else:
            i = j = k = 0
            ch = self.r.choice([
                'np.outer({V3}, {V4})', '{V3}[:, None] * {V4}', '{V3}.reshape(3, 1) + {V4}', '{M}[::-1]',
                '{M}[[2, 0, 1]]', '{M}[:, ::-1]', '{M} - {M}.mean(axis=1, keepdims=True)',
                '{M} / (1.0 + np.sum({M} * {M}, axis=0, keepdims=True))', 'np.stack([{V4}, {V4}, {V4}])',
                'np.stack([{V3}, {V3}, {V3}, {V3}], axis=1)', '{M}.reshape(4, 3).T', 'np.transpose({M}.T)',
                '{M} @ np.diag({V4})', 'np.diag({V3}) @ {M}', '{V3}[:, np.newaxis] - {M}', '{M}.T.T',
                'np.vstack([{M}[:1], {M}[1:]])', 'np.maximum({M}, {M}.max(axis=0, keepdims=True) * 0.5)',
                '{M} * np.abs({V4})', '({M}.T * {V3}).T', 'np.concatenate([{M}[:, :2], {M}[:, 2:]], axis=1)',
                'np.clip({M}, -0.5, None)', 'np.tile({V4}, (3, 1))', 'np.repeat({V3}[:, None], 4, axis=1)',
                'np.einsum("ij->ij", {M}) * 1.0', '({M} @ {M}.T) @ {M}'])
        fields = {}
        for key in ('M', 'V3', 'V4', 'S'):
            while '{' + key + '}' in ch:
                ch = ch.replace('{' + key + '}', '\0' + e(key) + '\0', 1)
        ch = ch.replace('\0', '')
        return ch.replace('{i}', str(i)).replace('{j}', str(j)).replace('{k}', str(k))

    # ---- statements ---------------------------------------------------------------------------
    def locals_(self, env, shp=None):
        return [n for n, s in env['vars'].items() if n in env['own'] and (shp is None or s == shp)]

    def stmt(self, env, top, d):
        """A list of lines (indentation 0)."""
        kinds = ['reassign', 'reassign', 'aug', 'inplace', 'inplace']
        if top:
            kinds += ['new', 'new', 'new', 'buffer', 'buffer', 'list', 'list', 'for', 'for', 'while', 'if',
                      'tuple', 'closure', 'lambda', 'dict', 'alias', 'obj', 'rows', 'swap', 'view', 'lenloop']
        elif d < 2:
            kinds += ['if', 'for']
        k = self.r.choice(kinds)
        meth = getattr(self, 's_' + k)
        out = meth(env, top, d)
        if out is None:
            return self.s_new(env, top, d) if top else self.s_reassign(env, top, d)
        return out

    def unalias(self, env, src, shp):
        """A bare name of an array not made here is mostly copied (an alias of an argument written
        in place later is refused, rightly, and would hide the rest of the program)."""
        if shp != 'S' and re.fullmatch(r'[\w\.\[\]"]+', src) and src not in env['own'] and self.r.random() < 0.8:
            return self.r.choice([f'{src}.copy()', f'np.array({src})', f'np.copy({src})', f'{src} * 1.0'])
        return src

    def s_new(self, env, top, d):
        if not top:
            return self.s_reassign(env, top, d)
        shp = self.r.choice(['S', 'V4', 'V4', 'V3', 'M'])
        n = self.fresh('h' if shp != 'S' else 's')
        src = self.unalias(env, self.ex(env, shp, 3), shp)
        env['vars'][n] = shp
        env['own'].add(n)
        return [f'{n} = {src}']

    def s_reassign(self, env, top, d):
        ls = self.locals_(env)
        if not ls:
            return self.s_new(env, True, d) if top else [f'pass']
        n = self.r.choice(ls)
        shp = env['vars'][n]
        return [f'{n} = {self.unalias(env, self.ex(env, shp, 2), shp)}']

    def s_aug(self, env, top, d):
        ls = [n for n in self.locals_(env) if n not in env.get('params', ()) or self.r.random() < 0.2]
        if not ls:
            return None
        n = self.r.choice(ls)
        shp = env['vars'][n]
        op = self.r.choice(['+=', '-=', '*='])
        val = self.ex(env, shp if self.r.random() < 0.6 else 'S', 2)
        if op == '*=':
            val = f'np.tanh({val})'
        return [f'{n} {op} {val}']

    def s_inplace(self, env, top, d):
        arrs = [n for n in self.locals_(env) if env['vars'][n] != 'S' and
                (n not in env.get('params', ()) or self.r.random() < 0.1)]
        if not arrs:
            return None
        n = self.r.choice(arrs)
        shp = env['vars'][n]
        lv = [i for i, k in env['loops'] if k <= LEN[shp]]
        idx = self.r.choice(lv) if lv and self.r.random() < 0.6 else self.r.randrange(-LEN[shp], LEN[shp])
        op = self.r.choice(['=', '+=', '*=', '-='])
        if shp == 'V4':
            ch = self.r.choice(['item', 'slice', 'step', 'fancy', 'neg', 'rep', 'mask'])
            if ch == 'rep':
                return [f'{n}[[0, 0, 2]] {op} {self.ex(env, "V3", 2)}']
            if ch == 'mask':
                return [f'{n}[{n} > {self.c()}] {op} {self.ex(env, "S", 1)}']
            if ch == 'item':
                return [f'{n}[{idx}] {op} {self.ex(env, "S", 2)}']
            if ch == 'slice':
                return [f'{n}[1:3] {op} {self.ex(env, "V3", 2)}[:2]']
            if ch == 'step':
                return [f'{n}[::2] {op} {self.ex(env, "V4", 2)}[1::2]']
            if ch == 'fancy':
                return [f'{n}[[0, 2]] {op} {self.ex(env, "V3", 2)}[[1, 2]]']
            return [f'{n}[-2:] {op} {self.ex(env, "S", 2)}']
        if shp == 'V3':
            ch = self.r.choice(['item', 'slice', 'rev'])
            if ch == 'item':
                return [f'{n}[{idx}] {op} {self.ex(env, "S", 2)}']
            if ch == 'slice':
                return [f'{n}[:2] {op} {self.ex(env, "V4", 2)}[::2]']
            return [f'{n}[::-1] {op} {self.ex(env, "V3", 1)}']
        ch = self.r.choice(['row', 'col', 'rows', 'elem', 'block'])
        if ch == 'row':
            return [f'{n}[{idx}] {op} {self.ex(env, "V4", 2)}']
        if ch == 'col':
            j = self.r.randrange(-4, 4)
            return [f'{n}[:, {j}] {op} {self.ex(env, "V3", 2)}']
        if ch == 'rows':
            return [f'{n}[1:] {op} {self.ex(env, "V4", 2)}']
        if ch == 'elem':
            return [f'{n}[{idx}, {self.r.randrange(-4, 4)}] {op} {self.ex(env, "S", 2)}']
        return [f'{n}[:2, 1:3] {op} {self.ex(env, "M", 1)}[1:, :2]']

    def s_buffer(self, env, top, d):
        shp = self.r.choice(['M', 'V4', 'V3', 'M'])
        n = self.fresh('buf' if self.r.random() < 0.5 else 'out')
        init = self.r.choice({'M': ['np.zeros((3, 4))', 'np.zeros_like({M})', '{M}.copy()', 'np.ones((3, 4)) * 0.5',
                                    'np.array({M})'],
                              'V4': ['np.zeros(4)', '{V4}.copy()', 'np.zeros_like({V4})', 'np.copy({V4})'],
                              'V3': ['np.zeros(3)', '{V3}.copy()', 'np.full(3, 0.1)']}[shp])
        for key in ('M', 'V4', 'V3'):
            init = init.replace('{' + key + '}', self.ex(env, key, 1))
        lines = [f'{n} = {init}']
        env['vars'][n] = shp
        env['own'].add(n)
        iv = self.fresh('i')
        lines.append(f'for {iv} in range({LEN[shp]}):')
        env['loops'].append((iv, LEN[shp]))
        body = self.s_inplace_on(env, n, shp, iv)
        if self.r.random() < 0.4:
            body += self.stmt(env, False, d + 1)
        env['loops'].pop()
        lines += ['    ' + l for l in body]
        if shp == 'M' and self.r.random() < 0.5:
            j = self.r.randrange(-4, 4)
            lines.append(f'{n}[:, {j}] *= {self.ex(env, "V3", 1)}')
        return lines

    def s_inplace_on(self, env, n, shp, iv):
        op = self.r.choice(['=', '=', '+=', '*='])
        if shp == 'M':
            return [f'{n}[{iv}] {op} {self.ex(env, "V4", 2)}']
        return [f'{n}[{iv}] {op} {self.ex(env, "S", 2)}']

    def s_list(self, env, top, d):
        n = self.fresh('acc')
        k = self.r.choice([3, 3, 2, 4])
        iv = self.fresh('i')
        shp = self.r.choice(['V4', 'V4', 'V3', 'S'])
        lines = [f'{n} = []', f'for {iv} in range({k}):']
        env['loops'].append((iv, k))
        body = []
        if self.r.random() < 0.4:
            body += self.stmt(env, False, d + 1)
        if self.r.random() < 0.3:
            body += [f'if {self.cond(env, 1)}:', '    continue']
        body.append(f'{n}.append({self.ex(env, shp, 2)} * ({iv} + 1))')
        env['loops'].pop()
        lines += ['    ' + l for l in body]
        t = self.fresh('h')
        has_cont = any('continue' in l for l in body)
        if shp == 'S':
            lines.append(f'{t} = ' + self.r.choice([f'sum({n})', f'np.sum(np.array({n}))', f'np.stack({n}).mean()',
                                                     f'sum({n}, 0.0)']))
            env['vars'][t] = 'S'
        elif shp == 'V4' and k == 3 and not has_cont and self.r.random() < 0.6:
            lines.append(f'{t} = ' + self.r.choice([f'np.stack({n})', f'np.array({n})', f'np.vstack({n})',
                                                     f'np.concatenate({n}).reshape(3, 4)', f'np.stack({n}, axis=0)']))
            env['vars'][t] = 'M'
        else:
            if has_cont:
                lines.append(f'{t} = ' + f'sum({n}, np.zeros({SHAPES[shp][0]}))')
            else:
                lines.append(f'{t} = ' + self.r.choice([f'sum({n})', f'np.stack({n}).sum(axis=0)', f'np.mean({n}, axis=0)',
                                                         f'np.stack({n}, axis=1).max(axis=1)',
                                                         f'np.concatenate({n})[-{SHAPES[shp][0]}:]']))
            env['vars'][t] = shp
        env['own'].add(t)
        return lines

    def s_for(self, env, top, d):
        ls = self.locals_(env)
        if not ls:
            return None
        k = self.r.choice([2, 3, 3, 4])
        iv = self.fresh('i')
        ch = self.r.random()
        targets = []
        if ch < 0.6:
            head = f'for {iv} in range({k}):'
            env['loops'].append((iv, k))
            pop = True
        elif ch < 0.8:
            rv = self.fresh('row')
            head = f'for {iv}, {rv} in enumerate({self.ex(env, "M", 1)}):'
            env['loops'].append((iv, 3))
            env['vars'][rv] = 'V4'
            targets = [rv]
            pop = True
        else:
            a, b = self.fresh('a'), self.fresh('b')
            head = f'for {a}, {b} in zip({self.ex(env, "V4", 1)}, {self.ex(env, "V3", 1)}):'
            env['vars'][a] = 'S'
            env['vars'][b] = 'S'
            targets = [a, b]
            pop = False
        body = []
        for _ in range(self.r.randint(1, 3)):
            body += self.stmt(env, False, d + 1)
        if self.r.random() < 0.5:
            pos = self.r.randrange(len(body) + 1)
            brk = [f'if {self.cond(env, 1)}:', '    ' + self.r.choice(['break', 'continue'])]
            body = body[:pos] + brk + body[pos:] if not any(l.startswith(' ') for l in body[pos:pos + 1]) else body + brk
        if pop:
            env['loops'].pop()
        for nm in targets:
            del env['vars'][nm]
        return [head] + ['    ' + l for l in body]

    def s_while(self, env, top, d):
        ls = self.locals_(env)
        if not ls:
            return None
        c = self.fresh('k')
        k = self.r.choice([2, 3, 5])
        body = [f'{c} += 1']
        for _ in range(self.r.randint(1, 2)):
            body += self.stmt(env, False, d + 1)
        body += [f'if {self.cond(env, 1)}:', '    ' + self.r.choice(['break', 'continue'])]
        if self.r.random() < 0.5:
            body += self.s_reassign(env, False, d + 1)
        return [f'{c} = 0', f'while {c} < {k}:'] + ['    ' + l for l in body]

    def s_if(self, env, top, d):
        ls = self.locals_(env)
        if not ls:
            return None
        lines = [f'if {self.cond(env, 1)}:']
        lines += ['    ' + l for l in self.stmt(env, False, d + 1)]
        if self.r.random() < 0.7:
            lines.append('else:')
            lines += ['    ' + l for l in self.stmt(env, False, d + 1)]
        return lines

    def s_tuple(self, env, top, d):
        opts = [(n, a, r) for n, a, r in self.helpers if isinstance(r, tuple)]
        if opts and self.r.random() < 0.7:
            name, args, ret = self.r.choice(opts)
            ns = [self.fresh('t') for _ in ret]
            for n, s in zip(ns, ret):
                env['vars'][n] = s
                env['own'].add(n)
            return [f'{", ".join(ns)} = {name}({", ".join(self.ex(env, a, 1) for a in args)})']
        a, b = self.fresh('t'), self.fresh('t')
        sa, sb = self.r.choice(['V4', 'S', 'V3']), self.r.choice(['V4', 'S', 'M'])
        line = f'{a}, {b} = {self.ex(env, sa, 2)}, {self.ex(env, sb, 2)}'
        env['vars'][a] = sa
        env['vars'][b] = sb
        env['own'] |= {a, b}
        return [line]

    def s_view(self, env, top, d):
        arrs = [n for n in self.locals_(env) if env['vars'][n] in ('M', 'V4') and n not in env.get('params', ())]
        if not arrs:
            return None
        src = self.r.choice(arrs)
        n = self.fresh('vw')
        if env['vars'][src] == 'M':
            view, shp = self.r.choice([(f'{src}[1]', 'V4'), (f'{src}[-1]', 'V4'), (f'{src}[:, 2]', 'V3'),
                                       (f'{src}.T[0]', 'V3'), (f'{src}[0, :]', 'V4')])
        else:
            view, shp = self.r.choice([(f'{src}[1:]', 'V3'), (f'{src}[:3]', 'V3'), (f'{src}[::-1][1:]', 'V3')])
        env['vars'][n] = shp
        env['own'].add(n)
        return [f'{n} = {view}', f'{n} {self.r.choice(["+=", "*=", "-="])} {self.ex(env, self.r.choice(["S", shp]), 1)}']

    def s_lenloop(self, env, top, d):
        arrs = [n for n in self.locals_(env) if env['vars'][n] in ('V4', 'V3')]
        if not arrs:
            return None
        src = self.r.choice(arrs)
        iv = self.fresh('i')
        acc = self.fresh('s')
        env['loops'].append((iv, LEN[env['vars'][src]]))
        body = f'{acc} = {acc} + {src}[{iv}] * {self.ex(env, "S", 1)}'
        env['loops'].pop()
        env['vars'][acc] = 'S'
        env['own'].add(acc)
        return [f'{acc} = 0.0', f'for {iv} in range(len({src})):', '    ' + body]

    def s_swap(self, env, top, d):
        for shp in ('V4', 'S', 'V3', 'M'):
            ls = self.locals_(env, shp)
            if len(ls) >= 2:
                a, b = self.r.sample(ls, 2)
                return [f'{a}, {b} = {b}, {a}']
        return None

    def s_alias(self, env, top, d):
        arrs = [n for n in self.locals_(env) if env['vars'][n] != 'S']
        if not arrs:
            return None
        src = self.r.choice(arrs)
        n = self.fresh('al')
        shp = env['vars'][src]
        env['vars'][n] = shp
        env['own'].add(n)
        lines = [f'{n} = {src}']
        lines += [f'{n} {self.r.choice(["+=", "*=", "-="])} {self.ex(env, "S", 1)}']
        return lines

    def s_closure(self, env, top, d):
        name = self.fresh('inner')
        shp = self.r.choice(['V4', 'V3', 'S'])
        zenv = {'vars': dict(env['vars']), 'own': set(), 'loops': [], 'funcs': dict(env['funcs']), 'objs': list(env['objs'])}
        zenv['vars']['z'] = shp
        body = self.ex(zenv, shp, 2)
        if 'z' not in body:
            body = f'({body}) + z'
        env['funcs'][name] = ([shp], shp)
        return [f'def {name}(z):', f'    return {body}']

    def s_lambda(self, env, top, d):
        name = self.fresh('fn')
        shp = self.r.choice(['V4', 'V3', 'S'])
        zenv = {'vars': dict(env['vars']), 'own': set(), 'loops': [], 'funcs': {}, 'objs': []}
        zenv['vars']['z'] = shp
        body = self.ex(zenv, shp, 1)
        if 'z' not in body:
            body = f'({body}) * z'
        env['funcs'][name] = ([shp], shp)
        return [f'{name} = lambda z: {body}']

    def s_dict(self, env, top, d):
        n = self.fresh('d')
        sa, sb = self.r.choice(['V4', 'S']), self.r.choice(['V3', 'M', 'V4'])
        lines = [f'{n} = {{"a": {self.ex(env, sa, 2)}, "b": {self.ex(env, sb, 1)}}}']
        lines.append(f'{n}["a"] = {n}["a"] * {self.ex(env, "S", 1)} + {self.ex(env, sa, 1)}')
        if self.r.random() < 0.5:
            lines.append(f'{n}["b"] {self.r.choice(["+=", "*="])} {self.ex(env, "S", 1)}')
        t = self.fresh('h')
        lines.append(f'{t} = {n}["a"]' if self.r.random() < 0.5 else f'{t} = sum(np.sum(v) for v in {n}.values())')
        env['vars'][t] = sa if '"a"]' in lines[-1] else 'S'
        env['own'].add(t)
        return lines

    def s_obj(self, env, top, d):
        if not self.methods:
            return None
        n = self.fresh('layer')
        line = f'{n} = Layer({self.ex(env, "M", 1)}, {self.ex(env, "V3", 1)}, {self.ex(env, "V4", 1)}, {self.c()})'
        env['objs'].append(n)
        return [line]

    def s_rows(self, env, top, d):
        acc = self.fresh('r')
        rv = self.fresh('row')
        lines = [f'{acc} = np.zeros(4)', f'for {rv} in {self.ex(env, "M", 1)}:']
        env['vars'][rv] = 'V4'
        body = f'{acc} = {acc} + {self.ex(env, "V4", 2)}'
        del env['vars'][rv]
        env['vars'][acc] = 'V4'
        env['own'].add(acc)
        return lines + ['    ' + body]

    # ---- module ------------------------------------------------------------------------------
    def gen_helper(self, k):
        name = f'helper{k}'
        nargs = self.r.choice([1, 2, 2, 3])
        args = [self.r.choice(['V4', 'V4', 'V3', 'S', 'M']) for _ in range(nargs)]
        env = {'vars': {}, 'own': set(), 'loops': [], 'funcs': {}, 'objs': []}
        pn = []
        for i, a in enumerate(args):
            pname = 'abc'[i]
            env['vars'][pname] = a
            env['own'].add(pname)
            pn.append(pname)
        env['params'] = set(pn)
        # helpers use only their parameters, and earlier helpers (self.helpers holds only those)
        if 'V4' not in args:
            env['vars']['W0'] = 'M'
        body = []
        for _ in range(self.r.randint(1, 3)):
            body += self.stmt(env, True, 1) if self.r.random() < 0.5 else self.s_new(env, True, 1)
        # drop W0 unless the helper defines it
        ret = self.r.choice(['S', 'V4', 'V3', 'tuple'])
        if ret == 'tuple':
            ret = (self.r.choice(['V4', 'S']), self.r.choice(['V3', 'S', 'V4']))
            retsrc = f'{self.ex(env, ret[0], 2)}, {self.ex(env, ret[1], 2)}'
        else:
            retsrc = self.ex(env, ret, 2)
        sig = ', '.join(pn)
        if self.r.random() < 0.3:
            sig += ', scale=0.5'
            retsrc = f'{retsrc}' if isinstance(ret, tuple) else f'scale * {retsrc}'
        lines = [f'def {name}({sig}):']
        if 'W0' in env['vars'] and env['vars']['W0'] == 'M':
            lines.append('    W0 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)')
        if self.r.random() < 0.3 and not isinstance(ret, tuple):
            lines += ['    ' + l for l in body] + [f'    if {self.cond(env, 1)}:', f'        return {retsrc}',
                                                     f'    return {self.ex(env, ret, 1)}']
        else:
            lines += ['    ' + l for l in body] + [f'    return {retsrc}']
        self.helper_src.append('\n'.join(lines))
        self.helpers.append((name, args, ret))

    def gen_class(self):
        env = {'vars': {'self.W': 'M', 'self.b': 'V3', 'self.w': 'V4', 'self.s': 'S', 'h': 'V4'}, 'own': set(),
               'loops': [], 'funcs': {}, 'objs': []}
        ap = self.ex(env, 'V3', 2)
        lines = ['class Layer:', '    def __init__(self, W, b, w, s):', '        self.W = W', '        self.b = b',
                 '        self.w = w', '        self.s = s', '',
                 '    def apply(self, h):', f'        z = self.W @ h + self.b',
                 f'        return {self.r.choice(["np.tanh(z)", "np.maximum(z, 0.0)", "z * self.s", "np.sin(z) + " + ap])}']
        self.methods['apply'] = ('V4', 'V3')
        env['objs'].append('self')
        sc = self.ex(env, 'S', 2)
        lines += ['', '    def score(self, h):', '        u = self.apply(h)',
                  f'        return np.sum(u * self.b) + {sc}']
        self.methods['score'] = ('V4', 'S')
        self.class_src = lines

    def program(self):
        for k in range(self.r.randint(1, 4)):
            self.gen_helper(k)
        if self.style == 'obj' or self.r.random() < 0.5:
            self.gen_class()
        env = {'vars': dict(self.params()), 'own': set(), 'loops': [], 'funcs': {}, 'objs': []}
        env['vars']['x'] = 'V4'
        if self.style == 'obj':
            env['objs'].append('m')
        body = []
        if self.r.random() < 0.5:
            names = {'W': 'M', 'b': 'V3'}
            for nm, shp in names.items():
                body.append(f'{nm} = {self.p_(nm)}')
                env['vars'][nm] = shp
        for _ in range(self.r.randint(3, 9)):
            body += self.stmt(env, True, 0)
        outs = [n for n in self.locals_(env)] or ['x']
        picks = self.r.sample(outs, min(len(outs), self.r.randint(1, 3)))
        terms = []
        for n in picks:
            s = env['vars'][n]
            terms.append(self.r.choice(['np.sum({n} ** 2)', 'np.mean(np.tanh({n}))', 'np.sum(np.abs({n}))',
                                        'np.sum({n} * {n}) * 0.5', 'np.max({n})' if s != 'S' else '{n} ** 2',
                                        'np.sum(np.sin({n}))']).format(n=n))
        terms.append(self.ex(env, 'S', 2))
        body.append('loss = ' + ' + '.join(terms))
        aux = self.r.random() < 0.2
        body.append('return loss, h_aux' if aux else 'return loss')
        if aux:
            body.insert(len(body) - 2, f'h_aux = {self.ex(env, "V3", 1)}')
        pname = 'm' if self.style == 'obj' else 'p'
        src = ['import numpy as np', 'from dataclasses import dataclass', 'import sct',
               'from sct import dlarray, dlfeval, dlgradient', '', '']
        if self.style == 'dc':
            src += ['@dataclass', 'class Params:', '    W: np.ndarray', '    b: np.ndarray', '    w: np.ndarray',
                    '    s: float', '', '']
        if self.class_src:
            src += self.class_src + ['', '']
        for h in self.helper_src:
            src += [h, '', '']
        src += [f'def f(x, {pname}):'] + ['    ' + l for l in body] + ['', '']
        first = 'loss, _aux = f(x, P)' if aux else 'loss = f(x, P)'
        src += ['def f_g(x, P):', f'    {first}', '    return loss, dlgradient(loss, x, P)', '', '',
                'AF = sct.dlaccelerate(f)', '', '',
                'def fa_g(x, P):', f'    {first.replace("f(", "AF(")}', '    return loss, dlgradient(loss, x, P)', '', '',
                'def f_h(x, P, v):', f'    {first}', '    g = dlgradient(loss, x, EnableHigherDerivatives=True)',
                '    z = np.sum(g * v)', '    return z, dlgradient(z, x)', '', '',
                'def f_x(x, P):', f'    {first}', '    return loss', '']
        src.append(f'AUX = {aux}')
        src.append(f'STYLE = {self.style!r}')
        return '\n'.join(src) + '\n'


# ---------------------------------------------------------------------------------------------
class Result(Exception):
    def __init__(self, status, kind, msg):
        super().__init__(msg)
        self.status, self.kind, self.msg = status, kind, msg


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def D_(v):
    return np.asarray(v.data) if type(v).__name__ == 'dlarray' else np.asarray(v)


def make_inputs(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(4)
    W = rng.standard_normal((3, 4)) * 0.6
    b = rng.standard_normal(3) * 0.5
    w = rng.standard_normal(4) * 0.5
    return x, {'W': W, 'b': b, 'w': w, 's': float(np.round(rng.uniform(0.2, 1.5), 3))}


def build(mod, arrs, dl):
    import sct
    wrap = (lambda a: sct.dlarray(a.copy())) if dl else (lambda a: a.copy())
    vals = {k: (wrap(v) if isinstance(v, np.ndarray) else v) for k, v in arrs.items()}
    if mod.STYLE == 'dict':
        return vals
    if mod.STYLE == 'dc':
        return mod.Params(vals['W'], vals['b'], vals['w'], vals['s'])
    return mod.Layer(vals['W'], vals['b'], vals['w'], vals['s'])


def grad_of(g, key):
    if isinstance(g, dict):
        return D_(g[key])
    return D_(getattr(g, key))


def plain(mod, x, arrs):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with np.errstate(all='raise'):
            y = mod.f_x(x.copy(), build(mod, arrs, False))
    return y


def loss_at(mod, x, arrs, which, k, delta):
    x2 = x.copy()
    a2 = {kk: (v.copy() if isinstance(v, np.ndarray) else v) for kk, v in arrs.items()}
    tgt = x2 if which == 'x' else a2[which]
    tgt.reshape(-1)[k] += delta
    return float(plain(mod, x2, a2))


def fd_grad(mod, x, arrs, which, step=1e-6, h=1e-4):
    """Central differences, NaN at coordinates with a kink or jump within h."""
    base = x if which == 'x' else arrs[which]
    g = np.zeros(base.size)
    f0 = float(plain(mod, x, arrs))
    for k in range(base.size):
        up = loss_at(mod, x, arrs, which, k, step)
        dn = loss_at(mod, x, arrs, which, k, -step)
        c = (up - dn) / (2 * step)
        fu = (loss_at(mod, x, arrs, which, k, h) - f0) / h
        fb = (f0 - loss_at(mod, x, arrs, which, k, -h)) / h
        fu2 = (loss_at(mod, x, arrs, which, k, h / 10) - f0) / (h / 10)
        scale = 1.0 + abs(c)
        # smooth: the one-sided differences differ by about curvature * h and approach c
        if abs(fu - fb) > 2e-2 * scale or abs(fu2 - c) > 2e-3 * scale:
            g[k] = np.nan
        else:
            g[k] = c
    return g.reshape(base.shape)


def compare_grad(got, fd, what):
    got = np.asarray(got, dtype=float)
    mask = ~np.isnan(fd)
    if got.shape != fd.shape:
        raise Result('WRONG', 'shape', f'{what}: gradient shape {got.shape} != {fd.shape}')
    if not np.all(np.isfinite(got[mask])):
        raise Result('WRONG', 'nonfinite', f'{what}: non-finite gradient {got}')
    err = np.abs(got[mask] - fd[mask])
    tol = GRAD_ATOL + GRAD_RTOL * (np.abs(fd[mask]) + np.max(np.abs(fd[mask]), initial=0.0) * 0.1)
    if np.any(err > tol * 10):
        raise Result('WRONG', 'grad', f'{what}: sct {got.ravel().tolist()}\n  fd {fd.ravel().tolist()}')


def classify_exc(e, path):
    import sct
    if isinstance(e, sct.SctError):
        fn = getattr(e, 'filename', None)
        cause = e.__cause__
        own = isinstance(e, sct.EvaluationError) and cause is not None and not isinstance(cause, sct.SctError) and \
            not type(cause).__module__.startswith(('sct', 'runtime'))      # (sct's own refusals raised inside its runtime)
        if own:
            # an error of the user's code (numpy's ValueError ...): plain Python ran without one
            return Result('CRASH', type(cause).__name__, f'{type(cause).__name__}: {cause}')
        if fn is None or os.path.abspath(fn) != os.path.abspath(path):
            return Result('UNLOCATED', type(e).__name__, f'{type(e).__name__} at {fn}: {e}')
        msg = str(e).split('\n')[0]
        msg = re.sub(r'^.*?line \d+: ', '', msg)
        return Result('REFUSED', type(e).__name__, msg)
    return Result('CRASH', type(e).__name__, f'{type(e).__name__}: {e}\n' + ''.join(traceback.format_exception(e))[-3000:])


def check(path, seed, second, verbose=False):
    import sct
    from sct import dlarray, dlfeval
    name = f'fz7_{seed}_{abs(hash(path)) % 100000}'
    try:
        mod = load(path, name)
    except Exception as e:  # noqa
        return Result('SKIP', 'load', repr(e))
    x, arrs = make_inputs(seed)
    try:
        y0 = plain(mod, x, arrs)
        y0 = float(y0)
        if not np.isfinite(y0) or abs(y0) > 1e6:
            return Result('SKIP', 'nonfinite', '')
    except Exception as e:  # noqa
        return Result('SKIP', 'plain', repr(e)[:100])
    # first order
    try:
        y, (gx, gp) = dlfeval(mod.f_g, dlarray(x.copy()), build(mod, arrs, True))
    except Exception as e:  # noqa
        return classify_exc(e, path)
    yv = D_(y)
    if yv.shape != () or yv.dtype != np.float64:
        return Result('WRONG', 'value-shape', f'value shape {yv.shape} dtype {yv.dtype}')
    if not np.allclose(yv, y0, rtol=VALUE_RTOL, atol=1e-12):
        return Result('WRONG', 'value', f'sct {float(yv)!r} python {y0!r}')
    fds = {'x': fd_grad(mod, x, arrs, 'x')}
    for key in ('W', 'b', 'w'):
        fds[key] = fd_grad(mod, x, arrs, key)
    try:
        if D_(gx).dtype != np.float64:
            raise Result('WRONG', 'dtype', f'gx dtype {D_(gx).dtype}')
        compare_grad(D_(gx), fds['x'], 'd/dx')
        for key in ('W', 'b', 'w'):
            compare_grad(grad_of(gp, key), fds[key], f'd/d{key}')
    except Result as r:
        return r
    # the compiled code again at another point (a branch may go the other way there)
    try:
        x2, arrs2 = make_inputs(seed + 7919)
        try:
            y02 = float(plain(mod, x2, arrs2))
            ok2 = np.isfinite(y02) and abs(y02) < 1e6
        except Exception:  # noqa
            ok2 = False
        if ok2:
            y, (gx, gp) = dlfeval(mod.f_g, dlarray(x2.copy()), build(mod, arrs2, True))
            if not np.allclose(D_(y), y02, rtol=VALUE_RTOL, atol=1e-12):
                return Result('WRONG', 'value2', f'second point: sct {float(D_(y))!r} python {y02!r}')
            compare_grad(D_(gx), fd_grad(mod, x2, arrs2, 'x'), 'second point d/dx')
            for key in ('W', 'b', 'w'):
                compare_grad(grad_of(gp, key), fd_grad(mod, x2, arrs2, key), f'second point d/d{key}')
            y, (gx, gp) = dlfeval(mod.f_g, dlarray(x.copy()), build(mod, arrs, True))   # (restore gx)
    except Result as r:
        return r
    except Exception as e:  # noqa
        r = classify_exc(e, path)
        r.kind = 'point2:' + r.kind
        if r.status != 'REFUSED':
            return r
    # float32 inputs: the value's dtype and value as plain Python's, gradients float32
    try:
        x32 = x.astype(np.float32)
        a32 = {k: (v.astype(np.float32) if isinstance(v, np.ndarray) else v) for k, v in arrs.items()}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                p32 = mod.f_x(x32.copy(), build(mod, a32, False))
            ok32 = np.all(np.isfinite(p32))
        except Exception:  # noqa
            ok32 = False
        if ok32:
            y, (gx32, gp32) = dlfeval(mod.f_g, dlarray(x32.copy()), build(mod, a32, True))
            p32 = np.asarray(p32)
            if D_(y).dtype != p32.dtype or D_(y).shape != p32.shape:
                return Result('WRONG', 'f32-dtype', f'float32: sct {D_(y).dtype}{D_(y).shape} python {p32.dtype}{p32.shape}')
            if not np.allclose(D_(y), p32, rtol=2e-5, atol=1e-5):
                return Result('WRONG', 'f32-value', f'float32: sct {float(D_(y))!r} python {float(p32)!r}')
            if D_(gx32).dtype != np.float32 or any(grad_of(gp32, k).dtype != np.float32 for k in ('W', 'b', 'w')):
                return Result('WRONG', 'f32-grad-dtype', f'float32 gradient dtypes {D_(gx32).dtype}')
    except Result as r:
        return r
    except Exception as e:  # noqa
        r = classify_exc(e, path)
        r.kind = 'f32:' + r.kind
        if r.status != 'REFUSED':
            return r
    # forward mode along v
    try:
        v = np.random.default_rng(seed + 3).standard_normal(4)
        pp = build(mod, arrs, False)
        fun = (lambda z: mod.f(z, pp)[0]) if mod.AUX else (lambda z: mod.f(z, pp))  # noqa: E731
        yj, tj = sct.jvp(fun, (x.copy(),), (v,))
        if not np.allclose(D_(yj), y0, rtol=VALUE_RTOL, atol=1e-12):
            return Result('WRONG', 'jvp-value', f'jvp value {float(D_(yj))!r} python {y0!r}')
        fdx = fds['x']
        if not np.any(np.isnan(fdx)):
            want = float(np.sum(fdx * v))
            if abs(float(D_(tj)) - want) > 1e-5 + 1e-4 * (abs(want) + np.max(np.abs(fdx))):
                return Result('WRONG', 'jvp', f'jvp tangent {float(D_(tj))!r} fd {want!r}')
    except Result as r:
        return r
    except Exception as e:  # noqa
        r = classify_exc(e, path)
        if r.status == 'UNLOCATED' and 'fuzz7' in (getattr(e, 'filename', '') or ''):
            pass
        else:
            r.kind = 'jvp:' + r.kind
            if r.status != 'REFUSED':
                return r
    # accelerate, outside and inside dlfeval
    try:
        ya = mod.AF(x.copy(), build(mod, arrs, False))
        ya = D_(ya[0] if mod.AUX else ya)
        if not np.allclose(ya, y0, rtol=VALUE_RTOL, atol=1e-12):
            return Result('WRONG', 'accel-value', f'accelerate outside {float(ya)!r} python {y0!r}')
        y2, (gx2, gp2) = dlfeval(mod.fa_g, dlarray(x.copy()), build(mod, arrs, True))
        if not np.allclose(D_(y2), y0, rtol=VALUE_RTOL, atol=1e-12):
            return Result('WRONG', 'accel-value', f'accelerate in dlfeval {float(D_(y2))!r} python {y0!r}')
        compare_grad(D_(gx2), fds['x'], 'accel d/dx')
        for key in ('W', 'b', 'w'):
            compare_grad(grad_of(gp2, key), fds[key], f'accel d/d{key}')
    except Result as r:
        return r
    except Exception as e:  # noqa
        r = classify_exc(e, path)
        r.kind = 'accel:' + r.kind
        return r
    if not second:
        return Result('OK', '', '')
    # second order: nested dlgradient and hvp against differences of the first-order gradient
    v = np.random.default_rng(seed + 1).standard_normal(4)

    def gxat(xx):
        _, (g, _) = dlfeval(mod.f_g, dlarray(xx.copy()), build(mod, arrs, True))
        return D_(g)

    def hv(h):
        return (gxat(x + h * v) - gxat(x - h * v)) / (2 * h)
    try:
        fd1, fd2 = hv(1e-5), hv(1e-4)
    except Exception as e:  # noqa
        return Result('OK', 'hvp-fd-failed', repr(e)[:80])
    if not np.allclose(fd1, fd2, rtol=1e-3, atol=1e-5):
        return Result('OK', 'kink-2nd', '')
    try:
        z, hx = dlfeval(mod.f_h, dlarray(x.copy()), build(mod, arrs, True), v)
        if not np.allclose(D_(z), np.sum(D_(gx) * v), rtol=1e-10, atol=1e-12):
            return Result('WRONG', 'z-value', f'z {float(D_(z))} vs {np.sum(D_(gx) * v)}')
        if not np.allclose(D_(hx), fd1, rtol=1e-4, atol=1e-5):
            return Result('WRONG', 'hessian', f'nested: {D_(hx).tolist()}\n  fd {fd1.tolist()}')
    except Result as r:
        return r
    except Exception as e:  # noqa
        r = classify_exc(e, path)
        r.kind = 'nested:' + r.kind
        if r.status != 'REFUSED':
            return r
    try:
        pp = build(mod, arrs, False)
        if mod.AUX:
            fun = lambda z: mod.f(z, pp)[0]  # noqa: E731
        else:
            fun = lambda z: mod.f(z, pp)  # noqa: E731
        hh = sct.hvp(fun, x.copy(), v.copy())
        if not np.allclose(D_(hh), fd1, rtol=1e-4, atol=1e-5):
            return Result('WRONG', 'hvp', f'hvp: {D_(hh).tolist()}\n  fd {fd1.tolist()}')
    except Result as r:
        return r
    except Exception as e:  # noqa
        r = classify_exc(e, path)
        if r.status == 'UNLOCATED' and 'fuzz7' in (getattr(e, 'filename', '') or ''):
            return Result('OK', 'hvp-lambda', '')
        r.kind = 'hvp:' + r.kind
        if r.status != 'REFUSED':
            return r
    return Result('OK', '', '')


def _blocks(lines, start, end):
    """(first, last) line ranges of the statements in lines[start:end] at any depth (a compound
    statement's range holds its block)."""
    out = []
    for i in range(start, end):
        ind = len(lines[i]) - len(lines[i].lstrip())
        if not lines[i].strip():
            continue
        j = i + 1
        while j < end and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > ind or
                           lines[j].lstrip().startswith(('else:', 'elif '))) and \
                not (len(lines[j]) - len(lines[j].lstrip()) == ind and not lines[j].lstrip().startswith(('else:', 'elif '))):
            j += 1
        out.append((i, j))
    return out


def shrink(path, seed):
    """Remove statements (and whole helpers) while the program keeps its status and kind."""
    src = open(path).read().split('\n# ')[0]
    r0 = check_src(src, seed)
    print('start:', r0.status, r0.kind, r0.msg[:200])
    key = lambda r: (r.status, r.kind, re.sub(r'\b[a-z_]+\d+\b', 'N', r.msg)[:40] if r.status == 'REFUSED' else '')
    k0 = key(r0)
    changed = True
    while changed:
        changed = False
        lines = src.split('\n')
        cands = []
        for b in _blocks(lines, 0, len(lines)):
            first = lines[b[0]]
            if first.startswith(('def f_g', 'def fa_g', 'def f_h', 'def f_x', 'def f(', 'import', 'from', 'AF', 'AUX', 'STYLE',
                                 '@dataclass', 'class ')):
                continue
            cands.append(b)
        for (i, j) in sorted(cands, key=lambda b: b[0] - b[1]):
            stripped = lines[i].strip()
            if stripped.startswith(('return', 'loss =')) and len(lines[i]) - len(lines[i].lstrip()) == 4 and \
                    not lines[i].startswith('        '):
                continue
            trial = lines[:i] + lines[j:]
            # a block left empty gets a pass
            if i > 0 and lines[i - 1].rstrip().endswith(':') and (i >= len(trial) or
                    len(trial[i]) - len(trial[i].lstrip()) <= len(lines[i - 1]) - len(lines[i - 1].lstrip())):
                trial = lines[:i] + [' ' * (len(lines[i]) - len(lines[i].lstrip())) + 'pass'] + lines[j:]
            if trial == lines:
                continue
            t = '\n'.join(trial)
            try:
                compile(t, 'x', 'exec')
            except SyntaxError:
                continue
            r = check_src(t, seed)
            if key(r) == k0:
                src = t
                changed = True
                break
    print(src)
    r = check_src(src, seed)
    print('end:', r.status, r.kind, r.msg[:600])
    return src


_SHRINK_N = [0]


def check_src(src, seed):
    _SHRINK_N[0] += 1
    d = tempfile.mkdtemp(prefix='fz7s_')
    path = os.path.join(d, f'shrink{_SHRINK_N[0]}_{seed}.py')
    with open(path, 'w') as fh:
        fh.write(src)
    try:
        return check(path, seed, True)
    except Exception as e:  # noqa
        return Result('HARNESS', type(e).__name__, str(e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=100)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='/tmp/fuzz7')
    ap.add_argument('--print', action='store_true')
    ap.add_argument('--check')
    ap.add_argument('--shrink')
    ap.add_argument('-v', action='store_true')
    ap.add_argument('--save-refused', action='store_true')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.print:
        print(Gen(a.seed).program())
        return
    if a.shrink:
        m = re.search(r'_(\d+)\.py$', a.shrink)
        shrink(a.shrink, int(m.group(1)) if m else 0)
        return
    if a.check:
        m = re.search(r'_(\d+)\.py$', a.check)
        seed = int(m.group(1)) if m else 0
        r = check(a.check, seed, True)
        print(r.status, r.kind, r.msg)
        return
    tmp = tempfile.mkdtemp(prefix='fz7_')
    counts = collections.Counter()
    reasons = collections.Counter()
    for s in range(a.seed, a.seed + a.n):
        src = Gen(s).program()
        path = os.path.join(tmp, f'prog_{s}.py')
        with open(path, 'w') as fh:
            fh.write(src)
        try:
            r = check(path, s, s % 3 == 0, a.v)
        except Exception as e:  # noqa
            r = Result('HARNESS', type(e).__name__, traceback.format_exc()[-1500:])
        counts[r.status] += 1
        if r.status == 'REFUSED':
            key = re.sub(r'\b[a-z]+\d+\b', 'N', r.msg)[:110]
            reasons[key] += 1
            if a.save_refused and reasons[key] <= 3:
                with open(os.path.join(a.out, f'REFUSED_{s}.py'), 'w') as fh:
                    fh.write(src + '\n# ' + r.msg.replace('\n', '\n# ') + '\n')
        if r.status in ('WRONG', 'CRASH', 'UNLOCATED', 'HARNESS'):
            out = os.path.join(a.out, f'{r.status}_{s}.py')
            with open(out, 'w') as fh:
                fh.write(src + '\n# ' + r.kind + '\n' + '\n'.join('# ' + l for l in r.msg.splitlines()[:40]) + '\n')
            print(f'{s}: {r.status} {r.kind} {r.msg.splitlines()[0][:200] if r.msg else ""}', flush=True)
        elif a.v:
            print(f'{s}: {r.status} {r.kind} {r.msg[:150]}', flush=True)
        sys.modules.pop(f'fz7_{s}', None)
    print(dict(counts))
    for m, c in reasons.most_common(40):
        print(f'{c:5d}  {m}')


if __name__ == '__main__':
    main()
