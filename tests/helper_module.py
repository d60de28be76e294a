"""A helper module with its own K, to check each function is resolved in its own globals."""
import numpy as np

K = 2.0


def scaled(x):
    return K * np.sum(x)
