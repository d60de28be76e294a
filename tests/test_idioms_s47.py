"""Bookkeeping inside the function given to dlfeval (a custom training loop's model-gradients function):
a log of the losses (``LOG.append(float(L))``, ``history.append(L.item())``, ``stats["loss"] = float(L)``)
and counters (``counter["n"] += 1``, ``STEP[0] += 1``) kept in a global's list or dict run as Python runs
them (they were refused as writes that may change the arguments' arrays); what would read such a value
back, an array stored there, or a container holding the arguments' arrays stays refused."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from sct.errors import CompileError, EvaluationError

from gradcheck import assert_close, numerical_gradient

X = np.array([0.5, -1.25, 2.0])

LOG, HISTORY, LOSSES, BEST, ARRAYS = [], [], [], [], []
STATS, COUNTER, STEP = {}, {"n": 0}, [0]
READ_LOG, READ_STATS, HELPED, HELPED_STATS, HESS_LOG = [], {}, [], {}, []
HESS_COUNT = {"n": 0}
W = np.array([1.0, 2.0, 3.0])
HOLDS_ARRAY = {"n": 0, "w": W}


def _loss(x):
    return (np.sin(x) * x ** 2).sum()


def _expected_grad():
    return numerical_gradient(lambda v: float(_loss(v)), [X.copy()], 0)


def log_float(x):
    L = (np.sin(x) * x ** 2).sum()
    LOG.append(float(L))
    return L, dlgradient(L, x)


def log_item(x):
    L = (np.sin(x) * x ** 2).sum()
    HISTORY.append(L.item())
    return L, dlgradient(L, x)


def log_extracted(x):
    L = (np.sin(x) * x ** 2).sum()
    LOSSES.append(float(extractdata(L)))
    return L, dlgradient(L, x)


def log_best(x):
    L = (np.sin(x) * x ** 2).sum()
    if float(L) < 100.0:
        BEST.append(float(L))
    for i in range(2):
        BEST.append(int(i))
    return L, dlgradient(L, x)


def store_stats(x):
    L = (np.sin(x) * x ** 2).sum()
    STATS["loss"] = float(L)
    return L, dlgradient(L, x)


def count_calls(x):
    L = (np.sin(x) * x ** 2).sum()
    COUNTER["n"] += 1
    STEP[0] += 1
    return L, dlgradient(L, x)


@pytest.mark.parametrize("fun, held, each", [
    (log_float, LOG, None), (log_item, HISTORY, None), (log_extracted, LOSSES, None)])
def test_a_log_of_the_losses_runs_as_python(fun, held, each):
    del held[:]
    sct.clear_cache()
    x = dlarray(X)
    expected = float(_loss(X))
    for _ in range(3):                      # the cache's hit path too
        L, g = dlfeval(fun, x)
        assert_close(np.asarray(extractdata(L)), expected)
        assert_close(np.asarray(extractdata(g)), _expected_grad(), rtol=1e-6)
    assert len(held) == 3 and all(type(v) is float for v in held)
    assert_close(np.array(held), np.full(3, expected))


def test_a_log_under_an_if_and_of_ints():
    del BEST[:]
    for _ in range(2):
        L, g = dlfeval(log_best, dlarray(X))
    assert_close(np.asarray(extractdata(g)), _expected_grad(), rtol=1e-6)
    expected = float(_loss(X))
    assert [type(v) for v in BEST] == [float, int, int] * 2
    assert_close(np.array(BEST), np.array([expected, 0, 1] * 2, dtype=float))


def test_a_stored_loss_in_a_global_dict():
    STATS.clear()
    for _ in range(2):
        L, g = dlfeval(store_stats, dlarray(X))
    assert_close(np.asarray(extractdata(g)), _expected_grad(), rtol=1e-6)
    assert list(STATS) == ["loss"] and type(STATS["loss"]) is float
    assert_close(STATS["loss"], float(_loss(X)))


def test_counters_in_a_global_dict_and_list():
    COUNTER["n"], STEP[0] = 0, 0
    for _ in range(4):
        L, g = dlfeval(count_calls, dlarray(X))
        assert_close(np.asarray(extractdata(g)), _expected_grad(), rtol=1e-6)
    assert COUNTER == {"n": 4} and STEP == [4]


def counter_read_back(x):
    L = (np.sin(x) * x ** 2).sum()
    COUNTER["n"] += 1
    y = L * COUNTER["n"]
    return y, dlgradient(y, x)


def test_a_counter_read_as_a_number_after_it_changes():
    COUNTER["n"] = 1
    for n in (2, 3):
        y, g = dlfeval(counter_read_back, dlarray(X))
        assert COUNTER["n"] == n
        assert_close(np.asarray(extractdata(y)), n * float(_loss(X)))
        assert_close(np.asarray(extractdata(g)), n * _expected_grad(), rtol=1e-6)


def log_hessian(x):
    L = (x ** 3).sum()
    HESS_LOG.append(float(L))
    g = dlgradient(L, x, EnableHigherDerivatives=True)
    return dlgradient(g.sum(), x)


def test_a_log_before_a_gradient_differentiated_again_is_written_once():
    del HESS_LOG[:]
    h = dlfeval(log_hessian, dlarray(X))
    assert_close(np.asarray(extractdata(h)), 6 * X)
    assert_close(np.array(HESS_LOG), np.array([float((X ** 3).sum())]))


# --- the dangerous neighbours stay refused --------------------------------------------------------

def log_read_back(x):
    L = (x ** 2).sum()
    READ_LOG.append(float(L))
    y = L * READ_LOG[-1]
    return y, dlgradient(y, x)


def stats_read_back(x):
    L = (x ** 2).sum()
    READ_STATS["loss"] = float(L)
    y = L * READ_STATS["loss"]
    return y, dlgradient(y, x)


def _last_helped():
    return HELPED[-1]


def _helped_stats():
    return HELPED_STATS["loss"]


def log_read_by_helper(x):
    L = (x ** 2).sum()
    HELPED.append(float(L))
    y = L * _last_helped()
    return y, dlgradient(y, x)


def stats_read_by_helper(x):
    L = (x ** 2).sum()
    HELPED_STATS["loss"] = float(L)
    y = L * _helped_stats()
    return y, dlgradient(y, x)


def log_the_array(x):
    L = (x ** 2).sum()
    ARRAYS.append(L)
    return L, dlgradient(L, x)


def store_the_array(x):
    L = (x ** 2).sum()
    STATS["array"] = L
    return L, dlgradient(L, x)


def counter_beside_arrays(x):
    L = (x ** 2).sum()
    HOLDS_ARRAY["n"] += 1
    return L, dlgradient(L, x)


def counter_in_the_argument_dict(p):
    L = (p["w"] ** 2).sum()
    COUNTER_IS_P["n"] += 1
    y = L * p["w"][0]
    return y, dlgradient(y, p["w"])


COUNTER_IS_P = {"w": dlarray(W), "n": 0}     # given to dlfeval itself


def count_before_a_hessian(x):
    L = (x ** 3).sum()
    HESS_COUNT["n"] += 1
    g = dlgradient(L, x, EnableHigherDerivatives=True)
    return dlgradient(g.sum(), x)


@pytest.mark.parametrize("fun, line, says", [
    (log_read_back, "READ_LOG.append(float(L))", "READ_LOG is read in this function or by a function it reaches"),
    (stats_read_back, 'READ_STATS["loss"] = float(L)', "writing into READ_STATS[...] in place changes a traced"),
    (log_read_by_helper, "HELPED.append(float(L))", "HELPED is read in this function or by a function it reaches"),
    (stats_read_by_helper, 'HELPED_STATS["loss"] = float(L)', "writing into HELPED_STATS[...] in place"),
    (log_the_array, "ARRAYS.append(L)", "ARRAYS.append(...) is called with traced values"),
    (store_the_array, 'STATS["array"] = L', "writing into STATS[...] in place changes a traced value"),
    (count_before_a_hessian, 'HESS_COUNT["n"] += 1', "the write would happen twice"),
])
def test_what_could_read_a_traced_value_back_stays_refused(fun, line, says):
    with pytest.raises(CompileError) as e:
        dlfeval(fun, dlarray(X))
    assert says in str(e.value)
    assert f"line {_line_of(fun, line)}" in str(e.value)


def test_a_counter_in_a_dict_holding_arrays_is_refused_when_it_runs():
    HOLDS_ARRAY["n"] = 0
    with pytest.raises(EvaluationError, match=r"writing into HOLDS_ARRAY\[...\] .*found an item of type ndarray"):
        dlfeval(counter_beside_arrays, dlarray(X))
    assert HOLDS_ARRAY["n"] == 0
    COUNTER_IS_P["n"] = 0
    with pytest.raises(EvaluationError, match=r"writing into COUNTER_IS_P\[...\]"):
        dlfeval(counter_in_the_argument_dict, COUNTER_IS_P)
    assert COUNTER_IS_P["n"] == 0


def _line_of(fun, text):
    import inspect
    lines, start = inspect.getsourcelines(fun)
    return start + next(i for i, l in enumerate(lines) if text in l)


# --- logging given Python numbers -------------------------------------------------------------------

import logging

TRAIN_LOG = logging.getLogger("sct.test_idioms_s47")


def logs_the_loss(x):
    L = (np.sin(x) * x ** 2).sum()
    logging.getLogger("sct.test_idioms_s47").debug("unused")
    logging.info("loss %f", float(L))
    TRAIN_LOG.warning("loss %.6f step %d", L.item(), 3)
    return L, dlgradient(L, x)


def logs_the_array(x):
    L = (x ** 2).sum()
    TRAIN_LOG.warning("loss %s", L)
    return L, dlgradient(L, x)


def test_logging_of_python_numbers_runs(caplog):
    with caplog.at_level(logging.INFO):
        for _ in range(2):
            L, g = dlfeval(logs_the_loss, dlarray(X))
    assert_close(np.asarray(extractdata(g)), _expected_grad(), rtol=1e-6)
    expected = float(_loss(X))
    assert [r.getMessage() for r in caplog.records if r.name == "root"] == [f"loss {expected:f}"] * 2
    assert [r.getMessage() for r in caplog.records if r.name == TRAIN_LOG.name] == [f"loss {expected:.6f} step 3"] * 2


def test_logging_of_a_traced_array_stays_refused_with_the_library_advice():
    with pytest.raises(CompileError) as e:
        dlfeval(logs_the_array, dlarray(X))
    assert f"line {_line_of(logs_the_array, 'TRAIN_LOG.warning')}" in str(e.value)
    assert "give it plain values" in str(e.value)


# --- self.history.append(float(L)) in a method ---------------------------------------------------------

class Trainer:
    def __init__(self):
        self.history = []

    def step(self, x):
        L = (np.sin(x) * x ** 2).sum()
        self.history.append(float(L))
        return L, dlgradient(L, x)

    def reads_it_back(self, x):
        L = (x ** 2).sum()
        self.history.append(float(L))
        y = L * self.history[-1]
        return y, dlgradient(y, x)

    def gives_itself_away(self, x):
        L = (x ** 2).sum()
        self.history.append(float(L))
        y = L * _last_of(self)
        return y, dlgradient(y, x)


def _last_of(trainer):
    return trainer.history[-1]


TRAINER = Trainer()


def steps_the_global_trainer(x):
    return TRAINER.step(x)


def steps_the_trainer_given(x, trainer):
    return trainer.step(x)


@pytest.mark.parametrize("how", ["bound method", "global object", "argument"])
def test_a_method_keeping_a_log_of_the_losses(how):
    trainer = TRAINER if how == "global object" else Trainer()
    del trainer.history[:]
    for _ in range(3):
        if how == "bound method":
            L, g = dlfeval(trainer.step, dlarray(X))
        elif how == "global object":
            L, g = dlfeval(steps_the_global_trainer, dlarray(X))
        else:
            L, g = dlfeval(steps_the_trainer_given, dlarray(X), trainer)
        assert_close(np.asarray(extractdata(g)), _expected_grad(), rtol=1e-6)
    assert len(trainer.history) == 3 and all(type(v) is float for v in trainer.history)
    assert_close(np.array(trainer.history), np.full(3, float(_loss(X))))


@pytest.mark.parametrize("method", ["reads_it_back", "gives_itself_away"])
def test_a_method_reading_its_log_back_stays_refused(method):
    trainer = Trainer()
    with pytest.raises(CompileError) as e:
        dlfeval(getattr(trainer, method), dlarray(X))
    assert "self.history.append(...) changes self.history in place" in str(e.value)
    assert f"line {_line_of(getattr(Trainer, method), 'self.history.append')}" in str(e.value)
    assert trainer.history == []


def test_a_method_log_holding_an_array_is_refused_when_it_runs():
    trainer = Trainer()
    trainer.history.append(np.ones(3))
    with pytest.raises(EvaluationError, match=r"self\.history\.append\(...\) .*found an item of type ndarray"):
        dlfeval(trainer.step, dlarray(X))
    assert len(trainer.history) == 1


# --- the list or dict written into, reached another way ---------------------------------------------

SHARED_LOG = [1.0]
SHARED_STATS = {"a": 1.0}
HELD_LOG = []
CONFIG = {"scale": 2.0, "log": HELD_LOG}
CALLEE_LOG = []
HOLDER = {"log": CALLEE_LOG}


def log_given_too(x, hist):
    L = (x ** 2).sum()
    SHARED_LOG.append(float(L))
    s = 0.0
    for h in hist:
        s = s + h
    y = L + s
    return y, dlgradient(y, x)


def stats_given_too(x, d):
    L = (x ** 2).sum()
    SHARED_STATS["b"] = float(L)
    y = L + sum(d.values())
    return y, dlgradient(y, x)


def log_held_by_a_global_read(x):
    L = (x ** 2).sum()
    HELD_LOG.append(float(L))
    y = L * CONFIG["scale"] + CONFIG["log"][-1]
    return y, dlgradient(y, x)


def _from_holder():
    return HOLDER["log"][-1]


def log_read_by_a_helper_through_another_global(x):
    L = (x ** 2).sum()
    CALLEE_LOG.append(float(L))
    y = L * _from_holder()
    return y, dlgradient(y, x)


def test_a_log_given_as_an_argument_too_is_refused_when_it_runs():
    # (Python's y reads float(L) back through hist, whose derivative sct would not follow: was [2, 4]
    # for [4, 8] before the run's check)
    with pytest.raises(EvaluationError, match=r"SHARED_LOG\.append\(\.\.\.\) .*an argument of log_given_too\(\)"):
        dlfeval(log_given_too, dlarray(X), SHARED_LOG)
    assert SHARED_LOG == [1.0]
    with pytest.raises(EvaluationError, match=r"writing into SHARED_STATS\[\.\.\.\]"):
        dlfeval(stats_given_too, dlarray(X), SHARED_STATS)
    assert SHARED_STATS == {"a": 1.0}
    L, g = dlfeval(log_given_too, dlarray(X), [3.0])        # another list: runs
    assert_close(np.asarray(extractdata(g)), 2 * X)
    assert len(SHARED_LOG) == 2


def test_a_log_held_by_a_global_the_function_reads_is_refused_when_it_runs():
    with pytest.raises(EvaluationError, match=r"HELD_LOG\.append\(\.\.\.\)"):
        dlfeval(log_held_by_a_global_read, dlarray(X))
    assert HELD_LOG == []


def test_a_log_a_helper_reads_through_another_global_is_refused():
    with pytest.raises(CompileError) as e:
        dlfeval(log_read_by_a_helper_through_another_global, dlarray(X))
    assert "CALLEE_LOG.append(...) is called with traced values" in str(e.value)
    assert f"line {_line_of(log_read_by_a_helper_through_another_global, 'CALLEE_LOG.append')}" in str(e.value)


# --- a count and a stored loss in a method the function calls (compiled with its own adjoint) ---------

CALLS = {"n": 0}
LAST = {}


class Model:
    def __init__(self):
        self.w = dlarray(np.array([0.5, -1.0, 0.25]))

    def loss(self, x):
        CALLS["n"] += 1
        L = (np.tanh(self.w * x) ** 2).sum()
        LAST["loss"] = float(L)
        return L


MODEL = Model()


def calls_the_model(x):
    L = MODEL.loss(x) * 2 + (x ** 3).sum()
    return L, dlgradient(L, x)


def test_a_count_and_a_stored_loss_in_a_method_it_calls():
    CALLS["n"] = 0
    LAST.clear()
    w = np.array([0.5, -1.0, 0.25])

    def plain(v):
        return 2 * float((np.tanh(w * v) ** 2).sum()) + float((v ** 3).sum())

    for n in (1, 2, 3):
        L, g = dlfeval(calls_the_model, dlarray(X))
        assert CALLS == {"n": n}
        assert_close(np.asarray(extractdata(L)), plain(X))
        assert_close(np.asarray(extractdata(g)), numerical_gradient(plain, [X.copy()], 0), rtol=1e-6)
    assert type(LAST["loss"]) is float
    assert_close(LAST["loss"], float((np.tanh(w * X) ** 2).sum()))


def _make_step():
    log, counter = [], {"n": 0}

    def step(x):
        L = (np.sin(x) * x ** 2).sum()
        log.append(float(L))
        counter["n"] += 1
        return L, dlgradient(L, x)
    return step, log, counter


def test_a_log_and_a_count_in_closure_values():
    step, log, counter = _make_step()
    for _ in range(3):
        L, g = dlfeval(step, dlarray(X))
        assert_close(np.asarray(extractdata(g)), _expected_grad(), rtol=1e-6)
    assert counter == {"n": 3}
    assert_close(np.array(log), np.full(3, float(_loss(X))))
