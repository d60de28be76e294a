"""A differential random-program tester for sct with model-shaped programs (red team fuzz5, dec 27).

    PYTHONPATH=. python scripts/fuzz5.py --n 500 --seed 0 [--out /tmp/fuzz5] [--print] [--show]

Independent of scripts/fuzz2-4.py and tests/progtest: its grammar draws *models*, not
expressions.  Each program is a module holding

* module-level helpers with keyword arguments and defaults (``dense(h, w, b=None, act=None,
  scale=1.0)``, ``activation(z, kind='tanh', slope=0.1)``, ``layernorm``, a hand-written
  ``softmax``/``logsumexp``, ``mlp(h, layers, act=np.tanh)``, ``l2(ws, lam=...)``, a recursive
  ``sqnorm`` of a structure), called positionally, by keyword, with ``**lp`` of a layer's dict,
  in for loops and in list comprehensions;
* ``model_loss(params, x, t)``: params as a flat dict, a nested dict ({'l1': {'w', 'b'}, 'g0':
  [{'w', 'b'}, ...]}), a list of arrays, a list of dicts or a list of (w, b) tuples (read with
  positive and negative indices and slices), x a (N, D) batch, t one-hot rows, real targets or
  integer labels.  The body is a chain of blocks on a hidden state ``h`` (N, k) whose width the
  generator tracks: layers by ``@``, ``np.dot``, ``np.matmul``, ``.dot``, ``sct.fullyconnect`` and
  transposed forms with broadcasting biases, activations (numpy and sct.relu/sigmoid/leakyrelu),
  layer norms, residual and gated layers, groups of equal layers walked by for/while loops and
  comprehensions (multi-head concatenation), np.split/concatenate/stack/hstack, reshape/
  transpose/expand_dims/squeeze/np.newaxis, slices, negative indices, fancy index arrays,
  np.where masks, in-place writes into copies (``hc[:, j] *= ...``, ``hc[i] = ...``, ``+=``),
  row loops filling a preallocated array, lists accumulated then summed, while loops with
  counters, self-attention with a softmax, Python float scalars, and a final scalar loss
  (cross-entropy by hand, by logsumexp with label indexing, sct.crossentropy/softmax, sct.mse,
  squared errors summed in a loop), with an optional weight penalty.

For each program that plain Python runs to a finite loss:

* ``dlfeval`` of a driver (``model_loss`` wrapped, or its body with ``dlgradient`` inlined):
  the value as plain Python's (bit for bit is tallied; 1e-10 relative is WRONG), the gradient's
  structure, shapes and dtypes as the params', each entry against central differences in float64
  (coordinates at a kink, where forward and backward differences disagree, skipped);
* the same compiled code called again with new values (value, and two directional derivatives);
* float32 params and data: value and dtype as plain Python's, gradient float32 and close;
* ``sct.dlaccelerate(model_loss)`` called inside ``dlfeval`` (gradient) and outside (value);
* every third program, a Hessian-vector product (``dlgradient`` of ``sum(g * v)``) against
  differences of sct's first-order gradient.

CompileError and EvaluationError raised by sct itself are refusals, tallied by message; an
EvaluationError caused by a Python exception where plain Python ran, or any other exception, is a
CRASH.  Failing programs are written to OUT/fail_SEED.py (runnable: ``python OUT/fail_SEED.py``).
"""
import argparse
import collections
import importlib.util
import math
import os
import random
import re
import signal
import sys
import tempfile
import traceback

import numpy as np

N = 5          # batch size, kept all along
D = 4          # input features
O = 3          # outputs / classes
VALUE_RTOL = 1e-10
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-6
F32_RTOL = 2e-5
HVP_RTOL, HVP_ATOL = 2e-3, 1e-5

ACTS = [
    'np.tanh({z})', 'sct.relu({z})', 'sct.sigmoid({z})', 'np.maximum({z}, 0.0)',
    'np.where({z} > 0, {z}, 0.1 * {z})', 'sct.leakyrelu({z}, 0.2)', '{z} * sct.sigmoid({z})',
    'np.log1p(np.exp(-np.abs({z}))) + np.maximum({z}, 0)', '1.0 / (1.0 + np.exp(-{z}))', 'np.sin({z})',
    '{z}', 'np.tanh(0.5 * {z}) * 2.0', '{z} / (1.0 + np.abs({z}))',
]
ACT_FUNS = ['np.tanh', 'sct.relu', 'sct.sigmoid', 'np.sin', 'np.arctan']
MM_IO = [  # h (N, din), W (din, dout), b (dout,)
    '{h} @ {W} + {b}', 'np.dot({h}, {W}) + {b}', 'np.matmul({h}, {W}) + {b}[np.newaxis, :]',
    '{b} + {h} @ {W}', '({W}.T @ {h}.T).T + {b}.reshape(1, -1)', 'np.add({h}.dot({W}), {b})',
    '{h} @ {W} + np.expand_dims({b}, 0)', 'np.matmul({h}, {W}) + {b}[None]',
]
MM_OI = [  # W (dout, din)
    '{h} @ {W}.T + {b}', 'sct.fullyconnect({h}, {W}, {b})', 'np.dot({W}, {h}.T).T + {b}',
    'np.matmul({h}, np.transpose({W})) + {b}[None, :]', '({W} @ {h}.T).T + {b}',
    'np.einsum("nd,od->no", {h}, {W}) + {b}',
]
COPIES = ['{h}.copy()', 'np.array({h})', '{h} * 1.0', 'np.copy({h})', '{h} + 0.0']


class Prog:
    """Generates one program from a seed."""

    def __init__(self, seed, big=False):
        self.r = random.Random(seed)
        self.seed = seed
        self.big = big
        r = self.r
        self.kind = r.choice(['flat', 'nested', 'list', 'listdict', 'listtuple'])
        self.target = r.choice(['onehot', 'real', 'labels'])
        self.driver = r.choice(['wrap', 'wrap', 'inline', 'wrap_kw'])
        self.units = []      # ('layer', name, {field: shape}) / ('group', name, m, {field: shape})
        self.nslots = 0      # list kinds: slots used
        self.helpers = {}    # name -> source
        self.lines = []
        self.ind = 1
        self.tmp = 0
        self.k = D
        self.weights = []    # access expressions of weight matrices (for penalties)
        self.aux = []        # names of penalties added to the loss
        self.rebound = None  # index of the line after which params is read as ps

    # ---- helpers -------------------------------------------------------------------------
    def helper(self, name):
        if name in self.helpers:
            return name
        r = self.r
        if name == 'dense':
            mm = r.choice(['h @ w', 'np.dot(h, w)', 'np.matmul(h, w)', 'h.dot(w)'])
            src = (f"def dense(h, w, b=None, act=None, scale=1.0):\n"
                   f"    z = {mm}\n"
                   f"    if b is not None:\n"
                   f"        z = z + b\n"
                   f"    if scale != 1.0:\n"
                   f"        z = z * scale\n"
                   f"    if act == 'tanh':\n"
                   f"        z = np.tanh(z)\n"
                   f"    elif act == 'relu':\n"
                   f"        z = np.maximum(z, 0.0)\n"
                   f"    elif act is not None:\n"
                   f"        z = act(z)\n"
                   f"    return z\n")
        elif name == 'activation':
            d = r.choice(['tanh', 'leaky', 'swish', 'relu'])
            src = (f"def activation(z, kind='{d}', slope=0.1):\n"
                   f"    if kind == 'tanh':\n"
                   f"        return np.tanh(z)\n"
                   f"    if kind == 'leaky':\n"
                   f"        return np.where(z > 0, z, slope * z)\n"
                   f"    if kind == 'swish':\n"
                   f"        return z * (1.0 / (1.0 + np.exp(-z)))\n"
                   f"    return sct.relu(z)\n")
        elif name == 'layernorm':
            src = ("def layernorm(h, eps=1e-5, axis=-1, gain=None):\n"
                   "    mu = np.mean(h, axis=axis, keepdims=True)\n"
                   "    var = np.mean((h - mu) ** 2, axis=axis, keepdims=True)\n"
                   "    out = (h - mu) / np.sqrt(var + eps)\n"
                   "    if gain is not None:\n"
                   "        out = out * gain\n"
                   "    return out\n")
        elif name == 'softmax':
            src = ("def softmax(z, axis=-1):\n"
                   "    m = np.max(z, axis=axis, keepdims=True)\n"
                   "    e = np.exp(z - m)\n"
                   "    return e / np.sum(e, axis=axis, keepdims=True)\n")
        elif name == 'logsumexp':
            src = ("def logsumexp(z, axis=-1, keepdims=False):\n"
                   "    m = z.max(axis=axis, keepdims=True)\n"
                   "    s = m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))\n"
                   "    if not keepdims:\n"
                   "        s = np.squeeze(s, axis=axis)\n"
                   "    return s\n")
        elif name == 'mlp':
            a = r.choice(ACT_FUNS)
            src = (f"def mlp(h, layers, act={a}, last_act=False):\n"
                   f"    for i, (w, b) in enumerate(layers):\n"
                   f"        h = h @ w + b\n"
                   f"        if i < len(layers) - 1 or last_act:\n"
                   f"            h = act(h)\n"
                   f"    return h\n")
        elif name == 'l2':
            lam = r.choice(['1e-3', '0.01', '0.05'])
            form = r.choice(['sum([np.sum(w * w) for w in ws])', 'sum(np.sum(w ** 2) for w in ws)'])
            src = (f"def l2(ws, lam={lam}):\n"
                   f"    return lam * {form}\n")
        elif name == 'sqnorm':
            src = ("def sqnorm(p):\n"
                   "    if isinstance(p, dict):\n"
                   "        return sum(sqnorm(v) for v in p.values())\n"
                   "    if isinstance(p, (list, tuple)):\n"
                   "        return sum([sqnorm(v) for v in p])\n"
                   "    return np.sum(p * p)\n")
        elif name == 'residual':
            a = r.choice(ACT_FUNS)
            src = (f"def residual(h, w, b, alpha=0.5, act={a}):\n"
                   f"    return h + alpha * act(h @ w + b)\n")
        elif name == 'xent':
            src = ("def xent(z, t, axis=1):\n"
                   "    z = z - np.max(z, axis=axis, keepdims=True)\n"
                   "    logp = z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))\n"
                   "    return -np.mean(np.sum(t * logp, axis=axis))\n")
        elif name == 'layer_kw':
            a = r.choice(ACT_FUNS)
            src = (f"def layer_kw(h, *, w, b=None, act={a}):\n"
                   f"    z = h @ w\n"
                   f"    if b is not None:\n"
                   f"        z += b\n"
                   f"    return act(z)\n")
        elif name == 'block_pen':
            src = ("def block_pen(h, w, b, act=np.tanh, weight=0.1):\n"
                   "    z = np.dot(h, w) + b\n"
                   "    return act(z), weight * np.mean(z ** 2)\n")
        elif name == 'clip_rows':
            src = ("def clip_rows(h, lim=1.0):\n"
                   "    out = h.copy()\n"
                   "    out[out > lim] = lim\n"
                   "    out[:, 0] *= 0.5\n"
                   "    return out\n")
        elif name == 'scale_cols':
            src = ("def scale_cols(h, s=0.8):\n"
                   "    out = np.array(h)\n"
                   "    for j in range(out.shape[1]):\n"
                   "        out[:, j] *= s ** j\n"
                   "    return out\n")
        elif name == 'block2':
            self.helper('dense')
            self.helper('activation')
            src = ("def block2(h, w, b, **kw):\n"
                   "    return activation(dense(h, w, b), **kw)\n")
        else:
            raise KeyError(name)
        self.helpers[name] = src
        return name

    # ---- code emission -------------------------------------------------------------------
    def emit(self, line):
        self.lines.append('    ' * self.ind + line)

    def fresh(self, base):
        self.tmp += 1
        return f'{base}{self.tmp}'

    # ---- parameters ----------------------------------------------------------------------
    def new_layer(self, din, dout, orient, bias=True):
        """Allocates one layer; returns {field: access expression}."""
        i = len([u for u in self.units if u[0] == 'layer']) + 1
        shapes = {'w': (din, dout) if orient == 'io' else (dout, din)}
        if bias or self.kind == 'listtuple':
            shapes['b'] = (dout,)
        name = f'l{i}'
        slot = self.nslots
        self.units.append(('layer', name, shapes, slot))
        if self.kind == 'list':
            self.nslots += len(shapes)
            acc = {f: f'params[<<IDX{slot + j}>>]' for j, f in enumerate(shapes)}
        elif self.kind in ('listdict', 'listtuple'):
            self.nslots += 1
            if self.kind == 'listdict':
                acc = {f: f"params[<<IDX{slot}>>]['{f}']" for f in shapes}
            else:
                acc = {f: f'params[<<IDX{slot}>>][{j}]' for j, f in enumerate(shapes)}
        elif self.kind == 'flat':
            acc = {f: f"params['{f}{i}']" for f in shapes}
        else:
            acc = {f: f"params['{name}']['{f}']" for f in shapes}
        self.weights.append(acc['w'])
        return acc

    def new_group(self, m, din, dout):
        """Allocates m layers (w io, b) of one shape; returns (name, slot range)."""
        j = len([u for u in self.units if u[0] == 'group'])
        name = f'g{j}'
        shapes = {'w': (din, dout), 'b': (dout,)}
        slot = self.nslots
        self.units.append(('group', name, m, shapes, slot))
        if self.kind == 'list':
            self.nslots += 2 * m
        elif self.kind in ('listdict', 'listtuple'):
            self.nslots += m
        return name, slot

    def group_iter(self, name, slot, m):
        """An expression iterating (W, b) pairs of a group."""
        r = self.r
        if self.kind == 'flat':
            return r.choice([f"[(params[f'{name}w{{q}}'], params[f'{name}b{{q}}']) for q in range({m})]",
                             f"[(params['{name}w%d' % q], params['{name}b%d' % q]) for q in range({m})]"])
        if self.kind == 'nested':
            return r.choice([f"[(lp['w'], lp['b']) for lp in params['{name}']]",
                             f"[tuple(lp.values()) for lp in params['{name}']]"])
        if self.kind == 'list':
            s, e = slot, slot + 2 * m
            return f'zip(params[<<IDX{s}>>:<<END{e}>>:2], params[<<IDX{s + 1}>>:<<END{e}>>:2])'
        if self.kind == 'listdict':
            return f"[(d['w'], d['b']) for d in params[<<IDX{slot}>>:<<END{slot + m}>>]]"
        return f'params[<<IDX{slot}>>:<<END{slot + m}>>]'

    # ---- blocks ----------------------------------------------------------------------------
    def act(self, z):
        if not re.fullmatch(r'[\w\[\]\.]+|\(.*\)', z):
            z = f'({z})'
        return self.r.choice(ACTS).format(z=z)

    def matmul(self, h, acc, orient):
        if 'b' in acc:
            t = self.r.choice(MM_IO if orient == 'io' else MM_OI)
            return t.format(h=h, W=acc['w'], b=acc['b'])
        if orient == 'io':
            return self.r.choice(['{h} @ {W}', 'np.dot({h}, {W})', 'np.matmul({h}, {W})']).format(h=h, W=acc['w'])
        return self.r.choice(['{h} @ {W}.T', 'np.dot({h}, {W}.T)', 'sct.fullyconnect({h}, {W}, 0.0)']).format(
            h=h, W=acc['w'])

    def b_dense(self, dout=None, final=False):
        r = self.r
        din = self.k
        dout = dout or r.choice([3, 4, 6])
        style = r.choice(['inline', 'inline', 'helper', 'unpack'])
        if style == 'helper':
            acc = self.new_layer(din, dout, 'io', bias=r.random() < 0.8)
            self.helper('dense')
            args = [acc['w']] + ([acc['b']] if 'b' in acc else [])
            kw = []
            if final:
                pass
            else:
                kw.append(r.choice(["act='tanh'", "act='relu'", f"act={r.choice(ACT_FUNS)}", '']))
            if r.random() < 0.3:
                kw.append(f'scale={r.choice(["0.5", "2.0", "1.0"])}')
            if r.random() < 0.5 and len(args) == 2:
                call = f"dense(h, w={args[0]}, b={args[1]}"
            else:
                call = 'dense(h, ' + ', '.join(args)
            kw = [k for k in kw if k]
            self.emit(f"h = {call}{''.join(', ' + k for k in kw)})")
        else:
            orient = r.choice(['io', 'oi'])
            acc = self.new_layer(din, dout, orient, bias=r.random() < 0.85)
            if style == 'unpack' and 'b' in acc and self.kind in ('listtuple', 'nested', 'listdict'):
                W, b = self.fresh('W'), self.fresh('b')
                if self.kind == 'listtuple':
                    self.emit(f"{W}, {b} = {acc['w'].rsplit('[', 1)[0]}")
                elif self.kind == 'nested':
                    lp = self.fresh('lp')
                    self.emit(f"{lp} = {acc['w'].rsplit('[', 1)[0]}")
                    self.emit(f"{W}, {b} = {lp}['w'], {lp}['b']")
                else:
                    self.emit(f"{W} = {acc['w']}")
                    self.emit(f"{b} = {acc['b']}")
                acc = {'w': W, 'b': b}
            z = self.fresh('z')
            self.emit(f'{z} = {self.matmul("h", acc, orient)}')
            self.emit(f'h = {z}' if final else f'h = {self.act(z)}')
        self.k = dout

    def b_act(self):
        r = self.r
        if r.random() < 0.3:
            self.helper('activation')
            kw = r.choice(['', ", kind='tanh'", ", 'leaky'", ", kind='leaky', slope=0.2", ", kind='swish'",
                           ", kind='relu'"])
            self.emit(f'h = activation(h{kw})')
        else:
            self.emit(f'h = {self.act("h")}')

    def b_scalar(self):
        r = self.r
        s = self.fresh('s')
        self.emit(r.choice([f'{s} = 0.5', f'{s} = 1.0 / math.sqrt({self.k})', f'{s} = float({N}) / 10.0',
                            f'{s} = math.exp(-0.5)', f'{s} = 2 ** -1']))
        self.emit(r.choice([f'h = h * {s}', f'h = {s} * h + 0.1', f'h = h - {s}', f'h = h / (1.0 + {s})',
                            f'h *= {s}', f'h = np.tanh(h) * {s} + h * (1 - {s})']))

    def b_layernorm(self):
        r = self.r
        if r.random() < 0.5:
            self.helper('layernorm')
            self.emit(r.choice(['h = layernorm(h)', 'h = layernorm(h, eps=1e-3)', 'h = layernorm(h, axis=1)',
                                'h = layernorm(h, 1e-4, -1)', 'h = layernorm(h, gain=0.5)']))
        else:
            ax = r.choice(['1', '-1'])
            self.emit(f'mu = h.mean(axis={ax}, keepdims=True)')
            self.emit(r.choice([f'sd = np.sqrt(((h - mu) ** 2).mean(axis={ax}, keepdims=True) + 1e-5)',
                                f'sd = np.std(h, axis={ax}, keepdims=True) + 1e-3',
                                f'sd = np.sqrt(np.var(h, axis={ax}, keepdims=True) + 1e-5)']))
            self.emit('h = (h - mu) / sd')

    def b_batchnorm(self):
        r = self.r
        self.emit(r.choice(['h = h - h.mean(axis=0)', 'h = h - np.mean(h, axis=0, keepdims=True)',
                            'h = (h - h.mean(0)) / (h.std(0) + 1.0)',
                            'h = h / (np.linalg.norm(h, axis=1, keepdims=True) + 1.0)',
                            'h = h / (1.0 + np.sum(np.abs(h), axis=-1)[:, None])']))

    def b_residual(self):
        r = self.r
        k = self.k
        if r.random() < 0.4:
            acc = self.new_layer(k, k, 'io')
            self.helper('residual')
            kw = r.choice(['', ', alpha=0.3', ', act=np.tanh', ', 0.25'])
            self.emit(f"h = residual(h, {acc['w']}, {acc['b']}{kw})")
        elif r.random() < 0.5:
            acc = self.new_layer(k, k, 'io')
            g = self.fresh('gate')
            self.emit(f"{g} = sct.sigmoid({self.matmul('h', acc, 'io')})")
            self.emit(r.choice([f'h = h * {g}', f'h = {g} * np.tanh(h) + (1.0 - {g}) * h']))
        else:
            orient = r.choice(['io', 'oi'])
            acc = self.new_layer(k, k, orient)
            self.emit(f"h = h + {r.choice(['0.5', '1.0', '0.1'])} * {self.act('(' + self.matmul('h', acc, orient) + ')')}")

    def b_group_loop(self):
        r = self.r
        m = r.choice([2, 3])
        k = self.k
        name, slot = self.new_group(m, k, k)
        form = r.choice(['for', 'for', 'while', 'mlp', 'kwargs'])
        if form == 'kwargs' and self.kind != 'nested':
            form = 'for'
        if form == 'while' and self.kind not in ('flat', 'list', 'listdict', 'listtuple'):
            form = 'for'
        if form == 'for':
            self.emit(f'for W, b in {self.group_iter(name, slot, m)}:')
            self.ind += 1
            self.emit(f"h = {self.act('(h @ W + b)')}" if r.random() < 0.7 else
                      f"h = h + 0.5 * {self.act('np.dot(h, W) + b')}")
            self.ind -= 1
        elif form == 'while':
            q = self.fresh('q')
            self.emit(f'{q} = 0')
            self.emit(f'while {q} < {m}:')
            self.ind += 1
            if self.kind == 'flat':
                self.emit(f"W = params[f'{name}w{{{q}}}']")
                self.emit(f"b = params['{name}b' + str({q})]")
            elif self.kind == 'list':
                self.emit(f'W = params[<<IDX{slot}>> + 2 * {q}]')
                self.emit(f'b = params[<<IDX{slot}>> + 2 * {q} + 1]')
            elif self.kind == 'listdict':
                self.emit(f"W, b = params[<<IDX{slot}>> + {q}]['w'], params[<<IDX{slot}>> + {q}]['b']")
            else:
                self.emit(f'W, b = params[<<IDX{slot}>> + {q}]')
            self.emit(f"h = {self.act('h @ W + b')}")
            self.emit(f'{q} += 1')
            self.ind -= 1
        elif form == 'mlp':
            self.helper('mlp')
            it = self.group_iter(name, slot, m)
            kw = r.choice(['', ', last_act=True', ', act=np.tanh', ', act=sct.relu, last_act=True'])
            self.emit(f'h = mlp(h, list({it}){kw})')
        else:
            self.helper('dense')
            self.emit(f"for lp in params['{name}']:")
            self.ind += 1
            self.emit(f"h = dense(h, **lp{r.choice(['', ', act=np.tanh', ', act=sct.sigmoid', ', scale=0.5'])})")
            self.ind -= 1

    def b_heads(self):
        r = self.r
        m = r.choice([2, 3])
        k = self.k
        dh = r.choice([2, 3])
        name, slot = self.new_group(m, k, dh)
        it = self.group_iter(name, slot, m)
        if r.random() < 0.4:
            self.helper('dense')
            self.emit(f"hs = [dense(h, W, b=b, act={r.choice(['np.tanh', repr('tanh'), 'sct.sigmoid'])}) for W, b in {it}]")
        else:
            self.emit(f"hs = [{self.act('(h @ W + b)')} for W, b in {it}]")
        c = r.choice(['cat', 'cat', 'sum', 'stack', 'hstack', 'stack1'])
        if c == 'cat':
            self.emit(r.choice(['h = np.concatenate(hs, axis=1)', 'h = np.concatenate(hs, axis=-1)']))
            self.k = m * dh
        elif c == 'hstack':
            self.emit('h = np.hstack(hs)')
            self.k = m * dh
        elif c == 'sum':
            self.emit(r.choice(['h = sum(hs) / len(hs)', 'h = hs[0]\nfor u in hs[1:]:\n    h = h + u']
                               ).replace('\n', '\n' + '    ' * self.ind))
            self.k = dh
        elif c == 'stack':
            self.emit(r.choice(['h = np.stack(hs, axis=0).mean(axis=0)', 'h = np.max(np.stack(hs), axis=0)',
                                'h = np.stack(hs).sum(0) * 0.5']))
            self.k = dh
        else:
            self.emit(f'h = np.stack(hs, axis=1).reshape({N}, -1)')
            self.k = m * dh

    def b_shape(self):
        r = self.r
        k = self.k
        opts = ['T', 'expand', 'newaxis', 'swap', 'rev', 'fancy', 'slice', 'cat_self', 'stack_self', 'neg']
        if k % 2 == 0:
            opts += ['split', 'reshape', 'split_idx']
        o = r.choice(opts)
        if o == 'T':
            self.emit(r.choice(['h = h.T.T', 'h = np.transpose(h).T', 'h = np.transpose(np.transpose(h), (1, 0))']))
        elif o == 'expand':
            self.emit(r.choice(['h = np.expand_dims(h, axis=1).squeeze(axis=1)', 'h = np.squeeze(np.expand_dims(h, 0), axis=0)',
                                'h = h[:, :, None].squeeze(-1)', 'h = np.expand_dims(h, -1)[..., 0]']))
        elif o == 'newaxis':
            self.emit(r.choice(['h = h[:, np.newaxis, :].sum(axis=1)', 'h = (h[:, None, :] * h[:, :, None]).mean(axis=2)',
                                'h = h[np.newaxis][0]']))
        elif o == 'swap':
            self.emit('h = np.swapaxes(h[None], 0, 1)[:, 0]')
        elif o == 'rev':
            self.emit(r.choice(['h = h[:, ::-1]', 'h = np.flip(h, axis=1) * 0.5 + h', 'h = h[::-1][::-1]']))
        elif o == 'fancy':
            perm = list(range(k))
            r.shuffle(perm)
            if r.random() < 0.5:
                self.emit(f'idx = np.array({perm})')
                self.emit(r.choice(['h = h[:, idx]', 'h = np.take(h, idx, axis=1)', 'h = h.T[idx].T']))
            else:
                sel = [r.randrange(-k, k) for _ in range(r.choice([2, 3]))]
                self.emit(f'h = h[:, {sel}]')
                self.k = len(sel)
        elif o == 'slice':
            if k > 2:
                self.emit(r.choice(['h = h[:, 1:]', 'h = h[:, :-1]', 'h = h[:, :-1] * h[:, 1:]']))
                self.k = k - 1
            else:
                self.emit('h = h[:, :]')
        elif o == 'cat_self':
            self.emit(r.choice(['h = np.concatenate((h, h[:, :1] ** 2), axis=-1)',
                                'h = np.hstack([h, np.tanh(h[:, -1:])])',
                                'h = np.concatenate([h[:, -1:], h], axis=1)']))
            self.k = k + 1
        elif o == 'stack_self':
            self.emit(r.choice(['h = np.stack([h, h ** 2], axis=0).sum(axis=0)',
                                'h = np.stack((h, np.tanh(h)), axis=-1).mean(axis=-1)',
                                'h = np.vstack([h, h])[:N_]'.replace('N_', str(N))]))
        elif o == 'neg':
            self.emit(r.choice(['h = h - h[-1]', 'h = h + 0.5 * h[:, -1:]', 'h = h * h[-2:-1, :]',
                                'h = h - h[:, [-1]]']))
        elif o == 'split':
            self.emit(r.choice(['a, c = np.split(h, 2, axis=1)', 'a, c = np.split(h, 2, axis=-1)',
                                f'a, c = h[:, :{k // 2}], h[:, {k // 2}:]']))
            self.emit(r.choice(['h = np.concatenate([c * 0.5, a], axis=1)', 'h = np.hstack((a * np.tanh(c), c))',
                                'h = np.concatenate([a, a * c], 1)']))
        elif o == 'reshape':
            self.emit(r.choice([f'h = h.reshape({N}, 2, {k // 2}).transpose(0, 2, 1).reshape({N}, -1)',
                                f'h = np.reshape(h, ({N}, {k // 2}, 2)).sum(axis=-1)',
                                f'h = h.reshape(-1, 2).T.reshape(2, {N}, {k // 2}).transpose(1, 0, 2).reshape({N}, {k})']))
            if 'sum(axis=-1)' in self.lines[-1]:
                self.k = k // 2
        else:  # split_idx
            self.emit('parts = np.split(h, [1], axis=1)')
            self.emit('h = np.concatenate(parts[::-1], axis=1)')

    def b_where(self):
        r = self.r
        self.emit(r.choice(['mask = h > 0.1', 'mask = np.abs(h) < 1.0', 'mask = h > h.mean()']))
        self.emit(r.choice(['h = np.where(mask, h, 0.2 * h)', 'h = np.where(mask, np.tanh(h), h ** 2 * 0.1)',
                            'h = h * mask + (1 - mask) * 0.1 * h', 'h = h * mask.astype(float) + 0.5 * h']))

    def b_inplace(self):
        r = self.r
        k = self.k
        hc = self.fresh('hc')
        self.emit(f'{hc} = {r.choice(COPIES).format(h="h")}')
        for _ in range(r.choice([1, 2, 3])):
            j, j2 = r.randrange(k), r.randrange(-k, 0)
            i = r.randrange(-N, N)
            self.emit(r.choice([f'{hc}[:, {j}] *= 2.0', f'{hc}[:, {j}] += 0.5 * h[:, {j2}]',
                                f'{hc}[{i}] = {hc}[{i}] - {hc}[-1] * 0.5', f'{hc}[:, {j2}] = np.tanh({hc}[:, {j2}])',
                                f'{hc}[{i}, {j}] = 0.3 * h[{i}, {j}] ** 2', f'{hc}[h < -1.5] = 0.0',
                                f'{hc}[1:3] += h[:2]', f'{hc}[:, ::2] -= 0.1', f'{hc} += h * 0.25',
                                f'{hc}[[0, -1]] *= 0.5']))
        self.emit(f'h = {hc}')

    def b_rows(self):
        """A row loop filling a preallocated array, or a list stacked."""
        r = self.r
        k = self.k
        form = r.choice(['prealloc', 'list', 'comp', 'while'])
        if form == 'prealloc':
            out = self.fresh('out')
            self.emit(r.choice([f'{out} = np.zeros(({N}, {k}))', f'{out} = np.zeros_like(h)', f'{out} = np.empty_like(h)']))
            self.emit(f'for n in range({N}):')
            self.ind += 1
            self.emit(f"{out}[n] = {self.act('h[n]')}" if r.random() < 0.5 else f'{out}[n, :] = h[n] * (n + 1) * 0.2')
            self.ind -= 1
            self.emit(f'h = {out}')
        elif form == 'list':
            self.emit('rows = []')
            self.emit(r.choice(['for n in range(h.shape[0]):', f'for n in range({N}):']))
            self.ind += 1
            self.emit(f"rows.append({self.act('h[n]')})")
            self.ind -= 1
            self.emit(r.choice(['h = np.stack(rows)', 'h = np.array(rows)', 'h = np.vstack(rows)']))
        elif form == 'comp':
            self.emit(r.choice([f"h = np.stack([{self.act('row')} for row in h])",
                                f"h = np.stack([{self.act('h[n]')} for n in range({N})], axis=0)"]))
        else:
            c = self.fresh('c')
            self.emit(f'{c} = 0')
            self.emit(f'while {c} < {r.choice([1, 2, 3])}:')
            self.ind += 1
            self.emit(r.choice(['h = 0.8 * h + 0.2 * np.tanh(h)', 'h = h - 0.1 * (h ** 3)', 'h *= 0.9']))
            self.emit(f'{c} += 1')
            self.ind -= 1

    def b_acc(self):
        r = self.r
        acc = self.fresh('acc')
        self.emit(r.choice([f'{acc} = np.zeros_like(h)', f'{acc} = 0.0 * h', f'{acc} = np.zeros(({N}, {self.k}))']))
        self.emit(f'for q in range({r.choice([2, 3])}):')
        self.ind += 1
        self.emit(r.choice([f'{acc} += h * (q + 1) * 0.1', f'{acc} = {acc} + np.tanh(h * (q + 1)) / 3',
                            f'{acc} += np.sin(h + q)']))
        self.ind -= 1
        self.emit(f'h = {acc}')

    def b_attention(self):
        r = self.r
        self.emit(r.choice([f'sc = h @ h.T / math.sqrt({self.k})', 'sc = np.dot(h, h.T) * 0.5',
                            'sc = np.matmul(h, np.transpose(h)) * 0.3']))
        sm = r.choice(['sct', 'helper', 'inline'])
        if sm == 'sct':
            self.emit('att = sct.softmax(sc)')
        elif sm == 'helper':
            self.helper('softmax')
            self.emit(r.choice(['att = softmax(sc)', 'att = softmax(sc, axis=1)', 'att = softmax(sc, -1)']))
        else:
            self.emit('e = np.exp(sc - sc.max(axis=-1, keepdims=True))')
            self.emit('att = e / e.sum(axis=-1, keepdims=True)')
        self.emit(r.choice(['h = att @ h', 'h = h + np.dot(att, h)', 'h = np.matmul(att, h) * 0.5 + h']))


    def b_helpers2(self):
        r = self.r
        k = self.k
        form = r.choice(['layer_kw', 'block_pen', 'clip_rows', 'scale_cols', 'block2'])
        if form in ('layer_kw', 'block_pen', 'block2'):
            dout = r.choice([3, 4, 6])
            acc = self.new_layer(k, dout, 'io')
            self.k = dout
            if form == 'layer_kw':
                self.helper('layer_kw')
                kw = r.choice(['', ', act=np.tanh', ', act=sct.sigmoid'])
                self.emit(f"h = layer_kw(h, w={acc['w']}, b={acc['b']}{kw})")
            elif form == 'block_pen':
                self.helper('block_pen')
                pen = self.fresh('pen')
                kw = r.choice(['', ', weight=0.05', ', act=sct.relu', ', np.sin, 0.2'])
                self.emit(f"h, {pen} = block_pen(h, {acc['w']}, {acc['b']}{kw})")
                self.aux.append(pen)
            else:
                self.helper('block2')
                kw = r.choice(['', ", kind='tanh'", ", kind='leaky', slope=0.3", ", kind='swish'"])
                self.emit(f"h = block2(h, {acc['w']}, {acc['b']}{kw})")
        elif form == 'clip_rows':
            self.helper('clip_rows')
            self.emit(r.choice(['h = clip_rows(h)', 'h = clip_rows(h, lim=0.5)', 'h = clip_rows(h, 0.8)']))
        else:
            self.helper('scale_cols')
            self.emit(r.choice(['h = scale_cols(h)', 'h = scale_cols(h, s=0.5)']))

    def b_wmask(self):
        """A layer whose weight is a changed copy (masked, normalised, sliced)."""
        r = self.r
        k = self.k
        dout = r.choice([3, 4, 6])
        acc = self.new_layer(k, dout, 'io', bias=r.random() < 0.7)
        W = self.fresh('Wm')
        form = r.choice(['copy', 'norm', 'slice', 'mul', 'col'])
        if form == 'copy':
            self.emit(f"{W} = {acc['w']}.copy()")
            self.emit(r.choice([f'{W}[0] = 0.0', f'{W}[:, -1] *= 0.5', f'{W}[{W} < -1.0] = -1.0',
                                f'{W}[1:, :2] += 0.1', f'{W}[np.abs({W}) < 0.1] = 0.0']))
        elif form == 'norm':
            self.emit(r.choice([f"{W} = {acc['w']} / np.linalg.norm({acc['w']}, axis=0, keepdims=True)",
                                f"{W} = {acc['w']} / np.sqrt(np.sum({acc['w']} ** 2, axis=0))[None, :]"]))
        elif form == 'slice':
            self.emit(f"{W} = np.concatenate([{acc['w']}[:, :1] * 2.0, {acc['w']}[:, 1:]], axis=1)")
        elif form == 'mul':
            self.emit(f"{W} = {acc['w']} * np.tril(np.ones(({k}, {dout}))) + 0.0")
        else:
            self.emit(f"{W} = np.array({acc['w']})")
            self.emit(f'for j in range({dout}):')
            self.ind += 1
            self.emit(r.choice([f'{W}[:, j] = {W}[:, j] * (j + 1) * 0.5', f'{W}[:, j] *= 1.0 / (j + 1)']))
            self.ind -= 1
        acc = dict(acc, w=W)
        z = self.fresh('z')
        self.emit(f"{z} = {self.matmul('h', acc, 'io')}")
        self.emit(f'h = {self.act(z)}')
        self.k = dout

    def b_cols(self):
        r = self.r
        k = self.k
        hc = self.fresh('hc')
        self.emit(f'{hc} = {r.choice(COPIES).format(h="h")}')
        form = r.choice(['for', 'while', 'enum'])
        if form == 'for':
            self.emit(f'for j in range({r.choice([str(k), "h.shape[1]", "1, " + str(k)])}):')
            self.ind += 1
            self.emit(r.choice([f'{hc}[:, j] *= (j + 1) * 0.3', f'{hc}[:, j] = {hc}[:, j - 1] * 0.5 + h[:, j]',
                                f'{hc}[:, j] += np.tanh({hc}[:, j - 1])']))
            self.ind -= 1
        elif form == 'while':
            self.emit('i = 0')
            self.emit(f'while i < {N}:')
            self.ind += 1
            self.emit(r.choice([f'{hc}[i] = {hc}[i] * 0.5 + {hc}[i - 1] * 0.25', f'{hc}[i, :] -= {hc}[i].mean()']))
            self.emit(r.choice(['i += 1', 'i += 2', 'i = i + 1']))
            self.ind -= 1
        else:
            self.emit(f'for i, row in enumerate(h):')
            self.ind += 1
            self.emit(r.choice([f'{hc}[i] = np.tanh(row) * (i + 1) / {N}', f'{hc}[i] += row ** 2 * 0.1']))
            self.ind -= 1
        self.emit(f'h = {hc}')

    def b_aux(self):
        """A penalty of the hidden state added to the loss at the end."""
        r = self.r
        a = self.fresh('aux')
        self.emit(r.choice([f'{a} = 0.01 * np.sum(h[h > 0.5] ** 2)', f'{a} = 0.1 * np.mean(np.abs(h[:, ::2]))',
                            f'{a} = 0.05 * float(np.mean(h ** 2))', f'{a} = np.sum(np.where(h > 1.0, h - 1.0, 0.0)) * 0.1',
                            f'{a} = 0.01 * np.sum(np.cumsum(h, axis=1)[:, -1] ** 2)',
                            f'{a} = 0.02 * np.sum(h[np.where(h < 0)] ** 2)',
                            f'{a} = 0.01 * (h ** 2).sum(axis=0).max()']))
        self.aux.append(a)

    def b_misc(self):
        r = self.r
        k = self.k
        self.emit(r.choice(['h = np.clip(h, -2.0, 2.0)', 'h = np.cumsum(h, axis=1) * 0.3',
                            f'h = np.pad(h, ((0, 0), (1, 0)))[:, :{k}] + h',
                            'h = np.tile(h, (1, 2))[:, ::2]', 'h = np.repeat(h, 2, axis=1)[:, 1::2]',
                            'h = h / (float(np.std(h)) + 1.0)', 'h = h - h.max(axis=1, keepdims=True)',
                            'h = np.broadcast_to(h.sum(axis=0), h.shape) * 0.1 + h',
                            'h = h * np.linspace(0.5, 1.5, h.shape[1])', 'h = np.roll(h, 1, axis=1) * 0.5 + h',
                            'h = np.maximum.accumulate(h, axis=1) * 0.2 + h', 'h = np.diff(h, axis=1, prepend=0.0)',
                            'h = np.outer(h[:, 0], np.ones(h.shape[1])) * 0.3 + h']))

    def b_rebind(self):
        """The params under another name (a copy of the container) from here on."""
        r = self.r
        if self.kind in ('flat', 'nested'):
            self.emit(r.choice(['ps = dict(params)', 'ps = {k: v for k, v in params.items()}', 'ps = {**params}',
                                'ps = params.copy()']))
        else:
            self.emit(r.choice(['ps = list(params)', 'ps = [q for q in params]', 'ps = params[:]',
                                'ps = tuple(params)']))
        self.rebound = len(self.lines)


    def b_rnn(self):
        """A recurrent loop over a sequence made from h."""
        r = self.r
        k = self.k
        if k % 2 == 0 and r.random() < 0.5:
            self.emit(f'seq = h.reshape({N}, 2, {k // 2})')
            din, T = k // 2, 2
        else:
            self.emit(r.choice(['seq = np.stack([h, h ** 2 * 0.5], axis=1)', 'seq = np.stack((h, np.tanh(h), -h), 1)']))
            din = k
            T = 3 if '-h' in self.lines[-1] else 2
        H = r.choice([3, 4])
        ax = self.new_layer(din, H, 'io')
        ah = self.new_layer(H, H, 'io', bias=False)
        hs = self.fresh('hs')
        self.emit(r.choice([f'{hs} = np.zeros(({N}, {H}))', f"{hs} = np.zeros((seq.shape[0], {ax['w']}.shape[1]))"]))
        out = r.choice(['last', 'mean', 'cat', 'prealloc'])
        if out in ('mean', 'cat'):
            self.emit('outs = []')
        if out == 'prealloc':
            self.emit(f'ys = np.zeros(({N}, {T}, {H}))')
        self.emit(r.choice([f'for tt in range({T}):', 'for tt in range(seq.shape[1]):']))
        self.ind += 1
        self.emit(f"{hs} = np.tanh(seq[:, tt, :] @ {ax['w']} + {hs} @ {ah['w']} + {ax['b']})")
        if out in ('mean', 'cat'):
            self.emit(f'outs.append({hs})')
        if out == 'prealloc':
            self.emit(f'ys[:, tt] = {hs}')
        self.ind -= 1
        if out == 'last':
            self.emit(f'h = {hs}')
            self.k = H
        elif out == 'mean':
            self.emit('h = np.mean(np.stack(outs, axis=1), axis=1)')
            self.k = H
        elif out == 'cat':
            self.emit('h = np.concatenate(outs, axis=-1)')
            self.k = H * T
        else:
            self.emit(r.choice(['h = ys.reshape(ys.shape[0], -1)', 'h = ys.sum(axis=1)', 'h = ys[:, -1, :] + ys[:, 0]']))
            self.k = H * T if 'reshape' in self.lines[-1] else H

    def b_batched_heads(self):
        """Weights of equal layers stacked into one array, applied as a batch."""
        r = self.r
        m = r.choice([2, 3])
        k = self.k
        dh = r.choice([2, 3])
        name, slot = self.new_group(m, k, dh)
        it = self.group_iter(name, slot, m)
        if self.kind == 'listtuple' and r.random() < 0.5:
            self.emit(f'Ws, bs = zip(*{it})')
        else:
            self.emit(f'pairs = list({it})')
            self.emit(r.choice(['Ws = [w for w, _ in pairs]', 'Ws = [pr[0] for pr in pairs]']))
            self.emit(r.choice(['bs = [b for _, b in pairs]', 'bs = [pr[-1] for pr in pairs]']))
        self.emit(r.choice(['Wst = np.stack(Ws)', 'Wst = np.stack(Ws, axis=0)', 'Wst = np.array(Ws)']))
        self.emit(r.choice(['bst = np.stack(bs)', 'bst = np.vstack(bs)']))
        self.emit(r.choice(['hh = np.matmul(h[None], Wst) + bst[:, None, :]', "hh = np.einsum('nd,mdk->mnk', h, Wst) + bst[:, np.newaxis]",
                            'hh = h[np.newaxis] @ Wst + np.expand_dims(bst, 1)']))
        self.emit(f"hh = {self.act('hh')}")
        if r.random() < 0.5:
            self.emit(f'h = hh.transpose(1, 0, 2).reshape({N}, -1)')
            self.k = m * dh
        else:
            self.emit(r.choice(['h = hh.sum(axis=0)', 'h = np.mean(hh, axis=0)', 'h = hh.max(0)']))
            self.k = dh


    def b_local_fn(self):
        """A local lambda or def (often named like a module helper) called on h."""
        r = self.r
        name = r.choice(['act', 'f', 'g', 'layernorm', 'activation', 'softmax', 'dense', 'nonlin'])
        if name in ('layernorm', 'activation', 'softmax', 'dense') and r.random() < 0.7:
            self.helper(name)            # the module has a helper of that name too
        form = r.choice(['lambda', 'lambda_default', 'def_kwonly', 'def_default', 'lambda_list'])
        if form == 'lambda':
            self.emit(f"{name} = lambda u: {self.act('u')}")
            self.emit(f'h = {name}(h)')
        elif form == 'lambda_default':
            self.emit(f"{name} = lambda u, s=0.5, fn={r.choice(ACT_FUNS)}: fn(u) * s + u * (1 - s)")
            self.emit(r.choice([f'h = {name}(h)', f'h = {name}(h, s=0.25)', f'h = {name}(h, 0.75, np.tanh)']))
        elif form == 'def_kwonly':
            self.emit(f"def {name}(u, *, fn={r.choice(ACT_FUNS)}, s=1.0):")
            self.emit(f"    return fn(u) * s")
            self.emit(r.choice([f'h = {name}(h)', f'h = {name}(h, s=0.5)', f'h = {name}(h, fn=np.tanh)']))
        elif form == 'def_default':
            self.emit(f"def {name}(u, fn={r.choice(ACT_FUNS)}, shift=0.1):")
            self.emit(f"    v = fn(u)")
            self.emit(f"    return v - shift * np.mean(v, axis=-1, keepdims=True)")
            self.emit(r.choice([f'h = {name}(h)', f'h = {name}(h, shift=0.0)', f'h = {name}(h, np.sin)']))
        else:
            self.emit(f"fns = [{', '.join(r.sample(ACT_FUNS, 2))}]")
            self.emit(f"h = sum([{name}(h) for {name} in fns]) * 0.5")
        if name in self.helpers and form != 'lambda_list':
            self.emit(f'del {name}')          # the module's helper of that name again for later blocks

    # ---- loss ------------------------------------------------------------------------------
    def loss(self):
        r = self.r
        tg = self.target
        if tg == 'onehot':
            f = r.choice(['sct', 'softmax', 'lse', 'helper', 'loop'])
            if f == 'sct':
                self.emit(r.choice(['loss = sct.crossentropy(sct.softmax(z), t)',
                                    'p = sct.softmax(z)\nloss = -np.sum(t * np.log(p)) / z.shape[0]']
                                   ).replace('\n', '\n' + '    ' * self.ind))
            elif f == 'softmax':
                self.emit('e = np.exp(z - np.max(z, axis=1, keepdims=True))')
                self.emit('p = e / e.sum(axis=1, keepdims=True)')
                self.emit(r.choice([f'loss = -np.sum(t * np.log(p)) / {N}', 'loss = -np.mean(np.sum(t * np.log(p), axis=-1))']))
            elif f == 'lse':
                self.helper('logsumexp')
                self.emit(r.choice(['loss = np.mean(logsumexp(z, axis=1) - np.sum(t * z, axis=1))',
                                    'loss = -np.mean(np.sum(t * (z - logsumexp(z, keepdims=True)), axis=1))']))
            elif f == 'helper':
                self.helper('xent')
                self.emit(r.choice(['loss = xent(z, t)', 'loss = xent(z, t, axis=-1)', 'loss = xent(z, t=t)']))
            else:
                self.emit('losses = []')
                self.emit(f'for n in range({N}):')
                self.ind += 1
                self.emit('zn = z[n] - np.max(z[n])')
                self.emit('losses.append(np.log(np.sum(np.exp(zn))) - np.dot(t[n], zn))')
                self.ind -= 1
                self.emit(r.choice(['loss = sum(losses) / len(losses)', 'loss = np.mean(np.stack(losses))',
                                    f'loss = sum(losses) * (1.0 / {N})']))
        elif tg == 'labels':
            f = r.choice(['lse', 'fancy', 'loop', 'onehot', 'take'])
            if f == 'take':
                self.helper('logsumexp')
                self.emit('logp = z - logsumexp(z, axis=-1, keepdims=True)')
                self.emit(r.choice(['loss = -np.mean(np.take_along_axis(logp, t[:, None], axis=1))',
                                    'loss = -np.take_along_axis(logp, t.reshape(-1, 1), 1).sum() / len(t)']))
            elif f == 'lse':
                self.helper('logsumexp')
                self.emit('logp = z - logsumexp(z, axis=1, keepdims=True)')
                self.emit(r.choice(['loss = -np.mean(logp[np.arange(z.shape[0]), t])',
                                    f'loss = -logp[np.arange({N}), t].sum() / {N}']))
            elif f == 'fancy':
                self.emit('m = z.max(axis=1, keepdims=True)')
                self.emit('lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))')
                self.emit(f'loss = np.mean(lse - z[np.arange({N}), t])')
            elif f == 'loop':
                self.emit('tot = 0.0')
                self.emit(f'for n in range({N}):')
                self.ind += 1
                self.emit('zn = z[n]')
                self.emit('tot += np.log(np.sum(np.exp(zn - zn.max()))) + zn.max() - zn[t[n]]')
                self.ind -= 1
                self.emit(f'loss = tot / {N}')
            else:
                self.emit(f'oh = np.eye({O})[t]')
                self.emit(r.choice(['loss = sct.crossentropy(sct.softmax(z), oh)',
                                    'loss = -np.sum(oh * np.log(sct.softmax(z))) / len(t)']))
        else:
            f = r.choice(['mse', 'mean', 'half', 'huber', 'loop', 'while'])
            if f == 'mse':
                self.emit('loss = sct.mse(z, t)')
            elif f == 'mean':
                self.emit(r.choice(['loss = np.mean((z - t) ** 2)', 'loss = ((z - t) ** 2).mean()',
                                    'loss = np.mean(np.sum(np.square(z - t), axis=1, keepdims=True))']))
            elif f == 'half':
                self.emit(f'loss = 0.5 * np.sum(np.square(z - t)) / {N}')
            elif f == 'huber':
                self.emit('d = np.abs(z - t)')
                self.emit('loss = np.mean(np.where(d < 1.0, 0.5 * d ** 2, d - 0.5))')
            elif f == 'loop':
                self.emit('errs = []')
                self.emit('for zn, tn in zip(z, t):')
                self.ind += 1
                self.emit('errs.append(np.sum((zn - tn) ** 2))')
                self.ind -= 1
                self.emit('loss = sum(errs) / len(errs)')
            else:
                self.emit('loss = 0.0')
                self.emit('n = 0')
                self.emit(f'while n < {N}:')
                self.ind += 1
                self.emit('loss = loss + np.sum((z[n] - t[n]) ** 2)')
                self.emit('n += 1')
                self.ind -= 1
                self.emit(f'loss = loss / {N}')
        for a in self.aux:
            self.emit(r.choice([f'loss = loss + {a}', f'loss += {a}']))
        if r.random() < 0.45:
            reg = r.choice(['l2', 'loopsum', 'sqnorm', 'comp', 'items'])
            ws = '[' + ', '.join(self.weights) + ']'
            if reg == 'l2':
                self.helper('l2')
                self.emit(r.choice([f'loss = loss + l2({ws})', f'loss = loss + l2({ws}, lam=1e-2)',
                                    f'loss += l2(ws={ws})']))
            elif reg == 'loopsum':
                self.emit('reg = 0.0')
                self.emit(f'for W in {ws}:')
                self.ind += 1
                self.emit(r.choice(['reg += np.sum(W * W)', 'reg = reg + (W ** 2).sum()']))
                self.ind -= 1
                self.emit('loss = loss + 1e-3 * reg')
            elif reg == 'sqnorm':
                self.helper('sqnorm')
                self.emit('loss = loss + 1e-3 * sqnorm(params)')
            elif reg == 'comp':
                self.emit(f'loss = loss + 0.01 * sum([np.sum(np.abs(W) ** 2) for W in {ws}])')
            else:
                self.emit('reg = 0.0')
                if self.kind == 'flat':
                    self.emit('for name, v in params.items():')
                    self.emit("    if name.startswith('w') or name.endswith('w0'):")
                    self.emit('        reg = reg + np.sum(v ** 2)')
                elif self.kind == 'nested':
                    self.emit('for name, lp in params.items():')
                    self.emit('    if isinstance(lp, dict):')
                    self.emit("        reg += np.sum(lp['w'] ** 2)")
                elif self.kind == 'list':
                    self.emit('for i, v in enumerate(params):')
                    self.emit('    if v.ndim == 2:')
                    self.emit('        reg = reg + np.sum(v * v)')
                elif self.kind == 'listdict':
                    self.emit("for d in params:")
                    self.emit("    reg += np.sum(d['w'] ** 2) + 0.5 * np.sum(d.get('b', 0.0) ** 2)")
                else:
                    self.emit('for W, b in params:')
                    self.emit('    reg = reg + np.sum(W ** 2)')
                self.emit('loss = loss + 1e-3 * reg')

    # ---- the program -------------------------------------------------------------------------
    def generate(self):
        r = self.r
        self.emit(r.choice(['h = x', 'h = np.asarray(x)', 'h = x * 1.0']))
        nb = r.randint(2, 6) if not self.big else r.randint(5, 10)
        blocks = [self.b_dense, self.b_act, self.b_scalar, self.b_layernorm, self.b_batchnorm, self.b_residual,
                  self.b_group_loop, self.b_heads, self.b_shape, self.b_shape, self.b_where, self.b_inplace,
                  self.b_rows, self.b_acc, self.b_attention, self.b_helpers2, self.b_wmask, self.b_cols,
                  self.b_aux, self.b_misc, self.b_rnn, self.b_batched_heads, self.b_local_fn]
        if r.random() < 0.25:
            self.b_rebind()
        if r.random() < 0.7:
            self.b_dense()
        for _ in range(nb):
            r.choice(blocks)()
            if self.k > 8:
                self.b_dense()
        self.b_dense(dout=O, final=True)
        self.emit('z = h')
        self.loss()
        self.emit('return loss')
        return self

    def resolve(self, text):
        if self.rebound is not None:
            head, tail = self.lines[:self.rebound], self.lines[self.rebound:]
            tail = [re.sub(r'\bparams\[', 'ps[', ln) for ln in tail]
            text = '\n'.join(head + tail)
        total = self.nslots
        neg = self.r.random() < 0.5

        def idx(m):
            i = int(m.group(1))
            return str(i - total) if neg and self.r.random() < 0.5 else str(i)

        def end(m):
            e = int(m.group(1))
            if e == total and self.r.random() < 0.5:
                return ''
            return str(e - total) if neg and e != total else str(e)
        text = re.sub(r'<<IDX(\d+)>>', idx, text)
        return re.sub(r'<<END(\d+)>>', end, text)

    def leaf_paths(self):
        """[(path, shape)] in the params' order; a path is a tuple of keys/indices."""
        out = []
        for u in self.units:
            if u[0] == 'layer':
                _, name, shapes, slot = u
                i = name[1:]
                for j, (f, s) in enumerate(shapes.items()):
                    if self.kind == 'flat':
                        out.append(((f + i,), s))
                    elif self.kind == 'nested':
                        out.append(((name, f), s))
                    elif self.kind == 'list':
                        out.append(((slot + j,), s))
                    elif self.kind == 'listdict':
                        out.append(((slot, f), s))
                    else:
                        out.append(((slot, j), s))
            else:
                _, name, m, shapes, slot = u
                for q in range(m):
                    for j, (f, s) in enumerate(shapes.items()):
                        if self.kind == 'flat':
                            out.append(((f'{name}{f}{q}',), s))
                        elif self.kind == 'nested':
                            out.append(((name, q, f), s))
                        elif self.kind == 'list':
                            out.append(((slot + 2 * q + j,), s))
                        elif self.kind == 'listdict':
                            out.append(((slot + q, f), s))
                        else:
                            out.append(((slot + q, j), s))
        return out

    def source(self):
        body = self.resolve('\n'.join(self.lines))
        paths = self.leaf_paths()
        hv = ' + '.join(f'np.sum(g{acc_path(p)} * v{acc_path(p)})' for p, _ in paths)
        if self.driver == 'inline':
            fg = ('def f_g(params, x, t):\n' + body.replace('    return loss', '    g = dlgradient(loss, params)\n'
                                                            '    return loss, g'))
        else:
            call = 'model_loss(params, x, t)' if self.driver == 'wrap' else 'model_loss(params, x, t=t)'
            fg = f'def f_g(params, x, t):\n    loss = {call}\n    return loss, dlgradient(loss, params)\n'
        parts = ['import math', 'import numpy as np', 'import sct', 'from sct import dlgradient', '']
        deco = self.r.random() < 0.2
        parts += [('@sct.accelerate\n' if deco and self.r.random() < 0.6 else '') + s for s in self.helpers.values()]
        parts.append('def model_loss(params, x, t):\n' + body + '\n')
        parts.append(fg)
        parts.append(f'def f_acc(params, x, t):\n    loss = ACC(params, x, t)\n    return loss, dlgradient(loss, params)\n')
        parts.append(f'def f_h(params, x, t, v):\n    loss = model_loss(params, x, t)\n'
                     f'    g = dlgradient(loss, params)\n    s = {hv}\n    return dlgradient(s, params)\n')
        upd = {
            'flat': ['{k: v - 0.1 * g[k] for k, v in params.items()}', 'sct.dlupdate(lambda p, d: p - 0.1 * d, params, g)'],
            'nested': ['sct.dlupdate(lambda p, d: p - 0.1 * d, params, g)'],
            'list': ['[q - 0.1 * d for q, d in zip(params, g)]', 'sct.dlupdate(lambda p, d: p - 0.1 * d, params, g)'],
            'listdict': ['[{k: d[k] - 0.1 * gd[k] for k in d} for d, gd in zip(params, g)]'],
            'listtuple': ['[(W - 0.1 * gW, b - 0.1 * gb) for (W, b), (gW, gb) in zip(params, g)]',
                          'sct.dlupdate(lambda p, d: p - 0.1 * d, params, g)'],
        }[self.kind]
        parts.append(f'def f_upd(params, x, t):\n    loss = model_loss(params, x, t)\n    g = dlgradient(loss, params)\n'
                     f'    new = {self.r.choice(upd)}\n    return loss, g, new\n')
        parts.append('def f_gx(params, x, t):\n    loss = model_loss(params, x, t)\n'
                     '    gp, gx = dlgradient(loss, params, x)\n    return loss, gp, gx\n')
        parts.append(f'ACC = sct.dlaccelerate(model_loss)\nKIND = {self.kind!r}\nTARGET = {self.target!r}\n'
                     f'PATHS = {paths!r}\n')
        parts.append(FOOTER)
        return '\n'.join(parts)


def acc_path(p):
    return ''.join(f'[{k!r}]' for k in p)


FOOTER = '''
def make_params(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    leaves = {p: (rng.standard_normal(s) * 0.7).astype(dtype) for p, s in PATHS}
    return build(leaves)


def build(leaves):
    """The params structure of KIND from {path: array}."""
    if KIND == 'flat':
        return {p[0]: v for p, v in leaves.items()}
    if KIND == 'list':
        return [v for _, v in sorted(leaves.items())]
    if KIND in ('listdict', 'listtuple'):
        slots = {}
        for p, v in leaves.items():
            slots.setdefault(p[0], {})[p[1]] = v
        out = [slots[i] for i in sorted(slots)]
        return out if KIND == 'listdict' else [tuple(d[j] for j in sorted(d)) for d in out]
    out = {}
    for p, v in leaves.items():
        if len(p) == 2:
            out.setdefault(p[0], {})[p[1]] = v
        else:
            lst = out.setdefault(p[0], [])
            while len(lst) <= p[1]:
                lst.append({})
            lst[p[1]][p[2]] = v
    return out


def get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def make_data(seed, dtype=np.float64):
    rng = np.random.default_rng(seed + 1000)
    x = rng.standard_normal((%(N)d, %(D)d)).astype(dtype)
    if TARGET == 'labels':
        t = rng.integers(0, %(O)d, %(N)d)
    elif TARGET == 'onehot':
        t = np.eye(%(O)d, dtype=dtype)[rng.integers(0, %(O)d, %(N)d)]
    else:
        t = rng.standard_normal((%(N)d, %(O)d)).astype(dtype)
    return x, t


if __name__ == '__main__':
    import sys, os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
    p, (x, t) = make_params(0), make_data(0)
    print('python:', model_loss(p, x, t))
    pd = build({q: sct.dlarray(get(p, q)) for q, _ in PATHS})
    loss, g = sct.dlfeval(f_g, pd, x, t)
    print('sct:   ', loss)
    for q, _ in PATHS:
        print(q, np.asarray(get(g, q)).ravel()[:6])
''' % {'N': N, 'D': D, 'O': O}


# ---------------------------------------------------------------------------------------------
# checking

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


def sct_call(sct, what, fn, *args):
    """Runs fn; classifies sct's exceptions as refusals or crashes."""
    try:
        return fn(*args)
    except (Timeout, Outcome):
        raise
    except sct.CompileError as e:
        raise Outcome('REFUSED', what, reason(e))
    except sct.EvaluationError as e:
        cause = e.__cause__
        if cause is not None and not isinstance(cause, sct.SctError) and not isinstance(cause, FloatingPointError):
            raise Outcome('CRASH', what, f'EvaluationError from {type(cause).__name__}: {e}'[:400])
        raise Outcome('REFUSED', what, reason(e))
    except sct.SctError as e:
        raise Outcome('REFUSED', what, reason(e))
    except Exception as e:
        tb = traceback.format_exc()
        raise Outcome('CRASH', what, f'{type(e).__name__}: {e}\n{tb[-1500:]}')


def reason(e):
    msg = str(e).split('\n')[0]
    msg = re.sub(r'^.*?line \d+: ', '', msg)
    msg = re.sub(r'`[^`]*`', '`_`', msg)
    msg = re.sub(r'\d+', 'N', msg)
    return msg[:140]


def value_check(what, got, ref, rtol=VALUE_RTOL, dtype=True):
    g = D_(got)
    ref = np.asarray(ref)
    if g.shape != ref.shape:
        raise Outcome('WRONG', what, f'shape {g.shape} != {ref.shape}')
    if dtype and g.dtype != ref.dtype:
        raise Outcome('WRONG', what, f'dtype {g.dtype} != {ref.dtype}')
    if not np.allclose(g, ref, rtol=rtol, atol=0):
        raise Outcome('WRONG', what, f'value {g!r} != python {ref!r}')
    return bool(np.array_equal(g, ref))


def struct_check(what, g, p):
    if type(g) is not type(p) and not (type(p) is np.ndarray and type(g).__name__ == 'dlarray'):
        raise Outcome('WRONG', what, f'gradient structure {type(g).__name__} != {type(p).__name__}')
    if isinstance(p, dict):
        if list(g) != list(p):
            raise Outcome('WRONG', what, f'gradient keys {list(g)} != {list(p)}')
        for k in p:
            struct_check(what, g[k], p[k])
    elif isinstance(p, (list, tuple)):
        if len(g) != len(p):
            raise Outcome('WRONG', what, f'gradient length {len(g)} != {len(p)}')
        for a, b in zip(g, p):
            struct_check(what, a, b)
    else:
        gd = D_(g)
        if gd.shape != p.shape or gd.dtype != p.dtype:
            raise Outcome('WRONG', what, f'gradient leaf {gd.shape} {gd.dtype} != {p.shape} {p.dtype}')


def fd_grad(mod, p, x, t, path, step=1e-6):
    """Central differences of model_loss w.r.t. the leaf at path; NaN where the step meets a kink."""
    leaf = mod.get(p, path)
    out = np.zeros(leaf.shape)
    flat = leaf.reshape(-1)
    f0 = float(mod.model_loss(p, x, t))
    for i in range(flat.size):
        o = flat[i]
        flat[i] = o + step
        up = float(mod.model_loss(p, x, t))
        flat[i] = o - step
        dn = float(mod.model_loss(p, x, t))
        flat[i] = o
        fwd, bwd = (up - f0) / step, (f0 - dn) / step
        c = (up - dn) / (2 * step)
        if abs(fwd - bwd) > 1e-3 * (1 + abs(c)):
            out.reshape(-1)[i] = np.nan
        else:
            out.reshape(-1)[i] = c
    return out


def dl_params(mod, p, paths):
    import sct
    return mod.build({q: sct.dlarray(mod.get(p, q)) for q in paths})


def tree_copy(mod, p, paths):
    return mod.build({q: np.array(mod.get(p, q)) for q in paths})


def check(mod, seed, hvp):
    import sct
    paths = [tuple(q) for q, _ in mod.PATHS]
    p = mod.make_params(seed)
    x, t = mod.make_data(seed)
    with np.errstate(all='ignore'):
        try:
            ref = mod.model_loss(tree_copy(mod, p, paths), x, t)
        except Exception as e:
            return 'SKIP', 'python', f'{type(e).__name__}: {e}'[:200], None
    if not np.isfinite(ref) or abs(float(ref)) > 1e6:
        return 'SKIP', 'python', 'not finite', None
    exact = True
    pd = dl_params(mod, p, paths)
    loss, g = sct_call(sct, 'first', sct.dlfeval, mod.f_g, pd, x, t)
    exact &= value_check('value', loss, ref)
    struct_check('structure', g, p)
    for q in paths:
        fd = fd_grad(mod, tree_copy(mod, p, paths), x, t, q)
        gg = D_(mod.get(g, q))
        ok = np.isnan(fd) | np.isclose(gg, fd, rtol=GRAD_RTOL, atol=GRAD_ATOL + GRAD_RTOL * np.nanmax(np.abs(fd), initial=0))
        if not ok.all():
            i = int(np.argmin(ok.reshape(-1)))
            raise Outcome('WRONG', 'gradient', f'd/d{q}[{i}] sct {gg.reshape(-1)[i]!r} fd {fd.reshape(-1)[i]!r}')
    # second call: new values
    p2 = mod.make_params(seed + 7)
    x2, t2 = mod.make_data(seed + 7)
    with np.errstate(all='ignore'):
        ref2 = mod.model_loss(tree_copy(mod, p2, paths), x2, t2)
    if np.isfinite(ref2):
        loss2, g2 = sct_call(sct, 'second', sct.dlfeval, mod.f_g, dl_params(mod, p2, paths), x2, t2)
        exact &= value_check('value2', loss2, ref2)
        rng = np.random.default_rng(seed)
        for _ in range(2):
            v = {q: rng.standard_normal(s) for q, s in mod.PATHS}
            eps = 1e-6
            pu = mod.build({q: mod.get(p2, q) + eps * v[tuple(q)] for q in paths})
            pm = mod.build({q: mod.get(p2, q) - eps * v[tuple(q)] for q in paths})
            dd = (float(mod.model_loss(pu, x2, t2)) - float(mod.model_loss(pm, x2, t2))) / (2 * eps)
            pu = mod.build({q: mod.get(p2, q) + 10 * eps * v[tuple(q)] for q in paths})
            pm = mod.build({q: mod.get(p2, q) - 10 * eps * v[tuple(q)] for q in paths})
            dd2 = (float(mod.model_loss(pu, x2, t2)) - float(mod.model_loss(pm, x2, t2))) / (20 * eps)
            if abs(dd - dd2) > 1e-4 * (1 + abs(dd)):
                continue
            gv = sum(float(np.sum(D_(mod.get(g2, q)) * v[q])) for q in paths)
            if abs(gv - dd) > 1e-4 * (1 + abs(dd)):
                raise Outcome('WRONG', 'gradient2', f'second call: <g, v> {gv!r} != directional fd {dd!r}')
    # float32
    p32 = {q: mod.get(p, q).astype(np.float32) for q in paths}
    x32, t32 = x.astype(np.float32), (t if t.dtype.kind == 'i' else t.astype(np.float32))
    with np.errstate(all='ignore'):
        ref32 = mod.model_loss(mod.build({q: v.copy() for q, v in p32.items()}), x32, t32)
    if np.isfinite(ref32):
        loss32, g32 = sct_call(sct, 'float32', sct.dlfeval, mod.f_g,
                               mod.build({q: sct.dlarray(v) for q, v in p32.items()}), x32, t32)
        value_check('value32', loss32, ref32, rtol=F32_RTOL)
        struct_check('structure32', g32, mod.build(p32))
        for q in paths:
            a, b = D_(mod.get(g32, q)), D_(mod.get(g, q))
            if not np.allclose(a, b, rtol=2e-2, atol=2e-3 * (1 + np.max(np.abs(b), initial=0))):
                # float32 may round across a kink: compare with plain float32 differences is too coarse;
                # recheck against the float64 gradient at the float32 values
                pp = mod.build({q2: v.astype(np.float64) for q2, v in p32.items()})
                _, g64 = sct_call(sct, 'float32', sct.dlfeval, mod.f_g, dl_params(mod, pp, paths), x32.astype(np.float64),
                                  t32 if t32.dtype.kind == 'i' else t32.astype(np.float64))
                b = D_(mod.get(g64, q))
                if not np.allclose(a, b, rtol=2e-2, atol=2e-3 * (1 + np.max(np.abs(b), initial=0))):
                    raise Outcome('WRONG', 'gradient32', f'd/d{q} float32 {a.ravel()[:4]} vs float64 {b.ravel()[:4]}')
    # frozen leaves: plain arrays among the params are constants (zero gradient)
    rng = np.random.default_rng(seed + 11)
    frozen = {q for q in paths if rng.random() < 0.3}
    if frozen and len(frozen) < len(paths):
        pf = mod.build({q: (np.array(mod.get(p, q)) if q in frozen else sct.dlarray(mod.get(p, q))) for q in paths})
        lossf, gf = sct_call(sct, 'frozen', sct.dlfeval, mod.f_g, pf, x, t)
        value_check('value_frozen', lossf, ref)
        for q in paths:
            a = D_(mod.get(gf, q))
            want = np.zeros_like(mod.get(p, q)) if q in frozen else D_(mod.get(g, q))
            if a.shape != want.shape or a.dtype != want.dtype or not np.allclose(a, want, rtol=1e-9, atol=1e-12):
                raise Outcome('WRONG', 'gradient_frozen', f'd/d{q} ({"frozen" if q in frozen else "traced"}) '
                                                           f'{a.ravel()[:4]} != {want.ravel()[:4]}')
    # an update inside the function
    lossu, gu, newp = sct_call(sct, 'update', sct.dlfeval, mod.f_upd, dl_params(mod, p, paths), x, t)
    value_check('value_update', lossu, ref)
    struct_check('structure_update', newp, p)
    for q in paths:
        want = mod.get(p, q) - 0.1 * D_(mod.get(gu, q))
        if not np.allclose(D_(mod.get(newp, q)), want, rtol=1e-12, atol=1e-15):
            raise Outcome('WRONG', 'update', f'{q}: {D_(mod.get(newp, q)).ravel()[:4]} != {want.ravel()[:4]}')
        if not np.allclose(D_(mod.get(gu, q)), D_(mod.get(g, q)), rtol=1e-9, atol=1e-12):
            raise Outcome('WRONG', 'gradient_update', f'd/d{q} {D_(mod.get(gu, q)).ravel()[:4]}')
    # the gradient w.r.t. the data too
    lossx, gp, gx = sct_call(sct, 'xgrad', sct.dlfeval, mod.f_gx, dl_params(mod, p, paths), sct.dlarray(x), t)
    value_check('value_x', lossx, ref)
    for q in paths:
        if not np.allclose(D_(mod.get(gp, q)), D_(mod.get(g, q)), rtol=1e-9, atol=1e-12):
            raise Outcome('WRONG', 'gradient_px', f'd/d{q} {D_(mod.get(gp, q)).ravel()[:4]} != {D_(mod.get(g, q)).ravel()[:4]}')
    pc = tree_copy(mod, p, paths)
    xc = np.array(x)
    fx = np.zeros_like(xc)
    f0 = float(mod.model_loss(pc, xc, t))
    for i in range(xc.size):
        o = xc.flat[i]
        xc.flat[i] = o + 1e-6
        up = float(mod.model_loss(pc, xc, t))
        xc.flat[i] = o - 1e-6
        dn = float(mod.model_loss(pc, xc, t))
        xc.flat[i] = o
        c = (up - dn) / 2e-6
        fx.flat[i] = np.nan if abs((up - f0) - (f0 - dn)) / 1e-6 > 1e-3 * (1 + abs(c)) else c
    gxd = D_(gx)
    if gxd.shape != x.shape or gxd.dtype != x.dtype:
        raise Outcome('WRONG', 'gradient_x', f'shape/dtype {gxd.shape} {gxd.dtype}')
    ok = np.isnan(fx) | np.isclose(gxd, fx, rtol=GRAD_RTOL, atol=GRAD_ATOL + GRAD_RTOL * np.nanmax(np.abs(fx), initial=0))
    if not ok.all():
        i = int(np.argmin(ok.reshape(-1)))
        raise Outcome('WRONG', 'gradient_x', f'd/dx[{i}] sct {gxd.ravel()[i]!r} fd {fx.ravel()[i]!r}')
    # mixed precision: float32 params, float64 data
    with np.errstate(all='ignore'):
        refm = mod.model_loss(mod.build({q: v.copy() for q, v in p32.items()}), x, t)
    if np.isfinite(refm):
        lossm, gm = sct_call(sct, 'mixed', sct.dlfeval, mod.f_g, mod.build({q: sct.dlarray(v) for q, v in p32.items()}), x, t)
        value_check('value_mixed', lossm, refm, rtol=1e-9)
        struct_check('structure_mixed', gm, mod.build(p32))
    # accelerate: inside dlfeval with a gradient, outside for its value
    lossa, ga = sct_call(sct, 'accelerate', sct.dlfeval, mod.f_acc, dl_params(mod, p, paths), x, t)
    value_check('value_acc', lossa, ref)
    for q in paths:
        if not np.allclose(D_(mod.get(ga, q)), D_(mod.get(g, q)), rtol=1e-9, atol=1e-12):
            raise Outcome('WRONG', 'gradient_acc', f'd/d{q} accelerate {D_(mod.get(ga, q)).ravel()[:4]} '
                                                   f'!= dlfeval {D_(mod.get(g, q)).ravel()[:4]}')
    vout = sct_call(sct, 'accelerate_out', mod.ACC, tree_copy(mod, p, paths), x, t)
    value_check('value_acc_out', vout, ref)
    # second order
    if hvp:
        rng = np.random.default_rng(seed + 3)
        v = mod.build({q: rng.standard_normal(s) for q, s in mod.PATHS})
        hv = sct_call(sct, 'hvp', sct.dlfeval, mod.f_h, dl_params(mod, p, paths), x, t, v)
        struct_check('structure_hvp', hv, p)
        fds = []
        for eps in (1e-6, 1e-5):
            pu = mod.build({q: mod.get(p, q) + eps * mod.get(v, q) for q in paths})
            pm = mod.build({q: mod.get(p, q) - eps * mod.get(v, q) for q in paths})
            _, gu = sct_call(sct, 'hvp', sct.dlfeval, mod.f_g, dl_params(mod, pu, paths), x, t)
            _, gm = sct_call(sct, 'hvp', sct.dlfeval, mod.f_g, dl_params(mod, pm, paths), x, t)
            fds.append({q: (D_(mod.get(gu, q)) - D_(mod.get(gm, q))) / (2 * eps) for q in paths})
        for q in paths:
            a, b, c = D_(mod.get(hv, q)), fds[0][q], fds[1][q]
            kink = ~np.isclose(b, c, rtol=1e-2, atol=1e-3)
            scale = HVP_ATOL + HVP_RTOL * max(np.max(np.abs(b), initial=0), 1.0)
            bad = ~kink & ~np.isclose(a, b, rtol=HVP_RTOL, atol=scale)
            if bad.any():
                i = int(np.argmax(bad.reshape(-1)))
                raise Outcome('WRONG', 'hvp', f'd/d{q}[{i}] hvp {a.ravel()[i]!r} fd {b.ravel()[i]!r}')
    return 'OK', '', '', exact


def run_one(seed, outdir, big=False, keep=False):
    prog = Prog(seed, big=big).generate()
    src = prog.source()
    path = os.path.join(outdir, f'prog_{seed}.py')
    with open(path, 'w') as fh:
        fh.write(src)
    name = f'fuzz5_prog_{seed}'
    try:
        mod = load(path, name)
        try:
            status, kind, msg, exact = check(mod, seed, hvp=(seed % 3 == 0))
        except Outcome as o:
            status, kind, msg, exact = o.status, o.kind, o.msg, None
    finally:
        sys.modules.pop(name, None)
    if status in ('WRONG', 'CRASH'):
        with open(os.path.join(outdir, f'fail_{seed}.py'), 'w') as fh:
            fh.write(f'# fuzz5 seed {seed}: {status} {kind}: {msg.splitlines()[0] if msg else ""}\n' + src)
    elif not keep:
        os.remove(path)
    return status, kind, msg, exact


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=100)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default=None)
    ap.add_argument('--big', action='store_true')
    ap.add_argument('--print', action='store_true', help='print the program of --seed and stop')
    ap.add_argument('--show', action='store_true', help='print each failure in full')
    ap.add_argument('--timeout', type=int, default=120)
    ap.add_argument('--jobs', type=int, default=1)
    a = ap.parse_args(argv)
    if a.print:
        print(Prog(a.seed, big=a.big).generate().source())
        return 0
    outdir = a.out or tempfile.mkdtemp(prefix='fuzz5_')
    os.makedirs(outdir, exist_ok=True)
    sys.path.insert(0, outdir)
    counts = collections.Counter()
    reasons = collections.Counter()
    failures = []
    inexact = 0
    examples = {}

    def alarm(*_):
        raise Timeout()
    signal.signal(signal.SIGALRM, alarm)
    for seed in range(a.seed, a.seed + a.n):
        signal.alarm(a.timeout)
        try:
            status, kind, msg, exact = run_one(seed, outdir, big=a.big)
        except Timeout:
            status, kind, msg, exact = 'CRASH', 'timeout', f'over {a.timeout} s', None
        except Exception as e:
            status, kind, msg, exact = 'CRASH', 'harness', f'{type(e).__name__}: {e}\n{traceback.format_exc()[-800:]}', None
        finally:
            signal.alarm(0)
        counts[status] += 1
        if (seed - a.seed + 1) % 100 == 0:
            print(f'[{seed - a.seed + 1}] ' + ' '.join(f'{k} {v}' for k, v in sorted(counts.items())), flush=True)
        if exact is False:
            inexact += 1
        if status == 'REFUSED':
            reasons[msg] += 1
            examples.setdefault(msg, []).append(seed)
        elif status == 'SKIP':
            reasons['skip: ' + msg[:60]] += 1
        elif status in ('WRONG', 'CRASH'):
            failures.append((seed, status, kind, msg))
            print(f'seed {seed}: {status} {kind}: {msg if a.show else msg.splitlines()[0][:300]}', flush=True)
    print(f'\n{a.n} programs (seeds {a.seed}..{a.seed + a.n - 1}), out {outdir}')
    for k in ('OK', 'REFUSED', 'WRONG', 'CRASH', 'SKIP'):
        print(f'  {k:8s} {counts[k]}')
    print(f'  values not bit for bit (within {VALUE_RTOL}): {inexact}')
    if reasons:
        print('reasons:')
        for m, c in reasons.most_common(40):
            print(f'  {c:5d}  {m}   e.g. seeds {examples.get(m, [])[:4]}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
