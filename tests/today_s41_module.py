"""A module defining its own ``range`` (tests/test_today_s41.py): one step short of Python's."""
import builtins


def range(n):
    return list(builtins.range(n - 1))


def loop_loss(x):
    s = 0.0
    for i in range(4):
        s = s + x[i] ** 2 * (i + 1)
    return s
