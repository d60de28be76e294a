"""red50 A and D: a lazy iterator stored and walked after a call that changes what it reads is refused
(it gave the items of the old values); x.astype(object) keeps the derivative (it was a constant);
structured-dtype arrays on the differentiated path are refused at the line (an internal error, or a
field view's write silently lost)."""
import itertools
import inspect

import numpy as np
import pytest

import sct
from sct import CompileError, dlarray, dlfeval, dlgradient, extractdata

X0 = np.array([0.5, -1.2, 2.0])
C = np.array([1.0, 2.0, 3.0])


def _plain(fn, x, *rest):
    """fn run as plain Python (dlgradient not called: fn returns L only)."""
    return float(fn(np.array(x, dtype=float), *[r() for r in rest]))


def _fd(fn, x, *rest, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (_plain(fn, x + e, *rest) - _plain(fn, x - e, *rest)) / (2 * h)
    return g


def _check(fn, *rest):
    """fn's value under dlfeval against plain Python, its gradient against central differences."""
    def run(x, *others):
        L = fn(x, *others)
        return L, dlgradient(L, x)
    sct.clear_cache()
    L, g = dlfeval(run, dlarray(X0), *[r() for r in rest])
    assert np.isclose(float(extractdata(L)), _plain(fn, X0, *rest))
    np.testing.assert_allclose(extractdata(g).ravel(), _fd(fn, X0, *rest), rtol=1e-6, atol=1e-8)


def _refused(fn, *rest, line_of=None):
    def run(x, *others):
        L = fn(x, *others)
        return L, dlgradient(L, x)
    sct.clear_cache()
    with pytest.raises(CompileError) as err:
        dlfeval(run, dlarray(X0), *[r() for r in rest])
    src, first = inspect.getsourcelines(fn)
    line = first + next(i for i, t in enumerate(src) if line_of in t)
    assert f"line {line}:" in str(err.value), str(err.value)
    return str(err.value)


# --- A: lazy iterators walked after a helper changed what they read -------------------------------
class Cfg:
    def __init__(self):
        self.k = 2.0
        self.lst = [1.0, 2.0]

    def scale(self, a):
        return a * self.k


def warmup(cfg):
    cfg.k = 5.0


def addto(lst, v):
    lst.append(v)


def append_k(cfg):
    cfg.lst.append(10.0)


def set_a(d):
    d["a"] = 5.0


def twice(v):          # pure: changes nothing
    return v * 2.0


def gen_attr(x, cfg):
    terms = (a * cfg.k for a in x)
    warmup(cfg)
    return sum(terms)


def map_method(x, cfg):
    m = map(cfg.scale, x)
    warmup(cfg)
    return sum(m)


def filter_attr(x, cfg):
    f = filter(lambda a: a > cfg.k - 2.5, x)
    warmup(cfg)
    return sum(f) + 0.0 * x[0]


def gen_list(x, cfg):
    g = (a * cfg.lst[-1] for a in x)
    append_k(cfg)
    return sum(g)


def chain_attr(x, cfg):
    ch = itertools.chain([x[0]], (a * cfg.k for a in x[1:]))
    warmup(cfg)
    return sum(ch)


def accumulate_attr(x, cfg):
    acc = itertools.accumulate(a * cfg.k for a in x)
    warmup(cfg)
    return sum(acc)


def islice_attr(x, cfg):
    sl = itertools.islice((a * cfg.k for a in x), 2)
    warmup(cfg)
    return sum(sl)


def zip_gen(x, cfg):
    z = zip(x, (cfg.k * i for i in range(3)))
    warmup(cfg)
    return sum(a * b for a, b in z)


def second_name(x, cfg):
    g = (a * cfg.k for a in x)
    c2 = cfg
    warmup(c2)
    return sum(g)


def dict_keys(x, d):
    g = (x * d[k] for k in d)
    set_a(d)
    return np.sum(sum(g))


def enumerate_list(x):
    lst = [x[0], x[1]]
    e = enumerate(lst)
    addto(lst, x[2] * 3)
    return sum(v * (i + 1) for i, v in e)


def nonlocal_bump(x):
    k = 2.0

    def bump():
        nonlocal k
        k = 5.0
    terms = (a * k for a in x)
    bump()
    return sum(terms)


def stack_list(x, cfg):
    vals = (a * cfg.k for a in x)
    warmup(cfg)
    return np.sum(np.stack(list(vals)))


@pytest.mark.parametrize("fn,line_of", [
    (gen_attr, "warmup(cfg)"), (map_method, "warmup(cfg)"), (filter_attr, "warmup(cfg)"),
    (gen_list, "append_k(cfg)"), (chain_attr, "warmup(cfg)"), (accumulate_attr, "warmup(cfg)"),
    (islice_attr, "warmup(cfg)"), (zip_gen, "warmup(cfg)"), (second_name, "warmup(c2)"),
    (stack_list, "warmup(cfg)")])
def test_call_changing_what_a_stored_iterator_reads_is_refused(fn, line_of):
    msg = _refused(fn, Cfg, line_of=line_of)
    assert "before it is walked" in msg


def test_helper_writing_a_dict_item_a_generator_reads_is_refused():
    _refused(dict_keys, lambda: {"a": 2.0, "b": 1.0}, line_of="set_a(d)")


def test_helper_appending_to_a_list_enumerate_walks_is_refused():
    _refused(enumerate_list, line_of="addto(lst")


def test_nonlocal_rebinding_before_the_walk_is_refused():
    _refused(nonlocal_bump, line_of="bump()\n")


class Resettable:
    def __init__(self):
        self.k = 2.0

    def reset(self):
        self.k = 5.0


G = Resettable()


def global_warm():
    G.k = 5.0


def lambda_between(x, cfg):
    run = lambda: warmup(cfg)      # noqa: E731
    terms = (a * cfg.k for a in x)
    run()
    return sum(terms)


def bound_method_between(x, cfg):
    reset = cfg.reset
    terms = (a * cfg.k for a in x)
    reset()
    return sum(terms)


def global_between(x):
    terms = (a * G.k for a in x)
    global_warm()
    return sum(terms)


@pytest.mark.parametrize("fn,rest,line_of", [(lambda_between, (Resettable,), "run()"),
                                             (bound_method_between, (Resettable,), "reset()\n"),
                                             (global_between, (), "global_warm()")])
def test_local_callable_or_global_changed_before_the_walk_is_refused(fn, rest, line_of):
    G.k = 2.0
    msg = _refused(fn, *rest, line_of=line_of)
    assert "before it is walked" in msg and (fn is not global_between or "G" in msg)


# the common forms keep running, exact
def walked_at_once(x, cfg):
    w = cfg.k
    return sum(a * w for a in x)


def enumerate_loop(x):
    s = 0.0
    for i, a in enumerate(x):
        s = s + a * (i + 1)
    return s


def zip_loop(x):
    params = [x[0], x[1]]
    grads = [x[1] * 2, x[2] * x[0]]
    out = 0.0
    for p, g in zip(params, grads):
        out = out + p * g
    return out


def stored_no_call(x, cfg):
    terms = (a * cfg.k for a in x)
    n = len(x)
    return sum(terms) / n


def stored_harmless_calls(x, cfg):
    terms = (a * cfg.k for a in x)
    t = twice(np.sum(x))
    m = map(np.tanh, x)
    print(end="")
    return sum(terms) + sum(m) + t


def helper_after_walk(x, cfg):
    terms = (a * cfg.k for a in x)
    L = sum(terms)
    warmup(cfg)
    return L * cfg.k


def stored_zip_no_call(x, cfg):
    z = zip(x, [1.0, 2.0, 3.0])
    v = np.sum(x)
    return sum(a * b for a, b in z) + v


@pytest.mark.parametrize("fn,rest", [
    (walked_at_once, (Cfg,)), (enumerate_loop, ()), (zip_loop, ()), (stored_no_call, (Cfg,)),
    (stored_harmless_calls, (Cfg,)), (helper_after_walk, (Cfg,)), (stored_zip_no_call, (Cfg,))])
def test_common_forms_still_exact(fn, rest):
    _check(fn, *rest)


# --- D: x.astype(object) keeps the derivative ------------------------------------------------------
def astype_object_round_trip(x):
    y = x.astype(object).astype(float)
    return np.dot(y, C) + 0.1 * np.sum(x)


def astype_object_missing(x):
    y = x.astype(object)
    y[1] = None
    z = np.array([v if v is not None else 0.0 for v in y], dtype=float)
    return np.dot(z, C) + 0.1 * np.sum(x)


def astype_O_forms(x):
    a = x.astype("O").astype(float)
    b = x.astype(dtype=object) + 0.0
    c = np.array(list(x.astype(np.object_)), dtype=float)
    return np.dot(a, C) + np.sum(np.asarray(b, dtype=float) * a) + np.sum(c * c)


def astype_object_sum(x):
    return float(x.astype(object).sum()) * 2.0 + 0.0 * x[0]


@pytest.mark.parametrize("fn", [astype_object_round_trip, astype_object_missing, astype_O_forms,
                                astype_object_sum])
def test_astype_object_keeps_the_derivative(fn):
    _check(fn)


def test_astype_object_forward_mode():
    def f(x):
        y = x.astype(object)
        y[1] = None
        z = np.array([v if v is not None else 0.0 for v in y], dtype=float)
        return np.dot(z * z, C)
    v = np.array([1.0, 2.0, -1.0])
    sct.clear_cache()
    _, tangent = sct.jvp(f, (X0,), (v,))
    assert np.isclose(float(extractdata(tangent)), np.dot(2 * X0 * C * np.array([1, 0, 1]), v))


# --- D: structured arrays refused at the line --------------------------------------------------------
REC = np.dtype([("a", float), ("b", float)])


def field_write(x):
    st = np.zeros(3, [("a", float), ("b", float)])
    st["a"] = x
    return np.dot(st["a"], C)


def field_view_write(x):
    st = np.zeros(3, REC)
    st["a"][:] = x
    return np.sum(st["a"] * 2.0) + 0.1 * np.sum(x)


def field_alias_write(x):
    st = np.zeros(3, REC)
    a = st["a"]
    a[:] = x
    return np.sum(st["a"] * 2.0) + 0.1 * np.sum(x)


def record_write(x):
    st = np.zeros(3, REC)
    st[0] = (x[0], x[1])
    return st["a"][0] * 3.0 + 0.1 * np.sum(x)


@pytest.mark.parametrize("fn,line_of", [(field_write, 'st["a"] = x'), (field_view_write, 'st["a"][:] = x'),
                                        (field_alias_write, "a[:] = x"), (record_write, "st[0] = ")])
def test_structured_dtype_write_refused_at_its_line(fn, line_of):
    assert "structured dtype" in _refused(fn, line_of=line_of)


def structured_constant(x):
    st = np.zeros(3, REC)
    st["b"] = C
    st["a"] = C * 2
    return np.dot(x, st["a"]) + np.sum(st[0]["b"] * x)


def test_structured_constant_read_still_exact():
    _check(structured_constant)
