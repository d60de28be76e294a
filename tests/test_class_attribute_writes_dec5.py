"""A method that writes its class's attribute (``type(self).count += 1``) changes what every instance
reads: a second derivative recomputing the call after ``c = k.count`` is refused, as for
``self.__class__.count`` and a classmethod's ``cls.count`` (was: ``type(self)`` not seen as the object,
z four times Python's; red team nb)."""
import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient


class ByType:
    count = 1.0

    def bump(self):
        type(self).count += 1.0
        return 0.0


class ByDunder:
    count = 1.0

    def bump(self):
        self.__class__.count += 1.0
        return 0.0


class ByClassmethod:
    count = 1.0

    @classmethod
    def bump(cls):
        cls.count += 1.0
        return 0.0


@pytest.mark.parametrize("cls", [ByType, ByDunder, ByClassmethod])
def test_recomputed_class_write_refused(cls):
    k = cls()

    def f(x):
        c = k.count
        k.bump()
        y = np.sum(x ** 3) * c
        g = dlgradient(y, x, EnableHigherDerivatives=True)
        z = np.sum(g ** 2)
        return z, dlgradient(z, x)
    cls.count = 1.0
    with pytest.raises(sct.SctError, match="changes k"):
        dlfeval(f, dlarray(np.array([1.0, 2.0])))


def test_first_order_runs_as_python():
    k = ByType()

    def f(x):
        c = k.count
        k.bump()
        y = np.sum(x ** 3) * c
        return y, dlgradient(y, x)
    ByType.count = 1.0
    y, g = dlfeval(f, dlarray(np.array([1.0, 2.0])))
    assert float(y) == 9.0 and np.allclose(g.data, [3.0, 12.0]) and ByType.count == 2.0
