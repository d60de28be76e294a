"""Classes of another module for tests/test_memo59_s59.py (a class the function reaches only through a call)."""


class Sched:
    """A schedule whose ``lr`` counts its reads."""
    def __init__(self):
        self.t = 0

    @property
    def lr(self):
        self.t += 1
        return float(self.t)


S = Sched()


def make():
    return Sched()
