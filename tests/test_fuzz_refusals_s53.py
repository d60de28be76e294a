"""False refusals from the random-program red team (session 53, /work/fuzz53): each program was refused
before its fix; now its value is plain Python's and its gradient the central differences of the plain
program (float64 differences for a float32 one).  Nearby programs that must stay refused are refused,
naming the user's line and names (never a compiler temporary)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import SctError

W = np.array([[0.5, -0.3, 0.7], [0.2, 0.9, -0.4]])
V = np.array([0.5, -0.3, 0.7])


def D(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


def _line(fn, k):
    return fn.__code__.co_firstlineno + k


def plain(f, *args, f64=False):
    """f's first result run as plain Python (dlgradient not called; np.float32 read as np.float64 with f64)."""
    g = f.__globals__
    saved = g["dlgradient"], g["np"]
    g["dlgradient"] = lambda *a, **k: None
    if f64:
        proxy = type("np64", (), {k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
        proxy.float32 = np.float64
        g["np"] = proxy
    try:
        return float(f(*args)[0])
    finally:
        g["dlgradient"], g["np"] = saved


def fd(loss, x, h=1e-6):
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for j in range(x.size):
        a, b = x.copy(), x.copy()
        a.flat[j] += h
        b.flat[j] -= h
        g.flat[j] = (loss(a) - loss(b)) / (2 * h)
    return g


def check(f, wrap, x, *rest, tol=1e-7, f64=False, pick=lambda g: g):
    """dlfeval(f, wrap(dlarray(x)), *rest): the value plain Python's, the gradient (``pick`` of it) the
    central differences."""
    L, g = dlfeval(f, wrap(dlarray(x.copy())), *rest)
    np.testing.assert_allclose(D(L), plain(f, wrap(x.copy()), *rest), rtol=tol, atol=tol)
    want = fd(lambda q: plain(f, wrap(q), *rest, f64=f64), x)
    np.testing.assert_allclose(D(pick(g)), want, rtol=max(tol, 1e-6) * 10, atol=max(tol, 1e-6) * 10)
    return L, g


def refused(f, *args, line=None, says=(), absent=()):
    with pytest.raises(SctError) as info:
        dlfeval(f, *args)
    text = str(info.value)
    if line is not None:
        assert f"line {line}" in text, text
    for s in says:
        assert s in text, text
    for s in absent:
        assert s not in text, text
    return text


# --- R2: a write through a view of a .copy() whose array is known fresh ---------------------------

def r2_dict_item(p):
    t = p["W"].copy()                   # an item of a dict argument
    v = t[:, ::-2]
    v *= 2.0
    L = np.sum(t ** 2)
    return L, dlgradient(L, p)


def r2_list_leaf(p):
    w0, b0 = p                          # a leaf unpacked from a list argument
    t = w0.copy()
    v = t[::-1]
    v[0] += 1.0
    L = np.sum(np.tanh(t) ** 2) + np.sum(t)
    return L, dlgradient(L, p)


def r2_star_leaf(p):
    w0, *rest = p
    t = w0.copy()
    v = t[::-1]
    v[0] += 1.0
    L = np.sum(np.tanh(t) ** 2) + np.sum(t * rest[0][0])
    return L, dlgradient(L, p)


def r2_astype(w0):
    t1 = w0.astype(np.float32) * 1.5    # an array, whatever it is made of
    t3 = t1.copy()
    vw = t3[:, ::-2]
    vw *= 2.0
    L = np.sum(t3 ** 2)
    return L, dlgradient(L, w0)


def r2_stack_comprehension(w):
    t0 = np.stack([w[i] * (i + 1) for i in range(2)])
    t2 = t0.copy()
    t2[t0 < 0.0] *= -0.5
    t3 = t2.copy()
    t3[t3.sum(axis=-1) > 0] *= -1.0
    L = np.sum(t2 ** 2) + np.sum(np.sin(t3))
    return L, dlgradient(L, w)


def r2_key_written(p):
    t = p["W"].copy()
    t[:, ::-2] = t[:, ::-2] * 3.0       # (a key that is no dict's: p["W"] keeps its kind)
    L = np.sum(t ** 2) + np.sum(p["W"])
    return L, dlgradient(L, p)


def test_r2_copy_of_a_dict_item_written_through_a_view():
    L, g = check(r2_dict_item, lambda x: {"W": x}, W, pick=lambda g: g["W"])
    np.testing.assert_allclose(D(L), 4.66)


def test_r2_copy_of_a_list_leaf_written_through_a_view():
    b = dlarray(np.array([0.1, -0.2, 0.3]))
    check(r2_list_leaf, lambda x: [x, b], W, pick=lambda g: g[0])
    check(r2_star_leaf, lambda x: [x, b], W, pick=lambda g: g[0])


def test_r2_copy_of_astype_result_written_through_a_view():
    L, g = check(r2_astype, lambda x: x, W, tol=2e-6, f64=True)
    assert D(L).dtype == np.float32
    np.testing.assert_allclose(D(L), 10.485, rtol=1e-6)


def test_r2_copy_of_np_stack_of_a_comprehension():
    check(r2_stack_comprehension, lambda x: x, np.array([[0.5, -0.3, 0.7], [0.2, -0.9, -0.4]]))


def test_r2_slice_write_keeps_the_dict_items_kind():
    check(r2_key_written, lambda x: {"W": x}, W, pick=lambda g: g["W"])


# --- R7: the copy of a nested helper's result given a keyword (a Python float) -----------------------

def r7_nested_keyword(w, s):
    def hh(u, c=0.5):
        return u * c
    t3 = hh(w, c=s).copy()
    vw = t3[::-1]
    vw[0] += 1.0
    L = np.sum(t3 ** 2)
    return L, dlgradient(L, w)


def hm(u, c=0.5):
    return u * c


def r7_module_keyword(w, s):
    t3 = hm(w, c=s).copy()
    vw = t3[::-1]
    vw[0] += 1.0
    L = np.sum(t3 ** 2)
    return L, dlgradient(L, w)


def test_r7_copy_of_a_helper_result_given_a_float_keyword():
    L, g = check(r7_nested_keyword, lambda x: x, V, 0.7)
    np.testing.assert_allclose(D(L), 2.3867)
    check(r7_module_keyword, lambda x: x, V, 0.7)


def r7_helper_returns_its_argument(w, s):
    def hh(u, c=0.5):
        return u                        # the caller's array itself: no new array
    t3 = hh(w, c=s)
    vw = t3[::-1]
    vw[0] += 1.0
    L = np.sum(t3 ** 2)
    return L, dlgradient(L, w)


def test_r7_write_into_a_helper_result_that_is_the_argument_still_refused():
    refused(r7_helper_returns_its_argument, dlarray(V), 0.7, line=_line(r7_helper_returns_its_argument, 5))


# --- R1: an item write into a fresh array held by a local object's attribute -----------------------

class Acc:
    pass


def r1_attr_item(w):
    o = Acc()
    o.w = w + 0.0
    o.w[0] -= 1.0
    L = np.sum(o.w ** 2)
    return L, dlgradient(L, w)


def r1_attr_slice_second_name(w):
    o = Acc()
    o.w = w * 2.0
    o.w[1:] *= 3.0
    o2 = o
    L = np.sum(o2.w ** 2)
    return L, dlgradient(L, w)


def r1_attr_alias_read(w):
    o = Acc()
    o.w = w + 0.0
    a = o.w
    o.w[0] -= 1.0
    L = np.sum(a ** 2) + np.sum(o.w)
    return L, dlgradient(L, w)


def r1_attr_in_list(w):
    o = Acc()
    o.w = w + 0.0
    lst = [o]
    o.w[0] -= 1.0
    L = np.sum(lst[0].w ** 2)
    return L, dlgradient(L, w)


class Syn:
    def sync(self):
        self.v = self.w


def r1_method_copies_the_field(w):
    o = Syn()
    o.w = w + 0.0
    o.sync()                            # o.v is o.w too, unseen
    o.w[0] -= 1.0
    L = np.sum(o.v ** 2) + np.sum(o.w)
    return L, dlgradient(L, w)


class Holder:
    def __init__(self, v):
        self.a = v
        self.b = v                      # v held twice, unseen


def r1_init_holds_twice(w):
    h = Holder(w * 1.0)
    h.a[0] = 5.0
    L = np.sum(h.a ** 2) + np.sum(h.b)
    return L, dlgradient(L, w)


def test_r1_item_write_into_a_local_objects_attribute():
    L, g = check(r1_attr_item, lambda x: x, W[:, :2])
    np.testing.assert_allclose(D(L), 2.79)
    check(r1_attr_slice_second_name, lambda x: x, V)


def test_r1_attribute_seen_through_another_name_still_refused():
    refused(r1_attr_alias_read, dlarray(V), line=_line(r1_attr_alias_read, 4))
    refused(r1_attr_in_list, dlarray(V), line=_line(r1_attr_in_list, 4))
    refused(r1_method_copies_the_field, dlarray(V), line=_line(r1_method_copies_the_field, 4))
    refused(r1_init_holds_twice, dlarray(V), line=_line(r1_init_holds_twice, 2))


# --- R5: the out=None idiom ------------------------------------------------------------------------

def hmod(u, out=None):
    if out is None:
        out = np.zeros_like(u)
    out[...] = u ** 2
    return out


def r5_module(w):
    t = hmod(w)
    L = np.sum(t ** 2)
    return L, dlgradient(L, w)


def r5_positional_none(w):
    t = hmod(w, None)
    L = np.sum(t ** 2)
    return L, dlgradient(L, w)


def r5_nested(w):
    def hw(u, out=None):
        if out is None:
            out = np.zeros_like(u)
        out[...] = u ** 2
        return out
    t = hw(w) - hw(w * 2.0)
    L = np.sum(t ** 2)
    return L, dlgradient(L, w)


def r5_entry(w, out=None):
    if out is None:
        out = np.zeros_like(w)
    out[1:] = w[1:] ** 3
    L = np.sum(out)
    return L, dlgradient(L, w)


def r5_given_buffer(w):
    t = hmod(w)
    buf = np.zeros(3)
    s = hmod(w * 2.0, out=buf)
    L = np.sum(t ** 2) + np.sum(buf) + np.sum(s)
    return L, dlgradient(L, w)


def test_r5_out_none_idiom():
    L, g = check(r5_module, lambda x: x, V)
    np.testing.assert_allclose(D(L), 0.3107)
    check(r5_positional_none, lambda x: x, V)
    L, g = check(r5_nested, lambda x: x, V)
    np.testing.assert_allclose(D(L), 2.7963)
    check(r5_entry, lambda x: x, V)


def test_r5_the_compiled_for_none_helper_checks_none_at_run_time():
    text = str(sct.source(hmod, dlarray(V)))
    assert "require_none(out" in text


def test_r5_a_callers_buffer_still_refused():
    refused(r5_given_buffer, dlarray(V), says=("out",))
    buf = np.zeros(3)
    refused(r5_entry, dlarray(V), buf, line=_line(r5_entry, 3))
    assert not buf.any()


# --- R6 / R4: a nested def's own names ----------------------------------------------------------

def pair(a, b):
    return a + b, a * b


def r6_shadows(w):
    u, v = pair(w, w)
    def hw(u):
        v = u.copy()                    # hw's own v, not f's
        v[0] = v[-1] * 2.0
        return v
    t = hw(w * 2.0) + u
    L = np.sum(t ** 2)
    return L, dlgradient(L, w)


def r6_shadows_scaled(w):
    t = w * 1.0
    def h(u):
        t = u * 1.0
        t[0] = 5.0
        return t
    L = np.sum(h(w * 3.0) ** 2) + np.sum(t ** 2)
    return L, dlgradient(L, w)


def r6_shadow_view_of_argument(w):
    v = w * 1.0
    def hw(u):
        v = u[0:2]                      # a view of the caller's array: its write changes a
        v[0] = 5.0
        return v * 2.0
    a = w * 1.0
    t = hw(a)
    L = np.sum(t ** 2) + np.sum(a ** 2) + np.sum(v)
    return L, dlgradient(L, w)


def body(w):
    def hw(u):
        v = u.copy()
        v[0] = v[-1] * 2.0
        v[1:] *= 0.5
        return v
    t3 = hw(w * 2.0)
    return np.sum(t3 ** 2)


def r4_nested_in_helper(w):
    L = body(w)
    return L, dlgradient(L, w)


def test_r6_nested_local_shadowing_an_outer_name():
    L, g = check(r6_shadows, lambda x: x, V)
    np.testing.assert_allclose(D(L), 23.72)
    check(r6_shadows_scaled, lambda x: x, V)


def test_r6_shadowing_nested_def_writing_through_its_argument_still_refused():
    # (Python changes a through hw's view: a wrong value if followed as a new value of hw's v)
    refused(r6_shadow_view_of_argument, dlarray(V), says=("v[...]",))


def test_r4_nested_def_in_a_helper_writes_into_its_own_copy():
    L, g = check(r4_nested_in_helper, lambda x: x, V)
    np.testing.assert_allclose(D(L), 8.42)


# --- R3: dlgradient(y, *p.values()) --------------------------------------------------------------

def r3_values(p):
    L = np.sum(p["W"] ** 3) + np.sum(p["b"] ** 2)
    return dlgradient(L, *p.values())


def r3_list_values(p):
    L = np.sum(p["W"] ** 3) + np.sum(p["b"] ** 2)
    return dlgradient(L, *list(p.values()))


def r3_items_comprehension(p):
    L = np.sum(p["W"] ** 3) + np.sum(p["b"] ** 2)
    return dlgradient(L, *[v for k, v in p.items()])


def r3_values_after_a_new_key(p):
    p["c"] = p["W"] * 2.0
    L = np.sum(p["W"] ** 3) + np.sum(p["b"] ** 2) + np.sum(p["c"])
    return dlgradient(L, *p.values())


def test_r3_gradient_with_respect_to_the_values_of_a_dict_argument():
    w, b = np.array([0.5, -0.3]), np.array([0.1, 0.2])
    for f in (r3_values, r3_list_values):
        gw, gb = dlfeval(f, {"W": dlarray(w), "b": dlarray(b)})
        np.testing.assert_allclose(D(gw), 3 * w ** 2)
        np.testing.assert_allclose(D(gb), 2 * b)
    gb, gw = dlfeval(r3_values, {"b": dlarray(b), "W": dlarray(w)})     # (its own order)
    np.testing.assert_allclose(D(gw), 3 * w ** 2)
    np.testing.assert_allclose(D(gb), 2 * b)


def test_r3_refusals_name_the_users_construct():
    p = {"W": dlarray(np.array([0.5, -0.3])), "b": dlarray(np.array([0.1, 0.2]))}
    refused(r3_items_comprehension, p, line=_line(r3_items_comprehension, 2),
            says=("*[v for k, v in p.items()]",), absent=("out_t", "out_list"))
    p = {"W": dlarray(np.array([0.5, -0.3])), "b": dlarray(np.array([0.1, 0.2]))}
    refused(r3_values_after_a_new_key, p, line=_line(r3_values_after_a_new_key, 3),
            says=("*p.values()",), absent=("out_list", "out_values"))
