"""Red team S (dec16): second-order and forward-mode results of programs written as users write them.

Second derivatives are checked against central differences of a first derivative checked on its
own; Jacobian-vector products against central differences of the function.
"""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata

from gradcheck import assert_close, numerical_gradient


def _data(v):
    return np.asarray(extractdata(v)) if isinstance(v, sct.dlarray) else np.asarray(v)


def _fd_along(g, x, v, h=1e-5):
    return (np.asarray(g(x + h * v)) - np.asarray(g(x - h * v))) / (2 * h)


# --- a type test of a traced value (`type(x) is np.ndarray`, `np.isscalar(x)`) under a second
# sweep or forward mode: was refused as "no derivative rule for type" (first order ran); the
# runtime's type-test helpers answer with a type or a bool and carry no derivative

def _typed(x):
    if type(x) is np.ndarray:
        s = 2.0
    else:
        s = 3.0
    return s * np.sum(x ** 3)


def _scalar_test(x):
    s = 2.0 if np.isscalar(x) else 3.0
    return s * np.sum(x ** 3)


def _first(fn, x):
    return _data(dlfeval(lambda a: dlgradient(fn(a), a), dlarray(x)))


@pytest.mark.parametrize("fn", [_typed, _scalar_test])
def test_type_test_second_order_and_forward(fn):
    x = np.array([1.0, 2.0])
    v = np.array([1.0, 0.5])
    g = _first(fn, x)
    # (isi56: the type test answers as plain Python's run on the dlarray does, fp; was numpy's answer, fn of
    # numpy's arrays; jvp and hvp are given the dlarray too)
    fp = lambda a: float(_data(fn(dlarray(a))))     # noqa: E731
    assert_close(g, numerical_gradient(fp, [x.copy()], 0), what="first order")
    ref = _fd_along(lambda a: _first(fn, a), x, v)

    def nested(a, w):
        g = dlgradient(fn(a), a)
        return dlgradient(np.sum(g * w), a)

    assert_close(_data(dlfeval(nested, dlarray(x), dlarray(v))), ref, what="nested dlgradient")
    if fn is _typed:
        # forward mode's code is compiled for numpy's arrays and dlarrays alike: type(x), whose answer depends on
        # it, is refused at its line (isi56)
        with pytest.raises(sct.EvaluationError, match=f"line {_typed.__code__.co_firstlineno + 1}"):
            sct.jvp(fn, dlarray(x), v)
        return
    assert_close(_data(sct.hvp(fn, dlarray(x), v)), ref, what="sct.hvp")
    assert_close(_data(sct.jvp(lambda a: dlgradient(fn(a), a), dlarray(x), v)[1]), ref, what="jvp of a gradient")
    y, jv = sct.jvp(fn, dlarray(x), v)
    assert_close(_data(y), fp(x.copy()), what="jvp value")
    assert_close(_data(jv), _fd_along(fp, x, v), what="jvp")


def test_layernorm_forward_over_reverse():
    # sct.layernorm's own code holds a type test: forward over its generated gradient was refused
    off = np.zeros(4)
    sc = np.linspace(0.5, 1.5, 4)

    def f(x):
        Y = sct.layernorm(x.reshape(3, 4), off, sc)
        return np.sum(Y ** 3 * np.arange(4))

    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    v = rng.normal(size=12)
    ref = _fd_along(lambda a: _first(f, a), x, v)
    assert_close(_data(sct.jvp(lambda a: dlgradient(f(a), a), x, v)[1]), ref, rtol=1e-4, atol=1e-5,
                 what="jvp of the gradient")


# --- a one-shot iterator (a generator, iter(list), map, a dict's items iterator) passed to dlfeval and
# walked before a dlgradient whose result is differentiated again: the sweep recomputing the code before
# the site found it used up by the first run, so the recomputed loss summed nothing: the gradient g and
# its derivative came back as zeros (g = [0, 0] for [0, -0.3935], the second derivative [0, 0] for
# [0, -2.9568]). Now refused, naming the argument; a list still works

_BATCHES = [np.array([1.0, 2.0]), np.array([-1.0, 0.5])]
_W = np.array([0.5, -1.0])


def _penalty_grad_ref():
    g = sum(b * np.cos(_W * b) for b in _BATCHES)
    return g, 2 * g * sum(-b ** 2 * np.sin(_W * b) for b in _BATCHES)


def _loop_loss(w, data):
    loss = 0.0
    for b in data:
        loss = loss + np.sum(np.sin(w * b))
    g = dlgradient(loss, w)
    return g, dlgradient(np.sum(g ** 2), w)


def _list_loss(w, data):
    bs = list(data)
    loss = 0.0
    for b in bs:
        loss = loss + np.sum(np.sin(w * b))
    g = dlgradient(loss, w)
    return g, dlgradient(np.sum(g ** 2), w)


def _sum_loss(w, data):
    loss = sum(np.sum(np.sin(w * b)) for b in data)
    g = dlgradient(loss, w)
    return g, dlgradient(np.sum(g ** 2), w)


def _dict_loss(w, d):
    loss = 0.0
    for b in d["data"]:
        loss = loss + np.sum(np.sin(w * b))
    g = dlgradient(loss, w)
    return g, dlgradient(np.sum(g ** 2), w)


@pytest.mark.parametrize("fn", [_loop_loss, _list_loss, _sum_loss])
def test_list_of_batches_second_order(fn):
    g_ref, h_ref = _penalty_grad_ref()
    g, h = dlfeval(fn, dlarray(_W), list(_BATCHES))
    assert_close(_data(g), g_ref)
    assert_close(_data(h), h_ref)


@pytest.mark.parametrize("make", [lambda: iter(_BATCHES), lambda: (b for b in _BATCHES),
                                  lambda: map(np.asarray, _BATCHES)], ids=["iter", "generator", "map"])
@pytest.mark.parametrize("fn", [_loop_loss, _list_loss, _sum_loss])
def test_used_up_iterator_refused(fn, make):
    with pytest.raises(sct.SctError, match="one-shot iterator"):
        dlfeval(fn, dlarray(_W), make())


def test_used_up_iterator_in_a_dict_refused():
    with pytest.raises(sct.SctError, match=r"d\['data'\] is a one-shot iterator"):
        dlfeval(_dict_loss, dlarray(_W), {"data": iter(_BATCHES)})
    with pytest.raises(sct.SctError, match="one-shot iterator"):
        dlfeval(sct.dlaccelerate(_dict_loss), dlarray(_W), {"data": iter(_BATCHES)})


_DATA = None


def _global_loss(w):
    loss = 0.0
    for b in _DATA:
        loss = loss + np.sum(np.sin(w * b))
    g = dlgradient(loss, w)
    return g, dlgradient(np.sum(g ** 2), w)


def test_used_up_global_iterator_refused():
    global _DATA
    _DATA = iter(_BATCHES)
    with pytest.raises(sct.SctError, match="one-shot iterator"):
        dlfeval(_global_loss, dlarray(_W))
    _DATA = list(_BATCHES)
    g_ref, h_ref = _penalty_grad_ref()
    g, h = dlfeval(_global_loss, dlarray(_W))
    assert_close(_data(h), h_ref)


def test_iterator_first_order_still_works():
    def first(w, data):
        loss = 0.0
        for b in data:
            loss = loss + np.sum(np.sin(w * b))
        return dlgradient(loss, w)

    g_ref, _ = _penalty_grad_ref()
    assert_close(_data(dlfeval(first, dlarray(_W), iter(_BATCHES))), g_ref)


# --- a data loader of the user's class whose __iter__ shuffles (or keeps an epoch counter), walked before
# a dlgradient that a later dlgradient differentiates again: the recomputing sweep walked it again and got
# another order, so the returned gradient and its derivative were those of another loss than the value
# Python computed (loss right, g [-2.17, 8.56]-like for another order). Now refused where the walk differs

class _ShuffledLoader:
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        order = np.random.permutation(len(self.items))
        return iter([self.items[i] for i in order])


class _EpochLoader:
    def __init__(self, items):
        self.items = items
        self.epoch = 0

    def __iter__(self):
        self.epoch += 1
        k = self.epoch % 3
        return iter(self.items[k:] + self.items[:k])


_ITEMS = [np.array([1.0, 2.0]), np.array([-1.0, 0.5]), np.array([0.3, 0.3])]


def _weighted_loss(w, loader):
    loss = 0.0
    i = 0.0
    for b in loader:
        i = i + 1.0
        loss = loss + i * np.sum(np.sin(w * b))
    g = dlgradient(loss, w)
    return loss, g, dlgradient(np.sum(g ** 2), w)


@pytest.mark.parametrize("make", [lambda: _ShuffledLoader(_ITEMS), lambda: _EpochLoader(_ITEMS)],
                         ids=["shuffled", "epoch"])
def test_loader_walked_differently_refused(make):
    np.random.seed(3)
    with pytest.raises(sct.SctError, match="gave other items|runs _EpochLoader.__iter__, which changes an object"):
        dlfeval(_weighted_loss, dlarray(_W), make())


class _Params:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __iter__(self):
        yield self.w
        yield self.b


def test_parameter_container_walked_twice_still_differentiated():
    def k(p, x):
        loss = 0.0
        for t in p:
            loss = loss + np.sum(np.sin(t * x))
        gx = dlgradient(loss, x)
        pen = np.sum(gx ** 2)
        return dlgradient(pen, p.w), dlgradient(pen, x)

    w, b, x = np.array([0.3, 0.7]), np.array([-0.2, 0.9]), np.array([1.0, -0.5])

    def pen_np(w, x):
        return np.sum((w * np.cos(w * x) + b * np.cos(b * x)) ** 2)

    gw, gx = dlfeval(k, _Params(dlarray(w), dlarray(b)), dlarray(x))
    assert_close(_data(gw), numerical_gradient(lambda a: pen_np(a, x), [w.copy()], 0))
    assert_close(_data(gx), numerical_gradient(lambda a: pen_np(w, a), [x.copy()], 0))


# --- random numbers drawn before a dlgradient that a later dlgradient differentiates again, through a
# call sct does not know draws from numpy's global generator (scipy.stats' rvs; a Dataset's __getitem__
# with a random augmentation): the recomputing sweep drew again, other numbers, so g and its derivative
# were another loss's (g right only by chance; the noise returned was the first run's) and the global
# generator was advanced twice. Now refused

def test_hidden_draw_in_recomputed_code_refused():
    st = pytest.importorskip("scipy.stats")

    def k(w):
        noise = st.norm.rvs(size=2)
        loss = np.sum(np.sin(w * (1 + noise)))
        g = dlgradient(loss, w)
        return g, dlgradient(np.sum(g ** 2), w)

    np.random.seed(0)
    with pytest.raises(sct.SctError, match="drew random numbers"):
        dlfeval(k, dlarray(_W))


class _Augmented:
    def __getitem__(self, i):
        return np.array([1.0, 2.0]) * (1 + 0.1 * np.random.randn())

    def __len__(self):
        return 2


def test_random_dataset_item_in_recomputed_code_is_drawn_once():
    # was refused ("drew random numbers"); ds[i] is now _Augmented.__getitem__(ds, i), a call whose
    # forward draws once and keeps its items for the second dlgradient (sct/user_operators.py)
    def k(w, ds):
        loss = 0.0
        for i in range(2):
            b = ds[i]
            loss = loss + np.sum(np.sin(w * b))
        g = dlgradient(loss, w)
        return g, dlgradient(np.sum(g ** 2), w)

    np.random.seed(1)
    g, h = dlfeval(k, dlarray(_W), _Augmented())
    after = np.random.get_state()[2]
    np.random.seed(1)
    ds = _Augmented()
    b0, b1 = ds[0], ds[1]
    assert np.random.get_state()[2] == after          # the generator advanced as Python's
    gp = np.cos(_W * b0) * b0 + np.cos(_W * b1) * b1
    hp = 2 * gp * -(np.sin(_W * b0) * b0 ** 2 + np.sin(_W * b1) * b1 ** 2)
    np.testing.assert_allclose(np.asarray(g.data), gp, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(h.data), hp, rtol=1e-10)


def test_known_draws_still_replayed():
    # np.random in the function itself is replayed: same noise, exact derivatives, one draw in all
    def k(w):
        noise = np.random.randn(2)
        loss = np.sum(np.sin(w * (1 + noise)))
        g = dlgradient(loss, w)
        return noise, g, dlgradient(np.sum(g ** 2), w)

    np.random.seed(0)
    noise, g, h = dlfeval(k, dlarray(_W))
    after = np.random.rand()
    np.random.seed(0)
    ref = np.random.randn(2)
    assert after == np.random.rand()
    a = 1 + ref
    assert_close(_data(noise), ref)
    assert_close(_data(g), a * np.cos(_W * a))
    assert_close(_data(h), 2 * a * np.cos(_W * a) * (-a ** 2 * np.sin(_W * a)))


def _draw_with(rng, n):
    return rng.standard_normal(n)


def test_hidden_draw_from_a_given_generator_refused():
    import functools
    st = pytest.importorskip("scipy.stats")

    def k(w, rng):
        noise = st.norm.rvs(size=2, random_state=rng)
        loss = np.sum(np.sin(w * (1 + noise)))
        g = dlgradient(loss, w)
        return g, dlgradient(np.sum(g ** 2), w)

    def k2(w, draw):
        noise = draw(2)
        loss = np.sum(np.sin(w * (1 + noise)))
        g = dlgradient(loss, w)
        return g, dlgradient(np.sum(g ** 2), w)

    with pytest.raises(sct.SctError, match="drew random numbers"):
        dlfeval(k, dlarray(_W), np.random.default_rng(0))
    with pytest.raises(sct.SctError, match="drew random numbers"):
        dlfeval(k2, dlarray(_W), functools.partial(_draw_with, np.random.default_rng(0)))
    # a generator's own method is a known draw: replayed
    rng = np.random.default_rng(0)
    g, h = dlfeval(k2, dlarray(_W), rng.standard_normal)
    a = 1 + np.random.default_rng(0).standard_normal(2)
    assert_close(_data(g), a * np.cos(_W * a))
    assert_close(_data(h), 2 * a * np.cos(_W * a) * (-a ** 2 * np.sin(_W * a)))


# --- sct.jvp's fallback (transposing reverse code, where forward mode cannot follow an object built
# from traced values) runs the function again: a global iterator it walks was used up (y came back
# [0, 0] for [0.267, 0.262] and the JVP [0, 0] for [1.76, -2.07]), and a hidden draw drew other numbers
# (y and the JVP another function's). Both refused now

class _Scaled:
    def __init__(self, w):
        self.w = w

    def apply(self, x):
        return np.tanh(self.w * x)


_FWD_DATA = None


def _fallback_walks_global(x):
    acc = 0.0
    for b in _FWD_DATA:
        acc = acc + np.sin(b * x)
    return _Scaled(x * 2).apply(acc)


def test_jvp_fallback_used_up_global_iterator_refused():
    global _FWD_DATA
    x, v = np.array([0.3, -0.4]), np.array([1.0, 2.0])
    _FWD_DATA = iter(_BATCHES)
    with pytest.raises(sct.SctError, match="one-shot iterator"):
        sct.jvp(_fallback_walks_global, x, v)
    _FWD_DATA = list(_BATCHES)
    y, jv = sct.jvp(_fallback_walks_global, x, v)
    assert_close(_data(y), _fallback_walks_global(x))
    assert_close(_data(jv), _fd_along(_fallback_walks_global, x, v, 1e-6))


def test_jvp_fallback_hidden_draw_refused():
    st = pytest.importorskip("scipy.stats")

    def g(x):
        n = st.norm.rvs(size=2)
        return _Scaled(x * 2).apply(np.sin(x * n))

    np.random.seed(0)
    with pytest.raises(sct.SctError, match="drew random numbers"):
        sct.jvp(g, np.array([0.3, -0.4]), np.array([1.0, 2.0]))


class _Trainer:
    def __init__(self, it):
        self.it = it
        self.scale = 2.0


def test_iterator_field_used_up_refused_unread_kept():
    def reads_scale(w, t):
        loss = t.scale * np.sum(np.sin(w))
        g = dlgradient(loss, w)
        return dlgradient(np.sum(g ** 2), w)

    def lists_it(w, t):
        bs = list(t.it)
        loss = 0.0
        for b in bs:
            loss = loss + np.sum(np.sin(w * b))
        g = dlgradient(loss, w)
        return dlgradient(np.sum(g ** 2), w)

    # a field holding an iterator the code does not read: differentiated as before
    assert_close(_data(dlfeval(reads_scale, dlarray(_W), _Trainer(iter(_BATCHES)))),
                 2 * 4 * np.cos(_W) * (-np.sin(_W)))
    for it in (iter(_BATCHES), (b for b in _BATCHES)):
        with pytest.raises(sct.SctError, match=r"t\.it is a one-shot iterator"):
            dlfeval(lists_it, dlarray(_W), _Trainer(it))


# --- a callable that advances an iterator, passed in (functools.partial(next, it), it.__next__,
# itertools.cycle(...).__next__), called before a dlgradient that a later dlgradient differentiates
# again: the recomputation called it again and took the next batch (g and its derivative another
# batch's). Now refused as the other library calls that change an outside object

@pytest.mark.parametrize("make", [
    lambda: __import__("functools").partial(next, iter(_ITEMS)),
    lambda: iter(_ITEMS).__next__,
    lambda: __import__("itertools").cycle(_ITEMS).__next__,
], ids=["partial-next", "bound-next", "cycle-next"])
def test_iterator_advancing_callable_refused(make):
    def k(w, draw):
        b = draw()
        loss = np.sum(np.sin(w * b))
        g = dlgradient(loss, w)
        return g, dlgradient(np.sum(g ** 2), w)

    with pytest.raises(sct.SctError, match="changes an object from outside"):
        dlfeval(k, dlarray(_W), make())

    def first(w, draw):
        b = draw()
        return dlgradient(np.sum(np.sin(w * b)), w)

    a = _ITEMS[0]
    assert_close(_data(dlfeval(first, dlarray(_W), make())), a * np.cos(_W * a))


_RNG = None


def test_hidden_draw_from_a_global_or_closure_generator_refused():
    global _RNG
    st = pytest.importorskip("scipy.stats")
    _RNG = np.random.default_rng(0)

    def k(w):
        noise = st.norm.rvs(size=2, random_state=_RNG)
        loss = np.sum(np.sin(w * (1 + noise)))
        g = dlgradient(loss, w)
        return g, dlgradient(np.sum(g ** 2), w)

    def make():
        rng = np.random.default_rng(0)

        def k2(w):
            noise = st.norm.rvs(size=2, random_state=rng)
            loss = np.sum(np.sin(w * (1 + noise)))
            g = dlgradient(loss, w)
            return g, dlgradient(np.sum(g ** 2), w)
        return k2

    for fn in (k, make()):
        with pytest.raises(sct.SctError, match="drew random numbers"):
            dlfeval(fn, dlarray(_W))


def test_known_draws_from_global_and_closure_generators_replayed():
    global _RNG
    _RNG = np.random.default_rng(0)

    def k(w):
        noise = _RNG.normal(size=2)
        perm = _RNG.permutation(2)
        loss = np.sum(np.sin(w * (1 + noise[perm])))
        g = dlgradient(loss, w)
        return noise[perm], g, dlgradient(np.sum(g ** 2), w)

    noise, g, h = dlfeval(k, dlarray(_W))
    a = 1 + _data(noise)
    assert_close(_data(g), a * np.cos(_W * a))
    assert_close(_data(h), 2 * a * np.cos(_W * a) * (-a ** 2 * np.sin(_W * a)))


def _loss_over(w, it):
    acc = 0.0
    for b in it:
        acc = acc + np.sum(np.sin(w * b))
    return acc


@pytest.mark.parametrize("make", [lambda: iter(_BATCHES), lambda: (b for b in _BATCHES)], ids=["iter", "generator"])
def test_iterator_walked_by_the_sweep_alone_still_works(make):
    # y only the sweep needs: the helper is called by the sweep alone (sct/recomputed.py), which walks
    # the iterator once, as Python does: not refused
    def k(w, it):
        y = _loss_over(w, it)
        g = dlgradient(y, w)
        return g, dlgradient(np.sum(g ** 2), w)

    g_ref, h_ref = _penalty_grad_ref()
    g, h = dlfeval(k, dlarray(_W), make())
    assert_close(_data(g), g_ref)
    assert_close(_data(h), h_ref)


@pytest.mark.xfail(strict=True, raises=sct.SctError,
                   reason="over-refusal of the hidden-draw check: a helper drawing through scipy.stats whose "
                          "result only the sweep needs is called by the sweep alone (sct/recomputed.py), so "
                          "it draws once as Python does; replay_end cannot tell this from a second draw")
def test_hidden_draw_in_a_helper_only_the_sweep_calls():
    st = pytest.importorskip("scipy.stats")

    def noisy_loss(w):
        n = st.norm.rvs(size=2)
        return np.sum(np.sin(w * (1 + n)))

    def k(w):
        y = noisy_loss(w)
        g = dlgradient(y, w)
        return g, dlgradient(np.sum(g ** 2), w)

    np.random.seed(0)
    g, h = dlfeval(k, dlarray(_W))
    np.random.seed(0)
    a = 1 + st.norm.rvs(size=2)
    assert_close(_data(g), a * np.cos(_W * a))
    assert_close(_data(h), 2 * a * np.cos(_W * a) * (-a ** 2 * np.sin(_W * a)))
