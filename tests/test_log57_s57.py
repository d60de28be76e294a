"""log57 (red57b F5): loggers and average meters in the loss.

F5: a global logger's method storing ``float(v)`` into its fields (``LOG.log(y)``), an AverageMeter's
``update`` adding ``float(v) * n`` to its sums and counts, and ``metrics.setdefault("loss", []).append(float(y))``
were refused (or, for a global dict's setdefault, the number was appended to a new list and the global's list
stayed empty).  They run as Python runs them now, where no derivative is taken after them of what could
read the numbers back; where one is, they are still refused.  Values are checked against plain Python,
gradients against central differences.
"""
import inspect

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient

W = np.array([2.0, -1.0, 0.5])


def _d(v):
    return np.asarray(v._data if isinstance(v, sct.dlarray) else v, dtype=float)


def _line(fn, marker: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, text in enumerate(lines) if marker in text)


class Logger:
    def __init__(self):
        self.hist = []
        self.n = 0

    def log(self, v):
        self.hist.append(float(v))
        self.n += 1


class Meter:
    def __init__(self):
        self.sum = 0.0
        self.count = 0

    def update(self, v, n=1):
        self.sum += float(v) * n
        self.count += n

    @property
    def avg(self):
        return self.sum / max(self.count, 1)


LOG = Logger()
METER = Meter()
METRICS = {}


def _forward(x):
    return np.sum(np.tanh(x * W) ** 2)


def _logger_loss(x):
    y = _forward(x)
    LOG.log(y)
    return y, dlgradient(y, x)


def _meter_loss(x):
    y = _forward(x)
    METER.update(y, n=x.shape[0])
    return y, dlgradient(y, x), METER.avg


def _metrics_global_loss(x):
    y = _forward(x)
    METRICS.setdefault("loss", []).append(float(y))
    return y, dlgradient(y, x)


def _metrics_arg_loss(x, metrics):
    y = _forward(x)
    metrics.setdefault("loss", []).append(float(y))
    return y, dlgradient(y, x)


def _python_value(x):
    return float(np.sum(np.tanh(x * W) ** 2))


def _check_gradient(out, x):
    assert_close(_d(out[0]), _python_value(x))
    assert_close(_d(out[1]), numerical_gradient(_python_value, [x], 0))


def test_global_logger_method_logs_python_numbers():
    LOG.hist.clear()
    LOG.n = 0
    xs = [np.array([0.3, -0.2, 0.7]), np.array([1.0, 0.5, -0.4])]
    for x in xs:
        _check_gradient(dlfeval(_logger_loss, dlarray(x)), x)
    assert LOG.n == 2
    assert [type(v) for v in LOG.hist] == [float, float]
    assert_close(np.array(LOG.hist), np.array([_python_value(x) for x in xs]))


def test_global_meter_update_and_avg_after_the_gradient():
    METER.sum, METER.count = 0.0, 0
    xs = [np.array([0.3, -0.2, 0.7]), np.array([1.0, 0.5, -0.4])]
    for k, x in enumerate(xs):
        out = dlfeval(_meter_loss, dlarray(x))
        _check_gradient(out, x)
        assert_close(_d(out[2]), 3 * sum(_python_value(v) for v in xs[:k + 1]) / (3 * (k + 1)))
    assert METER.count == 6 and type(METER.sum) is float
    assert_close(METER.sum, 3 * sum(_python_value(x) for x in xs))


def test_global_metrics_setdefault_appends_to_the_globals_list():
    METRICS.clear()
    xs = [np.array([0.3, -0.2, 0.7]), np.array([1.0, 0.5, -0.4])]
    for x in xs:
        _check_gradient(dlfeval(_metrics_global_loss, dlarray(x)), x)
    assert list(METRICS) == ["loss"]
    assert_close(np.array(METRICS["loss"]), np.array([_python_value(x) for x in xs]))


def test_argument_metrics_setdefault_appends_to_the_callers_list():
    metrics = {}
    xs = [np.array([0.3, -0.2, 0.7]), np.array([1.0, 0.5, -0.4])]
    for x in xs:
        _check_gradient(dlfeval(_metrics_arg_loss, dlarray(x), metrics), x)
    assert [type(v) for v in metrics["loss"]] == [float, float]
    assert_close(np.array(metrics["loss"]), np.array([_python_value(x) for x in xs]))


# --- where a derivative is taken of what reads the logged number back: still refused ---------------------------

def _read_back_loss(x):
    y = _forward(x)
    METER.update(y)
    z = y * METER.sum           # F5 read back
    return z, dlgradient(z, x)


def _number_used_loss(x):
    y = _forward(x)
    v = float(y)
    METER.sum = v
    z = v * y
    return z, dlgradient(z, x)


def test_logged_number_read_back_before_the_gradient_is_refused():
    METER.sum, METER.count = 0.0, 0
    with pytest.raises(sct.CompileError) as info:
        dlfeval(_read_back_loss, dlarray(np.array([0.3, -0.2, 0.7])))
    assert f"{__file__}" in str(info.value) or "METER.sum" in str(info.value)
    assert "METER.sum" in str(info.value) or "self.sum" in str(info.value)


def test_number_also_differentiated_keeps_its_derivative():
    x = np.array([0.3, -0.2, 0.7])
    try:
        out = dlfeval(_number_used_loss, dlarray(x))
    except sct.CompileError as error:       # (refused: no wrong number)
        assert "METER.sum" in str(error) and f"line {_line(_number_used_loss, 'METER.sum = v')}" in str(error)
        return
    assert_close(_d(out[0]), _python_value(x) ** 2)
    assert_close(_d(out[1]), numerical_gradient(lambda v: _python_value(v) ** 2, [x], 0))
    assert type(METER.sum) is float


# --- F1: a counting scheduler read after an in-loss SGD step over a dict of parameters ---------------------------

class Sched:
    def __init__(self):
        self.t = 0

    @property
    def lr(self):
        self.t += 1
        return 0.1 / self.t


class Trainer:
    def __init__(self):
        self.sched = Sched()


def _step_dict(p, cfg):
    loss = np.sum(p["w"] ** 2 + np.sin(p["b"]))
    g = dlgradient(loss, p)
    lr = cfg["sched"].lr
    return loss, {k: p[k] - lr * g[k] for k in p}


def _step_self(p, trainer):
    loss = np.sum(p["w"] ** 2 + np.sin(p["b"]))
    g = dlgradient(loss, p)
    lr = trainer.sched.lr
    return loss, {k: p[k] - lr * g[k] for k in p}


@pytest.mark.parametrize("fn, holder, sched", [
    (_step_dict, lambda s: {"sched": s}, lambda h: h["sched"]),
    (_step_self, lambda s: Trainer(), lambda h: h.sched),
], ids=["cfg_item", "trainer_field"])
def test_counting_scheduler_after_a_dict_gradient_runs_as_python(fn, holder, sched):
    h = holder(Sched())
    w, b = np.array([1.0, 2.0]), np.array([0.5, -0.3])
    for t in (1, 2, 3):
        loss, new = dlfeval(fn, {"w": dlarray(w), "b": dlarray(b)}, h)
        assert_close(_d(loss), float(np.sum(w ** 2 + np.sin(b))))
        lr = 0.1 / t
        assert_close(_d(new["w"]), w - lr * 2 * w)
        assert_close(_d(new["b"]), b - lr * np.cos(b))
        assert sched(h).t == t


# --- F6: a counting property returning a per-parameter lr vector, read after an operation ---------------------------

class VecSched(Sched):
    @property
    def lr(self):
        self.t += 1
        return np.array([1.0, 2.0, 3.0]) / self.t


def _vector_lr_after(x, cfg):
    y = x ** 2
    lr = cfg["sched"].lr
    z = np.sum(y * lr)
    return z, dlgradient(z, x), lr


def test_vector_lr_property_read_after_an_operation_runs_as_python():
    cfg = {"sched": VecSched()}
    x = np.array([1.0, -2.0, 0.5])
    for t in (1, 2):
        z, g, lr = dlfeval(_vector_lr_after, dlarray(x), cfg)
        want = np.array([1.0, 2.0, 3.0]) / t
        assert type(lr) is np.ndarray
        assert_close(lr, want)
        assert_close(_d(z), float(np.sum(x ** 2 * want)))
        assert_close(_d(g), numerical_gradient(lambda v: float(np.sum(v ** 2 * want)), [x], 0))
        assert cfg["sched"].t == t


# --- a meter's property reading back a traced field before the gradient (was [8, 8] where [16, 16]) -----------------

class PlainMeter:
    def __init__(self):
        self.sum = 0.0
        self.count = 0

    def update(self, v, n=1):
        self.sum += float(v) * n
        self.count += n

    @property
    def avg(self):
        return self.sum / max(self.count, 1)


PM = PlainMeter()
W2 = np.array([2.0, 2.0])


def _avg_read_back(x):
    y = np.sum(x * W2)
    PM.update(y)
    z = y * PM.avg
    return z, dlgradient(z, x)


def test_property_reading_a_traced_field_back_is_not_a_dead_end():
    PM.sum, PM.count = 0.0, 0
    x = np.array([1.0, 1.0])
    try:
        z, g = dlfeval(_avg_read_back, dlarray(x))
    except sct.CompileError as error:
        assert f"{__file__}, line {_line(PlainMeter.update, 'self.sum +=')}" in str(error) and "PM.sum" in str(error)
        return
    assert_close(_d(z), float(np.sum(x * W2)) ** 2)
    assert_close(_d(g), numerical_gradient(lambda v: float(np.sum(v * W2)) ** 2, [x], 0))


# --- R1: view57's refusals name the user's expressions, not sct's temporaries ----------------------------------------

RW = np.array([2.0, 2.0])
RP = {"w": RW}


def _get_rw():
    return RW


def _renorm():
    RW[0] += 1.0


def _get_loss(x):
    y = np.sum(x * RP.get("w"))
    _renorm()                           # R1 get
    return y, dlgradient(y, x)


def _getter_loss(x):
    y = np.sum(x * _get_rw())
    _renorm()                           # R1 getter
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fn, marker, shown", [
    (_get_loss, "R1 get", "RP.get('w')"),
    (_getter_loss, "R1 getter", "_get_rw()"),
], ids=["get", "getter"])
def test_changed_reads_are_named_as_the_user_wrote_them(fn, marker, shown):
    RW[...] = 2.0
    with pytest.raises(sct.SctError) as info:
        dlfeval(fn, dlarray(np.array([1.0, 1.0])))
    message = str(info.value)
    assert f"{__file__}, line {_line(fn, marker)}" in message, message
    assert f"changed {shown} in place" in message and f"({shown}.copy())" in message, message
    assert "y_get" not in message, message


RM = np.array([[2.0, 2.0], [2.0, 2.0]])
USE_RW = True


def _renorm_rm():
    RM[0, 0] += 1.0


def _split_loss(x):
    y = np.sum(x * np.split(RM, 2)[0])
    _renorm_rm()                        # R1 split
    return y, dlgradient(y, x)


def _ternary_loss(x):
    y = np.sum(x * (RW if USE_RW else 1.0))
    _renorm()                           # R1 ternary
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fn, marker, shown", [
    (_split_loss, "R1 split", "np.split(RM, 2)[0]"),
    (_ternary_loss, "R1 ternary", "(RW if USE_RW else 1.0)"),
], ids=["split", "ternary"])
def test_changed_views_and_conditionals_are_named_as_the_user_wrote_them(fn, marker, shown):
    RW[...] = 2.0
    RM[...] = 2.0
    with pytest.raises(sct.SctError) as info:
        dlfeval(fn, dlarray(np.array([1.0, 1.0])))
    message = str(info.value)
    assert f"{__file__}, line {_line(fn, marker)}" in message, message
    assert f"changed {shown} in place" in message and f"({shown}.copy())" in message, message
    assert "y_t" not in message, message


# --- F4: running statistics written in place into a global array -----------------------------------------------------

RV = np.ones(2)


def _running_loss(x):
    var = np.var(x, axis=0)
    RV[:] = 0.9 * RV + 0.1 * sct.extractdata(var)     # F4 running
    y = np.sum((x / np.sqrt(var + 1e-5)) ** 3)
    return y, dlgradient(y, x)


def _running_python(x):
    return float(np.sum((x / np.sqrt(np.var(x, axis=0) + 1e-5)) ** 3))


def test_running_statistics_written_in_place_run_as_python():
    global RV
    RV = np.ones(2)
    held = RV
    x = np.array([[0.3, -0.7], [1.1, 0.2], [-0.4, 0.9]])
    want = np.ones(2)
    for _ in range(2):
        y, g = dlfeval(_running_loss, dlarray(x))
        want = 0.9 * want + 0.1 * np.var(x, axis=0)
        assert RV is held
        assert_close(RV, want)
        assert_close(_d(y), _running_python(x))
        assert_close(_d(g), numerical_gradient(_running_python, [x], 0))


def test_running_statistics_sharing_the_arguments_memory_are_refused():
    global RV
    data = np.array([[0.3, -0.7], [1.1, 0.2], [-0.4, 0.9]])
    RV = data[0]
    try:
        with pytest.raises(sct.SctError) as info:
            dlfeval(_running_loss, dlarray(data))
    finally:
        RV = np.ones(2)
    message = str(info.value)
    assert f"{__file__}, line {_line(_running_loss, 'F4 running')}" in message, message
    assert "RV[...]" in message and "shares its memory" in message, message


def _reads_rv(x):
    return np.sum(x * RV)


def _helper_reads_running(x):
    y = _reads_rv(x)
    RV[:] = 3.0                         # F4 helper read
    return y, dlgradient(y, x)


def test_running_array_a_helpers_adjoint_reads_is_still_refused():
    global RV
    RV = np.array([2.0, 2.0])
    with pytest.raises(sct.CompileError) as info:
        dlfeval(_helper_reads_running, dlarray(np.array([1.0, 1.0])))
    assert f"{__file__}, line {_line(_helper_reads_running, 'F4 helper read')}" in str(info.value)
    assert "RV[...]" in str(info.value)
    RV = np.ones(2)


HIST = []


def _two_loggers_loss(x):
    y = _forward(x)
    LOG.log(y)
    METER.update(y)
    HIST.append(float(y))
    return y, dlgradient(y, x)


def test_several_loggers_in_a_row():
    LOG.hist.clear()
    LOG.n = 0
    METER.sum, METER.count = 0.0, 0
    HIST.clear()
    x = np.array([0.3, -0.2, 0.7])
    _check_gradient(dlfeval(_two_loggers_loss, dlarray(x)), x)
    assert_close(np.array(LOG.hist + [METER.sum] + HIST), np.full(3, _python_value(x)))
    assert LOG.n == 1 and METER.count == 1
