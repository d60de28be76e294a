"""Random training loops whose step helpers take ``dlgradient`` inside them (red team gen44).

    PYTHONPATH=. python scripts/fuzz9.py --n 200 --seed 0 [--out /tmp/fuzz9] [--print] [-v]
    PYTHONPATH=. python scripts/fuzz9.py --check /tmp/fuzz9/WRONG_12.py
    PYTHONPATH=. python scripts/fuzz9.py --shrink /tmp/fuzz9/WRONG_12.py

Each program is a module with parameters in a dict, a list or a dataclass (W (3, 4), b (3,)),
a loss helper of random small numpy expressions (tanh, exp, log1p of squares, @, sum/mean,
slices, np.where, maximum), a ``step`` helper (module function, a method of a small class, with
defaults / keyword-only parameters, returning ``(p, loss)``) that takes ``g = dlgradient(...)``
inside and returns an update built in random ways (dict comprehension, ``dlupdate`` with a lambda,
a loop filling a new dict, ``dict(p)`` then item writes, lists / tuples), and a function

    def f_g(p0, x, y):
        p = p0
        for _ in range(K): p = step(p, x, y)
        L = loss(p, x, y)
        return L, p-leaves, dlgradient(L, p0[, x])       # (the outer gradient: MAML-like)

``x`` is a dlarray or plain numpy.  Some helpers return something that holds ``x`` itself (in a
dict, through an alias, a closure): sct must refuse those or match MATLAB's trace semantics.

The oracle: the same module run in plain Python with ``dlgradient`` / ``dlupdate`` taken from
the tiny tape-based reverse-mode AD below (:class:`Var`; identity-based, so a parameter that IS
``x`` gets the derivative through every path through ``x``); the outer gradient against central
differences in float64 of that reference's value.  sct refusals (``SctError`` naming the
program's file) are fine; wrong values/gradients and internal errors are reported.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import random
import re
import sys
import tempfile
import traceback
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz7 import Result, classify_exc, _blocks  # noqa: E402


# --------------------------------------------------------------------------------------------
# a minimal reference reverse-mode AD (first order; the values of the inner gradients)
# --------------------------------------------------------------------------------------------
def _unb(g, shape):
    g = np.asarray(g, dtype=float)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g.reshape(shape)


def _d(v):
    return v.data if isinstance(v, Var) else np.asarray(v, dtype=float) if not isinstance(v, np.ndarray) else v


class Var:
    __array_priority__ = 1000

    def __init__(self, data, parents=()):
        self.data = np.asarray(data, dtype=float)
        self.parents = parents          # ((Var, vjp), ...)

    shape = property(lambda s: s.data.shape)
    ndim = property(lambda s: s.data.ndim)
    size = property(lambda s: s.data.size)
    T = property(lambda s: _mk(s.data.T, (s, lambda g: g.T)))

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return f'Var({self.data!r})'

    def __float__(self):
        return float(self.data)

    def _bin(self, o, f, da, db, rev=False):
        a, b = (o, self) if rev else (self, o)
        A, B = _d(a), _d(b)
        out = f(A, B)
        ps = []
        if isinstance(a, Var):
            ps.append((a, lambda g: _unb(da(g, A, B), A.shape)))
        if isinstance(b, Var):
            ps.append((b, lambda g: _unb(db(g, A, B), B.shape)))
        return Var(out, tuple(ps))

    def __add__(s, o): return s._bin(o, np.add, lambda g, A, B: g, lambda g, A, B: g)
    def __radd__(s, o): return s._bin(o, np.add, lambda g, A, B: g, lambda g, A, B: g, True)
    def __sub__(s, o): return s._bin(o, np.subtract, lambda g, A, B: g, lambda g, A, B: -g)
    def __rsub__(s, o): return s._bin(o, np.subtract, lambda g, A, B: g, lambda g, A, B: -g, True)
    def __mul__(s, o): return s._bin(o, np.multiply, lambda g, A, B: g * B, lambda g, A, B: g * A)
    def __rmul__(s, o): return s._bin(o, np.multiply, lambda g, A, B: g * B, lambda g, A, B: g * A, True)
    def __truediv__(s, o): return s._bin(o, np.divide, lambda g, A, B: g / B, lambda g, A, B: -g * A / B ** 2)
    def __rtruediv__(s, o): return s._bin(o, np.divide, lambda g, A, B: g / B, lambda g, A, B: -g * A / B ** 2, True)

    def __matmul__(s, o): return _matmul(s, o)
    def __rmatmul__(s, o): return _matmul(o, s)

    def __neg__(s): return _mk(-s.data, (s, lambda g: -g))

    def __pow__(s, k):
        assert not isinstance(k, Var)
        return _mk(s.data ** k, (s, lambda g: g * k * s.data ** (k - 1)))

    def __getitem__(s, i):
        def vjp(g):
            z = np.zeros_like(s.data)
            np.add.at(z, i, g)
            return z
        return _mk(s.data[i], (s, vjp))

    def __gt__(s, o): return s.data > _d(o)
    def __lt__(s, o): return s.data < _d(o)
    def __ge__(s, o): return s.data >= _d(o)
    def __le__(s, o): return s.data <= _d(o)

    def sum(s, axis=None): return _sum(s, axis)
    def mean(s, axis=None): return _mean(s, axis)

    def __array_ufunc__(self, uf, method, *ins, **kw):
        if method != '__call__' or kw:
            return NotImplemented
        if uf in _BIN:
            a, b = ins
            if isinstance(a, Var):
                return getattr(a, _BIN[uf])(b)
            return getattr(b, '__r' + _BIN[uf][2:])(a)
        if uf is np.maximum or uf is np.minimum:
            a, b = ins
            A, B = _d(a), _d(b)
            pick = (A >= B) if uf is np.maximum else (A <= B)
            return Var(uf(A, B), tuple(p for p in (
                (a, lambda g: _unb(g * pick, A.shape)) if isinstance(a, Var) else None,
                (b, lambda g: _unb(g * ~pick, B.shape)) if isinstance(b, Var) else None) if p))
        if uf in _UN:
            (a,) = ins
            A = a.data
            out = uf(A)
            return _mk(out, (a, lambda g: g * _UN[uf](A, out)))
        if uf is np.matmul:
            return _matmul(*ins)
        return NotImplemented

    def __array_function__(self, func, types, args, kwargs):
        if func is np.sum:
            return _sum(args[0], kwargs.get('axis', args[1] if len(args) > 1 else None))
        if func is np.mean:
            return _mean(args[0], kwargs.get('axis', args[1] if len(args) > 1 else None))
        if func is np.where:
            c, a, b = args
            c = _d(c).astype(bool)
            A, B = _d(a), _d(b)
            return Var(np.where(c, A, B), tuple(p for p in (
                (a, lambda g: _unb(np.where(c, g, 0.0), A.shape)) if isinstance(a, Var) else None,
                (b, lambda g: _unb(np.where(c, 0.0, g), B.shape)) if isinstance(b, Var) else None) if p))
        if func is np.dot:
            return _matmul(*args)
        if func is np.stack:
            xs = list(args[0])
            out = np.stack([_d(v) for v in xs])
            return Var(out, tuple((v, (lambda i: lambda g: g[i])(i)) for i, v in enumerate(xs) if isinstance(v, Var)))
        return NotImplemented


def _mk(data, *parents):
    return Var(data, tuple(parents))


def _matmul(a, b):
    A, B = _d(a), _d(b)
    ps = []
    if isinstance(a, Var):
        ps.append((a, lambda g: np.outer(g, B) if A.ndim == 2 and B.ndim == 1 else
                   (g * B if A.ndim == 1 and B.ndim == 1 else (B @ g if A.ndim == 1 else g @ B.T))))
    if isinstance(b, Var):
        ps.append((b, lambda g: g * A if A.ndim == 1 and B.ndim == 1 else
                   (A.T @ g if A.ndim == 2 and B.ndim == 1 else (np.outer(A, g) if A.ndim == 1 else A.T @ g))))
    return Var(A @ B, tuple(ps))


def _sum(a, axis=None):
    if not isinstance(a, Var):
        return np.sum(a, axis=axis)
    A = a.data
    return _mk(A.sum(axis=axis), (a, lambda g: np.broadcast_to(np.expand_dims(g, axis) if axis is not None else g,
                                                             A.shape).copy()))


def _mean(a, axis=None):
    n = a.data.size if axis is None else a.data.shape[axis]
    return _sum(a, axis) * (1.0 / n)


_BIN = {np.add: '__add__', np.subtract: '__sub__', np.multiply: '__mul__', np.true_divide: '__truediv__'}
_UN = {np.tanh: lambda A, o: 1 - o ** 2, np.exp: lambda A, o: o, np.log1p: lambda A, o: 1 / (1 + A),
       np.sin: lambda A, o: np.cos(A), np.cos: lambda A, o: -np.sin(A), np.sqrt: lambda A, o: 0.5 / o,
       np.negative: lambda A, o: -np.ones_like(A), np.square: lambda A, o: 2 * A, np.abs: lambda A, o: np.sign(A)}


def _leaves(s, out):
    if isinstance(s, Var):
        out.append(s)
    elif isinstance(s, dict):
        for v in s.values():
            _leaves(v, out)
    elif isinstance(s, (list, tuple)):
        for v in s:
            _leaves(v, out)
    elif dataclasses.is_dataclass(s):
        for fl in dataclasses.fields(s):
            _leaves(getattr(s, fl.name), out)
    else:
        out.append(s)
    return out


def _map(s, f):
    if isinstance(s, Var) or isinstance(s, np.ndarray):
        return f(s)
    if isinstance(s, dict):
        return {k: _map(v, f) for k, v in s.items()}
    if isinstance(s, (list, tuple)):
        return type(s)(_map(v, f) for v in s)
    if dataclasses.is_dataclass(s):
        return dataclasses.replace(s, **{fl.name: _map(getattr(s, fl.name), f) for fl in dataclasses.fields(s)})
    return f(s)


def R_dlgradient(y, *xs, **opts):
    assert isinstance(y, Var) and y.data.shape == (), 'y must be a traced scalar'
    order, seen = [], set()
    stack = [(y, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.append((v, True))
        for p, _ in v.parents:
            if id(p) not in seen:
                stack.append((p, False))
    grads = {id(y): np.ones(())}
    for v in reversed(order):
        g = grads.get(id(v))
        if g is None:
            continue
        for p, vjp in v.parents:
            grads[id(p)] = grads.get(id(p), 0.0) + vjp(g)
    # (a traced leaf's gradient is a new traced value, as sct's and MATLAB's with EnableHigherDerivatives;
    # a plain leaf's (a constant) is plain zeros: ``p["z"] - lr * g["z"]`` of a plain z stays a constant)
    outs = tuple(_map(x, lambda v: Var(np.array(grads.get(id(v), 0.0), dtype=float) * np.ones(v.shape))
                      if isinstance(v, Var) else np.zeros(np.shape(_d(v)))) for x in xs)
    return outs[0] if len(outs) == 1 else outs


def R_dlupdate(fun, p, *more):
    if isinstance(p, (Var, np.ndarray)):
        return fun(p, *more)
    if isinstance(p, dict):
        return {k: R_dlupdate(fun, v, *(m[k] for m in more)) for k, v in p.items()}
    if isinstance(p, (list, tuple)):
        return type(p)(R_dlupdate(fun, v, *(m[i] for m in more)) for i, v in enumerate(p))
    if dataclasses.is_dataclass(p):
        return dataclasses.replace(p, **{fl.name: R_dlupdate(fun, getattr(p, fl.name), *(getattr(m, fl.name) for m in more))
                                         for fl in dataclasses.fields(p)})
    return fun(p, *more)


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------
class Gen9:
    def __init__(self, seed):
        self.r = random.Random(seed)
        r = self.r
        self.style = r.choice(['dict', 'dict', 'dict', 'list', 'dc'])
        self.xdl = r.random() < 0.6          # x a dlarray
        self.K = r.choice([1, 2, 3, 4])
        self.outer = r.random() < 0.7        # a final dlgradient wrt p0 (and x)
        self.hasz = self.style == 'dict' and r.random() < 0.35  # p["z"] is x (set in f_g)
        self.holdx = self.style == 'dict' and r.random() < 0.25  # step returns x itself in its value
        self.kind = r.choice(['func', 'func', 'defaults', 'kwonly', 'method', 'pair', 'nested'])
        self.lr = r.choice(['0.1', '0.05', '0.2', '0.3'])

    def c(self):
        return self.r.choice(['0.5', '1.5', '0.3', '0.7', '0.25', '1.2', '0.9'])

    def elem(self, a):
        return self.r.choice(['np.tanh({a})', '{a} ** 2', '0.5 * {a}', 'np.exp(-{a} ** 2)', 'np.log1p({a} ** 2)',
                              'np.sin({a})', 'np.maximum({a}, 0.1 * {a})', 'np.where({a} > 0.2, {a}, 0.3 * {a})',
                              '{a} * {a}', 'np.sqrt({a} ** 2 + 1.0)']).format(a=a)

    def P(self, k):
        if self.style == 'dict':
            return f'p["{k}"]'
        if self.style == 'list':
            return f'p[{["W", "b"].index(k)}]'
        return f'p.{k}'

    def loss_src(self, name='loss'):
        r = self.r
        W, b = self.P('W'), self.P('b')
        xin = 'x'
        if self.hasz:
            xin = r.choice(['(x + 0.5 * p["z"])', 'p["z"]', '(p["z"] * x)', 'np.tanh(p["z"])'])
        L = [f'def {name}(p, x, y):', f'    h = {W} @ {xin} + {b}']
        for _ in range(r.randrange(1, 4)):
            k = r.randrange(5)
            if k == 0:
                L.append(f'    h = {self.elem("h")}')
            elif k == 1:
                L.append(f'    h = h - {self.c()} * y')
            elif k == 2:
                L.append(f'    h = h + {self.elem(r.choice(["h[::-1]", "h", b]))}')
            elif k == 3:
                L.append(f'    h = {W} @ ({self.elem(xin)}) * {self.c()} + h')
            else:
                L.append(f'    h = np.where(h > 0, h, {self.c()} * h)')
        red = r.choice(['np.sum({e})', 'np.mean({e})', '({e}).sum()', 'np.sum(({e})[1:])'])
        e = r.choice(['(h - y) ** 2', 'h ** 2', 'np.log1p(h ** 2)', 'np.tanh(h) * y', 'h * h + 0.1 * h'])
        extra = ''
        if r.random() < 0.3:
            extra = f' + {self.c()} * np.sum({W} ** 2)'
        L.append(f'    return {red.format(e=e)}{extra}')
        return L

    def update_src(self, ind):
        """Lines (at indent ind) that compute ``q`` from ``p`` and ``g`` (and lr)."""
        r, s = self.r, ' ' * ind
        if self.style == 'dict':
            k = r.randrange(5)
            if k == 0:
                out = [f'{s}q = {{k: p[k] - lr * g[k] for k in p}}']
            elif k == 1:
                out = [f'{s}q = dlupdate(lambda w, d: w - lr * d, p, g)']
            elif k == 2:
                out = [f'{s}q = {{}}', f'{s}for k in p:', f'{s}    q[k] = p[k] - lr * g[k]']
            elif k == 3:
                out = [f'{s}q = dict(p)', f'{s}for k in g:', f'{s}    q[k] = q[k] - lr * g[k]']
            else:
                out = [f'{s}q = {{k: v - lr * g[k] for k, v in p.items()}}']
            if self.holdx:
                k = r.randrange(4)
                if k == 0:
                    out.append(f'{s}q["z"] = x')
                elif k == 1:
                    out += [f'{s}xx = x', f'{s}q["z"] = xx']
                elif k == 2:
                    out += [f'{s}get = lambda: x', f'{s}q["z"] = get()']
                else:
                    out += [f'{s}q = {{**q, "z": x}}']
            return out
        if self.style == 'list':
            k = r.randrange(3)
            if k == 0:
                return [f'{s}q = [w - lr * d for w, d in zip(p, g)]']
            if k == 1:
                return [f'{s}q = dlupdate(lambda w, d: w - lr * d, p, g)']
            return [f'{s}q = []', f'{s}for i in range(len(p)):', f'{s}    q.append(p[i] - lr * g[i])']
        k = r.randrange(2)
        if k == 0:
            return [f'{s}q = Params(p.W - lr * g.W, p.b - lr * g.b)']
        return [f'{s}q = dlupdate(lambda w, d: w - lr * d, p, g)']

    def grad_line(self, s):
        r = self.r
        if r.random() < 0.5:
            return [f'{s}L = loss(p, x, y)', f'{s}g = dlgradient(L, p)']
        return [f'{s}g = dlgradient(loss(p, x, y), p)', f'{s}L = None']

    def program(self):
        r = self.r
        L = ['import numpy as np', 'from dataclasses import dataclass', 'from sct import dlarray',
             'from sct import dlgradient, dlupdate', '', f'STYLE = {self.style!r}', f'XDL = {self.xdl!r}',
             f'OUTER = {self.outer!r}', f'HASZ = {self.hasz!r}', '']
        if self.style == 'dc':
            L += ['@dataclass', 'class Params:', '    W: object', '    b: object', '']
        L += self.loss_src() + ['']
        kind = self.kind
        pair = kind == 'pair' or r.random() < 0.2
        ret = '(q, L)' if pair else 'q'
        if kind == 'method':
            L += ['class Opt:', '    def __init__(self, lr):', '        self.lr = lr', '',
                  '    def step(self, p, x, y):', '        lr = self.lr']
            L += self.grad_line('        ') + self.update_src(8) + [f'        return {ret}', '']
            call = 'opt.step(p, x, y)'
            pre = [f'    opt = Opt({self.lr})']
        elif kind == 'nested':
            L += ['def step(p, x, y, lr=%s):' % self.lr, '    def inner(q):', '        return loss(q, x, y)',
                  '    g = dlgradient(inner(p), p)', '    L = None'] + self.update_src(4) + [f'    return {ret}', '']
            call = 'step(p, x, y)'
            pre = []
        else:
            sig = {'func': f'def step(p, x, y, lr):', 'defaults': f'def step(p, x, y, lr={self.lr}):',
                   'kwonly': f'def step(p, x, y, *, lr={self.lr}):', 'pair': 'def step(p, x, y, lr):'}[kind]
            L += [sig] + self.grad_line('    ') + self.update_src(4) + [f'    return {ret}', '']
            call = {'func': f'step(p, x, y, {self.lr})', 'defaults': r.choice(['step(p, x, y)', f'step(p, x, y, lr={self.lr})']),
                    'kwonly': r.choice(['step(p, x, y)', f'step(p, x, y, lr={self.lr})']),
                    'pair': f'step(p, x, y, {self.lr})'}[kind]
            pre = []
        if pair:
            call = f'p, _ = {call}' if r.random() < 0.5 else f'p, Lk = {call}'
        else:
            call = f'p = {call}'
        # the function dlfeval runs
        body = ['def f_g(p0, x, y):'] + pre
        if self.hasz:
            body += ['    p0 = dict(p0)', '    p0["z"] = x']
        body += ['    p = p0']
        loopk = r.randrange(3)
        if loopk == 0:
            body += [f'    for _ in range({self.K}):', f'        {call}']
        elif loopk == 1:
            body += ['    for i in range(K):', f'        {call}']
            L.insert(10, f'K = {self.K}')
        else:
            body += [f'    k = 0', f'    while k < {self.K}:', f'        {call}', '        k += 1']
        body += ['    L = loss(p, x, y)']
        leaves = {'dict': '[p["W"], p["b"]]', 'list': '[p[0], p[1]]', 'dc': '[p.W, p.b]'}[self.style]
        if self.outer:
            wrt = 'p0, x' if self.xdl else 'p0'
            body += [f'    gr = dlgradient(L, {wrt})']
            body += ['    return L, ' + leaves + (', gr' if self.xdl else ', (gr,)')]
        else:
            body += ['    return L, ' + leaves + ', ()']
        L += body
        return '\n'.join(L) + '\n'


# --------------------------------------------------------------------------------------------
# the checker
# --------------------------------------------------------------------------------------------
_N = [0]


def load_src(src, path, ref):
    if ref:
        src = src.replace('from sct import dlgradient, dlupdate', 'dlgradient, dlupdate = _R_dlgradient, _R_dlupdate')
        src = src.replace('from sct import dlarray', 'dlarray = None')
    _N[0] += 1
    name = f'fz9_{_N[0]}'
    code = compile(src, path, 'exec')
    import types
    mod = types.ModuleType(name)
    mod.__file__ = path
    mod._R_dlgradient, mod._R_dlupdate = R_dlgradient, R_dlupdate
    sys.modules[name] = mod
    exec(code, mod.__dict__)
    return mod


def make_inputs(seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((3, 4)) * 0.6, rng.standard_normal(3) * 0.5, rng.standard_normal(4),
            rng.standard_normal(3) * 0.5)


def build_p(mod, W, b, wrap):
    if mod.STYLE == 'dict':
        return {'W': wrap(W), 'b': wrap(b)}
    if mod.STYLE == 'list':
        return [wrap(W), wrap(b)]
    return mod.Params(wrap(W), wrap(b))


def D_(v):
    return np.asarray(v.data, dtype=float) if hasattr(v, 'data') and not isinstance(v, np.ndarray) else np.asarray(v)


def ref_run(mod, W, b, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with np.errstate(all='raise'):
            p0 = build_p(mod, W.copy(), b.copy(), Var)
            xx = Var(x.copy()) if mod.XDL else x.copy()
            L, leaves, _ = mod.f_g(p0, xx, y.copy())
    return float(D_(L)), [D_(v) for v in leaves]


def fd(mod, W, b, x, y, which, step=1e-6, h=1e-4):
    base = {'W': W, 'b': b, 'x': x}[which]
    g = np.zeros(base.size)
    f0 = ref_run(mod, W, b, x, y)[0]

    def at(k, dl):
        a = {'W': W.copy(), 'b': b.copy(), 'x': x.copy()}
        a[which].reshape(-1)[k] += dl
        return ref_run(mod, a['W'], a['b'], a['x'], y)[0]
    for k in range(base.size):
        c = (at(k, step) - at(k, -step)) / (2 * step)
        c2 = (at(k, step / 10) - at(k, -step / 10)) / (step / 5)
        fu = (at(k, h) - f0) / h
        fb = (f0 - at(k, -h)) / h
        scale = 1.0 + abs(c)
        # (a kink within h, or an ill-conditioned loss whose differences have not converged at step:
        # a few steps of gradient descent on a steep loss give curvatures of 1e12)
        g[k] = np.nan if abs(fu - fb) > 2e-2 * scale or abs(c - c2) > 1e-4 * scale else c
    return g.reshape(base.shape)


def _cmp(got, want, what):
    got = np.asarray(got, dtype=float)
    if got.shape != want.shape:
        raise Result('WRONG', 'shape', f'{what}: shape {got.shape} != {want.shape}')
    m = ~np.isnan(want)
    tol = 1e-5 + 1e-4 * (np.abs(want[m]) + np.max(np.abs(want[m]), initial=0.0) * 0.1)
    if np.any(np.abs(got[m] - want[m]) > tol):
        raise Result('WRONG', 'grad', f'{what}: sct {got.ravel().tolist()}\n  fd {want.ravel().tolist()}')


def check_path(path, seed, verbose=False):
    import sct
    src = open(path).read()
    W, b, x, y = make_inputs(seed)
    try:
        ref = load_src(src, path, True)
        y0, leaves0 = ref_run(ref, W, b, x, y)
        if not np.isfinite(y0) or abs(y0) > 1e6:
            return Result('SKIP', 'nonfinite', '')
    except Exception as e:  # noqa
        return Result('SKIP', 'ref', repr(e)[:200])
    try:
        mod = load_src(src, path, False)
        p0 = build_p(mod, W.copy(), b.copy(), lambda a: sct.dlarray(a))
        xx = sct.dlarray(x.copy()) if mod.XDL else x.copy()
        L, leaves, gr = sct.dlfeval(mod.f_g, p0, xx, y.copy())
    except Exception as e:  # noqa
        return classify_exc(e, path)
    try:
        Lv = D_(L)
        if Lv.shape != () or Lv.dtype != np.float64:
            raise Result('WRONG', 'value-shape', f'value {Lv.shape} {Lv.dtype}')
        if not np.allclose(Lv, y0, rtol=1e-9, atol=1e-12):
            raise Result('WRONG', 'value', f'sct {float(Lv)!r} reference {y0!r}')
        for i, (a, b_) in enumerate(zip(leaves, leaves0)):
            if not np.allclose(D_(a), b_, rtol=1e-9, atol=1e-12):
                raise Result('WRONG', 'params', f'final parameter {i}: sct {D_(a).tolist()}\n  ref {b_.tolist()}')
        if mod.OUTER:
            gp = gr[0]
            gW, gb = (gp['W'], gp['b']) if mod.STYLE == 'dict' else (gp[0], gp[1]) if mod.STYLE == 'list' else (gp.W, gp.b)
            _cmp(D_(gW), fd(ref, W, b, x, y, 'W'), 'd/dW0')
            _cmp(D_(gb), fd(ref, W, b, x, y, 'b'), 'd/db0')
            if mod.HASZ:
                if np.any(D_(gp['z']) != 0) and False:
                    pass
            if mod.XDL:
                _cmp(D_(gr[1]), fd(ref, W, b, x, y, 'x'), 'd/dx')
    except Result as r:
        return r
    # a second point (the compiled code again)
    try:
        W2, b2, x2, y2 = make_inputs(seed + 7919)
        try:
            y02, l02 = ref_run(ref, W2, b2, x2, y2)
            ok = np.isfinite(y02) and abs(y02) < 1e6
        except Exception:  # noqa
            ok = False
        if ok:
            p0 = build_p(mod, W2.copy(), b2.copy(), lambda a: sct.dlarray(a))
            xx = sct.dlarray(x2.copy()) if mod.XDL else x2.copy()
            L, leaves, gr = sct.dlfeval(mod.f_g, p0, xx, y2.copy())
            if not np.allclose(D_(L), y02, rtol=1e-9, atol=1e-12):
                raise Result('WRONG', 'value2', f'second point: sct {float(D_(L))!r} reference {y02!r}')
    except Result as r:
        return r
    except Exception as e:  # noqa
        r = classify_exc(e, path)
        r.kind = 'point2:' + r.kind
        if r.status != 'REFUSED':
            return r
    return Result('OK', '', '')


def check_src(src, seed):
    _N[0] += 1
    d = tempfile.mkdtemp(prefix='fz9s_')
    path = os.path.join(d, f'prog{_N[0]}_{seed}.py')
    with open(path, 'w') as fh:
        fh.write(src)
    try:
        return check_path(path, seed)
    except Exception as e:  # noqa
        return Result('HARNESS', type(e).__name__, traceback.format_exc()[-1500:])


def shrink(path, seed):
    src = open(path).read().split('\n# ')[0]
    r0 = check_src(src, seed)
    print('start:', r0.status, r0.kind, r0.msg[:300])
    k0 = (r0.status, r0.kind)
    changed = True
    while changed:
        changed = False
        lines = src.split('\n')
        for (i, j) in sorted(_blocks(lines, 0, len(lines)), key=lambda b: b[0] - b[1]):
            first = lines[i]
            if first.startswith(('import', 'from', 'STYLE', 'XDL', 'OUTER', 'HASZ', 'def ', 'class ', '@')) or \
                    first.strip().startswith(('return', 'def ')):
                continue
            trial = lines[:i] + lines[j:]
            if i > 0 and lines[i - 1].rstrip().endswith(':') and (i >= len(trial) or
                    len(trial[i]) - len(trial[i].lstrip()) <= len(lines[i - 1]) - len(lines[i - 1].lstrip())):
                trial = lines[:i] + [' ' * (len(lines[i]) - len(lines[i].lstrip())) + 'pass'] + lines[j:]
            t = '\n'.join(trial)
            try:
                compile(t, 'x', 'exec')
            except SyntaxError:
                continue
            r = check_src(t, seed)
            if (r.status, r.kind) == k0:
                src = t
                changed = True
                break
    print(src)
    r = check_src(src, seed)
    print('end:', r.status, r.kind, r.msg[:800])
    return src


def run(n, seed, out=None, verbose=False):
    counts, reasons, bad = collections.Counter(), collections.Counter(), []
    tmp = tempfile.mkdtemp(prefix='fz9_')
    for s in range(seed, seed + n):
        src = Gen9(s).program()
        path = os.path.join(tmp, f'prog_{s}.py')
        with open(path, 'w') as fh:
            fh.write(src)
        try:
            r = check_path(path, s, verbose)
        except Exception as e:  # noqa
            r = Result('HARNESS', type(e).__name__, traceback.format_exc()[-1500:])
        counts[r.status] += 1
        if r.status == 'REFUSED':
            reasons[re.sub(r'\b[a-z]+\d+\b', 'N', r.msg)[:110]] += 1
        if r.status in ('WRONG', 'CRASH', 'UNLOCATED', 'HARNESS'):
            bad.append((s, r))
            if out:
                with open(os.path.join(out, f'{r.status}_{s}.py'), 'w') as fh:
                    fh.write(src + '\n# ' + r.kind + '\n' + '\n'.join('# ' + ln for ln in r.msg.splitlines()[:40]) + '\n')
            print(f'{s}: {r.status} {r.kind} {r.msg.splitlines()[0][:200] if r.msg else ""}', flush=True)
        elif verbose:
            print(f'{s}: {r.status} {r.kind} {r.msg[:150]}', flush=True)
        for k in [k for k in sys.modules if k.startswith('fz9_')]:
            del sys.modules[k]
    return counts, reasons, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=100)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='/tmp/fuzz9')
    ap.add_argument('--print', action='store_true')
    ap.add_argument('--check')
    ap.add_argument('--shrink')
    ap.add_argument('-v', action='store_true')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.print:
        print(Gen9(a.seed).program())
        return
    if a.shrink or a.check:
        p = a.shrink or a.check
        m = re.search(r'_(\d+)\.py$', p)
        s = int(m.group(1)) if m else 0
        if a.shrink:
            shrink(p, s)
        else:
            r = check_path(p, s, True)
            print(r.status, r.kind, r.msg)
        return
    counts, reasons, _ = run(a.n, a.seed, a.out, a.v)
    print(dict(counts))
    for m, c in reasons.most_common(30):
        print(f'{c:5d}  {m}')


if __name__ == '__main__':
    main()
