"""issue 7, item 5: ops added by one registration each (runtime/more_ops.py and numpy_ops.py).

The op table (rows in the style of tests/test_op_rules.py) checks each rule against central
differences, at complex inputs where numpy allows; the user-style functions below run them
through dlfeval: values equal numpy's, gradients and second derivatives against central
differences (tests/gradcheck.py), float32 stays float32.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import sct
from sct import CompileError, EvaluationError, dlarray, dlfeval, dlgradient
from sct.runtime import more_ops
from sct.runtime.registry import RULES, lookup
from sct.runtime.support import ZERO

from gradcheck import check_grads, check_rule, numerical_gradient
from test_op_rules import C, Case, M, R, fixed, flat, mask, op_name, seq_out, unflat

try:
    import scipy.special as special
    import scipy.stats as stats
    import scipy.linalg as sla
    import scipy.signal as ssig
except ImportError:          # scipy is optional: its rules are registered only when it is imported
    special = stats = sla = ssig = None

pytestmark = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")


def real_sorted_knots(rng, cplx):
    return np.sort(rng.uniform(-1, 1, 6))


def sym_plus_skew(rng, cplx):
    """A real (or complex) matrix with complex eigenvalues: symmetric plus skew-symmetric."""
    a = R(4, 4)(rng, cplx)
    return (a + a.T) / 2 + 1.5 * (a - a.T) / 2 + np.diag([0.0, 1.0, 2.0, 3.0])


def eig_invariant(a):
    """Eigenvalues and |v|^2 (independent of each eigenvector's phase), flattened."""
    w, v = np.linalg.eig(a)
    return np.concatenate([w, np.ravel(np.real(v * np.conj(v)))])


def eig_invariant_rule(g, ans, a):
    w, v = np.linalg.eig(a)
    n = len(w)
    gm = np.real(g[n:]).reshape(v.shape)
    return lookup(np.linalg.eig).fn([g[:n], 2 * gm * v], (w, v), a)


def svd_invariant(a):
    """U diag(s) V^H rebuilt, s, and |U|^2, |V|^2 (independent of the singular vectors' phases)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.concatenate([np.ravel((u * s) @ vh), s, np.ravel(np.real(u * np.conj(u))),
                           np.ravel(np.real(vh * np.conj(vh)))])


def svd_invariant_rule(g, ans, a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    parts = unflat(g, [(u * s) @ vh, s, u, vh])
    gr = parts[0]
    gu = gr @ np.conj(vh).T * s + 2 * np.real(parts[2]) * u
    gs = np.real(np.sum(np.conj(u) * (gr @ np.conj(vh).T), axis=0)) + np.real(parts[1])
    gvh = np.conj(u * s).T @ gr + 2 * np.real(parts[3]) * vh
    return lookup(np.linalg.svd).fn([gu, gs, gvh], (u, s, vh), a, full_matrices=False)


def select_fn(c0, c1, d):
    conds = [np.array([[True, False, False], [False, True, False]]), np.array([True, True, False])]
    return np.select(conds, [c0, c1], d)


def select_rule(g, ans, c0, c1, d):
    conds = [np.array([[True, False, False], [False, True, False]]), np.array([True, True, False])]
    choices, dd = lookup(np.select).fn(g, ans, conds, [c0, c1], d)
    return choices[0], choices[1], dd


def sorted_fn(x, **kw):
    return np.array(sorted(x, **kw))


def sorted_rule(g, ans, x, **kw):
    return lookup(sorted).fn(list(g), sorted(x, **kw), x, **kw)


def sorted_list_rule(g, ans, x, **kw):
    return np.array(lookup(sorted).fn(list(g), sorted(list(x), **kw), list(x), **kw))


def gradient_fn(f, *varargs, **kw):
    out = np.gradient(f, *varargs, **kw)
    return flat(out) if isinstance(out, (list, tuple)) else out


def gradient_rule(g, ans, f, *varargs, **kw):
    out = np.gradient(f, *varargs, **kw)
    if isinstance(out, (list, tuple)):
        g = unflat(g, out)
    return lookup(np.gradient).fn(g, out, f, *varargs, **kw)


def qr_flat(a, **kw):
    """Q and R of np.linalg.qr, flattened (unique: LAPACK fixes R's diagonal real, its signs locally)."""
    return flat(np.linalg.qr(a, **kw))


def qr_flat_rule(g, ans, a, **kw):
    q, r = np.linalg.qr(a, **kw)
    return lookup(np.linalg.qr).fn(unflat(g, [q, r]), (q, r), a, **kw)


def lstsq_flat(a, b):
    """x, the residuals and the singular values of np.linalg.lstsq (not the rank), flattened."""
    x, res, rank, s = np.linalg.lstsq(a, b, rcond=None)
    return np.concatenate([np.ravel(x), res, s])


def lstsq_flat_rule(g, ans, a, b):
    out = np.linalg.lstsq(a, b, rcond=None)
    gx, gres, gs = unflat(g, [out[0], out[1], out[3]])
    return lookup(np.linalg.lstsq).fn((gx, np.real(gres), 0, np.real(gs)), out, a, b)


COORDS = np.array([0.0, 0.4, 1.0, 1.3, 2.0])

CASES = [
    Case(math.erf, [R(lo=-1.5, hi=1.5)]),
    Case(math.erfc, [R(lo=-1.5, hi=1.5)]),
    Case(math.lgamma, [R(lo=0.3, hi=4.0)]),
    Case(math.lgamma, [R(lo=-1.7, hi=-1.2)], note="negative: log|gamma|"),
    Case(math.gamma, [R(lo=0.3, hi=4.0)]),
    Case(more_ops.digamma, [R(2, 3, lo=0.3, hi=4.0)]),
    Case(more_ops.polygamma, [C(2), R(2, 3, lo=0.3, hi=4.0)], (1,)),
    # the fft family
    Case(np.fft.fft, [R(5)], complex=True),
    Case(np.fft.fft, [R(5)], kwargs=dict(n=7), complex=True, note="zero-padded"),
    Case(np.fft.fft, [R(4, 5)], kwargs=dict(n=3, axis=0, norm="ortho"), complex=True, note="cropped"),
    Case(np.fft.fft, [R(3, 4)], kwargs=dict(norm="forward"), complex=True),
    Case(np.fft.ifft, [R(5)], complex=True),
    Case(np.fft.ifft, [R(4, 5)], kwargs=dict(n=6, axis=0, norm="forward"), complex=True),
    Case(np.fft.ifft, [R(6)], kwargs=dict(n=4, norm="ortho"), complex=True),
    Case(np.fft.fftn, [R(3, 4, 2)], complex=True),
    Case(np.fft.fftn, [R(3, 4, 2)], kwargs=dict(s=(4, 3), axes=(0, 2), norm="ortho"), complex=True),
    Case(np.fft.ifftn, [R(3, 4, 2)], kwargs=dict(s=(2, 5), axes=(1, 2), norm="forward"), complex=True),
    Case(np.fft.fft2, [R(2, 3, 4)], complex=True),
    Case(np.fft.fft2, [R(3, 4)], kwargs=dict(s=(2, 5)), complex=True),
    Case(np.fft.ifft2, [R(3, 4)], kwargs=dict(axes=(1, 0), norm="ortho"), complex=True),
    Case(np.fft.rfft, [R(6)]),
    Case(np.fft.rfft, [R(5)]),
    Case(np.fft.rfft, [R(5, 3)], kwargs=dict(n=8, axis=0, norm="ortho")),
    Case(np.fft.rfft, [R(7)], kwargs=dict(n=4, norm="forward")),
    Case(np.fft.irfft, [R(4)], complex=True, note="imaginary parts of the zero/Nyquist bins are ignored"),
    Case(np.fft.irfft, [R(4)], kwargs=dict(n=7), complex=True, note="odd length"),
    Case(np.fft.irfft, [R(5, 3)], kwargs=dict(n=4, axis=0, norm="ortho"), complex=True, note="cropped"),
    Case(np.fft.irfft, [R(3)], kwargs=dict(n=9, norm="forward"), complex=True, note="zero-padded"),
    Case(np.fft.rfftn, [R(3, 4, 5)]),
    Case(np.fft.rfftn, [R(3, 4, 5)], kwargs=dict(s=(4, 6), axes=(2, 0), norm="ortho")),
    Case(np.fft.rfft2, [R(3, 5)]),
    Case(np.fft.irfftn, [R(3, 4, 3)], complex=True),
    Case(np.fft.irfftn, [R(3, 4, 3)], kwargs=dict(s=(5, 3), axes=(0, 1), norm="forward"), complex=True),
    Case(np.fft.irfft2, [R(4, 3)], complex=True),
    Case(np.fft.fftshift, [R(5)], complex=True),
    Case(np.fft.fftshift, [R(4, 5)], kwargs=dict(axes=0), complex=True),
    Case(np.fft.ifftshift, [R(4, 5)], complex=True),
    Case(more_ops.fit_lengths, [R(3, 4), C((5, 2)), C((0, 1))], complex=True),
    # (s52, ops52: np.poly1d(c)(x), the nan* reductions' leaves, np.put)
    Case(more_ops.poly1d_at, [R(3), R(4)], (0, 1)),
    Case(more_ops.nan_filled, [R(3, 4)], complex=True),
    Case(more_ops.nan_at, [C(False), R(4)], (1,), complex=True),
    Case(more_ops.with_put, [R(5), C(np.array([0, 3])), R(2)], (0, 2)),
    Case(more_ops.with_put, [R(5), C(np.array([1, 1, -1])), R(3)], (0, 2), note="repeated: the last wins"),
    # linear algebra
    Case(np.linalg.pinv, [R(3, 2)], complex=True),
    Case(np.linalg.pinv, [R(2, 4)], complex=True),
    Case(np.linalg.pinv, [R(2, 3, 3)], complex=True),
    Case(np.linalg.eig, [sym_plus_skew], complex=True, fn=eig_invariant, rule=eig_invariant_rule,
         note="complex eigenvalues of a real matrix"),
    Case(np.linalg.eigvals, [sym_plus_skew], complex=True),
    Case(np.linalg.svd, [R(4, 3)], complex=True, fn=svd_invariant, rule=svd_invariant_rule, note="m > n"),
    Case(np.linalg.svd, [R(2, 4)], complex=True, fn=svd_invariant, rule=svd_invariant_rule, note="m < n"),
    Case(np.linalg.svd, [R(3, 3)], complex=True, fn=svd_invariant, rule=svd_invariant_rule, note="square"),
    Case(np.linalg.qr, [R(4, 3)], complex=True, fn=qr_flat, rule=qr_flat_rule, note="tall"),
    Case(np.linalg.qr, [R(3, 3)], complex=True, fn=qr_flat, rule=qr_flat_rule, note="square"),
    Case(np.linalg.qr, [R(2, 4)], complex=True, fn=qr_flat, rule=qr_flat_rule, note="wide"),
    Case(np.linalg.qr, [R(2, 4, 3)], fn=qr_flat, rule=qr_flat_rule, note="stacked"),
    Case(np.linalg.qr, [R(4, 3)], kwargs=dict(mode="r"), complex=True, note="R alone"),
    Case(np.linalg.qr, [R(4, 2)], kwargs=dict(mode="complete"),
         fn=lambda a, **kw: np.linalg.qr(a, **kw)[1],
         rule=lambda g, ans, a, **kw: lookup(np.linalg.qr).fn((ZERO, g), np.linalg.qr(a, **kw), a, **kw),
         note="R of the complete factorization"),
    Case(np.linalg.lstsq, [R(5, 3), R(5)], (0, 1), fn=lstsq_flat, rule=lstsq_flat_rule, note="tall, residuals"),
    Case(np.linalg.lstsq, [R(5, 3), R(5, 2)], (0, 1), complex=True, fn=lstsq_flat, rule=lstsq_flat_rule),
    Case(np.linalg.lstsq, [R(3, 5), R(3)], (0, 1), fn=lstsq_flat, rule=lstsq_flat_rule, note="wide: no residuals"),
    Case(np.polyval, [R(4), R(2, 3)], (0, 1), complex=True),
    Case(np.polyval, [R(3), R()], (0, 1), note="a number x"),
    Case(np.polyval, [R(1), R(3)], (0, 1), note="a constant polynomial"),
    # s47: np.i0 (its derivative I1, more_ops.bessel_i1), np.float16 (float16 rounding is beyond the
    # differences' reach: its rule checked against the cast it differentiates, the identity)
    # (one scale per case: a sum of values ~1e6 hides the differences of the small ones; every
    # |x| <= 20 elementwise in tests/test_rules_s47.py)
    Case(np.i0, [R(2, 3, lo=-6, hi=6)]),
    Case(np.i0, [fixed([0.0, -7.9, 8.1, -8.0])], note="0 and numpy's switch of series at 8"),
    Case(np.i0, [R(lo=15, hi=20)]),
    Case(more_ops.bessel_i1, [R(2, 3, lo=-6, hi=6)]),
    Case(more_ops.bessel_i1, [fixed([0.0, 0.7])], note="0"),
    Case(more_ops.bessel_i1, [R(lo=-40, hi=-25)], note="the integral's range"),
    Case(np.float16, [R(2, 3)], fn=lambda x: x),
    Case(more_ops.poly_trim, [R(4), C(0)], note="np.polymul's leading zeros (none: one dropped is refused)"),
    Case(np.median, [R(5)]),
    Case(np.median, [R(4, 3)], kwargs=dict(axis=0), note="an even count: the two middle entries"),
    Case(np.median, [R(4, 6)], kwargs=dict(axis=1, keepdims=True)),
    Case(np.median, [R(3, 4, 2)], kwargs=dict(axis=(0, 2))),
    Case(np.median, [R(3, 4, 2)], kwargs=dict(axis=(2, 0), keepdims=True)),
    # shape and selection
    Case(np.rollaxis, [R(2, 3, 4), C(2)], complex=True),
    Case(np.rollaxis, [R(2, 3, 4), C(0), C(3)], complex=True),
    Case(np.rollaxis, [R(2, 3, 4), C(-1), C(1)]),
    Case(np.rot90, [R(3, 4)], complex=True),
    Case(np.rot90, [R(3, 4, 2)], kwargs=dict(k=-3, axes=(2, 0)), complex=True),
    Case(np.partition, [R(7), C(2)]),
    Case(np.partition, [R(5, 4), C([0, 2])], kwargs=dict(axis=0)),
    Case(np.partition, [R(3, 4), C(5)], kwargs=dict(axis=None)),
    Case(np.real_if_close, [R(2, 3)], complex=True, note="a complex value stays complex"),
    Case(more_ops.real_like, [R(3), C(np.zeros(3))]),
    Case(np.hsplit, [R(2, 4), C(2)], complex=True, **seq_out(np.hsplit)),
    Case(np.hsplit, [R(6), C([1, 4])], complex=True, **seq_out(np.hsplit)),
    Case(np.vsplit, [R(4, 2), C([1])], complex=True, **seq_out(np.vsplit)),
    Case(np.dsplit, [R(2, 2, 4), C(2)], complex=True, **seq_out(np.dsplit)),
    Case(np.append, [R(2, 3), R(4)], (0, 1), complex=True),
    Case(np.append, [R(2, 3), R(1, 3)], (0, 1), kwargs=dict(axis=0), complex=True),
    Case(np.select, [R(2, 3), R(3), R(1, 3)], (0, 1, 2), complex=True, fn=select_fn, rule=select_rule),
    Case(more_ops.select_adjoints, [R(2, 3)], complex=True,
         fn=lambda g: flat(more_ops.select_adjoints(g, [mask(2, 3)(np.random.default_rng(3), False)],
                                                    [np.zeros(3), np.zeros((2, 3))])),
         rule=lambda g, ans, grad: lookup(more_ops.select_adjoints).fn(
             unflat(g, [np.zeros(3), np.zeros((2, 3))]), None, grad,
             [mask(2, 3)(np.random.default_rng(3), False)], [np.zeros(3), np.zeros((2, 3))])),
    Case(more_ops.select_pieces, [R(3), R(2, 3)], (0, 1), complex=True,
         fn=lambda a, b: more_ops.select_pieces([a, b], [mask(2, 3)(np.random.default_rng(3), False)],
                                                np.zeros((2, 3)), [a, b]),
         rule=lambda g, ans, a, b: tuple(lookup(more_ops.select_pieces).fn(
             g, ans, [a, b], [mask(2, 3)(np.random.default_rng(3), False)], np.zeros((2, 3)), [a, b]))),
    Case(sorted, [R(6)], fn=sorted_fn, rule=sorted_rule),
    Case(sorted, [R(6)], kwargs=dict(reverse=True), fn=sorted_fn, rule=sorted_rule),
    Case(sorted, [R(6)], kwargs=dict(key=abs), fn=sorted_fn, rule=sorted_list_rule, note="a key"),
    Case(more_ops.unsort, [R(4)], fn=lambda g: more_ops.unsort(list(g), np.zeros(4), np.array([2, 0, 3, 1])),
         rule=lambda g, ans, grads: np.array(lookup(more_ops.unsort).fn(g, ans, list(grads), np.zeros(4),
                                                                        np.array([2, 0, 3, 1])))),
    Case(more_ops.resort, [R(4)], fn=lambda g: np.array(more_ops.resort(g, np.array([2, 0, 3, 1]))),
         rule=lambda g, ans, grads: lookup(more_ops.resort).fn(list(g), ans, grads, np.array([2, 0, 3, 1]))),
    Case(np.gradient, [R(6)], complex=True, fn=gradient_fn, rule=gradient_rule),
    Case(np.gradient, [R(6), C(0.5)], kwargs=dict(edge_order=2), fn=gradient_fn, rule=gradient_rule),
    Case(np.gradient, [R(5), C(COORDS)], kwargs=dict(edge_order=2), fn=gradient_fn, rule=gradient_rule,
         note="coordinates"),
    Case(np.gradient, [R(4, 5)], complex=True, fn=gradient_fn, rule=gradient_rule, note="a list of arrays"),
    Case(np.gradient, [R(4, 5), C(2.0), C(COORDS)], fn=gradient_fn, rule=gradient_rule),
    Case(np.gradient, [R(3, 4, 5), C(COORDS)], kwargs=dict(axis=2, edge_order=2), fn=gradient_fn, rule=gradient_rule),
    Case(np.gradient, [R(3, 4, 5)], kwargs=dict(axis=(0, 2)), fn=gradient_fn, rule=gradient_rule),
]
if special is not None:
    CASES += [Case(special.erf, [R(2, 3, lo=-1.5, hi=1.5)], complex=True),
              Case(special.erfc, [R(2, 3, lo=-1.5, hi=1.5)], complex=True),
              Case(special.logsumexp, [R(3, 4)], kwargs=dict(axis=1), complex=True),
              Case(special.logsumexp, [R(3, 4)], kwargs=dict(axis=0, keepdims=True, b=np.arange(1.0, 4.0)[:, None])),
              Case(special.expit, [R(2, 3, lo=-3, hi=3)]),
              Case(special.softmax, [R(3, 4)], kwargs=dict(axis=0)),
              Case(special.log_softmax, [R(3, 4)]),
              Case(special.gammaln, [R(2, 3, lo=0.3, hi=4.0)]),
              Case(special.gamma, [R(2, 3, lo=0.3, hi=3.0)], complex=True),
              Case(special.digamma, [R(2, 3, lo=0.3, hi=4.0)]),
              Case(special.polygamma, [C(1), R(2, 3, lo=0.3, hi=4.0)], (1,)),
              Case(special.polygamma, [C(np.array([0, 2, 3])), R(2, 3, lo=0.3, hi=4.0)], (1,)),
              Case(special.betaln, [R(2, 3, lo=0.3, hi=3.0), R(3, lo=0.3, hi=3.0)], (0, 1)),
              Case(special.beta, [R(2, 3, lo=0.3, hi=3.0), R(1, 3, lo=0.3, hi=3.0)], (0, 1)),
              Case(special.logit, [R(2, 3, lo=0.1, hi=0.9)]),
              Case(special.log_expit, [R(2, 3, lo=-4, hi=4)]),
              Case(special.ndtr, [R(2, 3, lo=-2, hi=2)], complex=True),
              Case(special.log_ndtr, [R(2, 3, lo=-3, hi=2)], complex=True),
              Case(special.ndtri, [R(2, 3, lo=0.05, hi=0.95)]),
              Case(special.erfinv, [R(2, 3, lo=-0.9, hi=0.9)]),
              Case(special.erfcinv, [R(2, 3, lo=0.1, hi=1.9)]),
              Case(special.erfcx, [R(2, 3, lo=-1, hi=2)], complex=True),
              Case(special.xlogy, [R(2, 3, lo=0.2, hi=2), R(3, lo=0.2, hi=2)], (0, 1), complex=True),
              Case(special.xlogy, [fixed([0.0, 0.5, 0.0]), R(3, lo=0.2, hi=2)], (0, 1), note="x = 0"),
              Case(special.xlog1py, [R(2, 3, lo=0.2, hi=2), R(3, lo=-0.5, hi=2)], (0, 1), complex=True),
              Case(special.entr, [R(2, 3, lo=0.1, hi=2)]),
              Case(special.rel_entr, [R(2, 3, lo=0.1, hi=2), R(3, lo=0.1, hi=2)], (0, 1)),
              Case(special.kl_div, [R(2, 3, lo=0.1, hi=2), R(2, 3, lo=0.1, hi=2)], (0, 1))]
    CASES += [Case(special.i0, [R(2, 3, lo=-2, hi=2)]),
              Case(special.i1, [R(2, 3, lo=-2, hi=2)]),
              Case(special.i1, [fixed([0.0, 0.7])], note="0"),
              Case(special.i0e, [R(2, 3, lo=-2, hi=2)]),
              Case(special.i1e, [R(2, 3, lo=-2, hi=2)]),
              Case(special.gammainc, [R(3, lo=0.5, hi=3), R(2, 3, lo=0.2, hi=3)], (1,)),
              Case(special.gammaincc, [R(3, lo=0.5, hi=3), R(2, 3, lo=0.2, hi=3)], (1,)),
              Case(special.zeta, [R(3, lo=2, hi=4), R(2, 3, lo=0.5, hi=3)], (1,)),
              Case(special.exp1, [R(2, 3, lo=0.2, hi=3)]),
              Case(special.expi, [R(2, 3, lo=0.2, hi=3)]),
              Case(special.multigammaln, [R(lo=2.0, hi=4.0), C(3)], (0,)),
              Case(special.multigammaln, [R(2, 3, lo=2.0, hi=4.0), C(2)], (0,))]
    # (red team B, dec 23: the functions autograd's test_scipy.py differentiates)
    CASES += [Case(special.log1p, [R(2, 3, lo=-0.5, hi=2)], complex=True),
              Case(special.expm1, [R(2, 3, lo=-2, hi=2)], complex=True),
              Case(special.cosm1, [R(2, 3, lo=-2, hi=2)]),
              Case(special.loggamma, [R(2, 3, lo=0.3, hi=4.0)]),
              Case(special.rgamma, [R(2, 3, lo=0.3, hi=3.0)]),
              Case(special.j0, [R(2, 3, lo=0.2, hi=8)]),
              Case(special.j1, [R(2, 3, lo=-8, hi=8)]),
              Case(special.j1, [fixed([0.0, 0.7])], note="0"),
              Case(special.y0, [R(2, 3, lo=0.2, hi=8)]),
              Case(special.y1, [R(2, 3, lo=0.2, hi=8)]),
              Case(special.jn, [C(2), R(2, 3, lo=0.2, hi=8)], (1,)),
              Case(special.jv, [C(np.array([0.5, 1.5, 3.0])), R(2, 3, lo=0.2, hi=8)], (1,)),
              Case(special.yn, [C(1), R(2, 3, lo=0.5, hi=8)], (1,)),
              Case(special.yv, [C(2.5), R(2, 3, lo=0.5, hi=8)], (1,)),
              Case(special.iv, [C(np.array([0.0, 1.5, 3.0])), R(2, 3, lo=0.2, hi=4)], (1,)),
              Case(special.ive, [C(2), R(2, 3, lo=-4, hi=4)], (1,))]
    if hasattr(special, "softplus"):
        CASES.append(Case(special.softplus, [R(2, 3, lo=-4, hi=4)]))


def lower_spd(d):
    """A matrix whose lower triangle, mirrored, is positive definite, with other numbers above the
    diagonal (scipy's multivariate_normal reads the lower triangle only: their derivative is 0)."""
    def sample(rng, cplx):
        a = rng.uniform(-1, 1, (d, d))
        low = np.tril(a @ a.T + d * np.eye(d))
        return low + np.triu(rng.uniform(-0.3, 0.3, (d, d)), 1)
    return sample


if stats is not None:
    _norm = stats.norm
    CASES += [Case(_norm.logpdf, [R(2, 3, lo=-2, hi=2), R(3), R(2, 1, lo=0.5, hi=2)], (0, 1, 2)),
              Case(_norm.pdf, [R(2, 3, lo=-2, hi=2), R(3), R(lo=0.5, hi=2)], (0, 1, 2)),
              Case(_norm.cdf, [R(2, 3, lo=-2, hi=2), R(3), R(2, 1, lo=0.5, hi=2)], (0, 1, 2)),
              Case(_norm.sf, [R(2, 3, lo=-2, hi=2), R(3), R(2, 1, lo=0.5, hi=2)], (0, 1, 2)),
              Case(_norm.logcdf, [R(2, 3, lo=-6, hi=2), R(3), R(2, 1, lo=0.5, hi=2)], (0, 1, 2)),
              Case(_norm.logsf, [R(2, 3, lo=-2, hi=6), R(3), R(2, 1, lo=0.5, hi=2)], (0, 1, 2)),
              Case(_norm.ppf, [R(2, 3, lo=0.05, hi=0.95), R(3), R(2, 1, lo=0.5, hi=2)], (0, 1, 2)),
              Case(_norm.logpdf, [R(2, 3, lo=-2, hi=2)], note="standard"),
              Case(stats.t.logpdf, [R(2, 3, lo=-2, hi=2), R(3, lo=1, hi=5), R(3), R(2, 1, lo=0.5, hi=2)], (0, 1, 2, 3)),
              Case(stats.t.pdf, [R(2, 3, lo=-2, hi=2), R(lo=1, hi=5)], (0, 1)),
              Case(stats.gamma.logpdf, [R(2, 3, lo=0.5, hi=3), R(3, lo=0.5, hi=4), R(lo=-0.4, hi=0.4),
                                        R(2, 1, lo=0.5, hi=2)], (0, 1, 2, 3)),
              Case(stats.gamma.pdf, [R(2, 3, lo=0.5, hi=3), R(3, lo=1.5, hi=4)], (0, 1)),
              Case(stats.beta.logpdf, [R(2, 3, lo=0.1, hi=0.9), R(3, lo=0.5, hi=4), R(3, lo=0.5, hi=4),
                                       R(lo=-0.05, hi=0.05), R(lo=1.0, hi=1.2)], (0, 1, 2, 3, 4)),
              Case(stats.beta.pdf, [R(2, 3, lo=0.1, hi=0.9), R(3, lo=1.5, hi=4), R(3, lo=1.5, hi=4)], (0, 1, 2)),
              Case(stats.expon.logpdf, [R(2, 3, lo=0.1, hi=3), R(lo=-0.05, hi=0.05), R(3, lo=0.5, hi=2)], (0, 1, 2)),
              Case(stats.expon.pdf, [R(2, 3, lo=0.1, hi=3)], (0,)),
              Case(stats.laplace.logpdf, [R(2, 3, lo=-2, hi=2), R(3, lo=0.05, hi=0.1), R(lo=0.5, hi=2)], (0, 1, 2)),
              Case(stats.cauchy.logpdf, [R(2, 3, lo=-2, hi=2), R(3), R(lo=0.5, hi=2)], (0, 1, 2)),
              Case(stats.logistic.logpdf, [R(2, 3, lo=-2, hi=2), R(3), R(lo=0.5, hi=2)], (0, 1, 2)),
              Case(stats.poisson.logpmf, [C(np.array([0.0, 2.0, 5.0])), R(2, 3, lo=0.5, hi=4)], (1,)),
              Case(stats.poisson.pmf, [C(np.array([0.0, 2.0, 5.0])), R(3, lo=0.5, hi=4)], (1,)),
              Case(stats.multivariate_normal.logpdf, [R(4, 3), R(3), lower_spd(3)], (0, 1, 2)),
              Case(stats.multivariate_normal.logpdf, [R(3), R(3), lower_spd(3)], (0, 1, 2), note="one sample"),
              Case(stats.multivariate_normal.pdf, [R(2, 3), R(3), lower_spd(3)], (0, 1, 2)),
              # (red team s42) x inside the simplex: K - 1 entries (scipy completes the last), or K held
              Case(stats.dirichlet.logpdf, [R(2, lo=0.1, hi=0.4), R(3, lo=0.5, hi=3)], (0, 1), note="K - 1"),
              Case(stats.dirichlet.logpdf, [R(2, 4, lo=0.1, hi=0.4), R(3, lo=0.5, hi=3)], (0, 1), note="points"),
              Case(stats.dirichlet.pdf, [R(2, 3, lo=0.1, hi=0.4), R(3, lo=0.5, hi=3)], (0, 1))]


def triangular(d, lower, diagonal=2.0):
    """A matrix well conditioned in one triangle, other numbers in the other (not read by the ops)."""
    def sample(rng, cplx):
        a = rng.uniform(-1, 1, (d, d)) + diagonal * np.eye(d)
        if cplx:
            a = a + 1j * rng.uniform(-0.5, 0.5, (d, d))
        return a


    return sample


def upper_spd(d):
    def sample(rng, cplx):
        return np.swapaxes(lower_spd(d)(rng, cplx), 0, 1)
    return sample


def cho_solve_fn(lower):
    return lambda c, b: sla.cho_solve((c, lower), b)


def cho_solve_rule(lower):
    return lambda g, ans, c, b: (lookup(sla.cho_solve).fn(g, ans, (c, lower), b)[0][0],
                                 lookup(sla.cho_solve).fn(g, ans, (c, lower), b)[1])


def cho_factor_fn(lower):
    return lambda a: sla.cho_factor(a, lower=lower)[0]


def cho_factor_rule(lower):
    return lambda g, ans, a: lookup(sla.cho_factor).fn((g, None), sla.cho_factor(a, lower=lower), a, lower=lower)


def factor_of(lower):
    """The c of cho_factor: a Cholesky factor in one triangle, other numbers in the other."""
    def sample(rng, cplx):
        c = np.linalg.cholesky(lower_spd(3)(rng, False) if lower else upper_spd(3)(rng, False).T)
        c = c if lower else c.T
        return c + (np.triu(rng.uniform(-1, 1, (3, 3)), 1) if lower else np.tril(rng.uniform(-1, 1, (3, 3)), -1))
    return sample


if ssig is not None:         # (red team s42: autograd's convnet convolves with scipy.signal)
    CASES += [Case(ssig.convolve, [R(5, 4), R(2, 3)], (0, 1)),
              Case(ssig.convolve, [R(3, 2), R(4, 5)], (0, 1), kwargs=dict(mode="valid"), note="in2 larger"),
              Case(ssig.convolve, [R(6), R(4)], (0, 1), kwargs=dict(mode="same", method="fft")),
              Case(ssig.correlate, [R(5, 4), R(2, 3)], (0, 1), kwargs=dict(mode="same")),
              Case(ssig.correlate, [R(3, 4, 2), R(2, 2, 2)], (0, 1), kwargs=dict(mode="valid")),
              Case(ssig.fftconvolve, [R(5, 4), R(2, 3)], (0, 1), kwargs=dict(mode="same")),
              Case(ssig.convolve2d, [R(5, 4), R(2, 3)], (0, 1), kwargs=dict(mode="same")),
              Case(ssig.correlate2d, [R(5, 4), R(3, 2)], (0, 1), kwargs=dict(mode="valid")),
              Case(ssig.correlate2d, [R(2, 3), R(4, 4)], (0, 1))]


if sla is not None:
    CASES += [Case(sla.solve_triangular, [triangular(3, True), R(3, 2)], (0, 1), kwargs=dict(lower=True), complex=True),
              Case(sla.solve_triangular, [triangular(3, False), R(3)], (0, 1), complex=True),
              Case(sla.solve_triangular, [triangular(3, False), R(3, 2)], (0, 1), kwargs=dict(trans="T"), complex=True),
              Case(sla.solve_triangular, [triangular(3, True), R(3)], (0, 1), kwargs=dict(trans=2, lower=True),
                   complex=True),
              Case(sla.solve_triangular, [triangular(3, True, 0.0), R(3)], (0, 1),
                   kwargs=dict(lower=True, unit_diagonal=True), note="unit diagonal: not read"),
              Case(sla.cholesky, [upper_spd(3)]),
              Case(sla.cholesky, [lower_spd(3)], kwargs=dict(lower=True)),
              Case(sla.cho_factor, [upper_spd(3)], fn=cho_factor_fn(False), rule=cho_factor_rule(False)),
              Case(sla.cho_factor, [lower_spd(3)], fn=cho_factor_fn(True), rule=cho_factor_rule(True)),
              Case(sla.cho_solve, [factor_of(True), R(3, 2)], (0, 1), fn=cho_solve_fn(True), rule=cho_solve_rule(True)),
              Case(sla.cho_solve, [factor_of(False), R(3)], (0, 1), fn=cho_solve_fn(False), rule=cho_solve_rule(False)),
              Case(sla.solve, [M(3, 3), R(3, 2)], (0, 1), complex=True),
              Case(sla.solve, [upper_spd(3), R(3)], (0, 1), kwargs=dict(assume_a="pos")),
              Case(sla.solve, [lower_spd(3), R(3)], (0, 1), kwargs=dict(assume_a="sym", lower=True)),
              Case(sla.solve, [triangular(3, True), R(3)], (0, 1), kwargs=dict(assume_a="lower triangular")),
              Case(sla.inv, [M(3, 3)], complex=True),
              Case(sla.inv, [upper_spd(3)], kwargs=dict(assume_a="pos")),
              Case(sla.det, [M(3, 3)], complex=True),
              Case(sla.expm, [R(3, 3)], complex=True)]

PARAMS = [pytest.param(case, op, cplx, id=f"{op_name(op)}-{'complex' if cplx else 'real'}-{k}")
          for k, case in enumerate(CASES) for op in case.aliases
          for cplx in ((False, True) if case.complex else (False,))]


@pytest.mark.parametrize("case, op, cplx", PARAMS)
def test_rule_matches_finite_differences(case, op, cplx):
    rng = np.random.default_rng(len(case.args) + 7)
    args = [sample(rng, cplx) for sample in case.args]
    rule = case.rule or lookup(op).fn
    fn = case.fn or op
    wrt = list(case.wrt)

    def full(values):
        merged = list(args)
        for position, value in zip(wrt, values):
            merged[position] = value
        return merged

    check_rule(lambda *v, **kw: fn(*full(v), **kw), lambda g, ans, *v, **kw: rule(g, ans, *full(v), **kw),
               [args[i] for i in wrt], list(range(len(wrt))), dict(case.kwargs), rtol=case.rtol, atol=case.atol)


def test_every_rule_of_more_ops_has_a_case():
    from test_op_rules import CASES as OP_CASES          # the Dec 2 rows live in the main op table
    covered = {id(op) for case in CASES + OP_CASES for op in case.aliases}
    methods = [op for case in CASES for op in case.aliases if inspect.ismethod(op)]  # made on each read
    mine = [r for r in RULES.values() if r.fn.__module__ == more_ops.__name__]
    missing = [op_name(r.op) for r in mine if id(r.op) not in covered and not any(r.op == m for m in methods)]
    assert not missing, missing


def test_rules_are_single_returns_of_registered_ops():
    from test_op_rules import _check_calls
    for rule in [r for r in RULES.values() if r.fn.__module__ == more_ops.__name__]:
        for expr in rule.templates().values():
            _check_calls(expr, rule.fn.__globals__, f"rule {rule.fn.__name__}", set())


# --- user-style functions run by dlfeval ----------------------------------------------------------

def power_spectrum_loss(x):
    spectrum = np.fft.rfft(x * np.hanning(len(x)))
    power = np.real(spectrum * np.conj(spectrum))
    return np.sum(power[1:4]) / np.sum(power) + 0.1 * np.sum(np.abs(np.fft.fft(x, n=12, norm="ortho")))


def fft_roundtrip_loss(x):
    a = np.reshape(x, (3, 4))
    spec = np.fft.fftshift(np.fft.fft2(a), axes=(0, 1))
    back = np.fft.irfft2(np.fft.rfft2(a * spec.real), s=(3, 4))
    return np.sum(back ** 2) + np.sum(np.abs(np.fft.ifftn(spec)) ** 2)


def complex_signal_loss(z):
    spec = np.fft.ifft(z, norm="forward")
    return np.sum(np.abs(spec) ** 2 * np.arange(len(z))) + np.real(np.sum(np.fft.fftshift(z) * np.conj(spec)))


def erf_loss(x):
    total = 0.0
    for k in range(len(x)):
        total = total + math.erf(x[k]) * math.erfc(x[k] / 2)
    return total + np.sum(special.erf(x * 0.7) ** 2 - special.erfc(x))


def special_loss(x):
    """Log-likelihoods as statistics code writes them with scipy.special (x in (0, 1))."""
    shape, rate = 1.0 + x[0] ** 2, 2.0 + x[1]
    gamma_logpdf = shape * np.log(rate) - special.gammaln(shape) + (shape - 1) * np.log(x[2:]) - rate * x[2:]
    a, b = 1.0 + x[2] ** 2, 2.0 - x[3]
    beta_logpdf = special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)
    probit = special.log_ndtr(x - 0.5) + special.log_expit(3 * x) - special.logit(0.5 + 0.4 * x)
    lg = 0.0
    for k in range(len(x)):
        lg = lg + math.lgamma(1.0 + x[k]) * math.gamma(2.0 - x[k])
    return (np.sum(gamma_logpdf) + np.sum(beta_logpdf) + np.sum(probit) + lg
            + np.sum(special.digamma(1 + x) * special.polygamma(1, 1 + x)) + np.sum(special.entr(x)))


def stats_loss(x):
    """A Gaussian-process evidence and a probit likelihood as scipy.stats users write them."""
    t = np.array([0.0, 0.4, 1.0, 1.7])
    ell, amp = 0.5 + x[0] ** 2, 1.0 + x[1] ** 2
    K = amp * np.exp(-0.5 * (t[:, None] - t[None, :]) ** 2 / ell ** 2) + 0.1 * np.eye(4)
    evidence = stats.multivariate_normal.logpdf(x[2:6], np.zeros(4), K)
    probit = np.sum(stats.norm.logcdf(2.0 * x[2:] - 0.3)) + np.sum(stats.norm.logsf(x[:3], 0.2, 1.5))
    return evidence + probit + np.sum(stats.norm.logpdf(x, loc=x[0], scale=1.0 + x[1] ** 2)) \
        + np.sum(stats.norm.ppf(0.5 + 0.3 * np.tanh(x)))


def bessel_loss(x):
    """A von Mises log-likelihood (log I0 of the concentration), incomplete gamma and friends."""
    kappa = 1.0 + x[0] ** 2
    return (np.sum(kappa * np.cos(x - x[1])) - len(x) * np.log(special.i0(kappa))
            + np.sum(special.i1e(x) + special.gammainc(2.5, 1 + x ** 2) + special.exp1(1 + x))
            + special.multigammaln(3.0 + x[2], 3) + np.sum(special.zeta(3.0, 1 + x ** 2)))


def incomplete_gamma_in_a(x):
    return np.sum(special.gammainc(1 + x ** 2, 2.0))


@pytest.mark.skipif(special is None, reason="scipy is not installed")
def test_a_parameter_without_a_closed_form_derivative_is_refused():
    """gammainc's derivative in a has no closed form: a traced a is refused at the user's line."""
    with pytest.raises(CompileError, match="gammainc"):
        dlfeval(_gradient_of, incomplete_gamma_in_a, dlarray(np.array([0.3, 0.5])))


def distributions_loss(x):
    """Log-likelihoods of a Bayesian model as scipy.stats users write them (x in (0, 1))."""
    rate, shape = 1.0 + x[0] ** 2, 2.0 + x[1]
    counts = np.array([0.0, 3.0, 1.0, 4.0])
    return (np.sum(stats.poisson.logpmf(counts, rate * (1 + x[2:])))
            + np.sum(stats.gamma.logpdf(x[2:], shape, scale=1 / rate))
            + np.sum(stats.beta.logpdf(x, 2.0 + x[0], 3.0 - x[1]))
            + np.sum(stats.t.logpdf(x, 3.0 + x[2], loc=x[3], scale=0.5 + x[4]))
            + np.sum(stats.expon.logpdf(x, scale=0.7 + x[5]))
            + np.sum(stats.laplace.logpdf(x, 0.05, 0.6)) + np.sum(stats.cauchy.logpdf(x, x[0]))
            + np.sum(stats.logistic.logpdf(x, scale=1.5)) + np.sum(stats.gamma.pdf(x, 2.5 + x[1])))


def scipy_linalg_loss(x):
    """A GP evidence with cho_factor/cho_solve, a whitening with solve_triangular, and expm, as
    scipy.linalg users write them."""
    t = np.array([0.0, 0.5, 1.1])
    K = (1.0 + x[0] ** 2) * np.exp(-0.5 * (t[:, None] - t[None, :]) ** 2) + 0.2 * np.eye(3)
    y = x[3:6]
    c, low = sla.cho_factor(K)
    alpha = sla.cho_solve((c, low), y)
    logdet = 2 * np.sum(np.log(np.diag(c)))
    L = sla.cholesky(K, lower=True)
    z = sla.solve_triangular(L, y, lower=True)
    rotation = sla.expm(np.array([[0.0, x[1]], [-x[1], 0.0]]))
    return (-0.5 * y @ alpha - 0.5 * logdet + np.sum(z ** 3) + np.sum(rotation @ x[:2])
            + np.sum(sla.solve(K, y, assume_a="pos")) + sla.det(K) + np.sum(sla.inv(K)))


def pinv_loss(x):
    a = np.reshape(x, (4, 3))
    p = np.linalg.pinv(a)
    return np.sum(np.sin(p)) + np.sum(p @ a)


def svd_loss(x):
    a = np.reshape(x, (4, 3))
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    low = (u[:, :2] * s[:2]) @ vh[:2]            # the rank-2 approximation: independent of signs
    return np.sum(low ** 2 * np.arange(12.0).reshape(4, 3)) + np.sum(u ** 2 @ np.array([1.0, 2.0, 3.0]))


def eig_loss(x):
    a = np.reshape(x, (3, 3))
    m = (a + a.T) / 2 + (a - a.T) + np.diag([0.0, 2.0, 4.0])     # symmetric plus skew: complex pairs
    w, v = np.linalg.eig(m)
    weights = np.real(v * np.conj(v))
    return np.sum(np.real(w) ** 2 + np.imag(w) ** 2 * 0.5) + np.sum(weights * np.array([1.0, 2.0, 3.0]))


def misc_loss(x):
    a = np.reshape(x, (2, 3))
    c = np.cross(a, np.roll(a, 1, axis=1) ** 2, axisa=1, axisb=-1, axisc=0)
    r = np.rot90(np.rollaxis(np.reshape(x, (1, 2, 3)), 2), 1, axes=(0, 2))
    parts = np.hsplit(a, 3)
    e = np.einsum(np.reshape(x[:4], (2, 2)), [0, 0]) + np.einsum("ii->i", np.outer(x[:3], x[3:])).sum()
    top = np.partition(x, 3)[3:]
    s = sorted(x)
    return (np.sum(c * np.array([[1.0], [-2.0], [0.5]])) + np.sum(r * np.arange(6.0).reshape(r.shape)) +
            np.sum(parts[1] ** 3) + e + np.sum(top ** 2) + s[0] * s[-1] + np.sum(np.append(a, x[:2]) ** 2)
            + np.sum(np.select([x > 0.5, x < -0.2], [x ** 2, np.sin(x)], x * 3)))


def gradient_loss(x):
    field = np.reshape(x, (2, 3))
    gy, gx = np.gradient(field ** 2, 0.5, np.array([0.0, 0.3, 1.0]), edge_order=1)
    d = np.gradient(x ** 3, edge_order=2)
    return np.sum(gy * gx) + np.sum(d * np.arange(6.0))


def interp_loss(x):
    knots = np.sort(x[:4])
    values = np.array([0.0, 1.0, 0.5, 2.0])
    return np.sum(np.interp(np.array([-0.6, -0.1, 0.2, 0.45, 0.9]), knots, values * x[4], left=-1.0))


def linspace_loss(x):
    grid = np.linspace(x[:2], x[2:4] + 2.0, 5, axis=-1)
    return np.sum(np.sin(grid) * x[4])


def rounding_loss(x):
    return np.sum(np.floor(x * 3) + np.ceil(x) + np.round(x, 1) + np.rint(x) + np.trunc(x) + np.fix(x)
                  + np.sign(x) + np.around(x))


X6 = np.array([0.3, -0.7, 1.2, 0.55, -0.1, 0.9])
X12 = np.random.default_rng(5).uniform(-1, 1, 12)
USER = [
    (power_spectrum_loss, np.random.default_rng(1).uniform(-1, 1, 10)),
    (fft_roundtrip_loss, X12),
    (pinv_loss, X12),
    (svd_loss, X12),
    (eig_loss, np.random.default_rng(2).uniform(-1, 1, 9)),
    (misc_loss, X6),
    (gradient_loss, X6),
    (interp_loss, np.array([0.1, -0.5, 0.8, 0.3, 1.5])),
    (linspace_loss, np.array([0.1, -0.5, 0.8, 0.3, 1.5])),
]
if special is not None:
    USER.append((erf_loss, X6))
    USER.append((special_loss, np.array([0.3, 0.6, 0.45, 0.2, 0.8, 0.7])))
    USER.append((stats_loss, np.array([0.3, -0.6, 0.45, 0.2, -0.8, 0.7])))
    USER.append((scipy_linalg_loss, np.array([0.3, -0.6, 0.45, 0.2, -0.8, 0.7])))
    USER.append((distributions_loss, np.array([0.3, 0.6, 0.45, 0.2, 0.8, 0.7])))
    USER.append((bessel_loss, np.array([0.3, -0.6, 0.45, 0.2, -0.8, 0.7])))


def _gradient_of(fun, x):
    return dlgradient(fun(x), x)


def _hessian_vector(fun, x, v):
    g = dlgradient(fun(x), x)
    return dlgradient(np.sum(np.real(g) * v), x)


def sct_gradient(fun, x):
    return np.asarray(dlfeval(_gradient_of, fun, dlarray(x)).data)


@pytest.mark.parametrize("fun, x", USER, ids=[f.__name__ for f, _ in USER])
def test_user_functions_first_and_second_derivatives(fun, x):
    check_grads(fun, x)
    v = np.random.default_rng(9).uniform(-1, 1, np.shape(x))
    expected = numerical_gradient(lambda xx: float(np.sum(sct_gradient(fun, xx) * v)), [x], 0)
    hv = np.asarray(dlfeval(_hessian_vector, fun, dlarray(x), v).data)
    np.testing.assert_allclose(hv, expected, rtol=1e-4, atol=1e-5)


def test_complex_inputs_of_fft():
    z = np.random.default_rng(3).uniform(-1, 1, 5) + 1j * np.random.default_rng(4).uniform(-1, 1, 5)
    check_grads(complex_signal_loss, z)


def test_rounding_has_derivative_zero():
    x = np.array([0.3, -0.7, 1.2, 0.55, -0.1, 0.9])
    def f(x):
        y = rounding_loss(x)
        return y, dlgradient(y, x)
    y, g = dlfeval(f, dlarray(x))
    assert float(y) == rounding_loss(x)
    np.testing.assert_array_equal(g.data, np.zeros(6))
    assert g.data.dtype == np.float64
    y, g = dlfeval(f, dlarray(x.astype(np.float32)))
    assert g.data.dtype == np.float32 and not np.any(g.data)


def only_floor(x):
    y = np.sum(np.floor(x))
    return dlgradient(y, x)


def int_cast_only(x):
    y = int(x[0] * 10)
    return dlgradient(y, x)


def test_y_of_rounding_alone_gives_zeros_but_int_casts_are_still_refused():
    np.testing.assert_array_equal(dlfeval(only_floor, dlarray([0.5, 1.5])).data, [0.0, 0.0])
    with pytest.raises(CompileError, match="does not depend on any traced input") as info:
        dlfeval(int_cast_only, dlarray([0.5, 1.5]))
    assert info.value.filename == __file__


def float32_ops(x):
    a = np.reshape(x, (3, 4))
    y = (np.sum(np.abs(np.fft.fft2(a)) ** 2) + np.sum(np.fft.irfft(np.fft.rfft(x), n=12))
         + np.sum(np.linalg.pinv(a)) + np.sum(np.gradient(x)) + np.sum(np.partition(x, 2)[:3])
         + np.sum(np.rot90(a)[0]) + np.sum(np.interp(np.array([0.1]), np.sort(x[:3]), x[3:6])))
    return y, dlgradient(y, x)


def test_float32_stays_float32():
    x = X12.astype(np.float32)
    y, g = dlfeval(float32_ops, dlarray(x))
    assert g.data.dtype == np.float32
    y64, g64 = dlfeval(float32_ops, dlarray(x.astype(np.float64)))
    np.testing.assert_allclose(g.data, g64.data, rtol=2e-3, atol=2e-3)


def values_match(x):
    a = np.reshape(x, (3, 4))
    w, v = np.linalg.eig(a[:, :3])
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (np.fft.rfftn(a, s=(4, 6), axes=(0, 1)), np.fft.fftshift(a), np.linalg.pinv(a), w, v, u, s, vh,
            np.gradient(a), np.partition(x, 4), sorted(x), np.select([x > 0], [x], -1.0))


def test_values_equal_numpy():
    got = dlfeval(values_match, dlarray(X12))
    expected = values_match(X12)
    for g, e in zip(got, expected):
        if isinstance(e, (list, tuple)):
            for gg, ee in zip(g, e):
                np.testing.assert_array_equal(np.asarray(getattr(gg, "data", gg)), ee)
        else:
            np.testing.assert_array_equal(np.asarray(getattr(g, "data", g)), e)


def real_if_close_loss(x):
    z = np.real_if_close(x * (1 + 1e-15j))
    return np.sum(z ** 2 * np.array([1.0, 2.0, 3.0]))


def test_real_if_close_that_drops_the_imaginary_part():
    check_grads(real_if_close_loss, np.array([0.5, -1.0, 2.0]))


def svd_full(x):
    u, s, vh = np.linalg.svd(np.reshape(x, (2, 3)))
    return np.sum(u[:, 0] ** 2) * s[0] + np.sum(vh[2] ** 2 * np.array([1.0, 2.0, 3.0]))


def svd_full_values(x):
    u, s, vh = np.linalg.svd(np.reshape(x, (2, 3)))
    return np.sum(s ** 2)


def test_svd_full_matrices_is_refused_when_its_extra_vectors_are_used():
    with pytest.raises(EvaluationError, match="full_matrices=False"):
        check_grads(svd_full, X6)
    check_grads(svd_full_values, X6)


def cross_2d(x):
    return np.sum(np.cross(np.reshape(x[:4], (2, 2)), np.reshape(x[2:], (2, 2))))


def test_cross_of_2_vectors_is_refused():
    with pytest.raises(EvaluationError, match="3-vectors"):
        check_grads(cross_2d, X6)


def forward_fft(x):
    return np.sum(np.abs(np.fft.fft(x)) ** 2) + np.sum(np.fft.irfft(np.fft.rfft(x) * 2.0)) + \
        np.sum(np.floor(x) * x) + np.sum(np.rot90(np.reshape(x, (2, 3))) * np.arange(6.0).reshape(3, 2))


def test_forward_mode_jvp():
    x = X6
    v = np.random.default_rng(2).uniform(-1, 1, 6)
    value, tangent = sct.jvp(forward_fft, (x,), (v,))
    np.testing.assert_allclose(float(np.asarray(getattr(value, "data", value))), forward_fft(x))
    expected = np.sum(numerical_gradient(forward_fft, [x], 0) * v)
    np.testing.assert_allclose(float(np.asarray(getattr(tangent, "data", tangent))), expected, rtol=1e-6)


@pytest.mark.skipif(special is None, reason="scipy is not installed")
def test_scipy_special_rules_keep_float32():
    """The rules of scipy.special's functions give float32 adjoints for float32 arguments (polygamma
    computes in float64: its weights are cast back)."""
    ops = {special.gammaln, special.gamma, special.digamma, special.polygamma, special.betaln, special.beta,
           special.logit, special.log_expit, special.ndtr, special.log_ndtr, special.ndtri, special.erfinv,
           special.erfcinv, special.erfcx, special.xlogy, special.xlog1py, special.entr, special.rel_entr,
           special.kl_div, more_ops.digamma, more_ops.polygamma}
    seen = set()
    for case in CASES:
        op = case.aliases[0]
        if op not in ops:
            continue
        seen.add(op)
        rng = np.random.default_rng(3)
        args = [s(rng, False) for s in case.args]
        args = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
        with np.errstate(all="ignore"):
            ans = op(*args, **case.kwargs)
            grads = lookup(op).fn(np.ones_like(ans), ans, *args, **case.kwargs)
        if np.asarray(ans).dtype != np.float32:       # polygamma computes in float64
            continue
        for k, grad in zip(case.wrt, grads if isinstance(grads, tuple) else (grads,)):
            assert np.asarray(grad).dtype == np.float32, (op, k)
    assert seen == ops


@pytest.mark.skipif(special is None, reason="scipy is not installed")
def test_float32_gamma_family_gradients_stay_float32():
    def f(x):
        y = np.sum(special.gammaln(x) + special.digamma(x) * x + special.xlogy(x, x))
        return y, dlgradient(y, x)
    x = np.array([0.5, 1.5, 2.5], np.float32)
    y, g = dlfeval(f, dlarray(x))
    assert g.data.dtype == np.float32
    y64, g64 = dlfeval(f, dlarray(x.astype(np.float64)))
    np.testing.assert_allclose(g.data, g64.data, rtol=1e-5)
