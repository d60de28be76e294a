"""Stop 47: numbers logged into outside objects inside the function dlfeval runs and read back
there (a red team of a reverted change found these silently wrong with it: float(L) held constant
where Python's program differentiates through it).  They stay refused at the writing line."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient

X = np.array([0.5, -1.25, 2.0])
STATS = {}
LOSSES = []


def model_loss(x):
    L = (x ** 2).sum()
    STATS["loss"] = float(L)
    return L


def caller_reads_back(x):
    L = model_loss(x)
    y = L * STATS["loss"]           # L ** 2: gradient 4 L x
    return y, dlgradient(y, x)


class _Scheduler:
    def lr(self):
        return 1.0 / LOSSES[-1]


SCHED = _Scheduler()


def scheduler_reads_back(x):
    L = (x ** 2).sum()
    LOSSES.append(float(L))
    y = L * SCHED.lr()              # 1: gradient 0
    return y, dlgradient(y, x)


def default_argument_reads_back(x, log=LOSSES):
    L = (x ** 2).sum()
    LOSSES.append(float(L))
    y = L * log[-1]
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun", [caller_reads_back, scheduler_reads_back, default_argument_reads_back],
                         ids=["caller", "scheduler", "default-argument"])
def test_a_logged_number_read_back_is_refused_at_the_write(fun):
    STATS.clear()
    LOSSES.clear()
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(X))
    assert info.value.filename == __file__ and "internal error" not in str(info.value)
    assert STATS == {} and LOSSES == []
