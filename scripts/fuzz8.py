"""Random programs in the idioms users write that scripts/fuzz2-7 do not produce (red team gen, s42).

    PYTHONPATH=. python scripts/fuzz8.py --n 40 --seed 0 [--out /tmp/fuzz8] [--print] [-v]
    PYTHONPATH=. python scripts/fuzz8.py --check /tmp/fuzz8/WRONG_12.py
    PYTHONPATH=. python scripts/fuzz8.py --shrink /tmp/fuzz8/WRONG_12.py

The checking harness is scripts/fuzz7.py's (value vs plain Python, gradients of x and of the
parameters W, b, w vs central differences in float64, a second point, float32 inputs (value dtype,
gradient dtype), sct.jvp, sct.dlaccelerate inside and outside dlfeval, and on every third program
the nested dlgradient and sct.hvp; OK / REFUSED / WRONG / CRASH / UNLOCATED; --shrink removes
statements while the status stays).  This file holds a generator of other constructs:

* configuration dicts passed with ``**`` (``cfg = {...}`` / ``dict(...)``, module level or local)
  to helpers with keyword-only parameters or ``**kwargs`` (``kw.get("alpha", 0.1)``), helpers
  with defaults called by keyword, ``functools.partial`` of them;
* frozen dataclasses holding the parameters (with ``__post_init__`` checks), non-frozen dataclasses
  whose ``__post_init__`` computes a field from traced values, namedtuples returned by helpers,
  ``._replace``; class hierarchies with ``super().__init__`` / ``super().__call__``;
* generator functions at module level consumed by ``sum()``, ``for`` and ``list()``;
* dict / list comprehensions over ``p.items()``; a few steps of hand-written gradient descent
  on copies (``q[k] -= LR * g[k]`` with ``STEPS``/``LR`` module globals);
* early returns and ``while`` loops with data-dependent exits; ``try/except`` around shape
  checks (``ValueError`` raised by the program itself or by ``@`` of mismatched shapes);
* f-string / ``str.format`` logging of traced values into a list;
* ``np.clip`` / ``np.maximum`` / ``np.where`` kinks, reductions with ``axis``/``keepdims``,
  broadcasting across ranks, negative-step slices and integer-list indexing.
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import re
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz7  # noqa: E402
from fuzz7 import Result, check  # noqa: E402


class Gen8:
    """Variables have shapes V4 (4,), V3 (3,), S ()."""

    def __init__(self, seed):
        self.r = random.Random(seed)
        self.n = 0
        self.style = self.r.choice(['dict', 'dict', 'dc', 'obj'])
        self.mod = []           # module-level source blocks
        self.have = set()       # module-level features emitted
        self.pending = set()    # names the statement being generated defines
        self.kwonly = self.r.random() < 0.3     # act() with keyword-only parameters (refused with **d)

    def c(self):
        return self.r.choice(['0.5', '1.5', '0.3', '0.7', '0.25', '1.2', '0.9'])

    def fresh(self, b='v'):
        self.n += 1
        self.pending.add(f'{b}{self.n}')
        return f'{b}{self.n}'

    def P(self, k):
        if self.style == 'dict':
            return f'p["{k}"]'
        return f'p.{k}'

    def pick(self, env, shp):
        ns = [n for n, s in env.items() if s == shp and n not in self.pending]
        if ns:
            return self.r.choice(ns)
        if shp == 'S':
            v = self.pick(env, 'V4')
            return f'{v}[{self.r.randrange(-4, 4)}]'
        if shp == 'V3':
            return f'({self.P("W")} @ {self.pick(env, "V4")})'
        return f'({self.P("W")}.T @ {self.pick(env, "V3")})'

    def smooth(self, a):
        return self.r.choice(['np.tanh({a})', 'np.sin({a})', '{a} ** 2', '0.5 * {a}', 'np.exp(-{a} ** 2)',
                              'np.sqrt({a} ** 2 + 1.0)', 'np.cos({a})', 'np.log1p({a} ** 2)']).format(a=a)

    def expr(self, env, shp, d=1):
        a = self.pick(env, shp)
        if d <= 0:
            return a
        k = self.r.randrange(6)
        if k == 0:
            return self.smooth(a)
        if k == 1:
            return f'{a} * {self.pick(env, "S")}'
        if k == 2:
            return f'{a} + {self.expr(env, shp, d - 1)}'
        if k == 3 and shp != 'S':
            return f'np.clip({a}, -0.8, 0.8)'
        if k == 4:
            return f'np.where({a} > 0.1, {a}, 0.2 * {a})'
        return f'{a} - {self.c()} * {self.expr(env, shp, d - 1)}'

    # ---- module-level features ----------------------------------------------------------------
    def need(self, name):
        if name in self.have:
            return
        self.have.add(name)
        src = {
            'act': [f'def act(z, {"*, " if self.kwonly else ""}alpha=0.1, scale=1.0):',
                    '    return scale * np.where(z > 0, z, alpha * z)'],
            'lin': ['def lin(h, W, b, **kw):',
                    '    s = kw.get("scale", 1.0)',
                    '    if kw.get("bias", True):',
                    '        return s * (W @ h + b)',
                    '    return s * (W @ h)'],
            'smooth': ['def smooth(z, beta=1.0, eps=1e-3):',
                       '    return np.log1p(np.exp(beta * z)) / beta + eps * z'],
            'CFG': ['CFG = {"alpha": 0.2, "scale": 1.5}'],
            'partial': ['act2 = partial(act, alpha=0.3)'],
            'gen': ['def terms(h, k=2):', '    for i in range(len(h)):', '        yield h[i] ** k'],
            'gen2': ['def pairs(a, b):', '    for u, v in zip(a, b):', '        if u > v:', '            yield u - v',
                     '        else:', '            yield 0.5 * (v - u)'],
            'NT': ['Out = namedtuple("Out", ["val", "aux"])', '',
                   'def head(h, w):', '    z = np.tanh(h)', '    return Out(val=np.sum(z * w), aux=z)'],
            'GD': ['STEPS = 3', 'LR = 0.1'],
            'Hier': ['class Base:', '    def __init__(self, W):', '        self.W = W', '',
                     '    def __call__(self, h):', '        return self.W @ h', '',
                     '    def norm(self):', '        return np.sum(self.W ** 2)', '', '',
                     'class Child(Base):', '    def __init__(self, W, b, gain=1.0):', '        super().__init__(W)',
                     '        self.b = b', '        self.gain = gain', '',
                     '    def __call__(self, h):', '        z = super().__call__(h) + self.b',
                     '        return self.gain * np.tanh(z)'],
            'State': ['@dataclass', 'class State:', '    h: np.ndarray', '    scale: float = 1.0',
                      '    energy: float = field(init=False)', '',
                      '    def __post_init__(self):', '        self.energy = self.scale * np.sum(self.h ** 2)'],
            'shapechk': ['def checked(M, v):', '    if M.shape[1] != v.shape[0]:',
                         '        raise ValueError("shape mismatch")', '    return M @ v'],
            'Prop': ['class Scaled:', '    factor = 0.5', '', '    def __init__(self, v, bias=0.0):',
                     '        self.v = v', '        self.bias = bias', '', '    @property',
                     '    def norm2(self):', '        return np.sum(self.v ** 2) * self.factor + self.bias', '',
                     '    def shifted(self, d):', '        return Scaled(self.v + d, bias=self.bias)'],
            'genret': ['def until(h, limit=2.0):', '    total = 0.0', '    for u in h:', '        total = total + abs(u)',
                       '        if total > limit:', '            return', '        yield u * total'],
            'Buf': ['@dataclass', 'class Buf:', '    items: list = field(default_factory=list)',
                    '    gain: float = 1.0', '', '    def total(self):',
                    '        return self.gain * sum(np.sum(t) for t in self.items)'],
            'early': ['def clamp_norm(v, r=1.0):', '    n = np.sqrt(np.sum(v ** 2))', '    if n <= r:',
                      '        return v', '    return v * (r / n)'],
        }[name]
        self.mod.append('\n'.join(src))

    # ---- statements --------------------------------------------------------------------------
    def stmt(self, env):
        k = self.r.choice(['kwcfg', 'kwcfg', 'kwargs', 'partial', 'defaults', 'gen', 'gen2', 'comp', 'gd', 'nt',
                           'hier', 'state', 'try', 'tryshape', 'while', 'early', 'log', 'reduce', 'slice',
                           'bcast', 'replace', 'dictcfg', 'prop', 'genret', 'sortkey', 'enum', 'whilebreak',
                           'getdef', 'factory', 'clsattr'])
        self.pending = set()
        return getattr(self, 's_' + k)(env)

    def s_kwcfg(self, env):
        self.need('act')
        v = self.fresh('a')
        shp = self.r.choice(['V3', 'V4'])
        x = self.expr(env, shp)
        out = []
        if self.r.random() < 0.5:
            self.need('CFG')
            cfg = 'CFG'
        else:
            cfg = self.fresh('cfg')
            if self.r.random() < 0.5:
                out.append(f'{cfg} = dict(alpha={self.c()}, scale={self.pick(env, "S")})')
            else:
                out.append(f'{cfg} = {{"alpha": {self.c()}}}')
                if self.r.random() < 0.5:
                    out.append(f'{cfg}["scale"] = {self.pick(env, "S")}')
        h = self.fresh('h')
        out += [f'{h} = {x}', f'{v} = act({h}, **{cfg})']
        env[h] = shp
        env[v] = shp
        return out

    def s_kwargs(self, env):
        self.need('lin')
        v = self.fresh('z')
        h = self.pick(env, 'V4')
        kw = self.r.choice(['', ', scale=0.5', ', bias=False', f', scale={self.pick(env, "S")}',
                            ', **{"scale": 2.0, "bias": True}'])
        env[v] = 'V3'
        return [f'{v} = lin({h}, {self.P("W")}, {self.P("b")}{kw})']

    def s_partial(self, env):
        self.need('act')
        self.need('partial')
        v = self.fresh('a')
        shp = self.r.choice(['V3', 'V4'])
        x = self.pick(env, shp)
        env[v] = shp
        kw = self.r.choice(['', ', scale=2.0', ', scale=0.5', f', scale={self.pick(env, "S")}'])
        return [f'{v} = act2({x}{kw})']

    def s_defaults(self, env):
        self.need('smooth')
        v = self.fresh('s')
        shp = self.r.choice(['V3', 'V4'])
        x = self.pick(env, shp)
        env[v] = shp
        call = self.r.choice([f'smooth({x})', f'smooth({x}, beta=2.0)', f'smooth({x}, eps=0.01, beta=0.5)',
                              f'smooth(z={x}, beta={self.c()})'])
        return [f'{v} = {call}']

    def s_gen(self, env):
        self.need('gen')
        v = self.fresh('t')
        x = self.pick(env, self.r.choice(['V3', 'V4']))
        env[v] = 'S'
        k = self.r.choice(['sum(terms({x}))', 'sum(terms({x}, k=3))', 'sum(list(terms({x}))[::-1])',
                           'max(terms({x}))'])
        if self.r.random() < 0.3:
            return [f'{v} = 0.0', f'for q in terms({x}, 2):', f'    {v} = {v} + np.sin(q)']
        return [f'{v} = {k.format(x=x)}']

    def s_gen2(self, env):
        self.need('gen2')
        v = self.fresh('t')
        shp = self.r.choice(['V3', 'V4'])
        a, b = self.pick(env, shp), self.expr(env, shp, 0)
        env[v] = 'S'
        return [f'{v} = sum(pairs({a}, {b})) + 0.0']

    def s_comp(self, env):
        v = self.fresh('c')
        env[v] = 'S'
        items = 'p.items()' if self.style == 'dict' else 'vars(p).items()' if self.style == 'dc' else \
            '[("W", p.W), ("b", p.b), ("w", p.w)]'
        k = self.r.choice([
            f'{v} = sum(np.sum(val ** 2) for key, val in {items} if key != "s")',
            f'{v} = sum(np.sum(np.tanh(val)) for key, val in sorted({items}) if key in ("b", "w"))',
        ])
        if self.r.random() < 0.4:
            d = self.fresh('sc')
            return [f'{d} = {{key: 0.5 * val for key, val in {items} if key != "s"}}',
                    f'{v} = sum([np.mean(val) for val in {d}.values()])']
        return [k]

    def s_gd(self, env):
        self.need('GD')
        q = self.fresh('q')
        x = self.pick(env, 'V4')
        r = self.fresh('r')
        out = [f'{q} = {{"W": {self.P("W")}.copy(), "b": {self.P("b")}.copy()}}',
               'for _ in range(STEPS):',
               f'    {r} = np.tanh({q}["W"] @ {x} + {q}["b"]) - 0.3',
               f'    grads = {{"W": np.outer({r}, {x}), "b": {r}}}']
        if self.r.random() < 0.5:
            out += ['    for key in grads:', f'        {q}[key] -= LR * grads[key]']
        else:
            out += [f'    {q} = {{key: val - LR * grads[key] for key, val in {q}.items()}}']
        v = self.fresh('g')
        env[v] = 'V3'
        out.append(f'{v} = {q}["W"] @ {x} + {q}["b"]')
        return out

    def s_nt(self, env):
        self.need('NT')
        o = self.fresh('o')
        v = self.fresh('n')
        env[v] = 'S'
        x = self.pick(env, 'V4')
        out = [f'{o} = head({x}, {self.P("w")})']
        if self.r.random() < 0.5:
            out.append(f'{v} = {o}.val + np.sum({o}.aux[::-2])')
        elif self.r.random() < 0.5:
            out.append(f'_val, _aux = {o}')
            out.append(f'{v} = _val * np.mean(_aux)')
        else:
            out.append(f'{o} = {o}._replace(val={o}.val * 2.0)')
            out.append(f'{v} = {o}[0]')
        return out

    def s_hier(self, env):
        self.need('Hier')
        m = self.fresh('net')
        v = self.fresh('y')
        env[v] = 'V3'
        x = self.pick(env, 'V4')
        out = [f'{m} = Child({self.P("W")}, {self.P("b")}, gain={self.pick(env, "S")})', f'{v} = {m}({x})']
        if self.r.random() < 0.5:
            w = self.fresh('reg')
            env[w] = 'S'
            out.append(f'{w} = 0.01 * {m}.norm()')
        return out

    def s_state(self, env):
        self.need('State')
        st = self.fresh('st')
        v = self.fresh('e')
        env[v] = 'S'
        x = self.pick(env, self.r.choice(['V4', 'V3']))
        return [f'{st} = State({x}, scale={self.c()})', f'{v} = {st}.energy + np.sum({st}.h[:2])']

    def s_try(self, env):
        self.need('shapechk')
        v = self.fresh('k')
        env[v] = 'V3'
        good = self.pick(env, 'V4')
        bad = self.pick(env, 'V3')
        if self.r.random() < 0.6:
            M = self.P("W")
            return ['try:', f'    if {M}.shape[1] != {bad}.shape[0]:', '        raise ValueError("shape")',
                    f'    {v} = {M} @ {bad}', 'except ValueError:', f'    {v} = np.tanh({M} @ {good})']
        if self.r.random() < 0.5:
            return ['try:', f'    {v} = checked({self.P("W")}, {bad})', 'except ValueError:',
                    f'    {v} = checked({self.P("W")}, {good})']
        return ['try:', f'    {v} = checked({self.P("W")}, {good})', 'except ValueError:', f'    {v} = {bad}']

    def s_tryshape(self, env):
        v = self.fresh('k')
        env[v] = 'V3'
        good = self.pick(env, 'V4')
        bad = self.pick(env, 'V3')
        return ['try:', f'    {v} = {self.P("W")} @ {bad}', 'except ValueError:', f'    {v} = {self.P("W")} @ {good} * 0.5']

    def s_while(self, env):
        h = self.fresh('w')
        x = self.pick(env, 'V4')
        i = self.fresh('i')
        env[h] = 'V4'
        return [f'{h} = {x}.copy()', f'{i} = 0',
                f'while np.sum({h} ** 2) > 0.5 and {i} < 6:',
                f'    {h} = 0.7 * {h} + 0.05 * np.tanh({h}[::-1])', f'    {i} += 1']

    def s_early(self, env):
        self.need('early')
        v = self.fresh('cn')
        x = self.pick(env, self.r.choice(['V3', 'V4']))
        if x not in env:
            return []
        env[v] = env[x]
        return [f'{v} = clamp_norm({x}, r={self.r.choice(["0.8", "1.0", "2.5"])})']

    def s_log(self, env):
        v = self.pick(env, 'S')
        if v not in env:
            return []
        env.setdefault('__log', 'L')
        k = self.r.choice([f'log.append(f"step {{len(log)}}: {{{v}:.4f}}")',
                           f'log.append("v={{:.3f}}".format({v}))',
                           f'log.append(f"{{float({v}):.3e}}")',
                           f'log.append("%.3f" % {v})'])
        return [k]

    def s_reduce(self, env):
        v = self.fresh('m')
        x = self.pick(env, 'V4')
        y = self.pick(env, 'V3')
        M = self.fresh('M')
        env[v] = 'V4'
        red = self.r.choice(['np.sum({M}, axis=0)', 'np.mean({M}, axis=0, keepdims=True)[0]',
                             'np.max({M}, axis=0)', '({M} - np.mean({M}, axis=1, keepdims=True))[-1]',
                             '{M}.sum(axis=0) / np.sqrt(np.sum({M} ** 2, axis=(0, 1), keepdims=True)[0] + 1.0)',
                             'np.min({M}, axis=0) + np.std({M}, axis=0)'])
        return [f'{M} = np.tanh({self.P("W")} * {x}[None, :] + {y}[:, None])', f'{v} = ' + red.format(M=M)]

    def s_slice(self, env):
        v = self.fresh('sl')
        x = self.pick(env, 'V4')
        k = self.r.choice([(f'{x}[::-1]', 'V4'), (f'{x}[-1:0:-1]', 'V3'), (f'{x}[[0, 2, 3]]', 'V3'),
                           (f'{x}[[3, 1, 1, 0]]', 'V4'), (f'{x}[3:0:-1] * {self.P("b")}[::-1]', 'V3'),
                           (f'{self.P("W")}[::-1, ::-2].ravel()[:4]', 'V4'), (f'{self.P("W")}[-1, ::-1]', 'V4')])
        env[v] = k[1]
        return [f'{v} = {k[0]}']

    def s_bcast(self, env):
        v = self.fresh('bc')
        x = self.pick(env, 'V4')
        y = self.pick(env, 'V3')
        env[v] = 'S'
        T = self.fresh('T')
        return [f'{T} = {x}.reshape(1, 1, 4) * {y}.reshape(1, 3, 1) + {self.P("W")}[None]',
                f'{v} = np.sum(np.tanh({T}), axis=(0, 2)) @ {self.P("b")}']

    def s_replace(self, env):
        if self.style != 'dc':
            return self.s_comp(env)
        v = self.fresh('rp')
        env[v] = 'V3'
        return [f'pp = replace(p, b={self.P("b")} * {self.c()})', f'{v} = pp.W @ {self.pick(env, "V4")} + pp.b']

    def s_dictcfg(self, env):
        v = self.fresh('dc')
        cfg = self.fresh('opts')
        x = self.pick(env, 'V4')
        env[v] = 'V4'
        self.need('smooth')
        return [f'{cfg} = {{"beta": {self.c()}}}', f'{cfg}.update(eps={self.pick(env, "S")} * 0.01)',
                f'{v} = smooth({x}, **{cfg})']

    def s_prop(self, env):
        self.need('Prop')
        o = self.fresh('sc')
        v = self.fresh('pn')
        x = self.pick(env, self.r.choice(['V3', 'V4']))
        out = [f'{o} = Scaled({x}, bias={self.pick(env, "S")})']
        if self.r.random() < 0.5:
            out.append(f'{o} = {o}.shifted({self.c()})')
        out.append(f'{v} = {o}.norm2 + {o}.factor')
        env[v] = 'S'
        return out

    def s_genret(self, env):
        self.need('genret')
        v = self.fresh('gr')
        x = self.pick(env, self.r.choice(['V3', 'V4']))
        env[v] = 'S'
        return [f'{v} = sum(until({x}, limit={self.r.choice(["0.5", "1.0", "3.0"])})) + 0.0']

    def s_sortkey(self, env):
        v = self.fresh('sk')
        a, b, c = self.pick(env, 'V4'), self.pick(env, 'V3'), self.pick(env, 'V4')
        env[v] = 'S'
        fn = self.r.choice(['max', 'min'])
        return [f'{v} = {fn}([np.sum({a} ** 2), np.sum(np.tanh({b})), np.mean({c})], key=lambda t: float(t))']

    def s_enum(self, env):
        v = self.fresh('en')
        x = self.pick(env, 'V4')
        env[v] = 'S'
        items = 'p.items()' if self.style == 'dict' else '[("W", p.W), ("b", p.b)]'
        return [f'{v} = 0.0', f'for i, (key, val) in enumerate({items}):', '    if key == "s":', '        continue',
                f'    {v} = {v} + (i + 1) * np.mean(val) * np.sum({x})']

    def s_whilebreak(self, env):
        h = self.fresh('wb')
        x = self.pick(env, 'V3')
        env[h] = 'V3'
        return [f'{h} = {x}', 'k = 0', 'while True:', f'    {h} = np.tanh({self.P("W")} @ np.append({h}, 1.0) + {h})',
                '    k += 1', f'    if np.max(np.abs({h})) < 0.3 or k >= 4:', '        break']

    def s_getdef(self, env):
        v = self.fresh('gd')
        x = self.pick(env, 'V4')
        cfg = self.fresh('conf')
        env[v] = 'V4'
        return [f'{cfg} = {{"gain": {self.pick(env, "S")}}}',
                f'{v} = {cfg}.get("gain", 1.0) * {x} + {cfg}.get("shift", 0.1)']

    def s_factory(self, env):
        self.need('Buf')
        b = self.fresh('buf')
        v = self.fresh('bt')
        x, y = self.pick(env, 'V4'), self.pick(env, 'V3')
        env[v] = 'S'
        return [f'{b} = Buf(gain={self.c()})', f'{b}.items.append({x} ** 2)', f'{b}.items.append(np.tanh({y}))',
                f'{v} = {b}.total()']

    def s_clsattr(self, env):
        self.need('Prop')
        v = self.fresh('ca')
        x = self.pick(env, 'V4')
        env[v] = 'S'
        return [f'{v} = Scaled.factor * np.sum({x}) + Scaled({x}).norm2']

    # ---- module ------------------------------------------------------------------------------
    def program(self):
        env = {'x': 'V4'}
        body = []
        if self.style == 'obj':
            body.append('p = m')
        for _ in range(self.r.randint(3, 7)):
            body += self.stmt(env)
        logging = env.pop('__log', None)
        if logging:
            body.insert(0, 'log = []')
        outs = [n for n in env if n != 'x'] or ['x']
        picks = self.r.sample(outs, min(len(outs), self.r.randint(1, 3)))
        terms = []
        for n in picks:
            terms.append(self.r.choice(['np.sum({n} ** 2)', 'np.mean(np.tanh({n}))', 'np.sum(np.sin({n}))',
                                        'np.sum({n} * {n}) * 0.5']).format(n=n))
        terms.append(f'{self.P("s")} * np.sum({self.P("w")} * x)')
        body.append('loss = ' + ' + '.join(terms))
        if self.r.random() < 0.2:
            body.append('if loss > 50.0:')
            body.append('    return loss * 0.5')
        body.append('return loss')
        pname = 'm' if self.style == 'obj' else 'p'
        src = ['import numpy as np', 'from collections import namedtuple',
               'from dataclasses import dataclass, field, replace', 'from functools import partial', 'import sct',
               'from sct import dlarray, dlfeval, dlgradient', '', '']
        if self.style == 'dc':
            frozen = self.r.random() < 0.6
            src += [f'@dataclass(frozen={frozen})', 'class Params:', '    W: np.ndarray', '    b: np.ndarray',
                    '    w: np.ndarray', '    s: float = 1.0', '', '    def __post_init__(self):',
                    '        if self.W.shape != (3, 4):', '            raise ValueError("W must be 3x4")', '', '']
        if self.style == 'obj':
            src += ['class Layer:', '    def __init__(self, W, b, w, s):', '        self.W, self.b = W, b',
                    '        self.w = w', '        self.s = s', '', '']
        for m in self.mod:
            src += [m, '', '']
        src += [f'def f(x, {pname}):'] + ['    ' + ln for ln in body] + ['', '']
        first = 'loss = f(x, P)'
        src += ['def f_g(x, P):', f'    {first}', '    return loss, dlgradient(loss, x, P)', '', '',
                'AF = sct.dlaccelerate(f)', '', '',
                'def fa_g(x, P):', f'    {first.replace("f(", "AF(")}', '    return loss, dlgradient(loss, x, P)', '', '',
                'def f_h(x, P, v):', f'    {first}', '    g = dlgradient(loss, x, EnableHigherDerivatives=True)',
                '    z = np.sum(g * v)', '    return z, dlgradient(z, x)', '', '',
                'def f_x(x, P):', f'    {first}', '    return loss', '',
                'AUX = False', f'STYLE = {self.style!r}']
        return '\n'.join(src) + '\n'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=30)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='/tmp/fuzz8')
    ap.add_argument('--print', action='store_true')
    ap.add_argument('--check')
    ap.add_argument('--shrink')
    ap.add_argument('-v', action='store_true')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.print:
        print(Gen8(a.seed).program())
        return
    if a.shrink or a.check:
        path = a.shrink or a.check
        m = re.search(r'_(\d+)\.py$', path)
        seed = int(m.group(1)) if m else 0
        if a.shrink:
            fuzz7.shrink(path, seed)           # (fuzz7's checker: the same check of a written program)
        else:
            r = check(path, seed, True)
            print(r.status, r.kind, r.msg)
        return
    tmp = tempfile.mkdtemp(prefix='fz8_')
    counts = collections.Counter()
    reasons = collections.Counter()
    for s in range(a.seed, a.seed + a.n):
        src = Gen8(s).program()
        path = os.path.join(tmp, f'prog_{s}.py')
        with open(path, 'w') as fh:
            fh.write(src)
        try:
            r = check(path, s, s % 3 == 0, a.v)
        except Exception as e:  # noqa
            r = Result('HARNESS', type(e).__name__, traceback.format_exc()[-1500:])
        counts[r.status] += 1
        if r.status == 'REFUSED':
            reasons[re.sub(r'\b[a-z]+\d+\b', 'N', r.msg)[:110]] += 1
        if r.status in ('WRONG', 'CRASH', 'UNLOCATED', 'HARNESS', 'REFUSED') and (r.status != 'REFUSED' or a.v):
            out = os.path.join(a.out, f'{r.status}_{s}.py')
            with open(out, 'w') as fh:
                fh.write(src + '\n# ' + r.kind + '\n' + '\n'.join('# ' + ln for ln in r.msg.splitlines()[:40]) + '\n')
            print(f'{s}: {r.status} {r.kind} {r.msg.splitlines()[0][:200] if r.msg else ""}', flush=True)
        elif a.v:
            print(f'{s}: {r.status} {r.kind} {r.msg[:150]}', flush=True)
    print(dict(counts))
    for m, c in reasons.most_common(40):
        print(f'{c:5d}  {m}')


if __name__ == '__main__':
    main()
