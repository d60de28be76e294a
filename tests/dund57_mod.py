"""A module of the user's whose class's property changes its array (tests/test_dund57_s57.py: a class reached
through a module the loss reads, in a module that has no such class itself)."""
import numpy as np

B = np.array([2.0, 2.0])


class Far:
    @property
    def lr(self):
        B[0] += 1.0
        return 0.1


def make_far():
    return Far()
