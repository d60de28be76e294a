"""Every derivative rule of runtime.numpy_ops / runtime.support against finite differences.

An OpInfo-style table: each entry names a registered op, a generator of sample
arguments, the argument positions to differentiate, keyword arguments, and
whether the op is also checked at complex inputs (holomorphic ops and the
non-holomorphic ones written in MATLAB's convention).  A registered op with no
entry fails ``test_every_rule_has_a_case``.
"""
from __future__ import annotations

import builtins
import inspect
import operator
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import gast
import math

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sct  # noqa: F401  (registers the rules)
from sct.runtime import numpy_ops as nops
from sct.runtime import support
from sct.runtime import more_ops
from sct.runtime.registry import ATTRIBUTES, METHODS, NONDIFF, RULES, is_nondifferentiable, lookup

pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")

try:
    from tests.gradcheck import check_rule
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import check_rule


# --- samplers ------------------------------------------------------------------------------------

def _dict_parts(d, a, b):
    """The items "p" and "q" of a dict adjoint (zeros like a and b where absent)."""
    return d.get("p", np.zeros_like(a)), d.get("q", np.zeros_like(b))


def R(*shape, lo=-1.0, hi=1.0, ilo=-0.5, ihi=0.5, real=False):
    """Uniform samples in [lo, hi) (plus i*[ilo, ihi) for the complex variant, unless ``real``)."""
    def sample(rng, cplx):
        x = rng.uniform(lo, hi, shape)
        if cplx and not real:
            x = x + 1j * rng.uniform(ilo, ihi, shape)
        return x
    return sample


def M(*shape):
    """Well-conditioned square matrices (batched when ``shape`` has more than two entries)."""
    base = R(*shape)

    def sample(rng, cplx):
        return base(rng, cplx) + shape[-1] * np.eye(shape[-1])
    return sample


def C(value):
    """A constant argument (the same for the real and the complex variant)."""
    return lambda rng, cplx: value


def fixed(value):
    """A fixed array (e.g. with zeros or ties), made complex by adding a small imaginary part."""
    def sample(rng, cplx):
        x = np.array(value, dtype=float)
        return x + 0.3j * np.sign(x) if cplx else x
    return sample


def mask(*shape):
    return lambda rng, cplx: rng.uniform(size=shape) > 0.5


@dataclass
class Case:
    ops: Any                                  # a registered op, or a tuple of aliases sharing a rule
    args: Sequence[Callable]                  # samplers, one per positional argument
    wrt: Sequence[int] = (0,)
    kwargs: dict = field(default_factory=dict)
    complex: bool = False                     # also check at complex inputs
    fn: Optional[Callable] = None             # what to differentiate, when not the op itself
    rule: Optional[Callable] = None           # the rule to call, when not lookup(op).fn
    note: str = ""
    rtol: float = 1e-5
    atol: float = 1e-6
    xfail: str = ""                           # a known bug, with its explanation

    @property
    def aliases(self):
        return self.ops if isinstance(self.ops, tuple) else (self.ops,)


def op_name(op):
    mod = getattr(op, "__module__", None) or ""
    return f"{mod.split('.')[-1]}.{getattr(op, '__name__', repr(op))}"


# --- wrappers for ops whose arguments or results are lists ------------------------------------------

def seq_in(op, n, out_list=False, part=None):
    """Differentiate ``op([x0, ..., x(n-1)], *rest)`` with respect to each ``xk`` (``part``: the
    position of the list's adjoint in the rule's results, where it has several)."""
    def fn(*args, **kw):
        out = op(list(args[:n]), *args[n:], **kw)
        return flat(out) if out_list else out

    def rule(g, ans, *args, **kw):
        if out_list:
            pieces = op(list(args[:n]), *args[n:], **kw)
            g, ans = unflat(g, pieces), pieces
        out = lookup(op).fn(g, ans, list(args[:n]), *args[n:], **kw)
        return tuple(out if part is None else out[part])
    return dict(fn=fn, rule=rule, wrt=tuple(range(n)))


def seq_out(op):
    """Differentiate an op returning a list of arrays, through the concatenation of their ravels."""
    def fn(*args, **kw):
        return flat(op(*args, **kw))

    def rule(g, ans, *args, **kw):
        pieces = op(*args, **kw)
        return lookup(op).fn(unflat(g, pieces), pieces, *args, **kw)
    return dict(fn=fn, rule=rule)


class _Pair:
    """An object whose __iter__ gives its two fields."""
    def __init__(self):
        self.p = np.zeros(2)
        self.q = np.zeros(3)

    def __iter__(self):
        return iter([self.p, self.q])


_PAIR = _Pair()


def flat(pieces):
    return np.concatenate([np.ravel(p) for p in pieces])


def unflat(g, pieces):
    sizes = np.cumsum([np.size(p) for p in pieces])[:-1]
    return [np.reshape(part, np.shape(p)) for part, p in zip(np.split(g, sizes), pieces)]


def varargs_rule(op):
    """The rule of a varargs op returns a list with one adjoint per argument: drop the non-array ones."""
    def rule(g, ans, *args, **kw):
        return tuple(d for d, a in zip(lookup(op).fn(g, ans, *args, **kw), args) if not isinstance(a, str))
    return rule


def spd(rng, cplx, shape):
    """Hermitian positive definite matrices (numpy's cholesky reads only their lower triangle)."""
    x = R(*shape)(rng, cplx)
    return x @ np.conj(np.swapaxes(x, -1, -2)) + shape[-1] * np.eye(shape[-1])


def eigh_stacked(a, **kw):
    """Eigenvalues, and the eigenvectors through quantities independent of their signs."""
    w, v = np.linalg.eigh(a, **kw)
    return np.concatenate([np.ravel(w), np.ravel(v * v[..., :1, :]), np.ravel(v ** 2)])


def eigh_rule(g, ans, a, **kw):
    w, v = np.linalg.eigh(a, **kw)
    nw, nv = w.size, v.size
    gw = np.reshape(g[:nw], w.shape)
    g1 = np.reshape(g[nw:nw + nv], v.shape)
    g2 = np.reshape(g[nw + nv:], v.shape)
    # the adjoint of v in sum(g1 * v * v[0]) + sum(g2 * v**2)
    gv = g1 * v[..., :1, :] + 2 * g2 * v
    gv[..., 0, :] += np.sum(g1 * v, axis=-2)
    return lookup(np.linalg.eigh).fn((gw, gv), (w, v), a, **kw)


def flat_list(nested):
    out = []
    for x in nested:
        out += flat_list(x) if isinstance(x, list) else [x]
    return out


def _zeros_for(nested, like):
    """``nested`` with its zero markers (rt.ZERO) as zeros shaped like ``like``."""
    if isinstance(nested, list):
        return [_zeros_for(v, like) for v in nested]
    return np.zeros_like(like) if support._is_zero(nested) else nested


def flat_nested(nested):
    return flat(flat_list(nested))


def unflat_nested(g, like):
    pieces = unflat(g, flat_list(like))

    def rebuild(x):
        return [rebuild(v) for v in x] if isinstance(x, list) else pieces.pop(0)
    return rebuild(like)


def choose_fn(a, b, c, idx=None, mode="raise"):
    return np.choose(idx, [a, b, c], mode=mode)


def choose_rule(g, ans, a, b, c, idx=None, mode="raise"):
    return tuple(lookup(np.choose).fn(g, ans, idx, [a, b, c], mode=mode))


def choose_array_fn(a, idx=None, mode="raise"):
    return np.choose(idx, a, mode=mode)


def choose_array_rule(g, ans, a, idx=None, mode="raise"):
    return lookup(np.choose).fn(g, ans, idx, a, mode=mode)


def divmod_stacked(op):
    def fn(a, b):
        q, r = op(a, b)
        return np.stack([q, r])

    def rule(g, ans, a, b):
        return lookup(op).fn((g[0], g[1]), op(a, b), a, b)
    return dict(fn=fn, rule=rule)


def modf_stacked(a):
    return np.stack(np.modf(a))


def modf_rule(g, ans, a):
    return lookup(np.modf).fn((g[0], g[1]), np.modf(a), a)


def slogdet_stacked(a):
    return np.stack(np.linalg.slogdet(a))


def slogdet_rule(g, ans, a):
    return lookup(np.linalg.slogdet).fn((g[0], g[1]), np.linalg.slogdet(a), a)


def first_of(op):
    """The rule of a varargs op called with one argument (its adjoint is a one-element list)."""
    return lambda g, ans, *args, **kw: lookup(op).fn(g, ans, *args, **kw)[0]


def _values(d, keys, likes):
    return tuple(np.zeros_like(v) if support._is_zero(d.get(k, support.ZERO)) else d[k]
                 for k, v in zip(keys, likes))


def dict_fn(a, b):
    return flat(list(dict({"u": a, "v": b}).values()))


def dict_rule(g, ans, a, b):
    parts = unflat(g, [a, b])
    return _values(lookup(dict).fn({"u": parts[0], "v": parts[1]}, ans, {"u": a, "v": b}), "uv", (a, b))


def dict_pairs_fn(a, b):
    return flat(list(dict([("u", b), ("v", a), ("u", b * 2.0)]).values()))


def dict_pairs_rule(g, ans, a, b):
    gu, gv = unflat(g, [b, a])
    pairs = lookup(dict).fn({"u": gu, "v": gv}, ans, [("u", b), ("v", a), ("u", b * 2.0)])
    first = np.zeros_like(b) if support._is_zero(pairs[0][1]) else pairs[0][1]   # overridden: none
    return pairs[1][1], first + 2.0 * pairs[2][1]


def ordered_dict_fn(a, b):
    return flat(list(support.ordered_dict([("u", b), ("v", a)]).values()))


def ordered_dict_rule(g, ans, a, b):
    gu, gv = unflat(g, [b, a])
    pairs = lookup(support.ordered_dict).fn({"u": gu, "v": gv}, ans, [("u", b), ("v", a)])
    return pairs[1][1], pairs[0][1]


def dict_source_fn(a, b):
    return flat(list(support.dict_source_adjoint({"u": a, "v": b}, {"u": 0, "v": 0}).values()))


def dict_source_rule(g, ans, a, b):
    parts = unflat(g, [a, b])
    out = lookup(support.dict_source_adjoint).fn({"u": parts[0], "v": parts[1]}, ans, {"u": a, "v": b},
                                                 {"u": 0, "v": 0})
    return _values(out, "uv", (a, b))


def dict_transpose_fn(a, b):
    pairs = [("u", 0), ("v", 0)]
    return flat(list(support.dict_source_transpose([[0.0, a], [0.0, b]], pairs).values()))


def dict_transpose_rule(g, ans, a, b):
    parts = unflat(g, [a, b])
    out = lookup(support.dict_source_transpose).fn({"u": parts[0], "v": parts[1]}, ans, None,
                                                   [("u", 0), ("v", 0)])
    return out[0][1], out[1][1]


def dict_merged_fn(au, aw, bw):
    return flat(list(support.dict_merged({"u": au, "w": aw}, {"w": bw}).values()))


def dict_merged_rule(g, ans, au, aw, bw):
    gu, gw = unflat(g, [au, bw])
    da, db = lookup(support.dict_merged).fn({"u": gu, "w": gw}, ans, {"u": au, "w": aw}, {"w": bw})
    return _values(da, "uw", (au, aw)) + _values(db, "w", (bw,))


def dict_part_fn(gu, gw):
    return flat(list(support.dict_part({"u": gu, "w": gw}, {"u": 0, "w": 0}, {"w": 0}).values()))


def dict_part_rule(g, ans, gu, gw):
    out = lookup(support.dict_part).fn({"u": g}, ans, None, {"u": 0, "w": 0}, {"w": 0})
    return _values(out, "uw", (gu, gw))


def without_key_fn(au, aw):
    return flat(list(support.without_key({"u": au, "w": aw}, "u").values()))


def without_key_rule(g, ans, au, aw):
    out = lookup(support.without_key).fn({"w": g}, ans, {"u": au, "w": aw}, "u")
    return _values(out, "uw", (au, aw))


def attribute_fn(grad):
    return support.attribute_adjoint(grad, None, "w")["w"]


def attribute_rule(g, ans, grad):
    return lookup(support.attribute_adjoint).fn({"w": g}, ans, grad, None, "w")


def getattr_fn(grad):
    return support.getattr_or_zero({"w": grad}, "w")


def getattr_rule(g, ans, grad):
    return lookup(support.getattr_or_zero).fn(g, ans, {"w": grad}, "w")["w"]


def namespace_fn(a, b):
    ns = support.simple_namespace(("a", "b"), a, b)
    return flat([ns.a, ns.b])


def namespace_rule(g, ans, a, b):
    return tuple(lookup(support.simple_namespace).fn(dict(zip("ab", unflat(g, [a, b]))), ans, ("a", "b"), a, b))


def namespace_values_fn(a, b):
    return flat(support.namespace_values({"a": a, "b": b}, ("a", "b")))


def namespace_values_rule(g, ans, a, b):
    return tuple(lookup(support.namespace_values).fn(unflat(g, [a, b]), ans, {"a": a, "b": b}, ("a", "b")).values())


def namespace_fields_fn(a, b):
    return flat(list(support.namespace_fields([a, b], ("a", "b")).values()))


def namespace_fields_rule(g, ans, a, b):
    return tuple(lookup(support.namespace_fields).fn(dict(zip("ab", unflat(g, [a, b]))), ans, [a, b], ("a", "b")))


def field_fn(grad):
    return support.field_adjoint({"w": grad}, "w", None)


def field_rule(g, ans, grad):
    return lookup(support.field_adjoint).fn(g, ans, {"w": grad}, "w", None)["w"]


def field_seq_fn(grad):
    return support.field_adjoint([0.0, grad], "w", 1)


def field_seq_rule(g, ans, grad):
    return lookup(support.field_adjoint).fn(g, ans, [0.0, grad], "w", 1)[1]


def field_transpose_fn(grad):
    return support.field_adjoint_transpose(grad, None, "w", None)["w"]


def field_transpose_rule(g, ans, grad):
    return lookup(support.field_adjoint_transpose).fn({"w": g}, ans, grad, None, "w", None)


def drop_fn(grad):
    return support.drop_attribute({"v": grad, "w": 2 * grad}, "w")["v"]


def drop_rule(g, ans, grad):
    return lookup(support.drop_attribute).fn({"v": g}, ans, {"v": grad, "w": 2 * grad}, "w")["v"]


def join_fn(a, b, c):
    return flat(support.join_gradients([[a], (b, c)]))


def join_rule(g, ans, a, b, c):
    pieces = support.join_gradients([[a], (b, c)])
    parts = lookup(support.join_gradients).fn(tuple(unflat(g, pieces)), pieces, [[a], (b, c)])
    return parts[0][0], parts[1][0], parts[1][1]


def split_fn(a, b):
    return flat([p[0] for p in support.split_gradients((a, b), [[0.0], [0.0]])])


def split_rule(g, ans, a, b):
    parts = [[part] for part in unflat(g, [a, b])]
    return tuple(lookup(support.split_gradients).fn(parts, None, (a, b), [[0.0], [0.0]]))


def join_like_fn(a, b):
    return flat(support.join_gradients_like([[a], [b]], [[0.0], [0.0]]))


def join_like_rule(g, ans, a, b):
    pieces = support.join_gradients_like([[a], [b]], [[0.0], [0.0]])
    parts = lookup(support.join_gradients_like).fn(tuple(unflat(g, pieces)), pieces, [[a], [b]],
                                                  [[0.0], [0.0]])
    return parts[0][0], parts[1][0]


def reshape_pieces_fn(x0, x1):
    return flat(nops.reshape_pieces([x0, x1], [np.zeros((2, 3)), np.zeros(4)]))


def reshape_pieces_rule(g, ans, x0, x1):
    likes = [np.zeros((2, 3)), np.zeros(4)]
    pieces = nops.reshape_pieces([x0, x1], likes)
    return tuple(lookup(nops.reshape_pieces).fn(unflat(g, pieces), pieces, [x0, x1], likes))


def array_adjoint_fn(grad):
    return flat(nops.array_adjoint(grad, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))


def array_adjoint_rule(g, ans, grad):
    obj = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    pieces = nops.array_adjoint(grad, obj)
    nested = [np.reshape(p, np.shape(q)) for p, q in zip(np.split(g, 3), pieces)]
    return lookup(nops.array_adjoint).fn(nested, pieces, grad, obj)


def array_pieces_fn(x0, x1, x2):
    return nops.array_pieces([x0, x1, x2], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])


def array_pieces_rule(g, ans, x0, x1, x2):
    return tuple(lookup(nops.array_pieces).fn(g, ans, [x0, x1, x2], [[0.0, 0.0]] * 3))


def array_fn(x0, x1):
    return np.array([x0, x1])


def array_rule(g, ans, x0, x1):
    return tuple(lookup(np.array).fn(g, ans, [x0, x1]))


LIKES = [np.zeros((2, 2)), np.zeros((3, 2))]


def vararg_adjoints_fn(x0, x1):
    return flat(support.vararg_adjoints([x0, x1], (np.zeros(2), np.zeros((2, 2)))))


def vararg_adjoints_rule(g, ans, x0, x1):
    likes = (np.zeros(2), np.zeros((2, 2)))
    pieces = support.vararg_adjoints([x0, x1], likes)
    return tuple(lookup(support.vararg_adjoints).fn(unflat(g, pieces), pieces, [x0, x1], likes))


def reshape_transpose_fn(x0, x1):
    return flat(nops.reshape_pieces_transpose([x0, x1], [np.zeros(6), np.zeros((2, 2))],
                                              [np.zeros((2, 3)), np.zeros(4)]))


def reshape_transpose_rule(g, ans, x0, x1):
    grads, likes = [np.zeros(6), np.zeros((2, 2))], [np.zeros((2, 3)), np.zeros(4)]
    pieces = nops.reshape_pieces_transpose([x0, x1], grads, likes)
    return tuple(lookup(nops.reshape_pieces_transpose).fn(unflat(g, pieces), pieces, [x0, x1], grads, likes))


def reshape_transpose_bare_fn(x0):
    return nops.reshape_pieces_transpose([x0], np.zeros((2, 2)), [np.zeros(4)])


def reshape_transpose_bare_rule(g, ans, x0):
    return lookup(nops.reshape_pieces_transpose).fn(g, ans, [x0], np.zeros((2, 2)), [np.zeros(4)])[0]


# --- the table ----------------------------------------------------------------------------------------

def extended_fn(a, b, c):
    return flat(support.extended([a], [b, c]))


def extended_rule(g, ans, a, b, c):
    da, db = support._extended_rule(unflat(g, [a, b, c]), [a, b, c], [a], [b, c])
    return da[0], db[0], db[1]


def concat_operand_fn(a, b, c):
    return flat(support.concat_operand([a], (b, c)))


def concat_operand_rule(g, ans, a, b, c):
    items = (b, c)
    ans = support.concat_operand([a], items)
    return tuple(support._concat_operand_rule(unflat(g, ans), ans, [a], items))


def inserted_fn(a, b, c):
    return flat(support.inserted([a, b], 1, c))


def inserted_rule(g, ans, a, b, c):
    dz, dv = support._inserted_rule(unflat(g, [a, c, b]), [a, c, b], [a, b], 1, c)
    return dz[0], dz[1], dv



# --- peer corpus (Dec 2): masks, NaN samples and list-valued ops of the rows below -------------------

W23 = np.array([[True, False, True], [False, True, True]])
W3 = np.array([True, False, True])
W34 = np.array([[True, False, True, True], [False, True, True, True], [True, True, False, True]])


def R0(lo=-1.0, hi=1.0):
    """A 0-d array in [lo, hi) (a reduction's traced ``initial=``; an array, so that a float32
    variant of the table stays float32)."""
    base = R(lo=lo, hi=hi)
    return lambda rng, cplx: np.asarray(base(rng, cplx))


def var_given_mean(a, mean):
    return np.var(a, axis=1, mean=mean)


def var_given_mean_rule(g, ans, a, mean):
    return lookup(np.var).fn(g, ans, a, axis=1, mean=mean)


def std_given_mean(a, mean):
    return np.std(a, axis=0, mean=mean, where=W34, ddof=1)


def std_given_mean_rule(g, ans, a, mean):
    return lookup(np.std).fn(g, ans, a, axis=0, mean=mean, where=W34, ddof=1)


def with_nan(*shape):
    """Samples with NaN at fixed entries (the nan* reductions skip them: zero adjoint there)."""
    base = R(*shape)

    def sample(rng, cplx):
        x = base(rng, cplx)
        flat_view = x.reshape(-1)
        flat_view[1::5] = np.nan
        return x
    return sample


def meshgrid_fn(a, b, sparse=False, indexing="xy"):
    return flat(np.meshgrid(a, b, sparse=sparse, indexing=indexing))


def meshgrid_rule(g, ans, a, b, **kw):
    outs = np.meshgrid(a, b, **kw)
    return tuple(lookup(np.meshgrid).fn(unflat(g, outs), outs, a, b, **kw))


def meshgrid3_fn(a, b, c, indexing="xy"):
    return flat(np.meshgrid(a, b, c, indexing=indexing))


def meshgrid3_rule(g, ans, a, b, c, **kw):
    outs = np.meshgrid(a, b, c, **kw)
    return tuple(lookup(np.meshgrid).fn(unflat(g, outs), outs, a, b, c, **kw))


def block_fn(a, b, c, d):
    return np.block([[a, b], [c, d]])


def block_rule(g, ans, a, b, c, d):
    pieces = lookup(np.block).fn(g, ans, [[a, b], [c, d]])
    return pieces[0][0], pieces[0][1], pieces[1][0], pieces[1][1]


def block_adjoints_fn(grad):
    return flat_nested(more_ops.block_adjoints(grad, [[np.zeros((2, 1)), np.zeros((2, 2))], [np.zeros((1, 3))]]))


def block_adjoints_rule(g, ans, grad):
    likes = [[np.zeros((2, 1)), np.zeros((2, 2))], [np.zeros((1, 3))]]
    return lookup(more_ops.block_adjoints).fn(unflat_nested(g, likes), ans, grad, likes)


def block_pieces_fn(a, b, c):
    return more_ops.block_pieces([[a, b], [c]], [[np.zeros((2, 1)), np.zeros((2, 2))], [np.zeros((1, 3))]])


def block_pieces_rule(g, ans, a, b, c):
    out = lookup(more_ops.block_pieces).fn(g, ans, [[a, b], [c]],
                                           [[np.zeros((2, 1)), np.zeros((2, 2))], [np.zeros((1, 3))]])
    return out[0][0], out[0][1], out[1][0]


def trapezoid_dx_rule(g, ans, y, x, dx):
    grads = lookup(np.trapezoid).fn(g, ans, y, x, dx)
    return grads[0], grads[2]


def sorted_coords(n):
    return lambda rng, cplx: np.sort(rng.uniform(0, 2, n)) + np.arange(n)


CASES = [
    # operators
    Case((operator.add, np.add), [R(2, 3), R(3)], (0, 1), complex=True),
    Case((operator.sub, np.subtract), [R(2, 3), R(2, 1)], (0, 1), complex=True),
    Case((operator.mul, np.multiply), [R(2, 3), R(1, 3)], (0, 1), complex=True),
    Case((operator.truediv, np.divide, np.true_divide), [R(2, 3), R(3, lo=0.5, hi=2)], (0, 1), complex=True),
    Case((operator.neg, np.negative), [R(2, 3)], complex=True),
    Case((operator.pos, np.positive), [R(2, 3)], complex=True),
    Case((operator.pow, np.power, np.float_power), [R(2, 3, lo=0.5, hi=2), R(3, lo=-1, hi=2)], (0, 1),
         complex=True, note="base kept positive"),
    Case((operator.pow, np.power), [R(2, 3, lo=0.5, hi=2), C(3.0)], complex=True, note="constant exponent"),
    Case(nops.base_power, [R(2, 3, lo=0.5, hi=2), R(3, lo=-1, hi=2)], (0, 1), complex=True,
         note="** of a Python number's adjoint (inf where Python raises)"),
    Case(nops.exponent_log, [R(2, 3, lo=0.5, hi=2), C(1.5)], complex=True, note="a float exponent: log(a)"),
    Case(nops.exponent_log, [R(2, 3, lo=-2, hi=-0.5), C(2)], note="an int exponent: 0, no log of a < 0"),
    Case((operator.matmul, np.matmul), [R(2, 3), R(3, 4)], (0, 1), complex=True),
    Case((operator.matmul, np.matmul), [R(3), R(3, 4)], (0, 1), complex=True),
    Case((operator.matmul, np.matmul), [R(2, 3), R(3)], (0, 1), complex=True),
    Case((operator.matmul, np.matmul), [R(3), R(3)], (0, 1), complex=True),
    Case((operator.matmul, np.matmul), [R(2, 2, 3), R(3, 4)], (0, 1), complex=True),
    Case((operator.matmul, np.matmul), [R(3), R(2, 3, 4)], (0, 1), complex=True),
    Case((operator.matmul, np.matmul), [R(2, 2, 3), R(3)], (0, 1), complex=True),
    Case((operator.matmul, np.matmul), [R(2, 1, 2, 3), R(3, 3, 2)], (0, 1), complex=True),
    Case(operator.getitem, [R(4, 3), C((slice(1, 3), 0))], complex=True),
    Case(operator.getitem, [R(4, 3), C((np.array([0, 2, 0]),))], complex=True, note="repeated fancy index"),
    Case(operator.getitem, [R(4, 3), C((np.array([True, False, True, True]),))]),
    # Python's math functions (scalars; the rules of their numpy counterparts)
    *[Case(getattr(math, name), [R(lo=lo, hi=hi)]) for name, lo, hi in [
        ("sin", -1, 1), ("cos", -1, 1), ("tan", -1, 1), ("asin", -0.8, 0.8), ("acos", -0.8, 0.8),
        ("atan", -1, 1), ("sinh", -1, 1), ("cosh", -1, 1), ("tanh", -1, 1), ("asinh", -1, 1),
        ("acosh", 1.5, 3), ("atanh", -0.8, 0.8), ("exp", -1, 1), ("expm1", -1, 1), ("log1p", -0.5, 2),
        ("log2", 0.5, 2), ("log10", 0.5, 2), ("sqrt", 0.5, 2), ("fabs", 0.2, 1)]],
    Case(math.atan2, [R(lo=-1, hi=1), R(lo=0.5, hi=1)], (0, 1)),
    Case(math.hypot, [R(lo=-1, hi=1), R(lo=0.5, hi=1)], (0, 1)),
    Case(more_ops.hypot_of, [R(3)]),          # math.hypot's and math.dist's op, on the coordinates' array
    Case(more_ops.hypot_of, [R(1)]),
    Case(more_ops.hypot_reduce, [R(2, 3), C(1)]),         # np.hypot.reduce's op
    Case(more_ops.fsum_value, [R()], fn=lambda v: more_ops.fsum_value(v, [v]),     # math.fsum's op: the
         rule=lambda g, ans, v: more_ops._fsum_value_rule(g, ans, v, [v])),         # plain sum's derivative
    Case(more_ops.hypot_reduce, [R(2, 3), C(None)]),
    Case(math.pow, [R(lo=0.5, hi=2), R(lo=0.5, hi=2)], (0, 1)),
    Case(math.log, [R(lo=0.5, hi=2)]),
    Case(math.log, [R(lo=0.5, hi=2), R(lo=1.5, hi=3)], (0, 1), note="with a base"),
    # for loops and dict views
    Case(support.as_sequence, [R(3, 2)], complex=True),
    Case(support.point_total, [R(3), C(np.zeros((3, 2))), C(0)]),   # dllaplacian's sum of u (a complex u: refused)
    Case(support.dlarray_of, [R(3, 2), C("CBT")], complex=True),       # dlarray(x, fmt) of a traced x
    Case(support.flat_values, [R(3, 2)], complex=True),                 # x.flat read for its values
    Case(support.flat_assigned, [R(2, 3)], complex=True,                # x.flat[::2] = v of a (3, 4) x
         fn=lambda v: support.flat_assigned(v, np.zeros((3, 4)), slice(None, None, 2)),
         rule=lambda g, ans, v: support._flat_assigned_rule(g, ans, v, np.zeros((3, 4)), slice(None, None, 2))),
    Case(support.sequence_source_adjoint, [R(3, 2), C(np.zeros((3, 2)))], complex=True),
    # an object walked by its __iter__ (its fields): items' adjoints to the fields and back
    Case(support.iterated_adjoint, [R(2), R(3)], (0, 1), complex=True,
         fn=lambda a, b: flat(support.iterated_adjoint([a, b], _PAIR).values()),
         rule=lambda g, ans, a, b: tuple(support.iterated_items(dict(zip("pq", unflat(g, [a, b]))), _PAIR))),
    Case(support.iterated_items, [R(2), R(3)], (0, 1), complex=True,
         fn=lambda a, b: flat(support.iterated_items({"p": a, "q": b}, _PAIR)),
         rule=lambda g, ans, a, b: tuple(support.iterated_adjoint(unflat(g, [a, b]), _PAIR).values())),
    Case(support.dict_items, [R(2), R(3)], (0, 1), complex=True,
         fn=lambda a, b: flat([p[1] for p in support.dict_items({"a": a, "b": b})]),
         rule=lambda g, ans, a, b: tuple(support.pairs_to_dict(
             [("a", part) for part in unflat(g, [a, b])], {"a": a, "b": b}).values())),
    Case(support.dict_values, [R(2), R(3)], (0, 1), complex=True,
         fn=lambda a, b: flat(support.dict_values({"a": a, "b": b})),
         rule=lambda g, ans, a, b: tuple(support.values_to_dict(unflat(g, [a, b]), {"a": a, "b": b}).values())),
    Case(support.dict_get, [R(2), R(3), C("a")], (0, 1), complex=True, note="key present",
         fn=lambda a, b, k: support.dict_get({"a": a}, k, b),
         rule=lambda g, ans, a, b, k: (support.getitem_or_zero(support.dict_get_adjoint(g, {"a": a}, k), "a"),
                                       support.default_adjoint(g, {"a": a}, k))),
    Case(support.dict_get, [R(2), R(2), C("c")], (0, 1), complex=True, note="key missing: the default",
         fn=lambda a, b, k: support.dict_get({"a": a}, k, b),
         rule=lambda g, ans, a, b, k: (support.getitem_or_zero(support.dict_get_adjoint(g, {"a": a}, k), "a"),
                                       support.default_adjoint(g, {"a": a}, k))),
    Case(support.dict_entry_adjoint, [R(2), R(3)], (0, 1), complex=True, note="the last value of a repeated key",
         fn=lambda a, b: support.dict_entry_adjoint({"p": a, "q": b}, ("p", "q", "p"), 2),
         rule=lambda g, ans, a, b: _dict_parts(support._dict_entry_adjoint_rule(
             g, ans, {"p": a, "q": b}, ("p", "q", "p"), 2), a, b)),
    Case(support.dict_get_adjoint, [R(3)], complex=True,
         fn=lambda grad: support.dict_get_adjoint(grad, {"k": 1.0}, "k")["k"],
         rule=lambda g, ans, grad: support._dict_get_adjoint_rule({"k": g}, ans, grad, {"k": 1.0}, "k")),
    Case(support.default_adjoint, [R(3), C({"k": 1.0}), C("z")], complex=True),
    Case(support.real_if_real, [R(3), C(np.ones(3))], complex=True, note="x real: the real part"),
    Case(support.real_if_real, [R(3), C(np.ones(3) + 1j)], complex=True, note="x complex: itself"),
    # elementwise
    Case(np.sin, [R(2, 3)], complex=True),
    Case(np.cos, [R(2, 3)], complex=True),
    Case(np.tan, [R(2, 3)], complex=True),
    Case(np.arcsin, [R(2, 3, lo=-0.8, hi=0.8)], complex=True),
    Case(np.arccos, [R(2, 3, lo=-0.8, hi=0.8)], complex=True),
    Case(np.arctan, [R(2, 3)], complex=True),
    Case(np.arctan2, [R(2, 3), R(3, lo=0.5, hi=1)], (0, 1)),
    Case(np.sinh, [R(2, 3)], complex=True),
    Case(np.cosh, [R(2, 3)], complex=True),
    Case(np.tanh, [R(2, 3)], complex=True),
    Case(np.arcsinh, [R(2, 3)], complex=True),
    Case(np.arccosh, [R(2, 3, lo=1.5, hi=3)], complex=True),
    Case(np.arctanh, [R(2, 3, lo=-0.8, hi=0.8)], complex=True),
    Case(np.exp, [R(2, 3)], complex=True),
    Case(np.expm1, [R(2, 3)], complex=True),
    Case(np.exp2, [R(2, 3)], complex=True),
    Case(np.log, [R(2, 3, lo=0.5, hi=2)], complex=True),
    Case(np.log1p, [R(2, 3, lo=-0.5, hi=2)], complex=True),
    Case(np.log2, [R(2, 3, lo=0.5, hi=2)], complex=True),
    Case(np.log10, [R(2, 3, lo=0.5, hi=2)], complex=True),
    Case(np.sqrt, [R(2, 3, lo=0.5, hi=2)], complex=True),
    Case(np.cbrt, [R(2, 3, lo=0.5, hi=2)]),
    Case(np.cbrt, [R(2, 3, lo=-2, hi=-0.5)], note="negative inputs"),
    Case(np.square, [R(2, 3)], complex=True),
    Case(np.reciprocal, [R(2, 3, lo=0.5, hi=2)], complex=True),
    Case((np.abs, np.absolute, abs), [R(2, 3, lo=0.2, hi=1)], complex=True),
    Case((np.abs, np.fabs), [R(2, 3, lo=-1, hi=-0.2)]),
    Case((np.conj, np.conjugate), [R(2, 3)], complex=True),
    Case(np.real, [R(2, 3)], complex=True),
    Case(np.imag, [R(2, 3)], complex=True),
    Case(np.angle, [R(2, 3, lo=0.3, hi=1)], complex=True),
    Case(np.angle, [R(2, 3, lo=-1, hi=-0.3)], complex=True, kwargs=dict(deg=True)),
    Case(np.hypot, [R(2, 3), R(3, lo=0.5, hi=1)], (0, 1)),
    Case(np.maximum, [R(2, 3), R(3)], (0, 1)),
    Case(np.minimum, [R(2, 3), R(3)], (0, 1)),
    Case(np.fmax, [R(2, 3), R(3)], (0, 1)),
    Case(np.fmin, [R(2, 3), R(3)], (0, 1)),
    Case(np.where, [mask(2, 3), R(2, 3), R(3)], (1, 2), complex=True),
    Case(np.clip, [R(2, 3, lo=-2, hi=2), C(-0.5), C(0.5)]),
    Case(np.clip, [R(2, 3, lo=-2, hi=2), R(3, lo=-1, hi=-0.2), R(2, 1, lo=0.2, hi=1)], (0, 1, 2)),
    Case(np.clip, [R(2, 3, lo=-2, hi=2)], kwargs=dict(min=-0.5, max=0.5), note="numpy 2 keywords"),
    # reductions
    Case(np.sum, [R(2, 3, 4)], complex=True),
    Case(np.sum, [R(2, 3, 4)], kwargs=dict(axis=1), complex=True),
    Case(np.sum, [R(2, 3, 4)], kwargs=dict(axis=(0, 2), keepdims=True), complex=True),
    Case(np.mean, [R(2, 3, 4)], complex=True),
    Case(np.mean, [R(2, 3, 4)], kwargs=dict(axis=-1), complex=True),
    Case(np.mean, [R(2, 3, 4)], kwargs=dict(axis=(0, 1), keepdims=True), complex=True),
    Case(np.prod, [R(2, 3, lo=0.5, hi=1.5)], complex=True),
    Case(np.prod, [R(2, 3, 4)], kwargs=dict(axis=1), complex=True),
    Case(np.prod, [R(2, 3, 4)], kwargs=dict(axis=(0, 2), keepdims=True), complex=True),
    Case(np.prod, [fixed([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0]])], kwargs=dict(axis=1), complex=True,
         note="one and two zeros"),
    Case(np.prod, [fixed([0.5, 0.0, 2.0, -1.0])], complex=True, note="one zero, whole array"),
    Case(np.prod, [R()], kwargs=dict(axis=0), complex=True, note="0-d along axis 0 (numpy accepts it; fuzz50 F4)"),
    Case(np.prod, [R()], kwargs=dict(axis=-1, keepdims=True), note="0-d along axis -1, keepdims"),
    Case((np.max, np.amax, np.min, np.amin), [R(2, 3, 4)]),
    Case((np.max, np.amax, np.min, np.amin), [R(2, 3, 4)], kwargs=dict(axis=1)),
    Case((np.max, np.min), [R(2, 3, 4)], kwargs=dict(axis=(0, 2), keepdims=True)),
    Case(np.var, [R(2, 3, 4)], complex=True),
    Case(np.var, [R(2, 3, 4)], kwargs=dict(axis=0, ddof=1), complex=True),
    Case(np.var, [R(2, 3, 4)], kwargs=dict(axis=(1, 2), keepdims=True), complex=True),
    Case(np.std, [R(2, 3, 4)], complex=True),
    Case(np.std, [R(2, 3, 4)], kwargs=dict(axis=1, ddof=1, keepdims=True), complex=True),
    Case(np.cumsum, [R(2, 3)], complex=True),
    Case(np.cumsum, [R(2, 3, 4)], kwargs=dict(axis=1), complex=True),
    Case(np.cumprod, [R(2, 3, lo=0.5, hi=1.5)], complex=True),
    Case(np.cumprod, [R(2, 3, 4)], kwargs=dict(axis=-1), complex=True),
    Case(np.cumprod, [fixed([[1.5, 0.0, 2.0, 0.0, 3.0], [0.5, 2.0, 0.0, 1.5, 2.0]])], kwargs=dict(axis=1),
         complex=True, note="zeros: the exact path"),
    Case(np.cumprod, [fixed([[1.5, 0.0], [2.0, 3.0]])], complex=True, note="zeros, axis=None"),
    Case(np.cumsum, [R()], kwargs=dict(axis=0), complex=True, note="0-d along axis 0: shape (1,) (fuzz50 F2)"),
    Case(np.cumprod, [R()], kwargs=dict(axis=-1), complex=True, note="0-d along axis -1 (fuzz50 F4)"),
    Case(nops.logsumexp, [R(2, 3, 4, lo=-3, hi=3)]),
    Case(nops.sequence_operand, [R(2, 3)], complex=True, note="an array: itself (a list: np.asarray)"),
    Case(nops.logsumexp, [R(2, 3, 4, lo=-3, hi=3)], kwargs=dict(axis=1)),
    Case(nops.logsumexp, [R(2, 3, 4, lo=-3, hi=3)], kwargs=dict(axis=(0, 2), keepdims=True)),
    # linear algebra
    Case(np.dot, [R(2, 3), R(3, 4)], (0, 1), complex=True),
    Case(np.dot, [R(3), R(3)], (0, 1), complex=True),
    Case(np.dot, [R(2, 3), R(3)], (0, 1), complex=True),
    Case(np.dot, [R(3), R(3, 4)], (0, 1), complex=True),
    Case(np.dot, [R(), R(2, 3)], (0, 1), complex=True),
    Case(np.dot, [R(2, 3, 4), R(5, 4, 2)], (0, 1), complex=True),
    Case(np.tensordot, [R(2, 3, 4), R(3, 4, 5)], (0, 1), complex=True),
    Case(np.tensordot, [R(2, 3), R(3, 4)], (0, 1), kwargs=dict(axes=1), complex=True),
    Case(np.tensordot, [R(3, 2, 4), R(2, 3, 5)], (0, 1), kwargs=dict(axes=([1, 0], [0, 1])), complex=True),
    Case(np.tensordot, [R(2, 3), R(4)], (0, 1), kwargs=dict(axes=0), complex=True),
    Case(np.inner, [R(3), R(3)], (0, 1), complex=True),
    Case(np.inner, [R(2, 3), R(4, 3)], (0, 1), complex=True),
    Case(np.inner, [R(2, 2, 3), R(3)], (0, 1), complex=True),
    Case(np.inner, [R(), R(2, 3)], (0, 1), complex=True),
    Case(np.outer, [R(3), R(2, 2)], (0, 1), complex=True),
    Case(np.vdot, [R(2, 3), R(3, 2)], (0, 1), complex=True),
    Case(np.trace, [R(3, 3)], complex=True),
    Case(np.trace, [R(3, 4)], kwargs=dict(offset=1), complex=True),
    Case(np.trace, [R(2, 3, 4)], kwargs=dict(axis1=2, axis2=0, offset=-1), complex=True),
    Case(nops.conj_transpose, [R(2, 3, 4)], complex=True),
    Case(np.linalg.inv, [M(3, 3)], complex=True),
    Case(np.linalg.inv, [M(2, 3, 3)], complex=True),
    Case(np.linalg.det, [M(3, 3)], complex=True),
    Case(np.linalg.det, [M(2, 3, 3)], complex=True),
    Case(nops.adjugate, [M(3, 3)], complex=True),
    Case(nops.adjugate, [M(2, 3, 3)], complex=True),
    Case(np.linalg.slogdet, [M(3, 3)], complex=True, fn=slogdet_stacked, rule=slogdet_rule),
    Case(np.linalg.slogdet, [lambda rng, c: -M(3, 3)(rng, c)], complex=True, fn=slogdet_stacked,
         rule=slogdet_rule, note="negative determinant"),
    Case(np.linalg.slogdet, [M(2, 3, 3)], complex=True, fn=slogdet_stacked, rule=slogdet_rule),
    Case(np.linalg.solve, [M(3, 3), R(3)], (0, 1), complex=True),
    Case(np.linalg.solve, [M(3, 3), R(3, 2)], (0, 1), complex=True),
    Case(np.linalg.solve, [M(2, 3, 3), R(3)], (0, 1), complex=True),
    Case(np.linalg.solve, [M(2, 3, 3), R(2, 3, 2)], (0, 1), complex=True),
    Case(np.linalg.solve, [M(3, 3), R(2, 3, 2)], (0, 1), complex=True),
    Case(np.linalg.norm, [R(5)], complex=True),
    Case(np.linalg.norm, [R(3, 4)], complex=True, note="Frobenius by default"),
    Case(np.linalg.norm, [R(2, 3, 4)], complex=True, note="flattened 2-norm"),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(axis=1), complex=True),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(axis=0, keepdims=True), complex=True),
    Case(np.linalg.norm, [R(5)], kwargs=dict(ord=1), complex=True),
    Case(np.linalg.norm, [R(5)], kwargs=dict(ord=np.inf), complex=True),
    Case(np.linalg.norm, [R(5)], kwargs=dict(ord=-np.inf), complex=True),
    Case(np.linalg.norm, [R(5)], kwargs=dict(ord=3), complex=True),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(ord=1, axis=1), complex=True),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(ord="fro"), complex=True),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(ord=1), complex=True, note="max column sum"),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(ord=-1), complex=True),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(ord=np.inf), complex=True, note="max row sum"),
    Case(np.linalg.norm, [R(2, 3, 4)], kwargs=dict(ord=-np.inf, axis=(2, 0), keepdims=True), complex=True),
    Case(np.linalg.vector_norm, [R(3, 4)], complex=True),
    Case(np.linalg.vector_norm, [R(3, 4)], kwargs=dict(axis=0, ord=1), complex=True),
    Case(np.linalg.vector_norm, [R(3, 4)], kwargs=dict(axis=(0, 1), ord=np.inf, keepdims=True), complex=True),
    Case(np.linalg.matrix_norm, [R(2, 3, 4)], complex=True),
    Case(np.linalg.matrix_norm, [R(3, 4)], kwargs=dict(ord=1), complex=True),
    Case(np.linalg.matrix_norm, [R(2, 3, 4)], kwargs=dict(ord=np.inf, keepdims=True), complex=True),
    Case(np.einsum, [C("ij,jk->ik"), R(2, 3), R(3, 4)], (1, 2), complex=True, rule=varargs_rule(np.einsum)),
    Case(np.einsum, [C("ij,jk"), R(2, 3), R(3, 4)], (1, 2), complex=True, rule=varargs_rule(np.einsum),
         note="implicit output"),
    Case(np.einsum, [C("bij,bjk->bik"), R(2, 2, 3), R(2, 3, 4)], (1, 2), complex=True,
         rule=varargs_rule(np.einsum)),
    Case(np.einsum, [C("ij->i"), R(2, 3)], (1,), complex=True, rule=varargs_rule(np.einsum),
         note="an index summed in one operand only"),
    Case(np.einsum, [C("...ij,...j->...i"), R(2, 3, 4), R(1, 4)], (1, 2), complex=True,
         rule=varargs_rule(np.einsum), note="ellipsis with broadcasting"),
    Case(np.einsum, [C("i,j,k->ijk"), R(2), R(3), R(4)], (1, 2, 3), rule=varargs_rule(np.einsum)),
    Case(np.einsum, [C("ij,ij->"), R(2, 3), R(2, 3)], (1, 2), complex=True, rule=varargs_rule(np.einsum)),
    Case(nops.einsum_list, [C("ij,jk->ik"), R(2, 3), R(3, 4)], (1, 2), complex=True,
         fn=lambda sub, a, b: nops.einsum_list(sub, [a, b]),
         rule=lambda g, ans, sub, a, b: tuple(lookup(nops.einsum_list).fn(g, ans, sub, [a, b]))),
    Case(np.linalg.cholesky, [lambda rng, c: spd(rng, c, (3, 3))], complex=True),
    Case(nops.einsum_list, [C("ij,jk->ik"), R(2, 3), R(3, 4)], (1, 2), complex=True,
         fn=lambda sub, a, b: nops.einsum_list(sub, [a, b]),
         rule=lambda g, ans, sub, a, b: tuple(lookup(nops.einsum_list).fn(g, ans, sub, [a, b]))),
    Case(np.linalg.cholesky, [lambda rng, c: spd(rng, c, (2, 3, 3))], complex=True),
    Case(nops.einsum_list, [C("ij,jk->ik"), R(2, 3), R(3, 4)], (1, 2), complex=True,
         fn=lambda sub, a, b: nops.einsum_list(sub, [a, b]),
         rule=lambda g, ans, sub, a, b: tuple(lookup(nops.einsum_list).fn(g, ans, sub, [a, b]))),
    Case(np.linalg.cholesky, [lambda rng, c: spd(rng, c, (3, 3))], kwargs=dict(upper=True), complex=True),
    Case(np.cross, [R(3), R(2, 3)], (0, 1), complex=True),
    Case(np.diag, [R(3)], complex=True),
    Case(np.diag, [R(3)], kwargs=dict(k=-1)),
    Case(np.diag, [R(3, 4)], complex=True),
    Case(np.diag, [R(3, 4)], kwargs=dict(k=2), complex=True),
    Case(np.diagonal, [R(3, 4)], complex=True),
    Case(np.diagonal, [R(2, 3, 4)], kwargs=dict(offset=-1, axis1=2, axis2=1), complex=True),
    Case(np.diagonal, [R(3, 2, 4)], kwargs=dict(offset=1, axis1=0, axis2=2)),
    Case(np.triu, [R(3, 4)], complex=True),
    Case(np.tril, [R(2, 3, 3)], kwargs=dict(k=-1), complex=True),
    Case(np.roll, [R(2, 3), C(1)], complex=True),
    Case(np.roll, [R(2, 3), C((1, -2))], kwargs=dict(axis=(0, 1))),
    Case(np.diff, [R(2, 5)], complex=True),
    Case(np.diff, [R(4, 3)], kwargs=dict(n=2, axis=0), complex=True),
    Case(np.diff, [R(2, 5)], kwargs=dict(prepend=0.5, append=np.ones((2, 2)))),
    Case(np.diff, [R(2, 5), C(1), C(-1), R(2, 1), R(2, 2)], wrt=(0, 3, 4), complex=True),
    Case(np.diff, [R(4, 3), C(2), C(0), R(), R(1, 3)], wrt=(0, 3, 4)),
    Case(np.sort, [R(2, 5)]),
    Case(np.sort, [R(3, 4)], kwargs=dict(axis=0)),
    Case(np.sort, [R(3, 4)], kwargs=dict(axis=None)),
    Case(np.take_along_axis, [R(3, 4), C(np.array([[0, 0, 3], [1, 2, 2], [3, 3, 3]]))], complex=True),
    Case(np.take_along_axis, [R(3, 4), C(np.array([[0, 2, 1, 2]]))], kwargs=dict(axis=0)),
    Case(np.logaddexp, [R(2, 3, lo=-3, hi=3), R(3, lo=-3, hi=3)], (0, 1)),
    Case(np.logaddexp2, [R(2, 3, lo=-3, hi=3), R(3, lo=-3, hi=3)], (0, 1)),
    Case((np.deg2rad, np.radians, np.rad2deg, np.degrees), [R(2, 3)]),
    Case((operator.mod, np.mod, np.remainder), [R(2, 3, lo=-5, hi=5), R(3, lo=0.7, hi=2)], (0, 1)),
    Case((operator.mod, np.mod), [R(2, 3, lo=-5, hi=5), R(3, lo=-2, hi=-0.7)], (0, 1), note="negative divisor"),
    Case(np.fmod, [R(2, 3, lo=-5, hi=5), R(3, lo=-2, hi=-0.7)], (0, 1)),
    Case(np.sinc, [R(2, 3, lo=-2, hi=2)], complex=True),
    Case(np.nan_to_num, [fixed([[1.0, np.nan, -2.0], [np.nan, 0.5, 0.25]])]),
    Case(np.nansum, [fixed([[1.0, np.nan, -2.0], [0.3, 0.5, 0.7]])], kwargs=dict(axis=1)),
    Case(np.nansum, [R(2, 3)], complex=True),
    Case(np.nanmean, [fixed([[1.0, np.nan, -2.0], [0.3, 0.5, 0.7]])], kwargs=dict(axis=1, keepdims=True)),
    Case(np.nanmean, [R(2, 3)], complex=True),
    Case(np.ptp, [R(2, 3, 4)]),
    Case(np.ptp, [R(2, 3, 4)], kwargs=dict(axis=1, keepdims=True)),
    Case(np.average, [R(2, 3)], complex=True),
    Case(np.average, [R(2, 3), C(1), R(3, lo=0.5, hi=1)], (0, 2), complex=True, note="1-D weights along axis"),
    Case(np.average, [R(2, 3), C(None), R(2, 3, lo=0.5, hi=1)], (0, 2), kwargs=dict(keepdims=True)),
    Case(np.kron, [R(2, 3), R(2, 2)], (0, 1), complex=True),
    Case(np.kron, [R(3), R(2, 2)], (0, 1), complex=True),
    Case(np.linalg.matrix_power, [R(3, 3), C(3)], complex=True),
    Case(np.linalg.matrix_power, [R(2, 3, 3), C(0)]),
    Case(np.linalg.matrix_power, [M(3, 3), C(-2)], complex=True),
    Case(np.linalg.eigh, [lambda rng, c: spd(rng, False, (3, 3))], fn=eigh_stacked, rule=eigh_rule,
         note="real symmetric; eigenvectors through a sign-invariant loss"),
    Case(np.linalg.eigh, [lambda rng, c: spd(rng, False, (2, 3, 3))], fn=eigh_stacked, rule=eigh_rule,
         kwargs=dict(UPLO="U")),
    Case(np.linalg.eigvalsh, [lambda rng, c: spd(rng, c, (3, 3))], complex=True),
    Case(np.linalg.eigvalsh, [lambda rng, c: spd(rng, c, (2, 3, 3))], kwargs=dict(UPLO="U"), complex=True),
    Case(np.linalg.svd, [R(3, 4)], kwargs=dict(compute_uv=False), complex=True),
    Case(np.linalg.svdvals, [R(2, 4, 3)], complex=True),
    Case(np.full, [C((2, 3)), R(3)], (1,), complex=True),
    Case(np.full_like, [C(np.zeros((2, 3))), R()], (1,), complex=True),
    Case(np.pad, [R(2, 3), C(((1, 0), (2, 1)))], complex=True),
    Case(np.pad, [R(2, 3), C(2)], kwargs=dict(mode="reflect"), complex=True),
    Case(np.pad, [R(4), C((3, 2))], kwargs=dict(mode="wrap")),
    Case(np.pad, [R(2, 3), C(1)], kwargs=dict(mode="edge")),
    Case(np.pad, [R(2, 3), C(((0, 1), (2, 0)))], kwargs=dict(mode="symmetric")),
    Case(np.interp, [R(7, lo=-0.5, hi=3.5, real=True), C(np.array([0.0, 1.0, 2.5, 3.0])), R(4)], (0, 1, 2),
         complex=True, note="traced knots xp too (issue 7)"),
    Case(np.interp, [R(2, 3, lo=-0.5, hi=3.5), C(np.array([0.0, 1.0, 2.5, 3.0])), R(4), C(-1.0), C(None)], (0, 1, 2)),
    Case(np.convolve, [R(5), R(3)], (0, 1), complex=True),
    Case(np.convolve, [R(3), R(5)], (0, 1), kwargs=dict(mode="same"), complex=True),
    Case(np.convolve, [R(5), R(2)], (0, 1), kwargs=dict(mode="same")),
    Case(np.convolve, [R(5), R(3)], (0, 1), kwargs=dict(mode="valid"), complex=True),
    Case(np.convolve, [R(3), R()], (0, 1), complex=True, note="a 0-d v: numpy's one-entry vector (fuzz50 F3)"),
    Case(np.convolve, [R(), R(3)], (0, 1), kwargs=dict(mode="same"), note="a 0-d a"),
    Case(np.correlate, [R(5), R(3)], (0, 1), complex=True),
    Case(np.correlate, [R(3), R(5)], (0, 1), kwargs=dict(mode="full"), complex=True),
    Case(np.correlate, [R(4), R(4)], (0, 1), kwargs=dict(mode="same"), complex=True),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(ord=2), complex=True, note="largest singular value"),
    Case(np.linalg.norm, [R(3, 4)], kwargs=dict(ord=-2), complex=True),
    Case(np.linalg.norm, [R(3, 2, 4)], kwargs=dict(ord="nuc", axis=(2, 0)), complex=True),
    Case(np.linalg.matrix_norm, [R(2, 3, 4)], kwargs=dict(ord=2, keepdims=True), complex=True),
    Case(float, [R()]),
    Case((builtins.max, builtins.min), [R(), R(), R()], (0, 1, 2), rule=varargs_rule(builtins.max)),
    Case((builtins.max, builtins.min), [R(3)], fn=lambda x: builtins.max(list(x)),
         rule=lambda g, ans, x: np.array(lookup(builtins.max).fn(g, ans, list(x))[0]), note="one iterable"),
    Case(builtins.sum, [R(2, 3), R(3), R()], (0, 1, 2), fn=lambda *xs: builtins.sum(xs[:2], xs[2]),
         rule=lambda g, ans, *xs: tuple(lookup(builtins.sum).fn(g, ans, list(xs[:2]), xs[2])[0])
         + (lookup(builtins.sum).fn(g, ans, list(xs[:2]), xs[2])[1],), complex=True),
    Case(nops.scale_each, [R(3), C([np.ones(3), [np.full(3, 2.0), np.zeros(1)]])], complex=True,
         fn=lambda grad, w: flat_nested(nops.scale_each(grad, w)),
         rule=lambda g, ans, grad, w: lookup(nops.scale_each).fn(unflat_nested(g, w), ans, grad, w)),
    Case(nops.weighted_sum, [R(3), R(3), R(3), C([np.ones(3), [np.full(3, 2.0), np.arange(3.0)]])],
         (0, 1, 2), complex=True,
         fn=lambda a, b, c, w: nops.weighted_sum([a, [b, c]], w),
         rule=lambda g, ans, a, b, c, w: tuple(flat_list(lookup(nops.weighted_sum).fn(g, ans, [a, [b, c]], w)))),
    Case(nops.extremum_adjoint, [R(3), C([[np.full(3, 0.5), np.full(3, 0.5)]])], complex=True,
         fn=lambda grad, plan: nops.extremum_adjoint(grad, plan)[0][1],
         rule=lambda g, ans, grad, plan: lookup(nops.extremum_adjoint).fn([[np.zeros_like(g), g]], ans, grad, plan),
         note="shares (numbers)"),
    Case(nops.extremum_adjoint, [R(3), C(nops.ExtremumChoice((1, 2, True, (np.zeros(3), np.zeros(3)))))], complex=True,
         fn=lambda grad, plan: nops.extremum_adjoint(grad, plan)[0][1],
         rule=lambda g, ans, grad, plan: lookup(nops.extremum_adjoint).fn([[np.zeros_like(g), g]], ans, grad, plan),
         note="the item returned alone (tuples, arrays)"),
    Case(nops.extremum_transpose, [R(3), R(3), C(nops.ExtremumChoice((1, 2, False, (support.ZERO, support.ZERO))))], (0, 1), complex=True,
         fn=lambda a, b, p: nops.extremum_transpose([a, b], p),
         rule=lambda g, ans, a, b, p: tuple(_zeros_for(lookup(nops.extremum_transpose).fn(g, ans, [a, b], p), a))),
    Case(nops.extremum_transpose, [R(3), R(3), C([np.ones(3), np.zeros(3)])], (0, 1), complex=True,
         fn=lambda a, b, w: nops.weighted_sum([a, b], w),
         rule=lambda g, ans, a, b, w: tuple(lookup(nops.extremum_transpose).fn(g, ans, [a, b], w))),
    # shape
    Case(np.transpose, [R(2, 3)], complex=True),
    Case(np.transpose, [R(2, 3, 4), C((1, -1, 0))], complex=True, note="negative axes"),
    Case((np.matrix_transpose, np.linalg.matrix_transpose), [R(2, 3, 4)], complex=True),
    Case(np.reshape, [R(2, 3), C((3, 2))], complex=True),
    Case(np.reshape, [R(2, 3), C(-1)], kwargs=dict(order="F"), complex=True),
    Case(np.ravel, [R(2, 3)], complex=True),
    Case(np.ravel, [R(2, 3)], kwargs=dict(order="F")),
    Case(np.copy, [R(2, 3)], complex=True),
    Case(np.squeeze, [R(2, 1, 3, 1)], complex=True),
    Case(np.squeeze, [R(2, 1, 3, 1)], kwargs=dict(axis=1)),
    Case(np.expand_dims, [R(2, 3), C((0, 2))], complex=True),
    Case(np.broadcast_to, [R(3, 1), C((2, 3, 4))], complex=True),
    Case(np.swapaxes, [R(2, 3, 4), C(0), C(2)], complex=True),
    Case(np.moveaxis, [R(2, 3, 4), C(0), C(-1)], complex=True),
    Case(np.moveaxis, [R(2, 3, 4), C((0, 1)), C((2, 0))]),
    Case(np.flip, [R(2, 3)], complex=True),
    Case(np.flip, [R(2, 3)], kwargs=dict(axis=1)),
    Case(np.fliplr, [R(2, 3)], complex=True),
    Case(np.flipud, [R(2, 3)], complex=True),
    Case(np.tile, [R(2, 3), C((2, 1))], complex=True),
    Case(np.tile, [R(2, 3), C(2)]),
    Case(np.tile, [R(3), C((2, 1, 3))]),
    Case(np.repeat, [R(2, 3), C(2)], complex=True),
    Case(np.repeat, [R(2, 3), C([2, 0, 1])], kwargs=dict(axis=1)),
    Case(np.repeat, [R(2, 3), C(3)], kwargs=dict(axis=-2)),
    Case(np.repeat, [R(), C(2)], kwargs=dict(axis=0), complex=True, note="0-d along axis 0 (fuzz50 F4)"),
    Case(np.take, [R(2, 3), C([0, 4, 4])], complex=True),
    Case(np.take, [R(2, 3), C([[2, 0], [2, 2]])], kwargs=dict(axis=1)),
    Case(np.take, [R(2, 3), C([7, -3, 0, 2])], kwargs=dict(mode="clip"), note="clip: -3 reads entry 0"),
    Case(np.take, [R(2, 3), C([[4, -4], [1, 3]])], kwargs=dict(axis=1, mode="wrap")),
    Case(np.take, [R(), C([0, 0])], kwargs=dict(axis=0), complex=True, note="0-d along axis 0 (fuzz50 F4)"),
    Case(np.take, [R(), C([2, -1])], kwargs=dict(axis=-1, mode="wrap"), note="0-d, wrap"),
    Case(np.concatenate, [R(2, 3), R(1, 3), R(4, 3)], complex=True, **seq_in(np.concatenate, 3)),
    Case(np.concatenate, [R(2, 3), R(2, 1)], kwargs=dict(axis=1), **seq_in(np.concatenate, 2)),
    Case(np.concatenate, [R(2, 3), R(4)], kwargs=dict(axis=None), **seq_in(np.concatenate, 2)),
    Case(np.hstack, [R(2), R(3), R()], complex=True, **seq_in(np.hstack, 3)),
    Case(np.hstack, [R(2, 2), R(2, 3)], **seq_in(np.hstack, 2)),
    Case(np.vstack, [R(3), R(2, 3)], complex=True, **seq_in(np.vstack, 2)),
    Case(np.dstack, [R(3), R(1, 3, 2)], **seq_in(np.dstack, 2)),
    Case(np.column_stack, [R(3), R(3, 2)], **seq_in(np.column_stack, 2)),
    Case(np.stack, [R(2, 3), R(2, 3)], complex=True, **seq_in(np.stack, 2)),
    Case(np.stack, [R(2, 3), R(2, 3), R(2, 3)], kwargs=dict(axis=-1), **seq_in(np.stack, 3)),
    Case(np.split, [R(6, 2), C(3)], complex=True, **seq_out(np.split)),
    Case(np.split, [R(2, 6), C([1, 4])], kwargs=dict(axis=1), **seq_out(np.split)),
    Case(np.array_split, [R(7), C(3)], complex=True, **seq_out(np.array_split)),
    Case(np.unstack, [R(3, 2)], complex=True, **seq_out(np.unstack)),
    Case(np.unstack, [R(3, 2)], kwargs=dict(axis=1), **seq_out(np.unstack)),
    Case(np.atleast_1d, [R()], complex=True, rule=first_of(np.atleast_1d)),
    Case(np.atleast_2d, [R(3)], complex=True, rule=first_of(np.atleast_2d)),
    Case(np.atleast_3d, [R(2, 3)], rule=first_of(np.atleast_3d)),
    Case(np.atleast_2d, [R(3), R()], (0, 1), fn=lambda *a: flat(np.atleast_2d(*a)),
         rule=lambda g, ans, *a: tuple(lookup(np.atleast_2d).fn(unflat(g, np.atleast_2d(*a)),
                                                                np.atleast_2d(*a), *a))),
    # array creation and casting
    Case(np.array, [R(3), R(3)], (0, 1), complex=True, fn=array_fn, rule=array_rule),
    Case((np.asarray, np.asanyarray, np.ascontiguousarray), [R(2, 3)], complex=True),
    Case(np.array, [R(2, 3)], kwargs=dict(ndmin=3), complex=True),
    Case(nops.astype, [R(2, 3), C(np.float64)], complex=True),
    Case(nops.astype, [R(2, 3), C(np.complex128)], note="real to complex"),
    Case(nops.astype, [R(2, 3, lo=0.1, hi=0.9), C(np.int64)], note="integral: zero gradient"),
    Case(nops.astype_adjoint, [R(2, 3), R(2, 3), C(np.float64)], complex=True),
    Case(nops.reshape_method, [R(2, 3), C(3), C(2)], complex=True),
    Case(nops.reshape_method, [R(2, 3), C((6,))], kwargs=dict(order="F")),
    Case(nops.transpose_method, [R(2, 3, 4), C(2), C(0), C(1)], complex=True),
    Case(nops.transpose_method, [R(2, 3, 4), C((2, -3, 1))]),
    Case(nops.transpose_method, [R(2, 3)]),
    Case(np.linspace, [R(), R(), C(5)], wrt=(0, 1)),
    Case(np.linspace, [R(2), R(3, 1), C(4)], wrt=(0, 1), kwargs=dict(endpoint=False, axis=1)),
    Case(np.linspace, [R(2), R(2), C(1)], wrt=(0, 1), kwargs=dict(axis=-1)),
    Case(np.linspace, [R(2), R(2), C(3)], wrt=(0, 1), complex=True),
    Case(nops.tolist_method, [R(2, 3)], complex=True, fn=lambda a: np.array(nops.tolist_method(a)),
         rule=lambda g, ans, a: nops._tolist_method_rule(np.asarray(g).tolist(), ans, a)),
    Case(nops.nested_adjoints, [R(2, 3)], complex=True, fn=lambda a: np.array(nops.nested_adjoints(a)),
         rule=lambda g, ans, a: nops._nested_adjoints_rule(nops.nested_adjoints(np.asarray(g)), ans, a)),
    Case(nops.nested_to_array, [R(2, 3), C(np.zeros((2, 3)))], complex=True,
         fn=lambda g, a: nops.nested_to_array(np.asarray(g).tolist(), a),
         rule=lambda g, ans, adjoints, a: np.array(nops._nested_to_array_rule(g, ans, adjoints, a))),
    Case(nops.item_method, [R(1, 1)], complex=True),
    Case(nops.item_method, [R(2, 3), C(4)]),
    Case(nops.item_method, [R(2, 3), C(-1)]),
    Case(nops.item_method, [R(2, 3), C(1), C(2)], complex=True),
    Case(nops.item_method, [R(2, 3), C((1, -2))]),
    # helper ops of numpy_ops
    Case(nops.reduction_broadcast, [R(3), C(np.zeros((2, 3))), C(0), C(False)], complex=True),
    Case(nops.reduction_broadcast, [R(2, 1), C(np.zeros((2, 3))), C(1), C(True)]),
    Case(nops.reduction_sum, [R(2, 3), C(np.zeros(3)), C(0), C(False)], complex=True),
    Case(nops.reduction_sum, [R(2, 3), C(np.zeros((2, 1))), C(1), C(True)]),
    Case(nops.fill_zero, [R(2, 3), C(np.zeros((2, 3)))], complex=True),
    Case(nops.unconcatenate, [R(5, 2), C(LIKES), C(0)], complex=True, **seq_out(nops.unconcatenate)),
    Case(nops.unconcatenate, [R(3, 3), C([np.zeros((3, 2)), np.zeros(3)]), C(1), C("column")],
         **seq_out(nops.unconcatenate)),
    Case(nops.concatenate_pieces, [R(2, 2), R(3, 2), C(LIKES), C(0)], complex=True,
         **seq_in(nops.concatenate_pieces, 2)),
    Case(nops.concatenate_pieces, [R(2, 2), R(3, 2), C(LIKES), C(None)], **seq_in(nops.concatenate_pieces, 2)),
    Case(nops.unstack_pieces, [R(2, 3), C([np.zeros(3), np.zeros(3)]), C(0)], complex=True,
         **seq_out(nops.unstack_pieces)),
    Case(nops.stack_pieces, [R(3), R(3), C([np.zeros(3)] * 2), C(1)], complex=True,
         **seq_in(nops.stack_pieces, 2)),
    Case(nops.reshape_pieces, [R(6), R(2, 2)], (0, 1), complex=True, fn=reshape_pieces_fn,
         rule=reshape_pieces_rule),
    Case(nops.reshape_pieces_transpose, [R(2, 3), R(4)], (0, 1), complex=True, fn=reshape_transpose_fn,
         rule=reshape_transpose_rule),
    Case(nops.reshape_pieces_transpose, [R(4)], complex=True, fn=reshape_transpose_bare_fn,
         rule=reshape_transpose_bare_rule, note="one bare piece"),
    Case(support.vararg_adjoints, [R(2), R(2, 2)], (0, 1), complex=True, fn=vararg_adjoints_fn,
         rule=vararg_adjoints_rule),
    Case(support.inplace_result, [R(2, 3), C(np.zeros((2, 3)))], complex=False),
    Case(nops.array_adjoint, [R(3, 2)], complex=True, fn=array_adjoint_fn, rule=array_adjoint_rule),
    Case(nops.array_pieces, [R(2), R(2), R(2)], (0, 1, 2), complex=True, fn=array_pieces_fn,
         rule=array_pieces_rule),
    # the one-pass adjoint of maximum/minimum (relu): no ties, and ties (weight 1/2), broadcast
    Case(nops.tie_scaled, [R(3, 2), C(np.array([[0.5, -1.0], [2.0, -0.25], [-3.0, 1.5]])), C(0.0)],
         complex=True),
    Case(nops.tie_scaled, [R(3, 2), C(np.array([[0.0, 1.0], [-1.0, 0.0], [2.0, 0.0]])), C(np.zeros(2))],
         note="ties"),
    # the one-call adjoint of max/min over an axis: no ties, ties (shared weights), no keepdims, all axes
    Case(nops.extremum_scaled, [R(3, 1), C(np.array([[0.5, -1.0], [2.0, -0.25], [-3.0, 1.5]])),
                                C(np.array([[0.5], [2.0], [1.5]])), C(1), C(True)], complex=True),
    Case(nops.extremum_scaled, [R(3), C(np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0]])),
                                C(np.array([1.0, 2.0, 3.0])), C(-1), C(False)], note="ties"),
    Case(nops.extremum_scaled, [R(), C(np.array([[0.5, -1.0], [2.0, -0.25]])), C(np.float64(2.0)), C(None),
                                C(False)], note="all axes"),
    # helper ops of support
    Case(support.unbroadcast, [R(2, 3, 4), C(np.zeros((3, 1)))], complex=True),
    Case(support.broadcast_like, [R(3, 1), C(np.zeros((2, 3, 4)))], complex=True),
    Case(support.reshaped_like, [R(12), C(np.zeros((3, 4)))], complex=True),
    Case(support.index_adjoint, [R(3), C(np.zeros(5)), C((np.array([1, 1, 4]),))], complex=True),
    Case(support.index_adjoint, [R(2, 2), C(np.zeros((4, 3))), C((slice(1, 3), slice(0, 2)))]),
    # (fancy index: the out-of-place sum; the in-place one is tested in test_issue8_optimize.py)
    Case(support.index_add, [R(5), R(3), C(np.zeros(5)), C((np.array([1, 1, 4]),))]),
    Case(support.unbroadcast_product, [R(2, 3, 4), R(2, 1, 4), C(np.zeros((3, 1)))]),
    Case(support.unbroadcast_product, [R(3, 4), R(3, 4), C(np.zeros(4))]),
    Case(support.getitem_or_zero, [R(4, 3), C((slice(1, 3), 2))], complex=True),
    # (a Table's rows: tests/test_redteam_dec9a.py, to second order)
    Case(support.getitem_of_adjoint, [R(4, 3), C(np.zeros((4, 3))), C((slice(1, 3), 2))], complex=True),
    Case(support.item_unselected, [R(2), C(np.zeros((4, 3))), C((slice(1, 3), 2))], complex=True),
    Case(support.setitem, [R(4, 3), C((slice(1, 3), 0)), R(2)], (0, 2), complex=True),
    Case(support.setitem, [R(4, 3), C(1), R(1)], (0, 2), note="broadcast value"),
    Case(support.zero_at, [R(4, 3), C((0, slice(None)))], complex=True),
    Case(support.add_grad, [R(2, 3), R(2, 3)], (0, 1), complex=True),
    Case(support.add_index_grad, [R(5), R(2), C(np.zeros(5)), C(slice(1, 3))], (0, 1), complex=True),
    Case(support.add_index_grad, [R(4, 3), R(3), C(np.zeros((4, 3))), C(2)], (0, 1)),
    Case(support.total, [R(3, 2)], complex=True),
    Case(support.point_total, [R(4), C(np.zeros((4, 3))), C(0)],
         note="dllaplacian's sum of u (a complex u is refused: test_dtypes_dec26.py)"),
    Case(support.point_weighted_total, [R(4), C(np.zeros((4, 3))), C(0)], complex=True,
         note="dllaplacian's independence check: a sum of u weighted point by point"),
    Case(support.after_check, [R(4, 3), C(None)], complex=True,
         note="dllaplacian's value after its independence checks (rt.independent_point_gradient / _laplacian)"),
    Case(support.conj_of, [R(3, 2)], complex=True),
    Case(support.attribute_adjoint_any, [R(3, 2), C(np.zeros((2, 3))), C("T")]),
    Case(support.attribute_adjoint_any_transpose, [R(2, 3), C(np.zeros((2, 3))), C("T")]),
    Case(support.adjoint_or_zeros, [R(3, 2), C(np.zeros((3, 2)))], complex=True),
    Case(support.copy_list, [R(2), R(2, 3)], complex=True, **seq_in(support.copy_list, 2, out_list=True)),
    Case(list, [R(3, 2)], complex=True, **seq_out(list)),
    Case(tuple, [R(3, 2)], complex=True, **seq_out(tuple)),
    Case(support.sequence_adjoint, [R(3), R(3)], complex=True,
         fn=lambda a, b: support.sequence_adjoint([a, b], np.zeros((2, 3))),
         rule=lambda g, ans, a, b: tuple(support.list_of_rows(g, np.zeros((2, 3))))),
    Case(nops.stacked_arguments, [R(), R(), R()], wrt=(0, 1, 2), complex=True,
         fn=lambda a, b, c: nops.stacked_arguments([[a, b, c]], (np.zeros(3),))[0],
         rule=lambda g, ans, a, b, c: tuple(nops.unstacked_arguments([g], (np.zeros(3),))[0])),
    Case(nops.unstacked_arguments, [R(3)], complex=True,
         fn=lambda a: flat(nops.unstacked_arguments([a], (np.zeros(3),))[0]),
         rule=lambda g, ans, a: nops.stacked_arguments([unflat(g, [np.zeros(())] * 3)], (np.zeros(3),))[0]),
    Case(support.list_of_rows, [R(2, 3)], complex=True,
         fn=lambda a: flat(support.list_of_rows(a, np.zeros((2, 3)))),
         rule=lambda g, ans, a: support.sequence_adjoint(unflat(g, [np.zeros(3), np.zeros(3)]), np.zeros((2, 3)))),
    Case(support.item_adjoint, [R(4, 3), C((1, slice(None))), C(np.zeros(3))], complex=True),
    Case(support.project, [R(2, 3), C(np.zeros((2, 3)))], complex=True),
    Case(support.project, [R(2, 3), C(np.zeros((1, 3)))], note="sums broadcast axes"),
    Case(support.project_untraced, [R(2, 3), C(np.zeros((2, 3))), C(())], complex=True,
         note="no plain leaf: project itself"),
    Case(support.list_pad, [R(2), R(2, 3), C(1), C(2)], complex=True, **seq_in(support.list_pad, 2, out_list=True)),
    Case(support.list_head, [R(2), R(3), R(), C([0.0, 0.0])], complex=True,
         **seq_in(support.list_head, 3, out_list=True)),
    Case(support.list_tail, [R(2), R(3), R(), C([0.0])], complex=True,
         **seq_in(support.list_tail, 3, out_list=True)),
    Case(support.attribute_adjoint, [R(2, 3)], complex=True, fn=attribute_fn, rule=attribute_rule),
    Case(support.drop_attribute, [R(2, 3)], complex=True, fn=drop_fn, rule=drop_rule),
    Case(support.getattr_or_zero, [R(2, 3)], complex=True, fn=getattr_fn, rule=getattr_rule),
    # types.SimpleNamespace(a=..., b=...) built in differentiated code (sct/namespaces.py)
    Case(support.simple_namespace, [R(2), R(2, 3)], (0, 1), complex=True, fn=namespace_fn, rule=namespace_rule),
    Case(support.namespace_values, [R(2), R(2, 3)], (0, 1), complex=True, fn=namespace_values_fn,
         rule=namespace_values_rule),
    Case(support.namespace_fields, [R(2), R(2, 3)], (0, 1), complex=True, fn=namespace_fields_fn,
         rule=namespace_fields_rule),
    # dlgradient with respect to parts of structures (issue 6, item 1)
    Case(support.select_item, [R(4, 3), C(np.zeros((4, 3))), C((slice(1, 3), 2))], complex=True),
    Case(support.select_attribute, [R(2, 3), C(np.zeros((2, 3))), C("T")], complex=True),
    Case(support.unselect_attribute, [R(3, 2), C(np.zeros((2, 3))), C("T")], complex=True),
    Case(support.project_transpose, [R(1, 3), C(np.zeros((2, 3)))], complex=True),
    Case(support.join_gradients, [R(2), R(2, 3), R(3)], (0, 1, 2), complex=True, fn=join_fn, rule=join_rule),
    Case(support.split_gradients, [R(2), R(3)], (0, 1), complex=True, fn=split_fn, rule=split_rule),
    Case(support.join_gradients_like, [R(2), R(3)], (0, 1), complex=True, fn=join_like_fn,
         rule=join_like_rule),
    Case(support.at_least_1d, [R()], complex=True),
    Case(support.at_least_1d, [R(2, 3)], complex=True),
    # the models of in-place operations (issue 6, item 5)
    Case(support.sorted_value, [fixed([0.3, -0.2, 0.9, 0.1])]),
    Case(support.sorted_value, [fixed([[0.3, -0.2], [0.9, 0.1], [-0.5, 0.4]]), C(0)], note="axis 0"),
    Case(support.unsort, [R(4), C(np.array([0.3, -0.2, 0.9, 0.1]))], complex=True),
    Case(support.resort, [R(4), C(np.array([0.3, -0.2, 0.9, 0.1]))], complex=True),
    Case(support.filled, [C(np.zeros((2, 3))), R()], (1,)),
    Case(support.reversed_value, [R(2), R(3), R()], complex=True,
         **seq_in(support.reversed_value, 3, out_list=True)),
    Case(support.extended, [R(2), R(3), R()], complex=True, fn=extended_fn, rule=extended_rule,
         wrt=(0, 1, 2)),
    Case(support.part_adjoint, [R(2), R(3), R(), C(1), C(3), C([0.0, 0.0])], complex=True,
         **seq_in(support.part_adjoint, 3, out_list=True)),
    Case(support.scalar_list_array, [R(), R(), R()], complex=True, note="a list of numbers: an array",
         **seq_in(support.scalar_list_array, 3)),
    Case(support.scalar_list_array, [R(2, 3)], complex=True, note="an array as it is"),
    Case(support.concat_operand, [R(2), R(3), R()], (1, 2), complex=True, fn=concat_operand_fn,
         rule=concat_operand_rule, note="xs += (a, b) of a list xs: a list of the tuple's items"),
    Case(support.part_adjoint, [R(), R(), R(), C(1), C(3), C(np.zeros(2))], complex=True,
         note="the part given to an array: an array", **seq_in(support.part_adjoint, 3)),
    Case(support.sorted_array, [fixed([[0.3, -0.2], [0.9, 0.1], [-0.5, 0.4]]), C(0)], note="axis 0"),
    Case(support.reversed_adjoint, [R(2), R(3), R()], complex=True,
         **seq_in(support.reversed_adjoint, 3, out_list=True)),
    Case(support.without_position, [R(2), R(3), R(), C(1)], complex=True,
         **seq_in(support.without_position, 3, out_list=True)),
    Case(support.zero_at_position, [R(2), R(3), C(1)], complex=True,
         **seq_in(support.zero_at_position, 2, out_list=True)),
    Case(support.without_key, [R(2), R(3)], (0, 1), complex=True, fn=without_key_fn, rule=without_key_rule),
    Case(support.inserted, [R(2), R(3), R()], complex=True, fn=inserted_fn, rule=inserted_rule, wrt=(0, 1, 2)),
    Case(support.removed_at, [R(2), R(3), R(), C([0.0, 0.0]), C(1)], complex=True,
         **seq_in(support.removed_at, 3, out_list=True)),
    Case(support.item_at, [R(2), R(3), R(), C([0.0, 0.0]), C(-1)], complex=True,
         **seq_in(support.item_at, 3)),
    Case(support.masked, [R(2, 3), C(np.array([[True, False, True], [False, True, True]]))], complex=True),
    Case(support.add_at, [R(4), C(np.array([0, 2, 0])), R(3)], (0, 2), complex=True),
    Case(support.subtract_at, [R(4), C(np.array([0, 2, 0])), R(3)], (0, 2), complex=True),
    Case(support.into, [R(3), C(np.zeros((2, 3)))]),
    Case(support.into_where, [R(3), R(2, 3), C(np.array([[True, False, True], [False, True, True]]))], (0, 1)),
    Case(support.into_selected, [R(4), R(2, 3), C(np.array([[True, False, True], [False, True, True]]))], (0, 1),
         complex=True, note="ufunc(..., out=z, where=m): the selected results written into z"),
    Case(support.where_selected, [R(3), C(np.array([[True, False, True], [False, True, True]]))], complex=True,
         note="an argument broadcast to the mask's shape, its selected entries"),
    Case(support.where_selected, [R(), C(np.array([[True, False, True], [False, True, True]]))], complex=True,
         note="a 0-d argument as it is"),
    Case(support.where_selected_adjoint, [R(4), C(np.zeros(3)), C(np.array([[True, False, True], [False, True, True]]))],
         complex=True),
    Case(support.float64_tangent, [R(2, 3)], complex=True, note="forward mode's cast of a tangent (float64: as it is)"),
    Case(support.cast_through, [R(2, 3), C(np.zeros((2, 3))), R(2, 3)]),
    Case(support.cast_through, [R(2, 3), C(np.zeros((2, 3), dtype=np.int64)), R(2, 3)],
         note="an integer destination: no derivative"),
    Case(support.field_adjoint, [R(2, 3)], complex=True, fn=field_fn, rule=field_rule),
    Case(support.field_adjoint, [R(2, 3)], complex=True, fn=field_seq_fn, rule=field_seq_rule),
    Case(support.field_adjoint_transpose, [R(2, 3)], complex=True, fn=field_transpose_fn,
         rule=field_transpose_rule),
    # list and dict adjoints (issue 6: concatenation, repetition, copies)
    Case(support.concat_head, [R(2), R(3), R(), C([0.0, 0.0]), C([0.0])], complex=True,
         **seq_in(support.concat_head, 3, out_list=True)),
    Case(support.concat_head, [R(2, 3), C(np.zeros(3)), C(np.zeros((2, 3)))], complex=True, note="sum"),
    Case(support.concat_tail, [R(2), R(3), R(), C([0.0, 0.0]), C([0.0])], complex=True,
         **seq_in(support.concat_tail, 3, out_list=True)),
    Case(support.concat_tail, [R(2, 3), C(np.zeros((2, 3))), C(np.zeros((1, 3)))], complex=True, note="sum"),
    Case(support.concat_head_transpose, [R(2), R(3), C(None), C([0.0, 0.0]), C([0.0])], complex=True,
         **seq_in(support.concat_head_transpose, 2, out_list=True)),
    Case(support.concat_head_transpose, [R(3), C(np.zeros((2, 3))), C(np.zeros(3)), C(np.zeros((2, 3)))],
         complex=True, note="sum"),
    Case(support.concat_tail_transpose, [R(3), C(None), C([0.0, 0.0]), C([0.0])], complex=True,
         **seq_in(support.concat_tail_transpose, 1, out_list=True)),
    Case(support.concat_tail_transpose, [R(1, 3), C(np.zeros((2, 3))), C(np.zeros((2, 3))), C(np.zeros((1, 3)))],
         complex=True, note="sum"),
    Case(support.repeat_adjoint, [R(2), R(3), R(2), R(3), C([0.0, 0.0]), C(2)], complex=True,
         **seq_in(support.repeat_adjoint, 4, out_list=True, part=0)),
    Case(support.repeat_adjoint, [R(2, 3), C(np.zeros(3)), C(2)], complex=True, note="array times an int"),
    Case(support.repeat_adjoint, [R(2, 3), C(np.zeros(3)), R(3)], wrt=(0, 2), complex=True,
         note="array times an array: a product, differentiated in both factors"),
    # (rt.repeat_adjoint_transpose has no rule: it is differentiated from its source, both factors of
    # its product case; tests/test_third_order_repeat_dec15.py)
    Case((support.copy_value, copy.copy, support.deep_copy, copy.deepcopy), [R(2, 3)], complex=True),
    Case(support.listed, [R(3, 2)], complex=True, **seq_out(support.listed)),
    Case(support.tupled, [R(3, 2)], complex=True, **seq_out(support.tupled)),
    Case(dict, [R(2), R(3)], (0, 1), complex=True, fn=dict_fn, rule=dict_rule),
    Case(dict, [R(2), R(3)], (0, 1), fn=dict_pairs_fn, rule=dict_pairs_rule, note="pairs"),
    Case(support.ordered_dict, [R(2), R(3)], (0, 1), fn=ordered_dict_fn, rule=ordered_dict_rule,
         note="collections.OrderedDict(pairs) built inside (sct/ordered_dicts.py)"),
    Case(support.dict_source_adjoint, [R(2), R(3)], (0, 1), complex=True, fn=dict_source_fn,
         rule=dict_source_rule),
    Case(support.dict_source_transpose, [R(2), R(3)], (0, 1), complex=True, fn=dict_transpose_fn,
         rule=dict_transpose_rule),
    Case(support.dict_merged, [R(2), R(3), R(3)], (0, 1, 2), complex=True, fn=dict_merged_fn,
         rule=dict_merged_rule),
    Case(support.dict_part, [R(2), R(3)], (0, 1), complex=True, fn=dict_part_fn, rule=dict_part_rule),
    # issue 7: rounding has derivative zero (away from its jumps), sign of complex values is z / |z|
    Case((np.floor, np.ceil, np.rint, np.trunc, np.fix, np.round, np.around), [R(2, 3, lo=-3, hi=3)]),
    Case(np.round, [R(2, 3, lo=-3, hi=3)], kwargs=dict(decimals=1), rtol=0, atol=0, note="jumps 0.1 apart"),
    Case(np.sign, [R(2, 3, lo=0.2, hi=1)], complex=True),
    Case(np.heaviside, [R(2, 3, lo=0.2, hi=1), R(3)], (0, 1)),
    Case(np.heaviside, [fixed([[-1.5, 0.0, 2.0], [0.0, 0.7, -0.2]]), R(3)], (1,),   # x2 where x1 == 0
         rule=lambda g, ans, x1, x2: lookup(np.heaviside).fn(g, ans, x1, x2)[1]),
    # einsum: a repeated index in one operand, the sublist form
    Case(np.einsum, [C("ii->i"), R(3, 3)], (1,), complex=True, rule=varargs_rule(np.einsum)),
    Case(np.einsum, [C("ii"), R(3, 3)], (1,), complex=True, rule=varargs_rule(np.einsum), note="trace"),
    Case(np.einsum, [C("iij->j"), R(2, 2, 3)], (1,), complex=True, rule=varargs_rule(np.einsum)),
    Case(np.einsum, [C("iij,jk->ik"), R(2, 2, 3), R(3, 2)], (1, 2), complex=True, rule=varargs_rule(np.einsum)),
    Case(np.einsum, [C("...ii,i->...i"), R(2, 3, 3), R(3)], (1, 2), complex=True, rule=varargs_rule(np.einsum)),
    Case(np.einsum, [R(2, 3), C([0, 1]), R(3, 4), C([1, 2]), C([0, 2])], (0, 2), complex=True,
         rule=lambda g, ans, a, s, b, t, u: tuple(lookup(np.einsum).fn(g, ans, a, s, b, t, u)[0::2]),
         note="sublist form"),
    Case(np.einsum, [R(3, 3), C([0, 0])], (0,), rule=lambda g, ans, a, s: lookup(np.einsum).fn(g, ans, a, s)[0],
         note="sublist form, implicit output, repeated index"),
    # cross along any axis
    Case(np.cross, [R(3, 2), R(3, 1)], (0, 1), kwargs=dict(axis=0), complex=True),
    Case(np.cross, [R(2, 3), R(3, 2)], (0, 1), kwargs=dict(axisa=1, axisb=0, axisc=0), complex=True),
    Case(np.cross, [R(4, 3, 2), R(3, 1)], (0, 1), kwargs=dict(axisa=-2, axisb=0, axisc=1)),
    # peer corpus (Dec 2): where= and initial= of reductions, nan reductions, numpy 2 spellings
    Case(np.sum, [R(2, 3)], kwargs=dict(where=W23), complex=True),
    Case(np.sum, [R(2, 3)], kwargs=dict(axis=1, initial=2.0, where=W3, keepdims=True), complex=True),
    Case(np.mean, [R(2, 3)], kwargs=dict(where=W23), complex=True),
    Case(np.mean, [R(2, 3)], kwargs=dict(axis=1, where=W3), complex=True),
    Case(np.prod, [R(2, 3)], kwargs=dict(axis=1, initial=1.5, where=W23), complex=True),
    Case(np.prod, [R(2, 3)], kwargs=dict(initial=-2.0)),
    Case((np.max, np.amax), [R(3, 4)], kwargs=dict(axis=1, initial=0.0), note="initial wins in some rows"),
    Case((np.min, np.amin), [R(2, 3)], kwargs=dict(axis=0, initial=0.5, where=W23)),
    Case((np.nanmax, np.nanmin), [with_nan(3, 4)]),
    Case((np.nanmax, np.nanmin), [with_nan(3, 4)], kwargs=dict(axis=0, keepdims=True)),
    Case(np.nansum, [with_nan(2, 3)], kwargs=dict(axis=0, where=W23), complex=True),
    Case(np.nanmean, [with_nan(2, 3)], kwargs=dict(axis=1, where=W23), complex=True),
    Case(nops.where_masked, [R(2, 3), C(W23), C(2.0)], complex=True),
    Case(nops.where_branch, [R(2, 3), C(W23), C(np.ones((2, 3))), C(True)], complex=True),
    Case(support.unless_marker, [R(2, 3), C(np.ones((2, 3)))], complex=True),
    Case(support.sorted_array, [fixed([[0.3, -0.2], [0.9, 0.1], [-0.5, 0.4]]), C(0)], note="axis 0"),
    Case(support.reversed_adjoint, [R(2), R(3), R()], complex=True,
         **seq_in(support.reversed_adjoint, 3, out_list=True)),
    Case(nops.where_filled, [R(2, 3), C(W3), C(1.0)], complex=True),
    Case(nops.cast_kept, [R(2, 3), C(np.float32)], complex=True),
    Case(nops.cast_kept, [R(2, 3), C(np.int64)], note="an integer dtype: zeros"),
    Case(nops.input_as, [R(2, 3), C(np.float64)], complex=True, note="a complex input: its real part"),
    Case(nops.input_as, [R(2, 3), C(None)], complex=True),
    Case(nops.input_as, [R(2, 3), C(np.complex128)], complex=True),
    Case((np.prod, np.cumprod), [R(2, 3)], kwargs=dict(axis=1, dtype=np.float64), complex=True,
         note="complex input, real dtype: numpy reads its real part"),
    Case((np.var, np.std, np.nanvar, np.nanstd), [R(2, 3)], kwargs=dict(axis=0, dtype=np.float64), complex=True,
         note="complex input, real dtype: less the real part's mean"),
    Case(nops.initial_scaled, [R(2, 3), C(1.5)], complex=True),
    Case(nops.initial_scaled_back, [R(2, 3), C(-0.5)], complex=True),
    Case(np.nanprod, [with_nan(2, 4)], kwargs=dict(axis=1), complex=True),
    Case(np.nanprod, [with_nan(2, 3)], kwargs=dict(initial=2.0, where=W23)),
    Case(np.nanvar, [with_nan(3, 4)], kwargs=dict(axis=0, ddof=1)),
    Case(np.nanvar, [with_nan(3, 4)], complex=True),
    Case(np.nanstd, [with_nan(3, 4)], kwargs=dict(axis=1, keepdims=True)),
    Case(np.nancumsum, [with_nan(2, 4)], kwargs=dict(axis=1), complex=True),
    Case(np.nancumsum, [with_nan(2, 3)]),
    Case(np.quantile, [R(7), C(0.3)]),
    Case(np.quantile, [R(3, 5), C([0.2, 0.9])], kwargs=dict(axis=0), note="several quantiles"),
    Case(np.percentile, [R(2, 3, 4), C(25.0)], kwargs=dict(axis=(0, 2), keepdims=True)),
    Case(np.percentile, [R(6), C(40.0)], kwargs=dict(method="midpoint")),
    Case(np.nanmedian, [with_nan(3, 4)]),
    Case(np.nanmedian, [with_nan(3, 4)], kwargs=dict(axis=0)),
    Case(np.nanmedian, [with_nan(4, 5)], kwargs=dict(axis=1, keepdims=True), note="odd and even counts"),
    Case(np.nanquantile, [with_nan(3, 4), C(0.3)]),
    Case(np.nanquantile, [with_nan(4, 5), C([0.2, 0.9])], kwargs=dict(axis=1), note="lanes of other counts"),
    Case(np.nanquantile, [with_nan(5, 4), C(0.6)], kwargs=dict(axis=0, keepdims=True, method="nearest")),
    Case(np.nanpercentile, [with_nan(2, 3, 4), C(25.0)], kwargs=dict(axis=(0, 2), keepdims=True)),
    Case(np.nanpercentile, [with_nan(6), C([40.0, 75.0])], kwargs=dict(method="midpoint")),
    Case(np.linalg.matmul, [R(2, 3), R(3, 4)], (0, 1), complex=True),
    Case(np.linalg.matmul, [R(3), R(2, 3, 2)], (0, 1), complex=True),
    Case(np.linalg.trace, [R(2, 3, 3)], kwargs=dict(offset=1), complex=True),
    Case(np.linalg.cross, [R(2, 3), R(3)], (0, 1), complex=True),
    Case(np.linalg.cross, [R(3, 2), R(3, 1)], (0, 1), kwargs=dict(axis=0)),
    Case(np.linalg.tensordot, [R(2, 3, 4), R(3, 4, 2)], (0, 1), complex=True),
    Case(np.linalg.tensordot, [R(2, 3), R(3, 2)], (0, 1), kwargs=dict(axes=([1], [0]))),
    Case((np.vecdot, np.linalg.vecdot), [R(2, 3), R(3)], (0, 1), complex=True),
    Case((np.vecdot, np.linalg.vecdot), [R(3, 2), R(3, 1)], (0, 1), kwargs=dict(axis=0), complex=True),
    Case(np.matvec, [R(2, 3, 4), R(4)], (0, 1), complex=True),
    Case(np.vecmat, [R(3), R(2, 3, 4)], (0, 1), complex=True),
    Case(np.linalg.multi_dot, [R(3), R(3, 4), R(4)], complex=True, **seq_in(np.linalg.multi_dot, 3)),
    Case(np.linalg.multi_dot, [R(2, 3), R(3, 4), R(4, 2), R(2, 3)], complex=True,
         **seq_in(np.linalg.multi_dot, 4)),
    Case(np.linalg.cond, [M(3, 3)]),
    Case(np.linalg.cond, [M(2, 3, 3)], kwargs=dict(p=-2)),
    Case(np.linalg.cond, [R(4, 3)], kwargs=dict(p=2), note="rectangular"),
    Case(np.cumulative_sum, [R(2, 3)], kwargs=dict(axis=1, include_initial=True), complex=True),
    Case(np.cumulative_sum, [R(4)], complex=True),
    Case(np.cumulative_prod, [R(3, 2)], kwargs=dict(axis=0, include_initial=True), complex=True),
    Case(np.cumulative_prod, [R(4)]),
    Case(more_ops.drop_initial, [R(3, 2), C(0), C(True)], complex=True),
    Case(more_ops.restore_initial, [R(2, 3), C(1), C(True)], complex=True),
    Case(np.copysign, [R(2, 3), R(3)], (0, 1)),
    Case(np.ldexp, [R(2, 3), C(np.array([1, -2, 3]))]),
    Case(np.float64, [R(2, 3)]),
    Case(np.float32, [R(lo=1e-4, hi=2e-4)], note="small: float32 rounding stays below the differences' tolerance"),
    Case(complex, [R(), R()], (0, 1)),
    Case(np.complex128, [R(2, 3)], complex=True),
    Case(np.complex128, [R(), R()], (0, 1)),
    Case(np.complex64, [R(lo=1e-4, hi=2e-4), R(lo=1e-4, hi=2e-4)], (0, 1),
         note="small: complex64 rounding stays below the differences' tolerance"),
    Case(pow, [R(lo=0.5, hi=2), R(lo=0.5, hi=2)], (0, 1)),
    Case(math.fmod, [R(lo=0.5, hi=2), C(0.3)]),
    Case(math.copysign, [R(lo=0.5, hi=2), R(lo=-2, hi=-0.5)], (0, 1)),
    Case(math.degrees, [R()]),
    Case(math.radians, [R()]),
    Case(math.ldexp, [R(), C(3)]),
    Case(math.exp2, [R()]),
    Case(math.cbrt, [R(lo=0.5, hi=2)]),
    Case(np.diagflat, [R(3)], kwargs=dict(k=1), complex=True),
    Case(np.diagflat, [R(2, 2)], kwargs=dict(k=-1)),
    Case(np.trapezoid, [R(5)], complex=True),
    Case(np.trapezoid, [R(3, 4), sorted_coords(4)], (0, 1)),
    Case(np.trapezoid, [R(4, 3), R(4, 3)], (0, 1), kwargs=dict(axis=0), note="coordinates as y"),
    Case(np.trapezoid, [R(5), C(None), R()], (0, 2), rule=trapezoid_dx_rule, note="a step dx"),
    Case(np.meshgrid, [R(3), R(2)], (0, 1), complex=True, fn=meshgrid_fn, rule=meshgrid_rule),
    Case(np.meshgrid, [R(3), R(2)], (0, 1), kwargs=dict(indexing="ij", sparse=True), fn=meshgrid_fn,
         rule=meshgrid_rule),
    Case(np.meshgrid, [R(3), R(2), R(4)], (0, 1, 2), fn=meshgrid3_fn, rule=meshgrid3_rule),
    Case(np.block, [R(2, 1), R(2, 2), R(1, 2), R(1, 1)], (0, 1, 2, 3), complex=True, fn=block_fn, rule=block_rule),
    Case(more_ops.block_adjoints, [R(3, 3)], complex=True, fn=block_adjoints_fn, rule=block_adjoints_rule),
    Case(more_ops.block_pieces, [R(2, 1), R(2, 2), R(1, 3)], (0, 1, 2), complex=True, fn=block_pieces_fn,
         rule=block_pieces_rule),
    Case(np.cov, [R(3, 5)], complex=True),
    Case(np.cov, [R(5, 2)], kwargs=dict(rowvar=False, bias=True)),
    Case(np.cov, [R(5), R(5)], (0, 1), kwargs=dict(ddof=2)),
    Case(np.cov, [R(2, 4), R(4)], (0, 1), complex=True),
    Case(np.corrcoef, [R(3, 5)], complex=True),
    Case(np.corrcoef, [R(5), R(5)], (0, 1)),
    Case(np.corrcoef, [R(6, 3)], kwargs=dict(rowvar=False)),
    # Dec 3: nancumprod, var/std options, cov weights, a traced initial=
    Case(np.nancumprod, [with_nan(2, 4)], kwargs=dict(axis=1), complex=True),
    Case(np.nancumprod, [with_nan(2, 3)]),
    Case(np.var, [R(3, 4)], kwargs=dict(axis=1, where=W34, ddof=1), complex=True),
    Case(np.var, [R(3, 4)], kwargs=dict(correction=1.5)),
    Case(np.std, [R(3, 4)], kwargs=dict(where=W34, correction=1)),
    Case(np.std, [R(3, 4)], kwargs=dict(axis=0, where=W34, keepdims=True), complex=True),
    Case(np.var, [R(3, 4), R(3, 1)], (0, 1), fn=var_given_mean, rule=var_given_mean_rule, complex=True,
         note="mean= given (traced): its own adjoint"),
    Case(np.std, [R(3, 4), R(1, 4)], (0, 1), fn=std_given_mean, rule=std_given_mean_rule,
         note="mean= given with where= and ddof"),
    Case(nops.given_mean, [R(2, 3), R(2, 3)], (1,), rule=lambda g, ans, c, m: lookup(nops.given_mean).fn(g, ans, c, m)[1]),
    Case(nops.given_mean, [R(2, 3), C(None)]),
    Case(nops.mean_unused, [R(2, 3), C(None)], complex=True),
    Case(nops.given_only, [R(2, 3), C(1.0)], complex=True),
    Case(nops.given_mean_conj, [R(2, 3), C(1.0), C(np.ones(3))], complex=True,
         note="a real a, mean= given: conjugated (np.var's mean((a - m) ** 2))"),
    Case(nops.given_mean_conj, [R(2, 3), C(1.0), C(np.ones(3) + 1j)], complex=True),
    Case(nops.given_mean_conj, [R(2, 3), C(None), C(np.ones(3))], complex=True),
    Case(nops.given_mean_cotangent, [R(2, 3), C(1.0), C(np.ones((2, 3)))], complex=True,
         note="a real result: the real part"),
    Case(nops.given_mean_cotangent, [R(2, 3), C(1.0), C(np.ones((2, 3)) + 1j)], complex=True),
    Case(nops.initial_scaled, [R(2, 3), R0()], (0, 1), complex=True, note="a traced factor"),
    Case(nops.initial_scaled_back, [R(2, 3), R0()], (0, 1), complex=True, note="a traced factor"),
    Case(np.sum, [R(3, 4), C(1), C(None), C(None), C(False), R0()], (0, 5), complex=True, note="traced initial"),
    Case(np.prod, [R(2, 3, lo=0.5, hi=1.5), C(0), C(None), C(None), C(True), R0(lo=0.5, hi=1.5)], (0, 5),
         complex=True, note="traced initial"),
    Case((np.max, np.amax, np.min, np.amin), [R(3, 4), C(1), C(None), C(False), fixed(0.35)], (0, 4),
         note="traced initial, wins in some rows"),
    Case((np.nanmax, np.nanmin), [with_nan(3, 4), C(None), C(None), C(False), fixed(-0.4)], (0, 4),
         note="traced initial over the whole array"),
    Case(np.cov, [R(3, 4)], kwargs=dict(fweights=np.array([1, 2, 1, 3]), aweights=np.array([0.5, 1.0, 2.0, 0.25])),
         complex=True),
    Case(np.cov, [R(4, 2)], kwargs=dict(rowvar=False, aweights=np.array([0.5, 1.0, 2.0, 0.25]), ddof=2)),
    Case(np.cov, [R(4), R(4)], (0, 1), kwargs=dict(fweights=np.array([3, 1, 1, 2]), bias=True)),
    Case(np.delete, [R(5), C(1)], complex=True),
    Case(np.delete, [R(2, 4), C([0, 2])], kwargs=dict(axis=1)),
    Case(np.delete, [R(2, 3), C(np.array([True, False, False, True, True, False]))]),
    Case(np.insert, [R(4), C([3, 0]), R(2)], (0, 2), complex=True),
    Case(np.insert, [R(4), C(1), R(3)], (0, 2)),
    Case(np.insert, [R(2, 3), C(2), R(2)], (0, 2), kwargs=dict(axis=1)),
    Case(np.insert, [R(2, 3), C([1]), R()], (0, 2), kwargs=dict(axis=0)),
    Case(np.unique, [R(6)]),
    Case(np.unique, [R(2, 3)]),
    # Dec 12: np.compress, np.extract, np.choose, np.bincount's weights, np.divmod, math.remainder
    Case(np.compress, [C(np.array([True, False, True])), R(3, 4)], (1,), kwargs=dict(axis=0), complex=True),
    Case(np.compress, [C([0, 1, 1, 0, 1]), R(2, 3)], (1,), note="no axis: the flattened array, a shorter condition"),
    Case(np.compress, [C([False, True]), R(2, 3, 2)], (1,), kwargs=dict(axis=-1)),
    Case(nops.compress_method, [R(3, 4), C([True, False, True, True])], kwargs=dict(axis=1), complex=True),
    Case(np.extract, [C(np.array([[1, 0, 2], [0, 0, 3]])), R(2, 3)], (1,), complex=True),
    Case(np.choose, [R(2, 3), R(3), R(1, 3)], (0, 1, 2), complex=True, fn=choose_fn, rule=choose_rule,
         kwargs=dict(idx=np.array([[0, 1, 2], [2, 2, 0]]))),
    Case(np.choose, [R(2, 3), R(3), R()], (0, 1, 2), fn=choose_fn, rule=choose_rule,
         kwargs=dict(idx=np.array([[0, 4, 2], [-1, 2, 0]]), mode="clip"), note="clipped, a scalar choice"),
    Case(np.choose, [R(3, 2, 4)], fn=choose_array_fn, rule=choose_array_rule,
         kwargs=dict(idx=np.array([0, 5, 1, 2]), mode="wrap"), note="an array of choices, wrapped"),
    Case(np.bincount, [C(np.array([0, 3, 3, 1, 0, 5])), R(6)], (1,), kwargs=dict(minlength=8)),
    Case(np.divmod, [R(2, 3, lo=-5, hi=5), R(3, lo=0.7, hi=2)], (0, 1), **divmod_stacked(np.divmod)),
    Case(divmod, [R(2, 3, lo=-5, hi=5), R(lo=-2, hi=-0.7)], (0, 1), **divmod_stacked(divmod)),
    Case(math.remainder, [R(lo=-5, hi=5), R(lo=0.7, hi=2)], (0, 1)),
    # s47: np.modf (the fraction's slope 1, the integral part's 0), np.power's dtype= (a complex dtype:
    # a complex base, ufunc_operand)
    Case(np.modf, [R(2, 3, lo=-5, hi=5)], fn=modf_stacked, rule=modf_rule),
    Case(np.power, [R(2, 3, lo=-2, hi=-0.5), C(0.5)], kwargs=dict(dtype=np.complex128),
         note="a negative base, a complex dtype"),
    Case(np.power, [R(2, 3, lo=0.5, hi=2), R(3, lo=-1, hi=2)], (0, 1), kwargs=dict(dtype=np.float64)),
    Case(nops.ufunc_operand, [R(2, 3), C(np.complex128)], note="a real operand made complex"),
    Case(nops.ufunc_operand, [R(2, 3), C(np.float32)], complex=True),
    Case(nops.ufunc_operand, [R(2, 3), C(None)], complex=True),
    Case(more_ops.with_diagonal, [R(3, 4), R(2)], (0, 1), complex=True, note="a short val, cycled"),
    Case(more_ops.with_diagonal, [R(7, 3), R()], (0, 1), kwargs=dict(wrap=True), note="tall, wrapped"),
    Case(more_ops.with_diagonal, [R(3, 3, 3), R(3)], (0, 1)),
    Case(np.lib.stride_tricks.sliding_window_view, [R(6), C(3)], complex=True),
    Case(np.lib.stride_tricks.sliding_window_view, [R(3, 4), C((2, 2))]),
    Case(np.lib.stride_tricks.sliding_window_view, [R(3, 5, 2), C(2)], kwargs=dict(axis=1)),
    Case(np.lib.stride_tricks.sliding_window_view, [R(4, 5), C((3, 2))], kwargs=dict(axis=(1, 0))),
]

# Registered ops checked elsewhere, or with nothing to compare against finite differences.
EXEMPT = {getattr(support, name): "runs the compiler (tested in the compiler's tests)"
          for name in ("call_fwd", "call_bwd") if hasattr(support, name)}
EXEMPT[support.field_as_python] = ("a value stored on an outside object as Python's type, its derivative the "
                                   "value's: through the code that uses it (tests/test_refuse55a_s55.py)")
EXEMPT[support.bind_closure] = "a nested function's captured values as a tuple (tests/test_issue6_closures.py)"
for _name in ("dict_or", "bit_or", "bit_or_left", "bit_or_right", "dataclass_replaced",
              "kept_fields_adjoint", "changed_fields_adjoint"):
    EXEMPT[getattr(support, _name)] = ("dicts and dataclass objects in and out: checked through the code "
                                       "that uses them, to second order (tests/test_idioms_dec6.py)")
for _name in ("namedtuple_replaced", "kept_record_fields", "changed_record_fields", "record_of_changes"):
    EXEMPT[getattr(support, _name)] = ("namedtuples and dicts in and out: checked through the code that "
                                       "uses them, to second order and in forward mode (tests/test_redteam_dec18u.py)")
import operator as _operator  # noqa: E402
EXEMPT[_operator.or_] = (
    "operator.or_ of dicts and its adjoint part: checked through the code that uses them, to second "
    "order (tests/test_redteam_dec6a.py)")

PARAMS = []
for _case in CASES:
    for _op in _case.aliases:
        for _cplx in ((False, True) if _case.complex else (False,)):
            _id = f"{op_name(_op)}-{'complex' if _cplx else 'real'}-{len(PARAMS)}"
            marks = [pytest.mark.xfail(reason=_case.xfail, strict=True)] if _case.xfail else []
            PARAMS.append(pytest.param(_case, _op, _cplx, id=_id, marks=marks))


@pytest.mark.parametrize("case, op, cplx", PARAMS)
def test_rule_matches_finite_differences(case, op, cplx):
    rng = np.random.default_rng(len(case.args) + 17)
    args = [sample(rng, cplx) for sample in case.args]
    rule = case.rule or lookup(op).fn
    fn = case.fn or op
    assert lookup(op) is not None, f"{op_name(op)} has no rule"
    # check_rule turns every numeric argument into a float array, so the arguments not
    # differentiated (shapes, axes, indices) are closed over rather than passed to it
    wrt = list(case.wrt)

    def full(values):
        merged = list(args)
        for position, value in zip(wrt, values):
            merged[position] = value
        return merged

    def f(*values, **kw):
        return fn(*full(values), **kw)

    def r(g, ans, *values, **kw):
        return rule(g, ans, *full(values), **kw)

    check_rule(f, r, [args[i] for i in wrt], list(range(len(wrt))), dict(case.kwargs),
               rtol=case.rtol, atol=case.atol)


# --- the table covers the registry ----------------------------------------------------------------

def _own_rule(rule) -> bool:
    return rule.fn.__module__ in (nops.__name__, support.__name__)


def test_every_rule_has_a_case():
    covered = {id(op) for case in CASES for op in case.aliases} | {id(op) for op in EXEMPT}
    missing = [op_name(r.op) for r in RULES.values() if _own_rule(r) and id(r.op) not in covered]
    assert not missing, f"registered ops without a case in tests/test_op_rules.py: {missing}"


def test_no_op_is_both_differentiable_and_not():
    both = [op_name(op) for op in NONDIFF if op in RULES]
    assert not both


@pytest.mark.parametrize("rule", [r for r in RULES.values() if _own_rule(r)], ids=lambda r: op_name(r.op))
def test_rule_is_a_single_return_in_registered_ops(rule):
    """The compiler inlines the rule's expression: it may call only ops, nondifferentiable
    functions and runtime helpers, and the plain helpers must follow the same discipline."""
    templates = rule.templates()
    assert set(templates) == set(rule.wrt)
    for name in rule.wrt:
        assert name in rule.signature.parameters, f"wrt {name!r} is not a parameter"
    assert "g" not in rule.signature.parameters and "ans" not in rule.signature.parameters
    for expr in templates.values():
        _check_calls(expr, rule.fn.__globals__, f"rule {rule.fn.__name__}", set())


def _resolve(node, scope):
    if isinstance(node, gast.Name):
        if node.id in scope:
            return scope[node.id]
        return getattr(builtins, node.id, _UNKNOWN)
    if isinstance(node, gast.Attribute):
        base = _resolve(node.value, scope)
        return _UNKNOWN if base is _UNKNOWN else getattr(base, node.attr, _UNKNOWN)
    return _UNKNOWN


_UNKNOWN = object()
# constructs sct's compiler refuses in code it differentiates (sct/normalize.py)
_NOT_COMPILED = (gast.Raise, gast.Try, gast.With, gast.Lambda, gast.GeneratorExp, gast.DictComp, gast.SetComp,
                 gast.Yield, gast.YieldFrom, gast.Global, gast.Nonlocal, gast.Delete, gast.ClassDef,
                 gast.NamedExpr)


def _check_calls(tree, scope, where, seen):
    for node in gast.walk(tree):
        if not isinstance(node, gast.Call):
            continue
        target = _resolve(node.func, scope)
        if target is _UNKNOWN:
            # a method of a local value: it must be one the compiler maps onto an op
            assert isinstance(node.func, gast.Attribute) and node.func.attr in METHODS, \
                f"{where}: call of {gast.dump(node.func)} is neither an op nor a known method"
            continue
        if lookup(target) is not None or is_nondifferentiable(target):
            continue
        if isinstance(target, type) and issubclass(target, BaseException) or target is slice:
            continue
        module = getattr(target, "__module__", "") or ""
        assert module.startswith("sct.runtime"), f"{where}: calls {target!r}, which is not an op"
        if target in seen:
            continue
        seen.add(target)
        # a plain helper: the compiler differentiates its body, so it must use ops only too,
        # and only the constructs the compiler transforms
        fdef = gast.parse(textwrap.dedent(inspect.getsource(target))).body[0]
        assert not (fdef.args.vararg or fdef.args.kwarg), f"helper {target.__name__} has *args/**kwargs"
        for inner in gast.walk(fdef):
            assert not isinstance(inner, _NOT_COMPILED), \
                f"helper {target.__name__}: the compiler cannot differentiate {type(inner).__name__}"
            if isinstance(inner, gast.Call):
                assert not any(isinstance(a, gast.Starred) for a in inner.args), \
                    f"helper {target.__name__}: *args in a call"
                assert all(k.arg is not None for k in inner.keywords), f"helper {target.__name__}: **kwargs in a call"
        _check_calls(fdef, target.__globals__, f"helper {target.__name__}", seen)


def test_methods_and_attributes_map_to_ops():
    from sct.runtime.registry import NONDIFF_METHODS
    for name, op in {**METHODS, **ATTRIBUTES}.items():
        assert lookup(op) is not None or is_nondifferentiable(op), name
        assert lookup(op) is None or name not in NONDIFF_METHODS, f"{name} is both an op and nondifferentiable"


METHOD_CALLS = [
    ("sum", (), dict(axis=0)), ("mean", (1,), {}), ("prod", (), {}), ("max", (), dict(axis=1)),
    ("min", (0,), {}), ("var", (), dict(ddof=1)), ("std", (1,), {}), ("cumsum", (1,), {}),
    ("cumprod", (), {}), ("reshape", (3, 2), {}), ("reshape", ((6,),), {}), ("reshape", (-1,), dict(order="F")),
    ("transpose", (), {}), ("transpose", (1, 0), {}), ("transpose", ((1, 0),), {}), ("flatten", (), {}),
    ("ravel", (), {}), ("squeeze", (), {}), ("swapaxes", (0, 1), {}), ("dot", (np.ones(3),), {}),
    ("conj", (), {}), ("conjugate", (), {}), ("clip", (-0.2, 0.2), {}), ("clip", (), dict(min=0.1)),
    ("repeat", (2,), dict(axis=0)), ("take", ([0, 2],), {}), ("astype", (np.float32,), {}),
    ("copy", (), {}), ("trace", (), {}), ("diagonal", (), {}),
    ("argmax", (), {}), ("argmin", (), dict(axis=0)), ("argsort", (), {}), ("any", (), {}), ("all", (), {}),
    ("round", (1,), {}),
]


@pytest.mark.parametrize("name, args, kwargs", METHOD_CALLS, ids=[m[0] for m in METHOD_CALLS])
def test_method_op_computes_the_method(name, args, kwargs):
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3))
    expected = getattr(x, name)(*args, **kwargs)
    got = METHODS[name](x, *args, **kwargs)
    np.testing.assert_array_equal(got, expected)
    assert np.asarray(got).dtype == np.asarray(expected).dtype


def test_attributes_compute_the_attribute():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 4)) + 1j
    for name, op in ATTRIBUTES.items():
        np.testing.assert_array_equal(op(x), getattr(x, name))


# --- conventions at kinks and ties (finite differences cannot see these) -----------------------------

def test_max_splits_ties_equally():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    for op in (np.max, np.amax):
        got = lookup(op).fn(np.array([1.0, 3.0]), op(a, axis=1), a, axis=1)[0]     # [1]: initial='s
        np.testing.assert_allclose(got, [[0, 0.5, 0.5], [1, 1, 1]])
    got = lookup(np.min).fn(6.0, np.min(a), a)[0]
    np.testing.assert_allclose(got, [[6, 0, 0], [0, 0, 0]])


def test_maximum_gives_half_at_ties():
    x1, x2 = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    g = np.ones(3)
    d1, d2 = lookup(np.maximum).fn(g, np.maximum(x1, x2), x1, x2)
    np.testing.assert_allclose(d1, [0.5, 0, 1])
    np.testing.assert_allclose(d2, [0.5, 1, 0])
    d1, d2 = lookup(np.minimum).fn(g, np.minimum(x1, x2), x1, x2)
    np.testing.assert_allclose(d1, [0.5, 1, 0])
    np.testing.assert_allclose(d2, [0.5, 0, 1])


def test_fmax_ignores_nan():
    x1, x2 = np.array([np.nan, 2.0, 1.0]), np.array([1.0, np.nan, 1.0])
    d1, d2 = lookup(np.fmax).fn(np.ones(3), np.fmax(x1, x2), x1, x2)
    np.testing.assert_allclose(d1, [0, 1, 0.5])
    np.testing.assert_allclose(d2, [1, 0, 0.5])
    d1, d2 = lookup(np.fmin).fn(np.ones(3), np.fmin(x1, x2), x1, x2)
    np.testing.assert_allclose(d1, [0, 1, 0.5])
    np.testing.assert_allclose(d2, [1, 0, 0.5])


def test_clip_at_a_bound_splits_as_maximum_does_and_partitions_the_adjoint():
    """At a == bound the adjoint is halved between a and the bound, as np.maximum's tie rule (and JAX's
    clip, and central differences) have it (dec23: was all of it to a, PyTorch's choice)."""
    a = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    g = np.arange(1.0, 6.0)
    da, dlo, dhi = lookup(np.clip).fn(g, np.clip(a, -0.5, 0.5), a, np.full(5, -0.5), np.full(5, 0.5))[:3]
    np.testing.assert_allclose(da, [0, 1, 3, 2, 0])
    np.testing.assert_allclose(dlo, [1, 1, 0, 0, 0])
    np.testing.assert_allclose(dhi, [0, 0, 0, 2, 5])
    np.testing.assert_allclose(da + dlo + dhi, g)
    # crossed bounds (numpy: a_max everywhere), a bound equal to both, a NaN
    da, dlo, dhi = lookup(np.clip).fn(g[:3], None, np.array([0.0, 1.0, np.nan]), np.array([1.0, 1.0, 0.0]),
                                      np.array([0.5, 1.0, 1.0]))[:3]
    np.testing.assert_allclose(da, [0, 2 * 0.25, 3])
    np.testing.assert_allclose(dlo, [0, 2 * 0.25, 0])
    np.testing.assert_allclose(dhi, [1, 2 * 0.5, 0])


def test_clip_at_a_bound_matches_central_differences():
    x = np.linspace(-2.0, 2.0, 9)           # -1 and 1 are points of the grid

    def f(v):
        return np.sum(np.clip(v, -1.0, 1.0) * np.arange(1.0, 10.0))
    from gradcheck import numerical_gradient
    g = sct.dlfeval(lambda v: sct.dlgradient(f(v), v), sct.dlarray(x))
    np.testing.assert_allclose(sct.extractdata(g), numerical_gradient(f, [x], 0), atol=1e-8)


def test_abs_and_norm_are_zero_at_zero():
    assert lookup(np.abs).fn(1.0, 0.0, 0.0) == 0.0
    x = np.zeros(3)
    np.testing.assert_array_equal(lookup(np.linalg.norm).fn(1.0, 0.0, x), np.zeros(3))


def test_prod_is_exact_at_zeros():
    a = np.array([2.0, 0.0, 3.0, 4.0])
    np.testing.assert_allclose(lookup(np.prod).fn(1.0, 0.0, a)[0], [0, 24, 0, 0])     # [1]: initial='s
    a = np.array([2.0, 0.0, 3.0, 0.0])
    np.testing.assert_allclose(lookup(np.prod).fn(1.0, 0.0, a)[0], [0, 0, 0, 0])


def test_logsumexp_values():
    a = np.array([[1000.0, 1000.0], [-np.inf, 0.0]])
    np.testing.assert_allclose(nops.logsumexp(a, axis=1), [1000 + np.log(2), 0.0])
    x = np.random.default_rng(1).standard_normal((3, 4))
    np.testing.assert_allclose(nops.logsumexp(x), np.log(np.sum(np.exp(x))))
    np.testing.assert_allclose(nops.logsumexp(x, axis=(0, 1), keepdims=True), np.log(np.sum(np.exp(x), keepdims=True)))


def test_slogdet_accepts_a_zero_sign_adjoint():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    got = lookup(np.linalg.slogdet).fn([0.0, 1.0], np.linalg.slogdet(a), a)
    np.testing.assert_allclose(got, np.linalg.inv(a).T)


def test_list_adjoints_with_missing_pieces():
    arrays = [np.ones((2, 3)), np.ones((1, 3))]
    got = nops.concatenate_pieces([support.ZERO, np.full((1, 3), 2.0)], arrays, 0)
    np.testing.assert_array_equal(got, [[0, 0, 0], [0, 0, 0], [2, 2, 2]])
    got = nops.stack_pieces([np.ones(2), support.ZERO], [np.zeros(2), np.zeros(2)], 0)
    np.testing.assert_array_equal(got, [[1, 1], [0, 0]])


# --- property tests of elementwise rules --------------------------------------------------------------

ELEMENTWISE = {
    np.sin: (-5, 5), np.cos: (-5, 5), np.tanh: (-3, 3), np.exp: (-3, 3), np.arctan: (-5, 5),
    np.log1p: (-0.9, 5), np.sqrt: (0.1, 5), np.sinh: (-3, 3), np.arcsinh: (-5, 5), np.square: (-5, 5),
}


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_elementwise_rules_property(data):
    op = data.draw(st.sampled_from(sorted(ELEMENTWISE, key=lambda f: f.__name__)), label="op")
    lo, hi = ELEMENTWISE[op]
    values = data.draw(st.lists(st.floats(lo, hi), min_size=1, max_size=5), label="x")
    check_rule(op, lookup(op).fn, [np.array(values)], (0,), rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(re=st.floats(-2, 2), im=st.floats(-2, 2), op=st.sampled_from([np.sin, np.exp, np.tanh, np.square]))
def test_holomorphic_rules_property_complex(re, im, op):
    check_rule(op, lookup(op).fn, [np.array([re + 1j * im])], (0,), rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(a=st.floats(0.2, 3), b=st.floats(-2, 2))
def test_power_property(a, b):
    check_rule(np.power, lookup(np.power).fn, [np.array([a]), np.array([b])], (0, 1), rtol=1e-4, atol=1e-5)
