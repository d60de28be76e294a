"""Red team "keys" (dec 6): caches and call sequences.  The same function called in a sequence
of calls in one process must give what the same call gives first in a fresh process: values
against plain Python, gradients against central differences."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from gradcheck import numerical_gradient
from sct import dlarray, dlfeval, dlgradient, extractdata


def test_hvp_starred_empty_constants_drawing_seeded_noise():
    # sct.hvp(lambda a: np.sum(fn(a, *cs)), x, v) with cs = (): forward mode refuses to compile the
    # starred call and hvp falls back to reverse over reverse, which it ran as a recomputation of
    # what forward mode had run (nothing), comparing numpy's global generator with its state from
    # before fn's first draw: refused ("drew random numbers through a call sct does not know")
    # unless an earlier call had left the generator where fn's np.random.seed(1) + randn put it
    def fn(x):
        np.random.seed(1)
        noise = np.random.randn(*x.shape)
        return np.sum(x * x * noise)

    cs = ()
    x = np.array([0.3, 0.7, -0.4])
    v = np.array([1.0, -0.5, 0.2])
    np.random.seed(0)
    got = extractdata(sct.hvp(lambda a: np.sum(fn(a, *cs)), x, v))
    np.random.seed(1)
    np.testing.assert_allclose(got, 2 * np.random.randn(3) * v, rtol=1e-12)


def test_hvp_starred_empty_constants_draws_once():
    # the fallback is fun's first run: numpy's generator moves once, as in Python
    def fn(x):
        noise = np.random.randn(*x.shape)
        return np.sum(x * x * noise)

    cs = ()
    x = np.array([0.3, 0.7, -0.4])
    v = np.array([1.0, -0.5, 0.2])
    np.random.seed(5)
    got = extractdata(sct.hvp(lambda a: np.sum(fn(a, *cs)), x, v))
    after = np.random.get_state()
    np.random.seed(5)
    np.testing.assert_allclose(got, 2 * np.random.randn(3) * v, rtol=1e-12)
    now = np.random.get_state()
    assert after[2] == now[2] and np.array_equal(after[1], now[1])


# --- the walks of a loader of the user's class were kept past the dlfeval call that made them: a later
# call's recomputation (a dlgradient differentiated again) whose walk of the loader gave other items than
# its own first run was taken for one of an earlier call's walks and ran, with the batches in another
# order than Python's single run: the loss right, the gradient and its derivative another loss's
# (g [-0.62, 5.08] for [2.44, 6.04]). A fresh process refused it. Every walk's batches were held too.

class _EpochLoader:
    def __init__(self, items):
        self.items = items
        self.epoch = 0

    def __iter__(self):
        self.epoch += 1
        k = self.epoch % 3
        return iter(self.items[k:] + self.items[:k])


_ITEMS = [np.array([1.0, 2.0]), np.array([-1.0, 0.5]), np.array([0.3, 0.3])]
_W = np.array([0.4, -0.3])


def _first_order(w, loader):
    loss = 0.0
    i = 0.0
    for b in loader:
        i = i + 1.0
        loss = loss + i * np.sum(np.sin(w * b))
    return loss, dlgradient(loss, w)


def _second_order(w, loader):
    loss = 0.0
    i = 0.0
    for b in loader:
        i = i + 1.0
        loss = loss + i * np.sum(np.sin(w * b))
    g = dlgradient(loss, w)
    return loss, g, dlgradient(np.sum(g ** 2), w)


def test_loader_walks_of_earlier_calls_do_not_stand_for_this_ones():
    loader = _EpochLoader(_ITEMS)
    for _ in range(3):          # first-order calls walk the loader in each of its three orders
        _, g = dlfeval(_first_order, dlarray(_W), loader)
    k = loader.epoch % 3
    order = _ITEMS[k:] + _ITEMS[:k]
    want = sum((i + 1.0) * b * np.cos(_W * b) for i, b in enumerate(order))
    np.testing.assert_allclose(extractdata(g), want, rtol=1e-12)
    with pytest.raises(sct.SctError, match="gave other items|runs _EpochLoader.__iter__, which changes an object"):
        dlfeval(_second_order, dlarray(_W), loader)


def test_walks_are_not_kept_past_the_call():
    from sct.runtime import effects
    loader = _EpochLoader(_ITEMS)
    for _ in range(5):
        dlfeval(_first_order, dlarray(_W), loader)
    gens = [(b for b in _ITEMS) for _ in range(3)]
    for gen in gens:
        dlfeval(_first_order, dlarray(_W), gen)
    s = effects.state()
    assert not s.walks and not s.walked and not s.draws


# --- whether a helper writes into what its parameters hold was kept per helper code, though it read the
# helpers it calls: after a first call with a helper's helper that wrote nothing, the helper redefined to
# write into the caller's buffer (a notebook cell run again) was refused ("writing into buf[...] in place
# changes a traced value"), where the same call first in a fresh process ran (the helper read in place)

def _inner_pure(buf, x):
    return x * 2.0


def _inner_writes(buf, x):
    buf[:] = x ** 2
    return x * 2.0


_inner = _inner_pure


def _fill(buf, x):
    return _inner(buf, x)


def _fills(x):
    A = np.zeros(2)
    r = _fill(A, x)
    y = np.sum(A * x) + np.sum(r)
    return y, dlgradient(y, x)


def test_helper_of_helper_redefined_to_write_into_buffer():
    global _inner
    x = np.array([0.3, 0.7])
    _inner = _inner_pure
    try:
        y, g = dlfeval(_fills, dlarray(x))
        np.testing.assert_allclose(extractdata(g), [2.0, 2.0])
        _inner = _inner_writes
        y, g = dlfeval(_fills, dlarray(x))
        np.testing.assert_allclose(extractdata(y), np.sum(x ** 3) + np.sum(2 * x), rtol=1e-12)
        np.testing.assert_allclose(extractdata(g), 3 * x ** 2 + 2, rtol=1e-12)
    finally:
        _inner = _inner_pure


# --- the user classes a helper's `return Cls(...)` builds were kept per helper code with the class
# objects of the first call: the class redefined with an __rmul__ (a notebook cell run again after the
# first call's TypeError) was read as the old class, without the operator, so `x * make(2.0)` ran the
# new __rmul__ differentiated as numpy's *: y right, the gradient [1.68, 1.68] for [1.91, 1.53]; the
# same call first in a fresh process is refused

class _P:
    def __init__(self, a):
        self.a = a


def _make_p(a):
    return _P(a)


def _uses_p(x):
    p = _make_p(2.0)
    y = np.sum(x * p)
    return y, dlgradient(y, x)


def test_class_a_helper_returns_redefined_with_an_operator():
    global _P
    x = np.array([0.3, 0.7])
    old = _P
    try:
        with pytest.raises(TypeError):
            dlfeval(_uses_p, dlarray(x))

        class _P:
            def __init__(self, a):
                self.a = a

            def __rmul__(self, other):
                return np.sin(other) * self.a
        globals()["_P"] = _P
        with pytest.raises(sct.SctError, match="__rmul__"):
            dlfeval(_uses_p, dlarray(x))
    finally:
        globals()["_P"] = old


# --- a subclass of ndarray given an operator after a first call (MyArr.__mul__ = ...): the answer "no
# operator of its own" was kept per class, and the first call's entry matched the argument by its
# attributes, so the new operator's result ran differentiated as ndarray's * (y 200 as Python's, the
# gradient [100, 100] for 0); a fresh process refuses such a subclass

def test_ndarray_subclass_given_an_operator_after_a_first_call():
    class MyArr(np.ndarray):
        pass

    def f(x, c):
        y = np.sum(x * c)
        return y, dlgradient(y, x)

    x = np.array([0.3, 0.7])
    c = np.array([2.0, 3.0]).view(MyArr)
    y, g = dlfeval(f, dlarray(x), c)
    np.testing.assert_allclose(extractdata(g), [2.0, 3.0])
    MyArr.__mul__ = lambda self, o: np.asarray(o) * 0.0 + 100.0
    MyArr.__rmul__ = lambda self, o: np.asarray(o) * 0.0 + 100.0
    with pytest.raises(sct.SctError, match="subclass of numpy's ndarray"):
        dlfeval(f, dlarray(x), c)


# --- an accelerated function given to dlfeval after it ran outside: the checks of dlfeval's arguments
# for a dlarray held twice (tied weights) and for a dlarray's memory shared with a plain array walked
# into the accelerated function's cache, whose entries' guards hold the module's globals: a module-level
# W given to dlfeval was found there too and its gradient refused ("held at more than one place"), and
# dlarray(x) of a module-level x refused as sharing x's memory, where the same call first ran

@sct.accelerate
def _acc_sin(w, x):
    return np.sum(np.sin(w * x))


def _through(w, x, h):
    y = h(w, x)
    return y, dlgradient(y, w)


_W_GLOBAL = dlarray(np.array([0.3, 0.7]))
_X_GLOBAL = np.array([1.0, 2.0])
_C_GLOBAL = np.array([2.0, 3.0])


def test_accelerated_function_argument_after_it_ran_outside():
    W, X = _W_GLOBAL, _X_GLOBAL
    np.testing.assert_allclose(extractdata(_acc_sin(W, X)), np.sum(np.sin(W.data * X)))
    y, g = dlfeval(_through, W, X, _acc_sin)
    np.testing.assert_allclose(extractdata(g), X * np.cos(W.data * X), rtol=1e-12)
    x, c = _X_GLOBAL, _C_GLOBAL
    _acc_sin(dlarray(x), c)
    y, g = dlfeval(_through, dlarray(x), c, _acc_sin)
    np.testing.assert_allclose(extractdata(g), c * np.cos(x * c), rtol=1e-12)


# --- a loop around a gradient differentiated again is written out as builtin range's steps
# (sct/unroll.py); the code then no longer read `range`, so a global `range` defined after the first
# call left the entry in use: sct ran three steps (loss 0.204) where Python ran the shadowing range's one
# (0.418); the same call first in a fresh process is refused

def _meta_steps(w):
    v = w
    for i in range(3):
        g = dlgradient(np.sum(np.sin(v * 1.5)), v)
        v = v - 0.1 * g
    loss = np.sum(v ** 2)
    return loss, dlgradient(loss, w)


def test_range_shadowed_after_a_loop_was_written_out():
    w = np.array([0.3, 0.7])
    loss, g = dlfeval(_meta_steps, dlarray(w))
    v = w
    for _ in range(3):
        v = v - 0.15 * np.cos(1.5 * v)
    np.testing.assert_allclose(extractdata(loss), np.sum(v ** 2), rtol=1e-12)
    globals()["range"] = lambda n: [0]
    try:
        with pytest.raises(sct.SctError):
            dlfeval(_meta_steps, dlarray(w))
    finally:
        del globals()["range"]
    loss, g = dlfeval(_meta_steps, dlarray(w))
    np.testing.assert_allclose(extractdata(loss), np.sum(v ** 2), rtol=1e-12)


# --- a module's own builtin names. sct's generated code calls Python's len for its loops, but resolved
# the name in the function's module: a module with its own `len` (or `len = 5` set in a notebook cell
# after a first call) made every for loop run once (sum of squares 0.09 for 1.39), or raised "'int'
# object is not callable" at the loop. And the module's own zip, enumerate, map and getattr called by the
# user's code were taken apart as Python's builtins (zip: 1.03 for 0.09).

def _loop_squares(x):
    s = 0.0
    for v in x:
        s = s + v * v
    return s, dlgradient(s, x)


def test_builtin_len_of_generated_loops_with_a_module_len():
    import shadowing_dec6_module as M
    x = np.array([0.3, 0.7, 0.9])
    y, g = dlfeval(M.squares, dlarray(x))
    np.testing.assert_allclose(extractdata(y), np.sum(x * x), rtol=1e-12)
    np.testing.assert_allclose(extractdata(g), 2 * x, rtol=1e-12)


def test_len_bound_in_the_module_after_a_first_call():
    x = np.array([0.3, 0.7, 0.9])
    dlfeval(_loop_squares, dlarray(x))
    globals()["len"] = 5
    try:
        y, g = dlfeval(_loop_squares, dlarray(x))
    finally:
        del globals()["len"]
    np.testing.assert_allclose(extractdata(y), np.sum(x * x), rtol=1e-12)
    np.testing.assert_allclose(extractdata(g), 2 * x, rtol=1e-12)


@pytest.mark.parametrize("name", ["zipped", "enumerated", "mapped", "got_attr"])
def test_module_own_zip_enumerate_map_getattr_called_as_they_are(name):
    import shadowing_dec6_module as M
    fn = getattr(M, name)
    x = np.array([0.3, 0.7, 0.9])
    y, g = dlfeval(fn, dlarray(x))
    want = _value_of(fn, x)
    np.testing.assert_allclose(extractdata(y), want, rtol=1e-12)
    num = numerical_gradient(lambda a: _value_of(fn, a), [x.copy()], 0)
    np.testing.assert_allclose(extractdata(g), num, rtol=1e-6, atol=1e-8)


def _value_of(fn, x):
    """fn's loss in plain Python (its dlgradient stubbed out)."""
    import shadowing_dec6_module as M
    saved = M.dlgradient
    M.dlgradient = lambda y, x: None
    try:
        return float(fn(np.array(x, dtype=float))[0])
    finally:
        M.dlgradient = saved


# --- hvp of a complex result through a call forward mode does not follow (`f(a, *cs)`): the refusal
# named sct/forward.py's kernel line (`y = fun(*before, x, *after)`), not the user's function

def test_hvp_complex_result_refusal_names_the_users_function():
    def f(x, c):
        return x * c

    cs = (1 + 1j,)
    with pytest.raises(sct.SctError) as info:
        sct.hvp(lambda a: np.sum(f(a, *cs)), np.array([0.3, 0.7]), np.array([1.0, 0.0]))
    assert "test_call_sequences_dec6.py" in str(info.value) and "forward.py" not in str(info.value)
    assert "real scalar" in str(info.value)


# --- filter(f, xs) is rewritten as the builtin's walk where the module has no filter of its own, but the
# name was not guarded: a module filter defined after the first call left the rewritten code running
# (1.6 where Python's call of the module's filter gave 0.3)

def _filtered(x):
    return sum(filter(lambda v: v > 0.5, x)) + 0.0 * np.sum(x)


def test_filter_defined_in_the_module_after_a_first_call():
    x = np.array([0.3, 0.7, 0.9])
    np.testing.assert_allclose(extractdata(dlfeval(_filtered, dlarray(x))), 1.6, rtol=1e-12)
    globals()["filter"] = lambda f, xs: [xs[0]]
    try:
        np.testing.assert_allclose(extractdata(dlfeval(_filtered, dlarray(x))), _filtered(x), rtol=1e-12)
    finally:
        del globals()["filter"]
    np.testing.assert_allclose(extractdata(dlfeval(_filtered, dlarray(x))), 1.6, rtol=1e-12)


# --- dlgradient(loss, *[p[k] for k in range(2)]) is written out as the items for builtin range's
# constants; a module's own range (defined before the first call, or after it: the name was not read
# any more) was taken for the builtin: the gradients in range's order [0, 1] where the module's range
# gave [1, 0] (gradients swapped)

def _grads_by_range(p):
    loss = np.sum(p[0] ** 2) + 3.0 * np.sum(p[1] ** 2)
    g = dlgradient(loss, *[p[k] for k in range(2)])
    return loss, g


def test_gradient_comprehension_over_a_module_range():
    P = [dlarray(np.array([1.0, 2.0])), dlarray(np.array([3.0]))]
    _, g = dlfeval(_grads_by_range, P)
    np.testing.assert_allclose(extractdata(g[0]), [2.0, 4.0])
    np.testing.assert_allclose(extractdata(g[1]), [18.0])
    globals()["range"] = lambda n: [1, 0]
    try:
        try:
            _, g = dlfeval(_grads_by_range, P)
        except sct.SctError:
            pass                                    # refused: fine
        else:                                       # or Python's order
            np.testing.assert_allclose(extractdata(g[0]), [18.0])
            np.testing.assert_allclose(extractdata(g[1]), [2.0, 4.0])
    finally:
        del globals()["range"]


def test_module_len_read_by_the_function_and_needed_by_its_loop_refused():
    # the function reads the module's own len and has a loop, whose generated code needs Python's len:
    # one name cannot be both (was: the loop ran once, 0.09 for 1.39)
    import shadowing_dec6_module as M
    with pytest.raises(sct.SctError, match="defines its own 'len'"):
        dlfeval(M.reads_own_len, dlarray(np.array([0.3, 0.7, 0.9])))


def test_local_named_len_with_a_loop_runs():
    # a local `len` and a loop whose generated code calls Python's len (was: refused as "no derivative
    # rule for 2" at the loop's line; then refused at the function, naming it; now the local is renamed
    # before sct writes its own calls, sct/compiler.py _rename_builtin_locals)
    def f(x):
        len = 2
        s = 0.0
        for v in x:
            s = s + v * v * len
        return s, dlgradient(s, x)

    x = np.array([0.3, 0.7, 0.9])
    y, g = dlfeval(f, dlarray(x))
    np.testing.assert_allclose(np.asarray(y), 2 * np.sum(x ** 2), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), 4 * x, rtol=1e-12)
