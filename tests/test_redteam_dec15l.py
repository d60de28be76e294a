"""Red team, Dec 15 (L): complex values reaching code sct proves real (Activity.maybe_complex,
sct/analysis.py ``_code_real``), values against plain Python, gradients (first and second order,
accelerated) against central differences.

Found (each a silently wrong gradient: a conjugate dropped where a value was proven real wrongly):
- a default read through its parameter (``def rot(v, PH=PH)``, ``def s(v, c=c)`` in a closure):
  ``_code_real`` skipped parameter names; now the defaults' values are checked.
- ``map(fn, [v])`` / ``sorted(key=fn)`` in a helper given a function: now not proven.
- ``p.dot(v)`` in a helper given an object whose class defines ``dot`` (a method named as an
  array's, a container's, or an operator): taken for the array's method; now the class's methods
  of those names must be proven real (``_class_real``).
- ``np.roots``, ``np.poly1d(c).roots``, numpy.polynomial, np.lib.scimath under any imported name;
  dtype codes "c16" and "D": complex from real arguments, now not proven.
- a value not proven real passed by keyword to a helper, a method or a constructor
  (``helper(x, c=1 + 2j)``, ``s.scale(x, c=PH)``, ``Box(x, c=PH)``, a partial's frozen keyword):
  the callee was compiled for its default's kind (None: real); now such keywords go to their
  positions (sct/calls.py ``complex_keywords``, rt.keywords_method for a method).
- a proof cached by code: a global the helper reads rebound complex, a global object's field set
  complex between calls, or a second closure of the same code over a complex value reused the
  first proof; now the values read are checked when the proof is reused, and the caller's code
  is guarded on them (``Activity.proven``).
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_redteam_dec14i import check  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402


import functools  # noqa: E402
from numpy.lib.scimath import log as elog  # noqa: E402

PH = np.exp(0.5j)


def rot_default(v, PH=PH):
    return v * PH


def p_default_same_name(x):
    w = rot_default(x)
    return np.real(np.sum(w * w * x))


def _astype_c16(v):
    return v.astype("c16") * np.exp(v.astype("c16") * 0.7 * np.array([0.0, 1.0])[1] * np.sqrt(-1 + 0 * v.astype("c16")))


def _to_D(v):
    return np.asarray(v, dtype="D")


def p_dtype_code(x):
    w = _to_D(x) * (1 + 0.5 * _to_D(x) ** 2)
    return np.real(np.sum(w * w))


def _scimath_scale(v):
    return v * elog(-2.0)


def p_scimath_imported(x):
    w = _scimath_scale(x)
    return np.real(np.sum(w * w * x))


def _roots_scale(v):
    r = np.roots([1.0, 0.0, 1.0])
    return v * r[0]


def p_roots(x):
    w = _roots_scale(x)
    return np.real(np.sum(w * w * x))


def _poly_scale(v):
    r = np.poly1d([1.0, 0.0, 2.0]).roots
    return v * r[0]


def p_poly1d(x):
    w = _poly_scale(x)
    return np.real(np.sum(w * w * x))


class Phase:
    def __init__(self, a):
        self.a = a

    def dot(self, v):
        return v * np.exp(1j * self.a)


def _apply_dot(v, p):
    return p.dot(v)


def p_ndarray_named_method(x):
    p = Phase(0.3)
    w = _apply_dot(x, p)
    return np.real(np.sum(w * w * x))


def rot(v):
    return v * (2 - 1j)


def _map_apply(v, fn):
    return list(map(fn, [v]))[0]


def p_map_param(x):
    w = _map_apply(x, rot)
    return np.real(np.sum(w * w * x))


def _sorted_first(v, fn):
    return sorted([v, v * 2], key=lambda a: 0.0)[0] * fn(1.0)


def p_partial(x):
    f = functools.partial(rot_default, PH=np.exp(0.5j))
    w = f(x)
    return np.real(np.sum(w * w * x))


def _scale_by(v, c):
    return v * c


def p_partial2(x):
    f = functools.partial(_scale_by, c=PH)
    w = f(x)
    return np.real(np.sum(w * w * x))




def _make_scaler():
    c = np.exp(0.5j)

    def s(v, c=c):
        return v * c
    return s


_closure_default = _make_scaler()


def p_closure_default(x):
    w = _closure_default(x)
    return np.real(np.sum(w * w * x))


def _kwonly(v, *, c=PH):
    return v * c


def p_kwonly_default(x):
    w = _kwonly(x)
    return np.real(np.sum(w * w * x))


class Base:
    def __call__(self, v):
        return v * np.exp(0.5j)


class Child(Base):
    pass


def p_inherited_call(x):
    c = Child()
    w = c(x)
    return np.real(np.sum(w * w * x))


class Child2(Base):
    def __call__(self, v):
        return super().__call__(v) * 2.0


def p_super_call(x):
    c = Child2()
    w = c(x)
    return np.real(np.sum(w * w * x))


class WithStatic:
    @staticmethod
    def turn(v):
        return v * 1j


def _call_static(v):
    return WithStatic.turn(v)


def p_staticmethod(x):
    w = _call_static(x)
    return np.real(np.sum(w * w * x))


def _getattr_field(v, o):
    return v * getattr(o, "c")


class Holder:
    def __init__(self):
        self.c = 0.5


def p_getattr(x):
    o = Holder()
    o.c = PH
    w = _getattr_field(x, o)
    return np.real(np.sum(w * w * x))


def _dict_get(v, d):
    return v * d.get("c")


def p_dict_param(x):
    d = {"c": 0.5}
    d["c"] = PH
    w = _dict_get(x, d)
    return np.real(np.sum(w * w * x))


def _list_param(v, xs):
    return v * xs[0]


def p_list_param(x):
    xs = [0.5]
    xs[0] = PH
    w = _list_param(x, xs)
    return np.real(np.sum(w * w * x))


def p_list_append(x):
    xs = []
    xs += [PH]
    w = _list_param(x, xs)
    return np.real(np.sum(w * w * x))


def p_setattr_builtin(x):
    o = Holder()
    setattr(o, "c", PH)
    w = _getattr_field(x, o)
    return np.real(np.sum(w * w * x))


def p_dict_update(x):
    d = {"c": 0.5}
    d.update(c=PH)
    w = _dict_get(x, d)
    return np.real(np.sum(w * w * x))


def p_dict_setdefault(x):
    d = {}
    d.setdefault("c", PH)
    w = _dict_get(x, d)
    return np.real(np.sum(w * w * x))


def p_list_insert(x):
    xs = [0.5]
    xs.insert(0, PH)
    w = _list_param(x, xs)
    return np.real(np.sum(w * w * x))


def p_tuple_unpack(x):
    a, b = PH, 0.5
    w = x * a
    return np.real(np.sum(w * w * x))


def p_for_target(x):
    t = 0.0
    for c in [PH, 0.5]:
        w = x * c
        t = t + np.real(np.sum(w * w * x))
    return t


def p_aug_assign(x):
    c = 0.5
    c *= PH
    w = x * c
    return np.real(np.sum(w * w * x))


def p_walrus(x):
    if (c := PH) is not None:
        w = x * c
    return np.real(np.sum(w * w * x))


def p_with_target(x):
    w = x * 1.0
    for i, c in enumerate([PH]):
        w = w * c
    return np.real(np.sum(w * w * x))


def p_comprehension(x):
    ws = [x * c for c in [PH, 0.5]]
    return np.real(np.sum(ws[0] * ws[0] * x))


def p_ann_assign(x):
    c: complex = PH
    w = x * c
    return np.real(np.sum(w * w * x))


def _scale_none(v, c=None):
    if c is None:
        c = PH
    return _scale_by(v, c)


def p_none_default(x):
    w = _scale_none(x)
    return np.real(np.sum(w * w * x))


def p_none_default_local(x):
    c = None
    if x.shape[0] > 1:
        c = PH
    w = _scale_by(x, c)
    return np.real(np.sum(w * w * x))


def p_astype_c16(x):
    w = _astype_c16(x)
    return np.real(np.sum(w * w * x))


def _by_kw(v, *, c=None):
    if c is None:
        c = PH
    return _scale_by(v, c=c)


def p_kw_none(x):
    w = _by_kw(x)
    return np.real(np.sum(w * w * x))


def p_kw_given(x):
    w = _by_kw(x, c=PH)
    return np.real(np.sum(w * w * x))


def p_kw_direct(x):
    w = _scale_by(x, c=PH)
    return np.real(np.sum(w * w * x))


def p_kw_direct_literal(x):
    w = _scale_by(x, c=1 + 2j)
    return np.real(np.sum(w * w * x))


def p_kw_complex_arg(x):
    z = x * (1 + 2j)
    w = _scale_by(v=x, c=z)
    return np.real(np.sum(w * w * x))


def p_pos_literal(x):
    w = _scale_by(x, 1 + 2j)
    return np.real(np.sum(w * w * x))


def p_kw_active(x):
    w = _scale_by(x, c=np.sin(x))
    return np.sum(w * w * x)


def p_kw_array_complex(x):
    c = np.exp(1j * np.array([0.3, 0.8]))
    w = _scale_by(x, c=c)
    return np.real(np.sum(w * w * x))


def _maybe_scale(v, c=None):
    if c is None:
        return v * 2.0
    return v * c


def p_kw_none_folded(x):
    w = _maybe_scale(x, c=np.array([3.0, 4.0]))
    return np.sum(w * w * x)


class Scaler:
    def __init__(self, k):
        self.k = k

    def scale(self, v, c=None):
        return v * c * self.k


def p_method_kw(x):
    s = Scaler(2.0)
    w = s.scale(x, c=PH)
    return np.real(np.sum(w * w * x))


class CScaled:
    def __init__(self, w, c=None):
        self.w = w * c


def p_init_kw(x):
    o = CScaled(x, c=PH)
    w = o.w
    return np.real(np.sum(w * w * x))


FIXED = [p_default_same_name, p_closure_default, p_map_param, p_ndarray_named_method, p_poly1d, p_roots,
         p_partial2, p_scimath_imported, p_kw_none, p_kw_given, p_kw_direct, p_kw_direct_literal, p_kw_array_complex, p_astype_c16,
         p_method_kw, p_init_kw]
GUARDS = [p_dtype_code, p_none_default, p_none_default_local, p_kw_active, p_kw_none_folded,
          p_kw_complex_arg, p_pos_literal, p_staticmethod, p_super_call, p_inherited_call, p_getattr,
          p_dict_update, p_dict_setdefault, p_list_insert, p_list_param, p_dict_param, p_setattr_builtin,
          p_partial, p_kwonly_default, p_aug_assign, p_for_target, p_walrus, p_comprehension, p_ann_assign,
          p_tuple_unpack, p_with_target, p_list_append]


@pytest.mark.parametrize("f", FIXED + GUARDS, ids=lambda f: f.__name__)
def test_gradients(f):
    check(f, [0.5, 0.3])


@pytest.mark.parametrize("f", FIXED + GUARDS, ids=lambda f: f.__name__)
def test_accelerated(f):
    check(f, [0.5, 0.3], accelerate=True, order=1)


def _fd_gradient(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


@pytest.mark.parametrize("f", FIXED, ids=lambda f: f.__name__)
def test_jvp_hvp(f):
    from gradcheck import assert_close
    x, v = np.array([0.5, 0.3]), np.array([0.7, -0.4])
    y, t = sct.jvp(f, dlarray(x), dlarray(v))
    h = 1e-6
    assert_close(extractdata(y), f(x.copy()), rtol=1e-12, what=f"{f.__name__}: jvp value")
    assert_close(extractdata(t), (f(x + h * v) - f(x - h * v)) / (2 * h), rtol=1e-5, atol=1e-6,
                 what=f"{f.__name__}: jvp")
    hv = sct.hvp(f, dlarray(x), dlarray(v))
    hv = hv[-1] if isinstance(hv, tuple) else hv
    h = 1e-4
    expected = (_fd_gradient(f, x + h * v) - _fd_gradient(f, x - h * v)) / (2 * h)
    assert_close(extractdata(hv), expected, rtol=1e-3, atol=1e-4, what=f"{f.__name__}: hvp")


# --- a proof read again when what it read changes --------------------------------------------

SCALE = 0.5


def _by_global(v):
    return v * SCALE


def p_global_rebound(x):
    w = _by_global(x)
    return np.real(np.sum(w * w * x))


class _Settings:
    pass


SETTINGS = _Settings()
SETTINGS.c = 0.5


def _by_field(v):
    return v * SETTINGS.c


def p_global_field_set(x):
    w = _by_field(x)
    return np.real(np.sum(w * w * x))


def _make_scaler(c):
    def scale(v):
        return v * c
    return scale


SCALE_REAL = _make_scaler(0.5)
SCALE_COMPLEX = _make_scaler(np.exp(0.5j))


def p_closure_real(x):
    w = SCALE_REAL(x)
    return np.real(np.sum(w * w * x))


def p_closure_complex(x):
    w = SCALE_COMPLEX(x)
    return np.real(np.sum(w * w * x))


def test_global_made_complex_between_calls():
    """A helper proven real while a global it reads is real: the caller's code is compiled again
    once the global is rebound to a complex value, or a global object's field is set to one."""
    global SCALE
    try:
        for f in (p_global_rebound, p_global_field_set):
            check(f, [0.5, 0.3], order=1)
            SCALE, SETTINGS.c = np.exp(0.5j), np.exp(0.5j)
            check(f, [0.5, 0.3], order=1)
            check(f, [0.5, 0.3], accelerate=True, order=1)
            SCALE, SETTINGS.c = 0.5, 0.5
            check(f, [0.5, 0.3], order=1)
    finally:
        SCALE, SETTINGS.c = 0.5, 0.5


def test_closures_of_one_code():
    """Two closures of one function's code, over a real and a complex value: each proven apart."""
    check(p_closure_real, [0.5, 0.3], order=1)
    check(p_closure_complex, [0.5, 0.3])
    check(p_closure_real, [0.5, 0.3])


# --- real programs: no run-time decision added ----------------------------------------------------

def _leaky(v, alpha=0.1):
    return np.where(v > 0, v, alpha * v)


class Dense:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, v, scale=1.0):
        return _leaky(v @ self.W + self.b, alpha=0.2) * scale


def _real_loss(W, b, x):
    layer = Dense(W, b)
    h = layer(x, scale=0.5)
    h = layer(h)
    h = sorted([h, h * 2.0], key=lambda a: float(np.sum(a)))[0]
    return np.sum(h ** 2) + max(0.0, float(np.sum(h)))


def test_real_program_keeps_its_code():
    """Keywords of real values, defaults, sorted(key=lambda), max: proven real, no rt.conj_of
    or rt.real_if_real in the generated code; gradient against differences."""
    from gradcheck import assert_close, numerical_gradient
    rng = np.random.default_rng(1)
    W, b, x = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((2, 3))

    def loss_grad(W, b):
        loss = _real_loss(W, b, x)
        return loss, dlgradient(loss, W, b)
    text = str(sct.source(loss_grad, dlarray(W), dlarray(b), callees=True, run=True))
    assert "conj_of" not in text and "real_if_real" not in text, text
    loss, (gW, gb) = dlfeval(loss_grad, dlarray(W), dlarray(b))
    assert_close(extractdata(loss), _real_loss(W, b, x), rtol=1e-12, what="value")
    assert_close(extractdata(gW), numerical_gradient(lambda a: _real_loss(a, b, x), [W], 0), what="gradient W")
    assert_close(extractdata(gb), numerical_gradient(lambda a: _real_loss(W, a, x), [b], 0), what="gradient b")
