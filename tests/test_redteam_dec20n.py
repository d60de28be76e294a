"""Red team of Dec 20 (N): constructs made supported that day.

* A nested def assigning an enclosing variable (nonlocal) called inside a larger expression: Python
  reads the variable's operands before the call where they come first (``s + f(x)``); sct hoists the
  call, so such reads are copied where Python reads them (was: the new value, a wrong value).
* A chained comparison ``a < f() < b`` evaluates ``a`` first and stops at the first false comparison.
* A generator whose items depend on what the code between its items changes (an attribute of an
  argument, a global the loop's helper rebinds or writes into): refused (was: the items computed
  before the changes, a wrong value).
Values against plain Python, gradients against finite differences."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck import check_grads
from sct import dlarray, dlfeval, dlgradient
from sct.errors import CompileError

X = np.array([0.3, -0.7, 1.1])


# --- nonlocal writers inside larger expressions --------------------------------------------------

def read_before_call(x):
    s = x * 1.0

    def f(u):
        nonlocal s
        s = s * u
        return u
    y = s + f(x)
    return np.sum(y * y)


def read_around_call(x):
    s = x * 1.0

    def f(u):
        nonlocal s
        s = s * u
        return u
    y = s * f(x) * s
    return np.sum(y)


def in_a_list(x):
    s = x * 1.0

    def f(u):
        nonlocal s
        s = s * u
        return u
    y = np.stack([s, f(x), s])
    return np.sum(y * np.arange(1, 4)[:, None])


def rebinding_sum(x):
    s = x * 1.0

    def f(u):
        nonlocal s
        s = np.sin(s) * u
        return u
    s = s + f(x)
    return np.sum(s * s)


def chained_comparison(x):
    s = 1.0

    def f():
        nonlocal s
        s = s + 5.0
        return 3.0
    c = s < f() < s
    return np.sum(x) * float(c) + s * np.sum(x ** 2)


def chain_stops_early(x):
    i = 7
    if np.sum(x) > 100.0 > x[i]:           # x[7] is never read: the first comparison is false
        return np.sum(x)
    return np.sum(x * x)


@pytest.mark.parametrize("case", [read_before_call, read_around_call, in_a_list, rebinding_sum, chained_comparison,
                                  chain_stops_early], ids=lambda f: f.__name__)
def test_operands_read_where_python_reads_them(case):
    check_grads(case, X.copy())


# --- generators whose items depend on what runs between them -------------------------------------

class Cfg:
    def __init__(self):
        self.k = 1.0

    def bump(self):
        self.k = self.k + 1.0


def by_attribute(u, cfg):
    for _ in range(3):
        yield u * cfg.k


def attribute_set_in_body(x):
    cfg = Cfg()
    tot = 0.0
    for v in by_attribute(x, cfg):
        cfg.k = cfg.k + 1.0
        tot = tot + np.sum(v * v)
    return tot


def method_in_body(x):
    cfg = Cfg()
    tot = 0.0
    for v in by_attribute(x, cfg):
        cfg.bump()
        tot = tot + np.sum(v * v)
    return tot


def alias_set_in_body(x):
    cfg = Cfg()
    other = cfg
    tot = 0.0
    for v in by_attribute(x, cfg):
        other.k = 5.0
        tot = tot + np.sum(v * v)
    return tot


SCALE = 1.0
FACTORS = [1.0]


def by_global(u):
    for _ in range(3):
        yield u * SCALE


def by_global_list(u):
    for _ in range(3):
        yield u * FACTORS[0]


def rescale():
    global SCALE
    SCALE = SCALE * 3.0


def refactor():
    FACTORS[0] = FACTORS[0] * 2.0


def global_rebound_by_helper(x):
    tot = 0.0
    for v in by_global(x):
        rescale()
        tot = tot + np.sum(v)
    return tot


def global_list_written_by_helper(x):
    tot = 0.0
    for v in by_global_list(x):
        refactor()
        tot = tot + np.sum(v)
    return tot


def by_items(u, ws):
    for i in range(2):
        yield u * ws[i]


def item_written_in_body(x):
    p = {"ws": [1.0, 2.0]}
    tot = 0.0
    for v in by_items(x, p["ws"]):
        p["ws"][1] = 10.0
        tot = tot + np.sum(v)
    return tot


def _changes(c):
    c.k = c.k * 3.0
    return 0.0


def helper_in_comprehension(x):
    cfg = Cfg()
    return sum(np.sum(v * v) + _changes(cfg) for v in by_attribute(x, cfg))


DEFAULT_WEIGHTS = np.array([1.0, 2.0, 3.0])
SHARED = [1.0, 2.0, 3.0]


def by_default(u, c=DEFAULT_WEIGHTS):
    for i in range(3):
        yield u * c[i]


def _make(ws):
    def gen(u):
        for i in range(3):
            yield u * ws[i]
    return gen


by_captured = _make(SHARED)


def _write_default():
    DEFAULT_WEIGHTS[1] = DEFAULT_WEIGHTS[1] * 5.0


def _write_shared():
    SHARED[1] = SHARED[1] * 5.0


def default_written_by_helper(x):
    tot = 0.0
    for v in by_default(x):
        _write_default()
        tot = tot + np.sum(v)
    return tot


def captured_written_by_helper(x):
    tot = 0.0
    for v in by_captured(x):
        _write_shared()
        tot = tot + np.sum(v)
    return tot


class Stepper:
    def __init__(self, cfg):
        self.cfg = cfg

    def step(self):
        self.cfg.k = self.cfg.k * 2.0


def holder_changed_in_body(x):
    cfg = Cfg()
    opt = Stepper(cfg)                     # opt holds cfg: opt.step() changes what the generator reads
    tot = 0.0
    for v in by_attribute(x, cfg):
        opt.step()
        tot = tot + np.sum(v * v)
    return tot


@pytest.mark.parametrize("case, words", [
    (default_written_by_helper, "the default value of c"), (captured_written_by_helper, "ws"),
    (holder_changed_in_body, "opt.step"),
    (attribute_set_in_body, "writes into cfg"), (method_in_body, "cfg.bump"), (alias_set_in_body, "writes into other"),
    (global_rebound_by_helper, "SCALE"), (global_list_written_by_helper, "FACTORS"),
    (item_written_in_body, "writes into p"), (helper_in_comprehension, "gives cfg"),
], ids=lambda v: getattr(v, "__name__", "words"))
def test_generator_read_state_changed_between_items_is_refused(case, words):
    def g(x):
        y = case(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match=words):
        dlfeval(g, dlarray(X.copy()))


def rebinds_what_it_passed(x):
    h = x * 1.0
    for v in by_items(h, [1.0, 2.0]):
        h = np.sin(h) + v                  # a new value of h: the generator holds the old object
    return np.sum(h)


def _scaled_product(a, b):
    return a * b * 0.5


def pure_helper_in_body(x):
    h = x * 1.0
    for i, v in enumerate(by_items(x, [1.0, 2.0])):
        h = np.tanh(h * v) + _scaled_product(h, x)
    return np.sum(h)


def appends_items(x):
    out = []
    for v in by_items(x, [1.0, 2.0]):
        out.append(v * 2.0)
    return np.sum(np.stack(out) ** 2)


@pytest.mark.parametrize("case", [rebinds_what_it_passed, pure_helper_in_body, appends_items], ids=lambda f: f.__name__)
def test_generator_consumers_that_change_nothing_it_reads(case):
    check_grads(case, X.copy())


# --- a generator returning from inside a loop (was refused, naming the list sct made) -------------

def first_two(u):
    for i in range(5):
        if i == 2:
            return
        yield u * (i + 1)


def until_index_error(u):
    for i in range(4):
        try:
            v = u[i]
        except IndexError:
            return
        yield v * 2.0


def sums_first_two(x):
    return np.sum(sum(first_two(x), x * 0.0) * x)


def sums_until_error(x):
    return sum(np.sin(v) for v in until_index_error(x))


@pytest.mark.parametrize("case", [sums_first_two, sums_until_error], ids=lambda f: f.__name__)
def test_generator_returning_inside_a_loop(case):
    check_grads(case, X.copy())


# --- functions given beside a generator run between its items --------------------------------------

def _bump_and_add(c, a, b):
    c.k = c.k + 1.0
    return a + b


def reduce_with_a_changing_lambda(x):
    import functools
    cfg = Cfg()
    return np.sum(functools.reduce(lambda a, b: _bump_and_add(cfg, a, b), by_attribute(x, cfg)))


def map_with_a_changing_lambda(x):
    cfg = Cfg()
    return sum(map(lambda v: np.sum(v) + _bump_and_add(cfg, 0.0, 0.0), by_attribute(x, cfg)))


def max_with_a_changing_key(x):
    cfg = Cfg()

    def key(v):
        cfg.k = cfg.k + 1.0
        return float(np.sum(v))
    return np.sum(max(by_attribute(x, cfg), key=key))


@pytest.mark.parametrize("case", [reduce_with_a_changing_lambda, map_with_a_changing_lambda, max_with_a_changing_key],
                         ids=lambda f: f.__name__)
def test_function_run_between_items_that_changes_what_the_generator_reads_is_refused(case):
    def g(x):
        y = case(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match="between the items|writes into a captured value"):
        dlfeval(g, dlarray(X.copy()))


def map_with_numpy(x):
    return np.sum(sum(map(np.sin, by_attribute(x, Cfg()))))


def test_map_with_numpy_over_a_generator():
    check_grads(map_with_numpy, X.copy())


# --- a generator reading another module's state, changed between its items ------------------------

import redteam_dec20n_state as config  # noqa: E402


def by_module_scale(u):
    for _ in range(3):
        yield u * config.SCALE


def by_module_list(u):
    for _ in range(3):
        yield u * config.FACTORS[0]


def module_global_rebound(x):
    tot = 0.0
    k = 1.0
    for v in by_module_scale(x):
        k = k + 1.0
        config.set_scale(k)
        tot = tot + np.sum(v)
    return tot


def module_list_written(x):
    tot = 0.0
    k = 1.0
    for v in by_module_list(x):
        k = k + 1.0
        config.set_factor(k)
        tot = tot + np.sum(v)
    return tot


@pytest.mark.parametrize("case, words", [(module_global_rebound, "SCALE"), (module_list_written, "set_factor")],
                         ids=lambda v: getattr(v, "__name__", "words"))
def test_generator_reading_module_state_changed_between_items_is_refused(case, words):
    def g(x):
        y = case(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match=words):
        dlfeval(g, dlarray(X.copy()))


def module_state_not_changed(x):
    return np.sum(sum(by_module_scale(x)) * sum(by_module_list(x)))


def test_generator_reading_module_state():
    check_grads(module_state_not_changed, X.copy())


class Settings:
    K = 1.0


def by_class_attribute(u):
    for _ in range(3):
        yield u * Settings.K


def _set_k(v):
    Settings.K = v


def class_attribute_set_in_body(x):
    tot = 0.0
    for v in by_class_attribute(x):
        Settings.K = Settings.K + 1.0
        tot = tot + np.sum(v)
    return tot


def class_attribute_set_by_helper(x):
    tot = 0.0
    k = 1.0
    for v in by_class_attribute(x):
        k = k + 1.0
        _set_k(k)
        tot = tot + np.sum(v)
    return tot


@pytest.mark.parametrize("case", [class_attribute_set_in_body, class_attribute_set_by_helper], ids=lambda f: f.__name__)
def test_generator_reading_a_class_attribute_changed_between_items_is_refused(case):
    def g(x):
        y = case(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match="between the items"):
        dlfeval(g, dlarray(X.copy()))


def class_attribute_read(x):
    return np.sum(sum(by_class_attribute(x)) ** 2)


def test_generator_reading_a_class_attribute():
    check_grads(class_attribute_read, X.copy())


# --- an item Python never computes fails when sct computes them all: said so ------------------------

def by_position(u):
    for i in range(5):
        yield u[i] * 2.0


def zipped_with_shorter(x):
    return sum(a * b for a, b in zip(by_position(x), [1.0, 2.0]))


def test_item_python_never_computes_fails_with_the_reason():
    from sct.errors import EvaluationError
    assert zipped_with_shorter(X.copy()) == pytest.approx(X[0] * 2.0 + X[1] * 4.0)

    def g(x):
        y = zipped_with_shorter(x)
        return y, dlgradient(y, x)
    with pytest.raises(EvaluationError, match="generator by_position.*all of a generator's items"):
        dlfeval(g, dlarray(X.copy()))


# --- a generator bound to a name, walked later: what runs before its first item ---------------------

def made_then_global_written(x):
    g = by_global_list(x)
    refactor()                               # before Python computes the first item
    return np.sum(sum(g))


def chain_made_then_global_written(x):
    g = (v * 2.0 for v in by_global_list(x))
    refactor()
    return np.sum(sum(g))


def chained_loop_body_writes(x):
    cfg = Cfg()
    tot = 0.0
    for v in (w * 2.0 for w in by_attribute(x, cfg)):
        cfg.k = cfg.k + 1.0
        tot = tot + np.sum(v)
    return tot


@pytest.mark.parametrize("case", [made_then_global_written, chain_made_then_global_written, chained_loop_body_writes],
                         ids=lambda f: f.__name__)
def test_changes_before_the_first_item_or_through_a_chain_are_refused(case):
    def g(x):
        y = case(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match="between the items"):
        dlfeval(g, dlarray(X.copy()))


WEIGHTS = np.array([1.0, 2.0, 3.0])


def by_global_weights(u):
    for i in range(3):
        yield u * WEIGHTS[i]


def appends_while_generator_reads_a_global(x):
    out = []
    for v in by_global_weights(x):
        out.append(v * 2.0)                  # changes out only
    return np.sum(np.stack(out) ** 2)


def test_appending_to_a_list_of_ones_own_between_items():
    check_grads(appends_while_generator_reads_a_global, X.copy())
