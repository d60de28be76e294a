"""A user's module whose helpers read its own global model (tests/test_outside_reads_s50.py)."""
MODEL = None
SCALE = 2.0


def term(x):
    return (MODEL.W ** 2).sum()


def scaled(x):
    return SCALE * x


def predict(x):
    return _inner(x)


def _inner(x):
    return MODEL.W * x


class Reg:
    def penalty(self):
        return (MODEL.W ** 2).sum()
