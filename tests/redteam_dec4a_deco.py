"""A decorator module for tests/test_redteam_dec4a.py: functools.wraps wrappers defined in a file other
than the functions they decorate (sct compiled the wrapped body in place of the wrapper)."""
import functools

import numpy as np


def double(f):
    @functools.wraps(f)
    def wrapper(x):
        return 2.0 * f(x)
    return wrapper


def shifted(c):
    def deco(f):
        @functools.wraps(f)
        def wrapper(x):
            return f(x + c) + np.sum(x) * c
        return wrapper
    return deco
