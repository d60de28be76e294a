"""A differential random-program tester for sct around Python *language semantics* (red team fuzz6, dec 5).

    PYTHONPATH=. python scripts/fuzz6.py --n 500 --seed 0 [--out /tmp/fuzz6] [--print] [--show]

Independent of scripts/fuzz2-5.py and tests/progtest.  Each program is a module with a function
``f(x, y)`` (x of shape (4,), y of shape (3,)) whose body is a chain of random *blocks* that update
an array ``acc`` (4,) and a scalar ``s`` and end in a scalar loss.  The blocks are drawn from the
language features around arrays where silent wrong values hide:

* loops over generator expressions and generator functions, the latter yielding fresh arrays or
  one reused buffer written in place (``buf[:] = ...; yield buf``; ``list(gen())`` then holds
  one array several times);
* ``any()``/``all()`` over generators, with a counting predicate (short-circuit is observable);
* list/dict comprehensions with conditions and several for-clauses, walrus inside them;
* closures and lambdas made in loops (late binding ``lambda z: z * k`` vs ``k=k`` defaults);
* module helpers with default arguments, nested helpers called in loops, early returns,
  recursion with a depth counter;
* try/except/else/finally raising on value-dependent conditions; ``with`` blocks of a
  ``contextlib.contextmanager`` and ``np.errstate``;
* while loops with break/continue/else, for-else, walrus, conditional expressions, chained
  comparisons, star unpacking, iter()/next(), zip/enumerate/reversed;
* augmented assignment on list items (lists holding one array twice: aliasing), on slices of
  private copies, dicts and lists of arrays mutated by the function itself.

For each program that plain Python runs to a finite loss:

* ``dlfeval`` of ``f_g`` (loss and ``dlgradient(loss, x, y)``): the value as plain Python's
  (1e-10 relative, else WRONG), gradients against central differences in float64 (coordinates
  where forward and backward differences disagree -- a branch flip -- skipped);
* every third program, the second-order ``dlgradient(sum(dlgradient(loss, x) * v), x)`` against
  differences of sct's first-order gradient;
* every other program, ``sct.jvp(f, (x, y), (vx, vy))``: value and the directional derivative
  against sct's gradient dotted with the tangents;
* plain ``f`` must not mutate its arguments (checked, else the program is SKIPped).

CompileError/EvaluationError/SctError from sct are refusals (tallied by message); an
EvaluationError caused by a non-sct Python exception, or any other exception, is a CRASH.
Failing programs go to OUT/fail_SEED.py (runnable: ``PYTHONPATH=. python OUT/fail_SEED.py``).
One process, modest CPU.
"""
import argparse
import collections
import importlib.util
import os
import random
import re
import signal
import sys
import tempfile
import traceback

import numpy as np

VALUE_RTOL = 1e-10
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-6
HVP_RTOL, HVP_ATOL = 2e-3, 1e-5

ELEM = ['np.sin({a})', 'np.tanh({a})', '{a} * 0.5 + 0.1', 'np.cos({a}) * {a}', 'np.exp(-({a}) ** 2)',
        '{a} * {a}', 'np.arctan({a})', '({a} - 0.2) * 0.7', 'np.sqrt({a} ** 2 + 1.0)', 'np.abs({a}) + 0.3 * {a}']


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.n = 0
        self.helpers = []   # module-level source
        self.uses_ctx = False

    def c(self):
        return round(self.r.uniform(-1.0, 1.0), 2)

    def e(self, a):
        return self.r.choice(ELEM).format(a=a)

    def fresh(self):
        self.n += 1
        return self.n

    # every block returns a list of source lines at indentation 0 (f's body indents them)
    def b_gen_expr(self):
        i = self.fresh()
        k = self.r.choice(['k', 'k * 0.5', '(k + 1)'])
        return [f'for t{i} in ({self.e("x * " + k)} for k in range(1, 4)):',
                f'    acc = acc + t{i}']

    def b_gen_func(self):
        i = self.fresh()
        mode = self.r.choice(['reuse', 'copy', 'fresh'])
        body = {'reuse': ['    buf = np.zeros(4)', '    for k in range(3):', f'        buf[:] = {self.e("z")} * k',
                          '        yield buf'],
                'copy': ['    buf = np.zeros(4)', '    for k in range(3):', f'        buf[:] = {self.e("z")} * k',
                         '        yield buf.copy()'],
                'fresh': ['    for k in range(3):', f'        yield {self.e("z")} * (k + 1)']}[mode]
        self.helpers.append('\n'.join([f'def gen{i}(z):'] + body))
        use = self.r.choice(['list', 'loop', 'sum', 'zip'])
        if use == 'list':
            return [f'items{i} = list(gen{i}(acc))', f'acc = acc + sum(items{i})']
        if use == 'loop':
            return [f'for it{i} in gen{i}(x):', f'    acc = acc + it{i} * 0.5']
        if use == 'sum':
            return [f'acc = acc * 0.5 + sum(gen{i}(acc))']
        return [f'for j{i}, (u{i}, w{i}) in enumerate(zip(gen{i}(x), gen{i}(acc))):',
                f'    acc = acc + u{i} * w{i} * (j{i} + 1) * 0.2']

    def b_any_all(self):
        i = self.fresh()
        fn = self.r.choice(['any', 'all'])
        c = self.c()
        cmp = self.r.choice(['>', '<'])
        if self.r.random() < 0.5:
            return [f'cnt{i} = [0]',
                    f'def probe{i}(v):',
                    f'    cnt{i}[0] += 1',
                    f'    return v {cmp} {c}',
                    f'if {fn}(probe{i}(v) for v in acc):',
                    f'    acc = {self.e("acc")}',
                    f's = s + cnt{i}[0] * np.sum(x) * 0.1']
        return [f'if {fn}(v {cmp} {c} for v in {self.r.choice(["x", "acc", "y"])}):',
                f'    acc = acc * {self.e("x")}',
                'else:',
                f'    acc = acc - 0.3 * y[{self.r.randrange(3)}]']

    def b_comp(self):
        i = self.fresh()
        kind = self.r.choice(['two_for', 'rows', 'dict', 'walrus', 'nested_if'])
        if kind == 'two_for':
            return [f'terms{i} = [a * b for a in acc for b in y if a {self.r.choice(["<", ">"])} b]',
                    f's = s + (sum(terms{i}) if terms{i} else 0.0)']
        if kind == 'rows':
            return [f'rows{i} = [acc * y[j] for j in range(3) if j != {self.r.randrange(3)}]',
                    f'acc = acc + rows{i}[-1] - rows{i}[0] * 0.5']
        if kind == 'dict':
            return [f'd{i} = {{k: acc[k] * y[k % 3] for k in range(4) if k != {self.r.randrange(4)}}}',
                    f'for k{i}, v{i} in d{i}.items():',
                    f'    s = s + v{i} * (k{i} + 1) * 0.1']
        if kind == 'walrus':
            return [f'vals{i} = [w for a in acc if (w := {self.e("a")}) > {self.c()}]',
                    f's = s + sum(vals{i}) + len(vals{i}) * 0.01']
        return [f'pairs{i} = [(a, b) for a in range(4) if a % 2 == {self.r.randrange(2)} for b in range(3) if b <= a]',
                f'for a{i}, b{i} in pairs{i}:',
                f'    s = s + acc[a{i}] * y[b{i}] * 0.1']

    def b_late(self):
        i = self.fresh()
        kind = self.r.choice(['lam', 'lam_default', 'def', 'def_default'])
        if kind == 'lam':
            return [f'fs{i} = [lambda z: {self.e("z")} * k for k in range(1, 4)]',
                    f'acc = acc + sum(g(acc) for g in fs{i}) * 0.2']
        if kind == 'lam_default':
            return [f'fs{i} = [lambda z, k=k: {self.e("z")} * k for k in range(1, 4)]',
                    f'acc = acc + sum(g(acc) for g in fs{i}) * 0.2']
        dflt = ', m=m' if kind == 'def_default' else ''
        return [f'fs{i} = []',
                f'for m in range(3):',
                f'    def g{i}(z{dflt}):',
                f'        return {self.e("z")} * (m + 1) + y[m]',
                f'    fs{i}.append(g{i})',
                f'for g in fs{i}:',
                f'    acc = acc * 0.5 + g(x) * 0.3']

    def b_default(self):
        i = self.fresh()
        self.helpers.append('\n'.join([
            f'def h{i}(z, c={self.c()}, w=None, *, scale=1.0):',
            '    if w is None:',
            '        w = z',
            f'    return ({self.e("z")} * c + w) * scale']))
        call = self.r.choice([f'h{i}(acc)', f'h{i}(acc, 0.3)', f'h{i}(acc, w=x)', f'h{i}(acc, scale=0.5)',
                              f'h{i}(x, w=acc, c=y[0])', f'h{i}(*[acc, y[1]])', f'h{i}(**{{"z": acc, "w": x}})'])
        return [f'acc = {call}']

    def b_nested(self):
        i = self.fresh()
        return [f'def step{i}(z, k):',
                f'    return z + {self.e("z")} * (k * 0.3) - y[k % 3] * 0.1',
                f'for k in range({self.r.randint(1, 3)}):',
                f'    acc = step{i}(acc, k)']

    def b_try(self):
        i = self.fresh()
        c = self.c()
        exc = self.r.choice(['ValueError', 'ArithmeticError', 'ZeroDivisionError', 'IndexError'])
        raise_ = {'ValueError': "raise ValueError('big')", 'ArithmeticError': 'raise OverflowError()',
                  'ZeroDivisionError': '1.0 / 0', 'IndexError': '[][0]'}[exc]
        lines = ['try:',
                 f'    if np.sum(acc) > {c}:',
                 f'        {raise_}',
                 f'    acc = acc * {self.e("x")}',
                 f'except {exc}:',
                 f'    acc = acc - 0.5 * x']
        if self.r.random() < 0.6:
            lines += ['else:', '    s = s + np.sum(x * y[0])']
        if self.r.random() < 0.6:
            lines += ['finally:', '    acc = acc + 0.1']
        if self.r.random() < 0.4:   # inside a loop with break/continue
            lines = ['for k in range(3):'] + ['    ' + l for l in lines]
            lines += ['    if k == 1:', '        continue', f'    if np.max(acc) > {self.c()}:', '        break']
        return lines

    def b_with(self):
        i = self.fresh()
        if self.r.random() < 0.4:
            return ["with np.errstate(divide='ignore', invalid='ignore'):",
                    '    acc = acc + np.log(np.abs(acc) + 1.0) * 0.5']
        self.uses_ctx = True
        self.helpers.append('\n'.join([
            '@contextlib.contextmanager',
            f'def ctx{i}(store, v):',
            '    store.append(v)',
            '    try:',
            '        yield store',
            '    finally:',
            '        store.pop()']))
        return [f'st{i} = [acc]',
                f'with ctx{i}(st{i}, x * 2.0) as q{i}:',
                f'    acc = acc + q{i}[-1] * len(q{i}) * 0.1',
                f'acc = acc + st{i}[-1] * 0.5']

    def b_while(self):
        i = self.fresh()
        lines = [f'k{i} = 0',
                 f'while k{i} < {self.r.randint(2, 5)}:',
                 f'    k{i} += 1',
                 f'    if k{i} == 2:',
                 '        continue',
                 f'    acc = acc + {self.e("x")} * k{i} * 0.2',
                 f'    if np.max(acc) > {self.c() + 1}:',
                 '        break']
        if self.r.random() < 0.5:
            lines += ['else:', '    s = s + np.sum(acc) * 0.1']
        return lines

    def b_forelse(self):
        i = self.fresh()
        return [f'for k{i} in range(4):',
                f'    if acc[k{i}] > {self.c()}:',
                f'        acc = acc * 0.5 + x[k{i}]',
                '        break',
                'else:',
                f'    acc = acc + {self.e("x")}']

    def b_walrus(self):
        i = self.fresh()
        return [f'if (m{i} := np.max(acc)) > {self.c()}:',
                f'    acc = acc - m{i} * 0.5',
                f's = s + m{i} * 0.1']

    def b_condexpr(self):
        return [f'acc = acc * 1.5 if np.sum(x) > {self.c()} else acc - y[{self.r.randrange(3)}]',
                f's = s + (acc[0] if acc[1] > acc[2] else acc[3])']

    def b_chain(self):
        c = self.c()
        j = self.r.randrange(4)
        return [f'if {c - 0.5} < acc[{j}] < {c + 0.5} <= 2:',
                f'    acc = acc * {self.e("x")}',
                f'elif acc[{j}] >= {c + 0.5} > acc[{(j + 1) % 4}]:',
                '    acc = acc + y[0]']

    def b_star(self):
        i = self.fresh()
        kind = self.r.choice(['arr', 'list', 'nested'])
        if kind == 'arr':
            return [f'a{i}, *mid{i}, b{i} = acc',
                    f's = s + a{i} * b{i} + sum(mid{i}) * 0.5']
        if kind == 'list':
            return [f'first{i}, *rest{i} = [acc * 2.0, x, y[0]]',
                    f'acc = first{i} * 0.5 + rest{i}[0] * rest{i}[-1]']
        return [f'(p{i}, q{i}), *r{i} = [(acc, x), (y, y), acc]',
                f'acc = p{i} * q{i} + r{i}[-1] * 0.1']

    def b_augitem(self):
        i = self.fresh()
        kind = self.r.choice(['alias', 'list', 'slice', 'slice2'])
        if kind == 'alias':
            return [f'c{i} = acc.copy()',
                    f'lst{i} = [c{i}, c{i}]',
                    f'lst{i}[0] += x',
                    f'lst{i}[1] *= {self.c()}',
                    f'acc = lst{i}[1] + c{i} * 0.1']
        if kind == 'list':
            return [f'lst{i} = [acc * 1.0, x * 2.0, y[0] * 1.0]',
                    f'lst{i}[1] += acc',
                    f'lst{i}[-1] *= y[1]',
                    f'lst{i}[0] -= lst{i}[1] * 0.5',
                    f'acc = lst{i}[0] + lst{i}[2]']
        if kind == 'slice':
            return [f'c{i} = acc.copy()',
                    f'c{i}[1:3] *= y[:2]',
                    f'c{i}[0] += np.sum(y)',
                    f'c{i}[::2] -= x[1::2] * 0.5',
                    f'acc = c{i}']
        return [f'c{i} = np.array(acc)',
                f'v{i} = c{i}[1:]',
                f'v{i} += x[:3]',
                f'acc = c{i} * 0.5 + acc']

    def b_dict(self):
        i = self.fresh()
        return [f"d{i} = {{'a': acc, 'b': x * 2.0}}",
                f"d{i}['a'] = d{i}['a'] + d{i}['b'] * 0.5",
                f"d{i}.setdefault('c', y[{self.r.randrange(3)}])",
                f"d{i}.update(b={self.e('acc')})",
                f"for key{i} in sorted(d{i}):",
                f"    if key{i} != 'c':",
                f"        d{i}[key{i}] = d{i}[key{i}] * d{i}['c']",
                f"acc = d{i}.pop('a') + d{i}['b'] * 0.5",
                f"s = s + len(d{i})"]

    def b_early(self):
        i = self.fresh()
        self.helpers.append('\n'.join([
            f'def early{i}(z, lim):',
            '    for k in range(5):',
            '        if np.sum(z) > lim:',
            f'            return {self.e("z")} * (k + 1) * 0.3',
            '        z = z + 0.3',
            '    return z']))
        return [f'acc = early{i}(acc, {self.c()})']

    def b_rec(self):
        i = self.fresh()
        self.helpers.append('\n'.join([
            f'def rec{i}(z, depth):',
            '    if depth == 0:',
            '        return z',
            f'    return rec{i}({self.e("z")} * 0.5 + z * 0.5, depth - 1)']))
        return [f'acc = rec{i}(acc, {self.r.randint(0, 3)})']

    def b_iter(self):
        i = self.fresh()
        kind = self.r.choice(['next', 'rev', 'zip'])
        if kind == 'next':
            return [f'it{i} = iter([acc, x, y])',
                    f'a{i} = next(it{i})',
                    f'b{i} = next(it{i})',
                    f'acc = a{i} * 0.5 + b{i} * np.sum(next(it{i}, y))']
        if kind == 'rev':
            return [f'for j{i}, v{i} in enumerate(reversed(acc)):',
                    f'    s = s + v{i} * (j{i} + 1) * 0.1']
        return [f'for u{i}, w{i} in zip(acc, y):',
                f'    s = s + u{i} * w{i}']

    def b_listmut(self):
        i = self.fresh()
        return [f'hist{i} = []',
                f'for k in range(3):',
                f'    acc = {self.e("acc")} + x * 0.1',
                f'    hist{i}.append(acc)',
                f'hist{i}.insert(0, x)',
                f'hist{i}.pop({self.r.choice(["", "0", "-1", "1"])})',
                f'hist{i}.reverse()',
                f'acc = hist{i}[0] + sum(hist{i}[1:]) * 0.1']

    def b_andor(self):
        j, k = self.r.randrange(4), self.r.randrange(3)
        z = self.r.choice(['acc[%d]' % j, '(acc[%d] * 0.0)' % j, '(acc[%d] > %s)' % (j, self.c())])
        return [f'o = {z} and y[{k}]',
                f'p = {z} or acc[{(j + 1) % 4}]',
                f's = s + o * 0.5 + p * 0.25']

    def b_isinstance(self):
        j = self.r.randrange(4)
        t = self.r.choice(['float', 'np.floating', 'np.ndarray', '(int, float)'])
        what = self.r.choice([f'acc[{j}]', 'acc', f'sum(acc)', f'float(acc[{j}])'])
        return [f'if isinstance({what}, {t}):',
                f'    acc = acc * {self.e("x")}',
                'else:',
                '    acc = acc + 0.5']

    def b_defnow(self):
        i = self.fresh()
        return [f'def dn{i}(z, w=acc * 1.0):',
                f'    return z * w + acc * 0.1',
                f'acc = acc + {self.e("x")}',
                f'acc = dn{i}(x) + acc * 0.5']

    def b_nonlocal(self):
        i = self.fresh()
        return [f'tot{i} = acc * 0.0',
                f'def add{i}(v):',
                f'    nonlocal tot{i}',
                f'    tot{i} = tot{i} + v',
                f'    return np.sum(tot{i})',
                f'for k in range(3):',
                f'    if add{i}({self.e("acc")} * (k + 1)) > {self.c()}:',
                f'        s = s + 0.1',
                f'acc = acc * 0.5 + tot{i} * 0.2']

    def b_keyfn(self):
        i = self.fresh()
        return [f'cands{i} = [acc, x * {self.c()}, {self.e("acc")}]',
                f'best{i} = {self.r.choice(["max", "min"])}(cands{i}, key=lambda a: {self.r.choice(["np.sum(a)", "a[0]", "np.max(a) - a[1]"])})',
                f'order{i} = sorted(range(3), key=lambda q: float(np.sum(cands{i}[q] * x)))',
                f'acc = best{i} + cands{i}[order{i}[0]] * 0.5']

    def b_chainalias(self):
        i = self.fresh()
        return [f'a{i} = b{i} = acc.copy()',
                f'a{i}[{self.r.randrange(4)}] = x[{self.r.randrange(4)}] * 2.0',
                f'b{i}[acc > {self.c()}] *= y[{self.r.randrange(3)}]',
                f'acc = a{i} + b{i} * 0.5']

    def b_rows2d(self):
        i = self.fresh()
        return [f'M{i} = np.outer(acc, y)',
                f'for r{i} in M{i}:',
                f'    r{i} *= {self.c()}',
                f'M{i}[:, {self.r.randrange(3)}] += x',
                f'acc = M{i}.sum(axis=1) * 0.5 + sum(M{i}.T)[0] * 0.0 + acc * 0.5']

    def b_trywhile(self):
        i = self.fresh()
        return [f'k{i} = 0',
                f'while k{i} < 4:',
                f'    k{i} += 1',
                '    try:',
                f'        if acc[k{i} % 4] > {self.c()}:',
                '            raise StopIteration',
                f'        acc = acc * 0.9 + {self.e("x")} * 0.2',
                '    except StopIteration:',
                '        acc = acc - 0.1',
                '        break',
                f's = s + k{i} * 0.1']

    def b_lazyloop(self):
        """A loop over a generator (expression, map, generator function) whose body rebinds or
        changes in place (item writes, +=, np.copyto, out=, np.add.at) what the generator reads."""
        i = self.fresh()
        src = self.r.choice([f'(np.sin(v) for v in acc)', f'({self.e("v")} for v in acc if v > {self.c()})',
                             'map(np.tanh, acc)', f'(v * w for v, w in zip(acc, x))'])
        how = self.r.choice(['zip', 'enumerate', 'named', 'plain', 'chain', 'comp', 'mapnamed'])
        if how == 'comp':
            elt = self.r.choice([f'np.sum(u{i}) + acc[0]', f'put_{i}(dd{i}, dd{i}["a"] + u{i})', f'(kk{i} := kk{i} + np.sum(u{i}))'])
            self.helpers.append(f'def put_{i}(d, v):\n    d["a"] = v\n    return 0.0')
            return [f'dd{i} = {{"a": acc * 1.0}}', f'kk{i} = 1.0',
                    f'zs{i} = [{elt} for u{i} in {self.r.choice([src, f"(dd{i}[chr(97)] * (q + 1) for q in range(3))", f"(acc * kk{i} for q in range(3))"])}]',
                    f's = s + sum(zs{i}) * 0.1 + np.sum(dd{i}["a"]) * 0.1 + kk{i} * 0.1']
        body = self.r.choice([f'acc = acc + u{i} * 0.3', f'acc[j{i} % 4] = acc[j{i} % 4] * 0.5 + u{i}',
                              f'np.copyto(acc, acc * 0.9 + u{i} * 0.1)', f'np.add(acc, u{i} * 0.2, out=acc)',
                              f'np.add.at(acc, j{i} % 4, u{i})', f'acc += u{i} * 0.1', f's = s + u{i} * acc[0]'])
        lines = [f'acc = acc.copy()', f'j{i} = 0']
        if how == 'mapnamed':
            lines += [f'g{i} = {src}', f'if y[0] > {self.c()}:', f'    for u{i} in map(np.tanh, g{i}):',
                      '        ' + body, f'        j{i} += 1']
            return lines
        if how == 'chain':
            lines += [f'g{i} = {src}', f'h{i} = (u * 0.5 for u in g{i})', f'for u{i} in h{i}:']
        elif how == 'named':
            lines += [f'g{i} = {src}', f'for u{i} in g{i}:']
        elif how == 'zip':
            lines += [f'for u{i}, w{i} in zip({src}, x):']
        elif how == 'enumerate':
            lines += [f'for j{i}, u{i} in enumerate({src}):']
        else:
            lines += [f'for u{i} in {src}:']
        lines += ['    ' + body, f'    j{i} += 1' if how != 'enumerate' else '    pass']
        return lines

    BLOCKS = ['b_gen_expr', 'b_gen_func', 'b_any_all', 'b_comp', 'b_late', 'b_default', 'b_nested', 'b_try',
              'b_with', 'b_while', 'b_forelse', 'b_walrus', 'b_condexpr', 'b_chain', 'b_star', 'b_augitem',
              'b_dict', 'b_early', 'b_rec', 'b_iter', 'b_listmut', 'b_andor', 'b_isinstance', 'b_defnow',
              'b_nonlocal', 'b_keyfn', 'b_chainalias', 'b_rows2d', 'b_trywhile', 'b_lazyloop', 'b_lazyloop']

    def program(self):
        body = [self.r.choice(['acc = x * 1.0', 'acc = np.tanh(x)', 'acc = x.copy()', 'acc = x + 0.0']),
                self.r.choice(['s = 0.0', 's = y[0] * 0.1', 's = np.sum(y) * 0.0'])]
        for _ in range(self.r.randint(2, 5)):
            body += getattr(self, self.r.choice(self.BLOCKS))()
            if self.r.random() < 0.4:
                body.append('acc = np.tanh(acc)')
        if self.r.random() < 0.2:   # an early return of the whole function
            body += [f'if np.sum(acc) > {self.c() + 2}:', '    return np.sum(acc) * 2.0 + s']
        body.append(self.r.choice(['return np.sum(acc ** 2) + s * 0.5', 'return np.sum(np.sin(acc)) + s',
                                   'return np.mean(acc * x) + np.sum(y * s) * 0.1']))
        src = ['import contextlib', 'import numpy as np', 'import sct', 'from sct import dlgradient', '']
        for h in self.helpers:
            src += [h, '', '']
        src += ['def f(x, y):'] + ['    ' + l for l in body] + ['', '']
        src += ['def f_g(x, y):', '    loss = f(x, y)', '    return loss, dlgradient(loss, x, y)', '', '',
                'def f_h(x, y, v):', '    loss = f(x, y)', '    g = dlgradient(loss, x)',
                '    return dlgradient(np.sum(g * v), x)', '', '']
        src += ['if __name__ == "__main__":',
                '    rng = np.random.default_rng(0)',
                '    x, y = rng.standard_normal(4), rng.standard_normal(3)',
                '    print("python:", f(x.copy(), y.copy()))',
                '    print("sct:   ", sct.dlfeval(f_g, sct.dlarray(x), sct.dlarray(y)))', '']
        return '\n'.join(src)


# ---------------------------------------------------------------------------------------------

class Outcome(Exception):
    def __init__(self, status, kind, msg):
        super().__init__(msg)
        self.status, self.kind, self.msg = status, kind, msg


class Timeout(Exception):
    pass


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def D_(v):
    return np.asarray(v.data) if type(v).__name__ == 'dlarray' else np.asarray(v)


def reason(e):
    msg = str(e).split('\n')[0]
    msg = re.sub(r'^.*?line \d+: ', '', msg)
    msg = re.sub(r'`[^`]*`', '`_`', msg)
    msg = re.sub(r'\d+', 'N', msg)
    return msg[:140]


def sct_call(sct, what, fn, *args):
    try:
        return fn(*args)
    except (Timeout, Outcome):
        raise
    except sct.CompileError as e:
        raise Outcome('REFUSED', what, reason(e))
    except sct.EvaluationError as e:
        cause = e.__cause__
        if cause is not None and not isinstance(cause, sct.SctError) and not isinstance(cause, FloatingPointError):
            raise Outcome('CRASH', what, f'EvaluationError from {type(cause).__name__}: {e}'[:600])
        raise Outcome('REFUSED', what, reason(e))
    except sct.SctError as e:
        raise Outcome('REFUSED', what, reason(e))
    except Exception as e:
        raise Outcome('CRASH', what, f'{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}')


def plain(mod, x, y):
    return float(mod.f(x.copy(), y.copy()))


def fd(mod, x, y, which, step=1e-6):
    out = np.zeros(4 if which == 0 else 3)
    f0 = plain(mod, x, y)
    for i in range(out.size):
        a = [x.copy(), y.copy()]
        a[which][i] += step
        up = plain(mod, *a)
        a[which][i] -= 2 * step
        dn = plain(mod, *a)
        fwd, bwd, c = (up - f0) / step, (f0 - dn) / step, (up - dn) / (2 * step)
        out[i] = np.nan if abs(fwd - bwd) > 1e-3 * (1 + abs(c)) else c
    return out


def close(a, b, rtol, atol):
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def check(mod, seed):
    import sct
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(4), rng.standard_normal(3)
    x0, y0 = x.copy(), y.copy()
    try:
        with np.errstate(all='ignore'):
            ref = mod.f(x, y)
    except Exception as e:
        return 'SKIP', 'python', type(e).__name__
    if not (np.array_equal(x, x0) and np.array_equal(y, y0)):
        return 'SKIP', 'mutates', ''
    if np.ndim(ref) != 0 or not np.isfinite(float(ref)):
        return 'SKIP', 'loss', 'not a finite scalar'
    ref = float(ref)
    loss, (gx, gy) = sct_call(sct, 'first', sct.dlfeval, mod.f_g, sct.dlarray(x), sct.dlarray(y))
    lv = D_(loss)
    if lv.shape != ():
        raise Outcome('WRONG', 'value', f'loss shape {lv.shape}')
    if not close(float(lv), ref, VALUE_RTOL, 0.0):
        raise Outcome('WRONG', 'value', f'sct {float(lv)!r} != python {ref!r}')
    for name, g, a, which in (('x', gx, x, 0), ('y', gy, y, 1)):
        gd = D_(g)
        if gd.shape != a.shape or gd.dtype != np.float64:
            raise Outcome('WRONG', 'gradient', f'd/d{name} shape/dtype {gd.shape} {gd.dtype}')
        ref_g = fd(mod, x, y, which)
        for i in range(a.size):
            if np.isnan(ref_g[i]):
                continue
            if not close(gd[i], ref_g[i], GRAD_RTOL, GRAD_ATOL + 1e-8 * abs(ref)):   # FD roundoff ~ eps |f| / h
                raise Outcome('WRONG', 'gradient', f'd/d{name}[{i}] sct {gd[i]!r} fd {ref_g[i]!r}')
    gxd, gyd = D_(gx), D_(gy)
    if seed % 2 == 0:
        vx, vy = rng.standard_normal(4), rng.standard_normal(3)
        out, tan = sct_call(sct, 'jvp', sct.jvp, mod.f, (x.copy(), y.copy()), (vx, vy))
        if not close(float(D_(out)), ref, VALUE_RTOL, 0.0):
            raise Outcome('WRONG', 'jvp_value', f'jvp {float(D_(out))!r} != python {ref!r}')
        want = float(gxd @ vx + gyd @ vy)
        # check against a directional central difference where it is smooth
        h = 1e-6
        up, dn = plain(mod, x + h * vx, y + h * vy), plain(mod, x - h * vx, y - h * vy)
        dd = (up - dn) / (2 * h)
        smooth = abs((up - ref) / h - (ref - dn) / h) <= 1e-3 * (1 + abs(dd))
        if smooth and not close(float(D_(tan)), dd, GRAD_RTOL, GRAD_ATOL + 1e-8 * abs(ref)):
            raise Outcome('WRONG', 'jvp', f'jvp tangent {float(D_(tan))!r} fd {dd!r} (grad.v {want!r})')
    if seed % 3 == 0:
        v = rng.standard_normal(4)
        hv = sct_call(sct, 'hvp', sct.dlfeval, mod.f_h, sct.dlarray(x), sct.dlarray(y), sct.dlarray(v))
        h = 1e-5
        _, (gu, _) = sct_call(sct, 'hvp', sct.dlfeval, mod.f_g, sct.dlarray(x + h * v), sct.dlarray(y))
        _, (gm, _) = sct_call(sct, 'hvp', sct.dlfeval, mod.f_g, sct.dlarray(x - h * v), sct.dlarray(y))
        want = (D_(gu) - D_(gm)) / (2 * h)
        hd = D_(hv)
        if hd.shape != (4,):
            raise Outcome('WRONG', 'hvp', f'shape {hd.shape}')
        # only where the first-order gradient is smooth along v (no branch flip)
        _, (g2u, _) = sct_call(sct, 'hvp', sct.dlfeval, mod.f_g, sct.dlarray(x + 2 * h * v), sct.dlarray(y))
        want2 = (D_(g2u) - D_(gm)) / (3 * h)
        for i in range(4):
            if not close(want[i], want2[i], 1e-2, 1e-4):
                continue
            if not close(hd[i], want[i], HVP_RTOL, HVP_ATOL):
                raise Outcome('WRONG', 'hvp', f'[{i}] hvp {hd[i]!r} fd {want[i]!r}')
    return 'OK', '', ''


def run_one(seed, outdir, keep=False):
    src = Gen(seed).program()
    path = os.path.join(outdir, f'prog_{seed}.py')
    with open(path, 'w') as fh:
        fh.write(src)
    name = f'fuzz6_prog_{seed}'
    try:
        mod = load(path, name)
        try:
            status, kind, msg = check(mod, seed)
        except Outcome as o:
            status, kind, msg = o.status, o.kind, o.msg
    finally:
        sys.modules.pop(name, None)
    if status in ('WRONG', 'CRASH'):
        with open(os.path.join(outdir, f'fail_{seed}.py'), 'w') as fh:
            fh.write(f'# fuzz6 seed {seed}: {status} {kind}: {msg.splitlines()[0] if msg else ""}\n' + src)
    if not keep:
        os.remove(path)
    return status, kind, msg


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=100)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default=None)
    ap.add_argument('--print', action='store_true', help='print the program of --seed and stop')
    ap.add_argument('--show', action='store_true', help='print each failure in full')
    ap.add_argument('--timeout', type=int, default=60)
    a = ap.parse_args(argv)
    if a.print:
        print(Gen(a.seed).program())
        return 0
    outdir = a.out or tempfile.mkdtemp(prefix='fuzz6_')
    os.makedirs(outdir, exist_ok=True)
    counts, reasons, examples, failures = collections.Counter(), collections.Counter(), {}, []

    def alarm(*_):
        raise Timeout()
    signal.signal(signal.SIGALRM, alarm)
    for seed in range(a.seed, a.seed + a.n):
        signal.alarm(a.timeout)
        try:
            status, kind, msg = run_one(seed, outdir)
        except Timeout:
            status, kind, msg = 'CRASH', 'timeout', f'over {a.timeout} s'
        except Exception as e:
            status, kind, msg = 'CRASH', 'harness', f'{type(e).__name__}: {e}\n{traceback.format_exc()[-800:]}'
        finally:
            signal.alarm(0)
        counts[status] += 1
        if (seed - a.seed + 1) % 50 == 0:
            print(f'[{seed - a.seed + 1}] ' + ' '.join(f'{k} {v}' for k, v in sorted(counts.items())), flush=True)
        if status == 'REFUSED':
            reasons[msg] += 1
            examples.setdefault(msg, []).append(seed)
        elif status == 'SKIP':
            reasons[f'skip {kind}: {msg[:60]}'] += 1
        elif status in ('WRONG', 'CRASH'):
            failures.append((seed, status, kind, msg))
            print(f'seed {seed}: {status} {kind}: {msg if a.show else msg.splitlines()[0][:300]}', flush=True)
    print(f'\n{a.n} programs (seeds {a.seed}..{a.seed + a.n - 1}), out {outdir}')
    for k in ('OK', 'REFUSED', 'WRONG', 'CRASH', 'SKIP'):
        print(f'  {k:8s} {counts[k]}')
    if reasons:
        print('reasons:')
        for m, c in reasons.most_common(40):
            print(f'  {c:5d}  {m}   e.g. seeds {examples.get(m, [])[:4]}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
