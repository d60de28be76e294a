"""A method read in place (sct/inline_helpers.py) binding ``with ... as c``: its with-as check was the method's
own and never ran once the method's body stood in the caller (found by fr52, s52): ``self.rm = c`` then read
lost c's derivative, a gradient 2.55 off. Refused at the ``with`` line, as in the function itself."""
import contextlib

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient


class EnteredMean:
    def __init__(self):
        self.W = dlarray(np.array([[0.3, -0.5], [0.8, 0.2]]))
        self.rm = np.zeros(2)

    def __call__(self, x):
        h = x @ self.W
        with contextlib.nullcontext(h.mean(axis=0)) as c:       # ENTERED
            pass
        self.rm = c
        return h


def entered_loss(net, x):
    loss = np.sum(net(x)) + np.sum(net.rm ** 2)
    return loss, dlgradient(loss, net.W)


def test_with_as_in_a_method_read_in_place_is_refused():
    sct.clear_cache()
    line = EnteredMean.__call__.__code__.co_firstlineno + 2
    with pytest.raises(sct.CompileError, match=rf"line {line}: sct cannot differentiate `with \.\.\. as name`"):
        dlfeval(entered_loss, EnteredMean(), np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]))
