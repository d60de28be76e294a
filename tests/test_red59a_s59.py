"""Red team 59a (random object-shaped programs): implicit code of the user's in code a second derivative
recomputes, run a second time there.  An object made in the function (``with Timer(cfg):``, ``for k in
Layers(ks, stats):``, ``len(Seq(...))``, ``{Key(st): ...}``, ``f"{Key(st)}"``) was taken to change only its own
fields, which its recomputation makes anew; its methods changed the caller's dict through a field: ``count`` 3
where Python leaves 2 and g [0.81, 2.25], h [5.4, -9] where [0.54, 1.5], [3.6, -6].  Refused at the line where
recomputed now; first-order code and methods changing only the made object's own fields run as Python runs them."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata


class Timer:
    def __init__(self, cfg):
        self.cfg = cfg

    def __enter__(self):
        self.cfg["count"] += 1
        return self

    def __exit__(self, *exc):
        return False


class Stopwatch:
    """Changes only its own fields: made anew where recomputed."""
    def __enter__(self):
        self.started = 1.0
        return self

    def __exit__(self, *exc):
        self.stopped = 2.0
        return False


class Layers:
    def __init__(self, ks, stats):
        self.ks = ks
        self.stats = stats

    def __iter__(self):
        self.stats["passes"] += 1
        return iter(self.ks)


class Seq:
    def __init__(self, ks, st):
        self.ks = ks
        self.st = st

    def __len__(self):
        c = self.st           # (through a local: the same dict)
        c["len"] += 1
        return len(self.ks)


class Key:
    def __init__(self, st):
        self.st = st

    def __hash__(self):
        self.st["hash"] += 1
        return 1

    def __eq__(self, other):
        return True

    def __format__(self, spec):
        self.st["fmt"] += 1
        return "K"


def _second(y, x):
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return y, g, dlgradient(np.sum(g), x)


def timer(x, cfg):
    with Timer(cfg):
        y = np.sum(x ** 3) * cfg["count"]
    return _second(y, x)


def stopwatch(x):
    with Stopwatch():
        y = np.sum(x ** 3) * 2.0
    return _second(y, x)


def layers(x, stats):
    y = 0.0
    for k in Layers([1.0, 2.0], stats):
        y = y + np.sum(x ** 3) * k
    y = y * stats["passes"]
    return _second(y, x)


def length(x, st):
    return _second(np.sum(x ** 3) * len(Seq([1.0, 2.0], st)), x)


def hashed(x, st):
    d = {Key(st): 2.0}
    return _second(np.sum(x ** 3) * d[Key(st)], x)


def formatted(x, st):
    return _second(np.sum(x ** 3) * len(f"{Key(st)}"), x)


def timer_first(x, cfg):
    with Timer(cfg):
        y = np.sum(x ** 3) * cfg["count"]
    return y, dlgradient(y, x)


X = np.array([0.3, -0.5])


@pytest.mark.parametrize("f, state, line", [
    (timer, {"count": 1}, 1), (layers, {"passes": 0}, 2), (length, {"len": 0}, 1),
    (hashed, {"hash": 0}, 1), (formatted, {"fmt": 0}, 1)], ids=["with", "iter", "len", "hash", "format"])
def test_made_objects_changing_the_callers_state_refused_where_recomputed(f, state, line):
    with pytest.raises(sct.SctError, match=f"line {f.__code__.co_firstlineno + line}"):
        dlfeval(f, dlarray(X), state)


def test_made_object_changing_its_own_fields_is_exact():
    y, g, h = dlfeval(stopwatch, dlarray(X))
    np.testing.assert_allclose(extractdata(g), 6.0 * X ** 2)
    np.testing.assert_allclose(extractdata(h), 12.0 * X)


def test_first_order_runs_the_hook_once():
    cfg = {"count": 1}
    y, g = dlfeval(timer_first, dlarray(X), cfg)
    assert cfg == {"count": 2}
    assert float(extractdata(y)) == pytest.approx(2.0 * np.sum(X ** 3))
    np.testing.assert_allclose(extractdata(g), 6.0 * X ** 2)


# --- W3: code run as it is changing dlfeval's copy of a dict argument the function also writes into ----------

class Stamp:
    """Writes the key the function writes too."""
    def __init__(self, cfg):
        self.cfg = cfg

    def __enter__(self):
        self.cfg["count"] += 1
        return self

    def __exit__(self, *exc):
        self.cfg["last"] = "stamped"
        return False


def timed_log(x, cfg, plist):
    with Timer(cfg):
        h = np.tanh(x)
    cfg["last"] = float(np.sum(h))
    loss = np.sum(h) + sum(np.sum(q ** 2) for q in plist)
    return loss, dlgradient(loss, x)


def walked_log(x, stats):
    stats["last"] = float(np.sum(x))
    y = 0.0
    for k in Layers([1.0, 2.0], stats):
        y = y + np.sum(x ** 3) * k
    return y, dlgradient(y, x)


def stamped(x, cfg, plist):
    cfg["last"] = float(np.sum(x))
    with Stamp(cfg):
        h = np.tanh(x)
    loss = np.sum(h) + sum(np.sum(q ** 2) for q in plist)
    return loss, dlgradient(loss, x)


def test_changes_of_code_run_as_it_is_reach_the_callers_dict():
    plist = [dlarray(np.array([1.0, 2.0]))]
    cfg = {"count": 0}
    loss, g = dlfeval(timed_log, dlarray(X), cfg, plist)
    assert cfg["count"] == 1 and cfg["last"] == pytest.approx(float(np.sum(np.tanh(X))))
    np.testing.assert_allclose(extractdata(g), 1 - np.tanh(X) ** 2)
    acc = sct.accelerate(timed_log)
    cfg = {"count": 0}
    for scale in (1.0, 2.0):
        acc(dlarray(scale * X), cfg, plist)
    assert cfg["count"] == 2 and cfg["last"] == pytest.approx(float(np.sum(np.tanh(2.0 * X))))
    stats = {"passes": 0}
    y, g = dlfeval(walked_log, dlarray(X), stats)
    assert stats == {"passes": 1, "last": pytest.approx(float(np.sum(X)))}
    np.testing.assert_allclose(extractdata(g), 9.0 * X ** 2)


def test_the_same_key_changed_both_ways_refused():
    with pytest.raises(sct.SctError, match="'last' of a dict dlfeval was given"):
        dlfeval(stamped, dlarray(X), {"count": 0}, [dlarray(np.array([1.0, 2.0]))])


# --- F1: a method's new result written into in place ---------------------------------------------------------

class Lin:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        return x @ self.W + self.b

    def __call__(self, x):
        return self.forward(x)

    def rows(self, x):
        return x[1:]

    def weight(self, x):
        return self.W


def method_then_in_place(x, p):
    h = Lin(p["W"], p["b"]).forward(x)
    h += 0.5
    h *= 2.0
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, p)


def argument_method_then_in_place(x, p, layer):
    h = layer.forward(x)
    h += 0.5
    loss = np.sum(h ** 2) + np.sum(p["W"])
    return loss, dlgradient(loss, p)


def view_method_then_in_place(x, p):
    h = Lin(p["W"], p["b"]).rows(x)
    h += 1.0
    loss = np.sum(h ** 2) + np.sum(x * p["b"][0])
    return loss, dlgradient(loss, p)


def weight_method_then_in_place(x, p):
    h = Lin(p["W"], p["b"]).weight(x)
    h += 1.0
    loss = np.sum(h ** 2)
    return loss, dlgradient(loss, p)


def _lin_loss(x, W, b):
    return np.sum((2.0 * (x @ W + b + 0.5)) ** 2)


def test_a_methods_new_result_written_in_place_is_exact():
    rng = np.random.default_rng(5)
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    p = {"W": dlarray(W), "b": dlarray(b)}
    loss, g = dlfeval(method_then_in_place, x, p)
    assert float(extractdata(loss)) == pytest.approx(_lin_loss(x, W, b))
    h = 2.0 * (x @ W + b + 0.5)
    np.testing.assert_allclose(extractdata(g["W"]), x.T @ (4.0 * h))
    np.testing.assert_allclose(extractdata(g["b"]), np.sum(4.0 * h, axis=0))
    layer = Lin(np.ones((3, 2)), np.zeros(2))
    loss, g = dlfeval(argument_method_then_in_place, x, p, layer)
    assert float(extractdata(loss)) == pytest.approx(np.sum((x @ np.ones((3, 2)) + 0.5) ** 2) + np.sum(W))


def test_a_method_returning_a_view_or_a_field_written_in_place_still_refused():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 3))
    p = {"W": dlarray(rng.standard_normal((3, 3))), "b": dlarray(rng.standard_normal(3))}
    for f in (view_method_then_in_place, weight_method_then_in_place):
        with pytest.raises(sct.SctError, match=f"line {f.__code__.co_firstlineno + 2}"):
            dlfeval(f, x.copy(), p)


# --- a function of the user's given to a library's function, run again where recomputed -----------------------

CALLS = {"n": 0}


def counting_key(v):
    CALLS["n"] += 1
    return -v


def pure_key(v):
    return -v


def sorted_by_counting_key(x):
    ks = sorted([3.0, 1.0, 2.0], key=counting_key)
    y = np.sum(x ** 2) * ks[0] * CALLS["n"]
    return _second(y, x)


def sorted_by_pure_keys(x):
    ks = sorted([3.0, 1.0, 2.0], key=pure_key)
    js = sorted([1.0, 4.0], key=lambda v: abs(v - 2.0))
    y = np.sum(x ** 2) * ks[0] * js[0]
    return _second(y, x)


def test_a_changing_callback_given_to_a_library_refused_where_recomputed():
    CALLS["n"] = 0
    with pytest.raises(sct.EvaluationError, match=f"line {sorted_by_counting_key.__code__.co_firstlineno + 1}"
                                                  ".*counting_key\\(\\) given to a library's function"):
        dlfeval(sorted_by_counting_key, dlarray(X))


def test_pure_callbacks_given_to_a_library_in_recomputed_code_are_exact():
    y, g, h = dlfeval(sorted_by_pure_keys, dlarray(X))
    np.testing.assert_allclose(extractdata(g), 2.0 * 3.0 * X)       # ks[0] = 3, js[0] = 1
    np.testing.assert_allclose(extractdata(h), np.full(2, 6.0))
