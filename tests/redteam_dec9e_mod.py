import numpy as np

SCALE = 3.0


def act(u):
    return np.tanh(u)


class Scaler:
    def __init__(self):
        self.n = 0

    def f(self, u):
        self.n = self.n + 1
        return u * SCALE


class Actor:
    def __init__(self):
        self.n = 0

    def f(self, u):
        self.n = self.n + 1
        return act(u)


class Resetter:
    def __init__(self):
        self.n = 0

    def reset_field(self, net, new):
        self.n = self.n + 1
        net.bn = new
