"""A module whose function tests/test_redteam_dec22x.py hands numpy as a value (rx_helpers.fmt)."""
import numpy as np


def fmt(v):
    return "a" * int(1 + 50 * np.random.rand())
