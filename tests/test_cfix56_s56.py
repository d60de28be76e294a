"""cfix56: red56c's findings on a peer's corpus (W1 records' types, F3 BatchNorm train/eval branch, F1/F2
parameters() and named_parameters())."""
import dataclasses
from collections import namedtuple
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from tests.gradcheck import D, assert_close, numerical_gradient

Metrics = namedtuple("Metrics", "loss lr")
Pair = namedtuple("Pair", "a b", defaults=(0.25,))


class Typed(NamedTuple):
    loss: object
    scale: float = 0.5


@dataclass(frozen=True)
class Params:
    W: object
    l2: float = 0.01
    tags: list = field(default_factory=list)


@dataclass
class Opts:
    W: object
    lr: float
    n: int = 3
    name: str = field(default="run", kw_only=True)


def _step(p, x, lr):
    L = np.sum((x * p.W) ** 2) + p.l2 * np.sum(p.W ** 2)
    g = dlgradient(L, p.W)
    return dataclasses.replace(p, W=p.W - lr * g), Metrics(float(L), lr)


def test_w1_replace_and_namedtuple_keep_python_types():
    x = np.array([0.5, 1.5])
    w0 = np.array([1.0, 2.0])
    p = Params(dlarray(w0.copy()), tags=["run1"])
    q, m = dlfeval(_step, p, x, 0.1)
    L = float(np.sum((x * w0) ** 2) + 0.01 * np.sum(w0 ** 2))
    g = numerical_gradient(lambda w: np.sum((x * w) ** 2) + 0.01 * np.sum(w ** 2), [w0], 0)
    assert type(q.l2) is float and q.l2 == 0.01
    assert q.tags is p.tags
    assert type(m.loss) is float and abs(m.loss - L) < 1e-12
    assert type(m.lr) is float and m.lr == 0.1
    assert type(q.W).__name__ == "dlarray"
    assert_close(D(q.W), w0 - 0.1 * g)
    assert_close(D(p.W), w0)          # (the caller's object unchanged, as Python leaves it)


def _literal(w, x):
    L = np.sum((x * w) ** 2)
    g = dlgradient(L, w)
    return Params(w - 0.1 * g, 0.5, ["t"]), Pair(L), Typed(L.item()), Opts(g, np.float64(0.9), name="x")


def test_w1_constructors_literals_defaults_numpy_scalars():
    x = np.array([0.5, 1.5])
    w0 = np.array([1.0, -2.0])
    p, pair, typed, opts = dlfeval(_literal, dlarray(w0.copy()), x)
    g = 2 * x ** 2 * w0
    assert type(p.l2) is float and p.l2 == 0.5 and p.tags == ["t"]
    assert type(p.W).__name__ == "dlarray"
    assert_close(D(p.W), w0 - 0.1 * g)
    assert type(pair.a).__name__ == "dlarray"           # (L: a dlarray in Python too)
    assert_close(D(pair.a), np.sum((x * w0) ** 2))
    assert type(pair.b) is float and pair.b == 0.25
    assert type(typed.loss) is float and type(typed.scale) is float
    assert type(opts.W).__name__ == "dlarray"
    assert_close(D(opts.W), g)
    assert type(opts.lr) is np.float64 and opts.lr == 0.9
    assert type(opts.n) is int and opts.name == "x"


def _nt_replace(s, x):
    L = np.sum((x * s.loss) ** 2)
    g = dlgradient(L, s.loss)
    return L, s._replace(loss=s.loss - s.lr * g)


def test_w1_namedtuple_replace_keeps_float_field():
    x = np.array([0.5, 1.5])
    w0 = np.array([1.0, 2.0])
    s = Metrics(dlarray(w0.copy()), 0.1)
    L, t = dlfeval(_nt_replace, s, x)
    assert type(t.lr) is float and t.lr == 0.1
    assert type(t) is Metrics and type(t.loss).__name__ == "dlarray"
    assert_close(D(t.loss), w0 - 0.1 * 2 * x ** 2 * w0)


def _one(w, lr):
    L = np.sum(w ** 2)
    return Metrics(L, lr * 2)


def test_w1_dlarray_fields_stay_dlarrays():
    m = dlfeval(_one, dlarray(np.array([1.0, 2.0])), 0.5)
    assert type(m.loss).__name__ == "dlarray" and type(m.lr) is float and m.lr == 1.0
    m = dlfeval(_one, dlarray(np.array([1.0, 2.0])), dlarray(0.5))
    assert type(m.lr).__name__ == "dlarray"


@dataclass
class Post:
    a: object
    b: float = 0.5

    def __post_init__(self):
        self.b = self.b * 2


def _post(w):
    return Post(np.sum(w ** 2), 0.25)


def test_w1_post_init_class_untouched_value_right():
    out = dlfeval(_post, dlarray(np.array([1.0, 2.0])))
    assert_close(D(out.b), 0.5)
    assert_close(D(out.a), 5.0)


def test_w1_second_call_and_accelerate():
    x = np.array([0.5, 1.5])
    fast = sct.accelerate(_step)
    for run in (lambda *a: dlfeval(_step, *a), fast, fast):
        p = Params(dlarray(np.array([1.0, 2.0])), tags=["a"])
        for _ in range(2):
            q, m = run(p, x, 0.1)
            assert type(q.l2) is float and q.tags is p.tags
            assert type(m.loss) is float and type(m.lr) is float
            p = q


class _BN:
    def __init__(self, n, training):
        self.running_mean = np.array([0.5, -1.0])[:n]
        self.training = training
        self.count = 0

    def __call__(self, x):
        if self.training:
            mu = x.mean(0)
            self.running_mean = 0.9 * self.running_mean + 0.1 * mu
            self.count += 1
        else:
            mu = self.running_mean
        return x - mu


class _Net:
    def __init__(self, W, training):
        self.W = W
        self.bn = _BN(2, training)

    def __call__(self, x):
        return self.bn(np.tanh(x @ self.W))


def _bn_loss(net, x):
    L = np.sum(net(x) ** 2)
    return L, dlgradient(L, net.W)


def _bn_loss_twice(net, x):
    L = np.sum(net(x) ** 2) + np.sum(net(2 * x) ** 2)
    return L, dlgradient(L, net.W)


@pytest.mark.parametrize("training", [True, False])
def test_f3_batchnorm_branch_in_submodule(training):
    x = np.arange(6.0).reshape(2, 3) / 6
    W0 = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]])
    py = _Net(W0.copy(), training)
    L_py = np.sum(py(x) ** 2)
    net = _Net(dlarray(W0.copy()), training)
    before = net.bn.running_mean
    L, g = dlfeval(_bn_loss, net, x)
    assert (net.bn.running_mean is before) == (not training)
    assert_close(D(L), L_py, rtol=1e-12, atol=1e-12)
    assert_close(D(net.bn.running_mean), py.bn.running_mean, rtol=1e-12, atol=1e-12)
    assert type(net.bn.count) is int and net.bn.count == py.bn.count
    assert type(net.bn.running_mean).__name__ == ("dlarray" if training else "ndarray")

    def f(W):
        return np.sum(_Net(W, training)(x) ** 2)
    assert_close(D(g), numerical_gradient(f, [W0.copy()], 0))


def test_f3_two_calls_still_refused_with_line():
    net = _Net(dlarray(np.ones((3, 2))), True)
    with pytest.raises(sct.SctError) as info:
        dlfeval(_bn_loss_twice, net, np.ones((2, 3)))
    assert "running_mean" in str(info.value) and "test_cfix56_s56.py" in str(info.value)


class _M2:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def parameters(self):
        return [self.a, self.b]

    def gen(self):
        yield self.a
        yield self.b

    def __call__(self, x):
        return np.sin(x @ self.a) + self.b


def _f1_call(m, x, y):
    L = np.mean((m(x) - y) ** 2)
    return L, dlgradient(L, m.parameters())


def _f1_star(m, x, y):
    L = np.mean((m(x) - y) ** 2)
    return L, dlgradient(L, *m.parameters())


def _f1_named_first(m, x, y):
    ps = m.parameters()
    L = np.mean((m(x) - y) ** 2)
    return L, dlgradient(L, ps)


def _f1_gen(m, x, y):
    L = np.mean((m(x) - y) ** 2)
    return L, dlgradient(L, list(m.gen()))


_RNG = np.random.default_rng(56)
_X, _Y = _RNG.standard_normal((6, 3)), _RNG.standard_normal((6, 2))
_A0, _B0 = _RNG.standard_normal((3, 2)), _RNG.standard_normal(2)


@pytest.mark.parametrize("fun", [_f1_call, _f1_star, _f1_named_first])
def test_f1_parameters_method(fun):
    m = _M2(dlarray(_A0.copy()), dlarray(_B0.copy()))
    L, *gs = dlfeval(fun, m, _X, _Y)
    gs = list(gs[0]) if len(gs) == 1 else gs
    assert_close(D(L), np.mean((np.sin(_X @ _A0) + _B0 - _Y) ** 2), rtol=1e-12, atol=1e-12)
    ga = numerical_gradient(lambda a: np.mean((np.sin(_X @ a) + _B0 - _Y) ** 2), [_A0.copy()], 0)
    gb = numerical_gradient(lambda b: np.mean((np.sin(_X @ _A0) + b - _Y) ** 2), [_B0.copy()], 0)
    assert len(gs) == 2
    assert_close(D(gs[0]), ga)
    assert_close(D(gs[1]), gb)
    assert_close(D(m.a), _A0)


def test_r1_generator_list_message_names_no_internal_name():
    m = _M2(dlarray(_A0.copy()), dlarray(_B0.copy()))
    with pytest.raises(sct.SctError) as info:
        dlfeval(_f1_gen, m, _X, _Y)
    text = str(info.value)
    assert "test_cfix56_s56.py" in text and "list(m.gen())" in text
    assert "out_t" not in text and "'out_" not in text


@dataclass
class _TrainState:
    step: int
    lr: float


def _f5_ctor(w, state):
    L = np.sum(w ** 2) * state.lr
    g = dlgradient(L, w)
    return L, g, _TrainState(state.step + 1, state.lr)


def test_f5_dataclass_constructor_after_read():
    w0 = np.array([1.0, -2.0])
    s = _TrainState(3, 0.1)
    L, g, s1 = dlfeval(_f5_ctor, dlarray(w0.copy()), s)
    assert_close(D(L), np.sum(w0 ** 2) * 0.1, rtol=1e-12, atol=1e-12)
    assert_close(D(g), numerical_gradient(lambda w: np.sum(w ** 2) * 0.1, [w0.copy()], 0))
    assert type(s1) is _TrainState and s1 is not s
    assert type(s1.step) is int and s1.step == 4
    assert type(s1.lr) is float and s1.lr == 0.1
    assert s == _TrainState(3, 0.1)


_LOG = []


@dataclass
class _PostState:
    step: int
    lr: float

    def __post_init__(self):
        _LOG.append(self.lr)


@pytest.mark.parametrize("cls", [_PostState])
def test_f5_dataclass_with_post_init_still_refused(cls):
    def f(w, state):
        L = np.sum(w ** 2) * state.lr
        g = dlgradient(L, w)
        return L, g, cls(state.step + 1, state.lr)
    with pytest.raises(sct.SctError) as info:
        dlfeval(f, dlarray(np.ones(2)), cls(0, 0.1))
    assert "test_cfix56_s56.py" in str(info.value) and "cls(" in str(info.value)


class _Module:
    def named_parameters(self, prefix=""):
        for k, v in vars(self).items():
            if isinstance(v, _Module):
                yield from v.named_parameters(prefix + k + ".")
            else:
                yield prefix + k, v


class _Lin(_Module):
    def __init__(self, w):
        self.weight = w


class _TorchNet(_Module):
    def __init__(self):
        self.fc1 = _Lin(dlarray(np.ones((2, 2))))
        self.fc2 = _Lin(dlarray(np.ones((2, 1))))


def _f2_loss(m, x):
    L = np.sum(x @ m.fc1.weight @ m.fc2.weight) + sum(np.sum(p ** 2) for n, p in m.named_parameters())
    return L, dlgradient(L, m)


def test_r2_recursive_named_parameters_not_said_to_change_objects():
    with pytest.raises(sct.SctError) as info:
        dlfeval(_f2_loss, _TorchNet(), np.ones((1, 2)))
    text = str(info.value)
    assert "test_cfix56_s56.py" in text and "named_parameters" in text
    assert "changes objects or draws random numbers" not in text


class _Keeps:
    def __init__(self, W):
        self.W = W
        self.last = None

    def __call__(self, x):
        out = np.tanh(x @ self.W)
        self.last = out
        return out


def _f4_whole(net, x):
    L = np.sum(net(x) ** 2)
    return L, dlgradient(L, net)


def test_f4_whole_object_with_kept_output_message_names_the_field():
    with pytest.raises(sct.SctError) as info:
        dlfeval(_f4_whole, _Keeps(dlarray(np.eye(2) * 0.5)), np.ones((2, 2)))
    text = str(info.value)
    assert "test_cfix56_s56.py" in text and "net.last" in text
    assert "Assign the new value to a name" not in text
